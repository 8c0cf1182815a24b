"""The C heap's settings: large blocks freed are handed back to the system."""

from __future__ import annotations

import subprocess
import sys

import pytest

from constrain import heap

SCRIPT = """
import sys
from constrain.heap import map_large_blocks
if sys.argv[1] == "mapped":
    map_large_blocks()

def resident():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) // 1024 for line in fh if line.startswith("VmRSS:"))

first = bytes(4 << 20)  # freed: glibc would serve blocks this size from its heap from now on
del first
pages, kept = [], []
for i in range(100):  # page bodies of 1 MB, each followed by a small block that outlives it
    pages.append(bytes([i % 250 + 1]) * (1 << 20))
    kept.append(bytes([i % 250 + 1]) * 600)
held = resident()
del pages
print(held, resident())
"""


@pytest.mark.skipif(heap._libc() is None or not sys.platform.startswith("linux"),
                    reason="glibc's malloc and /proc")
@pytest.mark.parametrize("mode", ["mapped", "default"])
def test_large_blocks_freed_are_handed_back(mode):
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    held, after = map(int, out.split())
    assert held > 100
    if mode == "mapped":
        assert after < held - 80, (held, after)  # each block was a mapping of its own
    else:  # what glibc does by default, which map_large_blocks changes: kept in its heap
        assert after > held - 20, (held, after)
