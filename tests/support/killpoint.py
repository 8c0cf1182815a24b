"""Kill -9 a constrain process at the N-th file operation under a directory, with no hook in
constrain itself.

The command runs under :data:`SCRIPT`, which installs a PEP 578 audit hook before importing
constrain: the interpreter reports every file operation to it (``open`` for writing,
``os.rename``/``os.replace``, ``os.link``), and at the N-th one whose path lies under the given
directory the process sends itself SIGKILL -- as abrupt as ``kill -9`` from another process,
at a point the test chooses by count, not by timing. That N-th operation does not happen. The
process's exit status is then ``-SIGKILL`` (:data:`KILLED`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KILLED = -signal.SIGKILL

SCRIPT = r"""
import os, signal, sys, threading

_n, _under = int(sys.argv[1]), os.path.join(os.path.abspath(sys.argv[2]), "")
del sys.argv[1:3]
_seen, _lock = [0], threading.Lock()


def _path(value):
    if isinstance(value, int):  # a file descriptor
        return None
    try:
        return os.path.abspath(os.fsdecode(value))
    except TypeError:
        return None


def _hook(event, args):
    if event in ("os.rename", "os.link"):
        paths = (_path(args[0]), _path(args[1]))
    elif event == "open" and isinstance(args[2], int) and args[2] & (os.O_WRONLY | os.O_RDWR):
        paths = (_path(args[0]),)
    else:
        return
    if not any(p and p.startswith(_under) for p in paths):
        return
    with _lock:
        _seen[0] += 1
        if _seen[0] >= _n:
            os.kill(os.getpid(), signal.SIGKILL)


sys.addaudithook(_hook)
from constrain.cli import main

sys.exit(main(sys.argv[1:]))
"""


def run_killed_at(n: int, under: Path | str, *args: str, env: dict[str, str] | None = None,
                  timeout: float = 300) -> subprocess.CompletedProcess:
    """``constrain ARGS`` in its own process, killed (SIGKILL) at its ``n``-th file operation
    under ``under``; runs to its end when it makes fewer. stdout and stderr captured."""
    return subprocess.run([sys.executable, "-c", SCRIPT, str(n), str(under), *args],
                          capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, **(env or {})), timeout=timeout)


def wait_until(ready, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    """Poll ``ready()`` until true while ``proc`` runs; fail (with its output) when it ends
    first, and after ``timeout`` seconds as a guard against a hung test, not a measurement."""
    import time

    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"ended (exit {proc.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            raise AssertionError(f"not {what} within {timeout} s")
        time.sleep(0.01)


def size_of(path: Path) -> int:
    """The size of ``path``, 0 while it does not exist."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
