"""How many PEP 517 backend hooks run at once in this process, and how large a speculative one
may grow.

Each hook is a new interpreter running the sdist's own setup code, and some of that code is
large: snowflake-connector-python's ``setup.py`` cythonizes a C++ extension as it is imported,
so each of its hooks (``get_requires_for_build_wheel`` and ``prepare_metadata_for_build_wheel``
alike) holds 210-225 MB resident. A cold resolve of uv's Airflow benchmark builds 22 sdists
(that one, gevent's, ...), two builds at a time, each running its metadata hook beside
``get_requires``: four such interpreters at once put the process tree at 1.1-1.35 GB, four
times uv's peak.

So the hooks a build needs wait for the process's one :data:`HOOK_SLOTS` slot
(:func:`run_in_slot`), and the hook a build runs early, on speculation (``sdist._EarlyHook``),
runs beside them only while it and they stay small: one at a time (:data:`SPECULATIVE`), and
ended as soon as its resident size passes :data:`SPECULATIVE_MAX_RSS`, or its and the slot's
hook's together pass :data:`TOGETHER_MAX_RSS` (:func:`run_speculative`); its build then runs it
again, in the slot, after the others. A build whose ``get_requires_for_build_wheel`` answer
is already known has nothing to run beside its hook, so that hook takes the slot when it is
free and the early lane otherwise (:func:`run_either`), under the same guard. Light backends
(most: 30-50 MB a hook) keep the overlap; a heavy one costs one aborted start. Resident sizes
are read from ``/proc`` (Linux); elsewhere a speculative hook is never ended for its size.

The peak is then this process plus its largest hook, so before a hook starts this process
hands the C allocator's free pages back to the system (``heap.give_back_free_memory``,
glibc's ``malloc_trim``): the page bodies of a cold resolve, freed long before, leave 30-40 MB
of them in its arenas.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Sequence

from ..heap import give_back_free_memory

__all__ = ["HOOK_SLOTS", "SPECULATIVE", "SPECULATIVE_MAX_RSS", "TOGETHER_MAX_RSS", "GaveWay",
           "run_either", "run_in_slot", "run_speculative"]

#: the hooks builds need: one at a time in the process (peak memory: the largest hook, not the
#: sum of several; builds of a resolve mostly run in the background, ahead of the resolver)
HOOK_SLOTS = threading.BoundedSemaphore(1)
#: speculative hooks: one at a time, beside the slot's
SPECULATIVE = threading.BoundedSemaphore(1)
#: a speculative hook past this resident size is ended (bytes)
SPECULATIVE_MAX_RSS = 100 * 1024 * 1024
#: ... and so is one that, with the slot's hook, holds more than this
TOGETHER_MAX_RSS = 150 * 1024 * 1024
#: how often its size is looked at (seconds)
POLL = 0.05


_in_slot: set[int] = set()  # the pids of the hooks holding a slot now
_CHOOSING = threading.Lock()  # run_either's choice of lane, one build at a time


class GaveWay(Exception):
    """A speculative hook was ended for its size; the build runs it again later."""


def resident_bytes(pid: int) -> int:
    """``pid``'s resident size in bytes; 0 when it cannot be read (no ``/proc``, or it ended)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _start(cmd: Sequence[str], env: dict[str, str], cwd: str | None) -> subprocess.Popen:
    return subprocess.Popen(
        list(cmd), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _finish(proc: subprocess.Popen, cmd: Sequence[str], out: bytes, output: list[str]) -> None:
    output.extend(out.decode("utf-8", "replace").splitlines())
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, list(cmd), out)


def run_in_slot(cmd: Sequence[str], output: list[str], env: dict[str, str],
                cwd: str | None = None) -> None:
    """Run ``cmd`` (a hook a build needs) in the process's hook slot, waiting for it: stdout
    and stderr into ``output``; :class:`subprocess.CalledProcessError` when it fails."""
    with HOOK_SLOTS:
        _run_holding_slot(cmd, output, env, cwd)


def run_either(cmd: Sequence[str], output: list[str], env: dict[str, str],
               cwd: str | None = None) -> None:
    """Run ``cmd`` in the slot when it is free, else beside it as :func:`run_speculative`
    does (:class:`GaveWay` when it grows too large) when the early lane is free, else in the
    slot once it is free. For a hook whose build has nothing else to run beside it (``sdist.py``:
    its build requirements are known), on a copy of the tree: two such builds use two cores."""
    with _CHOOSING:  # two builds asking at once: one takes the slot, the other the lane
        lane = ("slot" if HOOK_SLOTS.acquire(blocking=False)
                else "early" if SPECULATIVE.acquire(blocking=False) else "wait")
    if lane == "slot":
        try:
            _run_holding_slot(cmd, output, env, cwd)
        finally:
            HOOK_SLOTS.release()
    elif lane == "early":
        try:
            run_speculative(cmd, output, env, cwd)
        finally:
            SPECULATIVE.release()
    else:
        run_in_slot(cmd, output, env, cwd)


def _run_holding_slot(cmd: Sequence[str], output: list[str], env: dict[str, str],
                      cwd: str | None) -> None:
    give_back_free_memory()
    proc = _start(cmd, env, cwd)
    _in_slot.add(proc.pid)
    try:
        out, _ = proc.communicate()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        _in_slot.discard(proc.pid)
    _finish(proc, cmd, out, output)


def run_speculative(cmd: Sequence[str], output: list[str], env: dict[str, str],
                    cwd: str | None = None) -> None:
    """Run ``cmd`` as :func:`run_in_slot` does, but beside the slot, and end it and raise
    :class:`GaveWay` -- its output dropped -- once it passes :data:`SPECULATIVE_MAX_RSS`,
    or it and the slot's hook together pass :data:`TOGETHER_MAX_RSS`."""
    proc = _start(cmd, env, cwd)
    try:
        while True:
            try:
                out, _ = proc.communicate(timeout=POLL)
                break
            except subprocess.TimeoutExpired:
                own = resident_bytes(proc.pid)
                beside = sum(resident_bytes(pid) for pid in list(_in_slot))
                if own > SPECULATIVE_MAX_RSS or own + beside > TOGETHER_MAX_RSS:
                    proc.kill()
                    proc.communicate()
                    raise GaveWay(f"ended at {own // (1024 * 1024)} MB resident, "
                                  f"{beside // (1024 * 1024)} MB beside it") from None
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    _finish(proc, cmd, out, output)
