"""Run one command and measure it: wall time, peak RSS of its process tree, exit status.

The command runs in its own session so that a timeout can end the whole tree. Peak memory is
the larger of two figures, each of which can miss something the other sees:

* the ``ru_maxrss`` that ``os.wait4`` returns for this child alone (the largest single process
  of the tree, exact, but blind to several processes alive at once), and
* the sum of resident sizes over the tree's processes, sampled from ``/proc`` every
  ``SAMPLE_INTERVAL`` seconds (sees a tree of many processes, may miss a short spike).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_INTERVAL = 0.1
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

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
    peak_rss_bytes: int
    stdout_path: Path | None = None
    stderr_path: Path | None = None
    stderr_tail: str = ""
    extra: dict = field(default_factory=dict)


def _session_rss(session_id: int) -> int:
    """Resident bytes summed over every live process whose session is ``session_id``."""
    total = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
            # The command name is in parentheses and may hold spaces: split after its end.
            fields = stat[stat.rindex(b")") + 2 :].split()
            # fields[0] is the state (field 3 of stat(5)); the session is field 6.
            if int(fields[3]) != session_id:
                continue
            with open(f"/proc/{entry}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * _PAGE_SIZE
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
    return total


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
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    err = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
    inp = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
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
                peak_sampled[0] = max(peak_sampled[0], _session_rss(proc.pid))

        threads = [threading.Thread(target=kill_on_timeout, daemon=True)]
        if sample:
            threads.append(threading.Thread(target=sampler, daemon=True))
        for thread in threads:
            thread.start()
        # wait4 rather than Popen.wait: it hands back this child's own rusage.
        _, wait_status, rusage = os.wait4(proc.pid, 0)
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
    peak = max(rusage.ru_maxrss * 1024, peak_sampled[0])  # ru_maxrss is in KiB on Linux
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
