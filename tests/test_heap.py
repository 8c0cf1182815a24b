"""The C heap's settings: large blocks freed are handed back to the system."""

from __future__ import annotations

import subprocess
import sys

import pytest

from constrain import heap

SCRIPT = """
import sys
from constrain.heap import keep_adaptive_threshold, map_large_blocks
if sys.argv[1] == "adaptive":  # an unpacking worker, whose HTTP client then asks for mapping
    keep_adaptive_threshold()
if sys.argv[1] in ("mapped", "adaptive"):
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
@pytest.mark.parametrize("mode", ["mapped", "default", "adaptive"])
def test_large_blocks_freed_are_handed_back(mode):
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    held, after = map(int, out.split())
    assert held > 100
    if mode == "mapped":
        assert after < held - 80, (held, after)  # each block was a mapping of its own
    else:  # what glibc does by default, which map_large_blocks changes (unless the process
        # keeps the adaptive threshold): kept in its heap
        assert after > held - 20, (held, after)


GC_SCRIPT = """
import gc, sys
from constrain import heap
from constrain.resolver.collection import fewer_collections

if sys.argv[1] == "foreign":  # a host application froze its objects before
    gc.freeze()
    theirs = gc.get_freeze_count()
with fewer_collections(pause=True):
    threshold = gc.get_threshold()[0]
    state = [[i] for i in range(200_000)]  # a resolve's long-lived objects
    young_inside = len(gc.get_objects(0)) + len(gc.get_objects(1))
young_after = len(gc.get_objects(0)) + len(gc.get_objects(1))
if sys.argv[1] == "foreign":
    assert heap.hold_frozen() is False  # theirs is neither undone nor added to
    assert gc.get_freeze_count() == theirs, (gc.get_freeze_count(), theirs)
else:
    assert gc.get_freeze_count() == 0  # handed back to the collector (oldest generation)
print(threshold, young_inside, young_after)
"""


@pytest.mark.parametrize("host", ["alone", "foreign"])
def test_a_paused_collection_leaves_no_backlog_of_young_objects(host):
    # a resolve from the cache alone makes no automatic collection; when it ends, its
    # objects are old (moved without a walk): the first young collection after it would
    # otherwise walk all of them at once (0.13 s after the large Airflow resolve)
    done = subprocess.run([sys.executable, "-c", GC_SCRIPT, host], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    threshold, inside, after = map(int, done.stdout.split())
    assert threshold == 0
    assert inside > 200_000
    if host == "alone":
        assert after < 1_000
    else:  # a foreign freeze: nothing moved, the collector walks them as before
        assert after > 200_000


LONG_LIVED_SCRIPT = """
import gc, sys
from constrain import heap

if sys.argv[1] == "foreign":  # a host application froze its objects before
    gc.freeze()
    theirs = gc.get_freeze_count()
if sys.argv[1] == "off":  # a host that turned the collector off keeps it off
    gc.disable()
collections = []
gc.callbacks.append(lambda phase, info: collections.append(info) if phase == "stop" else None)
with heap.long_lived():
    enabled_inside = gc.isenabled()
    modules = [{"f": [i]} for i in range(100_000)]  # what importing a pipeline makes
    collected_inside = len(collections)
young_after = len(gc.get_objects(0)) + len(gc.get_objects(1))
if sys.argv[1] == "foreign":
    assert gc.get_freeze_count() == theirs, (gc.get_freeze_count(), theirs)
else:
    assert gc.get_freeze_count() == 0
print(int(enabled_inside), collected_inside, int(gc.isenabled()), young_after)
"""


@pytest.mark.parametrize("host", ["alone", "foreign", "off"])
def test_a_commands_imports_are_not_walked_as_young_objects(host):
    # a command's pipeline modules live as long as the process: no collection while they
    # are imported, and they are old when it ends (else each walked twice, ~3 % of a
    # remembered resolve); the collector is as it was before, on or off
    done = subprocess.run([sys.executable, "-c", LONG_LIVED_SCRIPT, host],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    inside, collections, enabled_after, young_after = map(int, done.stdout.split())
    assert inside == 0
    assert collections == 0
    assert enabled_after == (0 if host == "off" else 1)
    if host == "foreign":  # a foreign freeze: nothing moved, the collector walks them as before
        assert young_after > 200_000
    else:
        assert young_after < 1_000
