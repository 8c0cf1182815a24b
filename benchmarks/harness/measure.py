"""Run one command and measure it: wall time, peak RSS of its process tree, exit status.

The command runs in its own session so that a timeout can end the whole tree. Every
``SAMPLE_INTERVAL`` seconds the processes of that session are read from ``/proc``; the peak is
the larger of

* the largest sum of resident sizes seen over the tree at one sample (several processes alive
  at once), and
* the largest high-water mark (``VmHWM``) seen of any one process: the kernel keeps it, so a
  spike between two samples still counts as long as the process lives until the next one.

A process that shares its parent's address space is left out of the sum: a child made with
``vfork`` (or ``posix_spawn``, which is ``clone(CLONE_VM | CLONE_VFORK)`` in glibc; Python's
``subprocess`` and Rust's ``Command`` both spawn that way) runs in its parent's memory until it
execs, and ``/proc`` then shows it with its parent's resident size: summed, the parent's memory
counted twice. The kernel says whether two processes share one address space (``kcmp(2)``,
``KCMP_VM``); where that cannot be asked, identical memory lines in ``/proc/PID/status`` say it.

``ru_maxrss`` from ``os.wait4`` is used only when it exceeds this harness's own peak: a forked
child starts with its parent's high-water mark, so below that figure it says nothing about the
command (this is why a bare ``getrusage(RUSAGE_CHILDREN)`` misleads).
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_INTERVAL = 0.1

OK = "ok"
FAILED = "failed"
TIMEOUT = "timeout"


@dataclass
class RunResult:
    """What one run of one command did."""

    argv: list[str]
    status: str  # OK, FAILED or TIMEOUT
    returncode: int | None
    wall_s: float
    peak_rss_bytes: int  # 0 when unknown (a run too short to sample)
    stdout_path: Path | None = None
    stderr_path: Path | None = None
    stderr_tail: str = ""
    extra: dict = field(default_factory=dict)


#: kcmp(2)'s system call number on the machines it is known for, and its type asking "the same
#: address space?" (KCMP_VM; 0 is KCMP_FILE)
_KCMP = {"x86_64": 312, "aarch64": 272}
_KCMP_VM = 1
#: the lines of /proc/PID/status that are the same for two processes in one address space
_MEMORY_LINES = (b"VmPeak:", b"VmSize:", b"VmHWM:", b"VmRSS:")


@functools.cache
def _kcmp() -> Callable[..., int] | None:
    """libc's ``syscall``, where kcmp's number is known here."""
    number = _KCMP.get(platform.machine())
    if number is None:
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None


def _kcmp_same(a: int, b: int) -> bool | None:
    """Do processes ``a`` and ``b`` share one address space, as the kernel says (``None``:
    it cannot be asked here)?"""
    syscall = _kcmp()
    if syscall is None:
        return None
    answer = syscall(_KCMP[platform.machine()], a, b, _KCMP_VM, 0, 0)
    return None if answer < 0 else answer == 0


def _session_memory(session_id: int) -> tuple[int, int]:
    """(sum of VmRSS, largest VmHWM) in bytes over the live processes of ``session_id``; a
    process in its parent's address space (vfork'd, not yet exec'd) is not summed."""
    hwm_max = 0
    rss: dict[int, int] = {}
    parent: dict[int, int] = {}
    lines: dict[int, tuple] = {}
    shared: dict[int, bool | None] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0, 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
            # The command name is in parentheses and may hold spaces: split after its end.
            fields = stat[stat.rindex(b")") + 2 :].split()
            # fields[0] is the state (field 3 of stat(5)); the parent is field 4, the session 6.
            if int(fields[3]) != session_id:
                continue
            pid, up = int(entry), int(fields[1])
            # asked before its size is read: a child that execs in between is then not
            # mistaken for one in its parent's memory (the answer would be "no" and its new
            # size read), while one that shares it now still did when it was read
            same = _kcmp_same(pid, up)
            memory, size, hwm = [], 0, 0
            with open(f"/proc/{entry}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(_MEMORY_LINES):
                        memory.append(line)
                    if line.startswith(b"VmRSS:"):
                        size = int(line.split()[1]) * 1024
                    elif line.startswith(b"VmHWM:"):
                        hwm = int(line.split()[1]) * 1024
            rss[pid], parent[pid], lines[pid], shared[pid] = size, up, tuple(memory), same
            hwm_max = max(hwm_max, hwm)
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
    rss_sum = 0
    for pid, size in rss.items():
        up = parent[pid]
        if up in rss:
            same = shared[pid]
            if same or (same is None and lines[pid] == lines[up]):
                continue  # its parent's memory, summed already
        rss_sum += size
    return rss_sum, hwm_max


def _tail(path: Path | None, limit: int = 2000) -> str:
    if path is None or not path.exists():
        return ""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - limit))
        return fh.read().decode("utf-8", "replace")


def run_measured(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    timeout: float,
    stdin_path: Path | None = None,
    stdout_path: Path | None = None,
    stderr_path: Path | None = None,
    sample: bool = True,
) -> RunResult:
    """Run ``argv`` to its end (or ``timeout`` seconds) and measure it.

    stdout and stderr go to the given files (or nowhere). A command that cannot start (missing
    executable) is reported as FAILED with returncode None rather than raising.
    """
    # closed in the finally below, after the process ends
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL  # noqa: SIM115
    err = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL  # noqa: SIM115
    inp = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                argv, env=env, cwd=cwd, stdin=inp, stdout=out, stderr=err, start_new_session=True
            )
        except OSError as exc:
            return RunResult(argv, FAILED, None, 0.0, 0, stdout_path, stderr_path, str(exc))
        timed_out = threading.Event()
        done = threading.Event()
        peak_sampled = [0]
        own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

        def kill_on_timeout() -> None:
            if not done.wait(timeout):
                timed_out.set()
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

        def sampler() -> None:
            # The child is its session's leader, so its pid is the session id.
            while not done.wait(SAMPLE_INTERVAL):
                peak_sampled[0] = max(peak_sampled[0], *_session_memory(proc.pid))

        threads = [threading.Thread(target=kill_on_timeout, daemon=True)]
        if sample:
            threads.append(threading.Thread(target=sampler, daemon=True))
        # From here on an interrupt (even one arriving while the threads start) ends the tree.
        try:
            for thread in threads:
                thread.start()
            # wait4 rather than Popen.wait: it hands back this child's own rusage.
            _, wait_status, rusage = os.wait4(proc.pid, 0)
        except BaseException:  # interrupted (Ctrl-C, SIGTERM): leave no tree running behind
            done.set()
            os.killpg(proc.pid, signal.SIGKILL)
            os.waitpid(proc.pid, 0)
            raise
        wall = time.perf_counter() - start
        done.set()
        proc.returncode = os.waitstatus_to_exitcode(wait_status)
        # Grandchildren left behind (daemons) would skew later runs: end them too.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for thread in threads:
            thread.join()
    finally:
        for fh in (out, err, inp):
            if hasattr(fh, "close"):
                fh.close()
    child_peak = rusage.ru_maxrss * 1024
    peak = max(peak_sampled[0], child_peak if child_peak > own_peak else 0)
    if timed_out.is_set():
        status = TIMEOUT
    elif proc.returncode == 0:
        status = OK
    else:
        status = FAILED
    return RunResult(
        argv, status, proc.returncode, wall, peak, stdout_path, stderr_path,
        _tail(stderr_path) if status != OK else "",
    )
