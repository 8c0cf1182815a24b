"""Where a command's CPU goes: per thread of constrain's process, per helper process, per build hook.

    python benchmarks/cpu_by_thread.py [--interval S] -- constrain install -r PINS --venv V ...
    python benchmarks/cpu_by_thread.py -- uv pip install ...        (any command: per process)

The command runs under this script, which samples ``/proc`` (Linux) every ``--interval``
seconds for the whole process tree: the CPU (user + system) of every thread of every process,
as the kernel counts it. When the command is ``constrain ...``, it runs in this interpreter
through a small wrapper that gives each Python thread its name in the kernel too
(``prctl(PR_SET_NAME)``: the name without ``constrain-``, its last 15 characters: ``http``,
``prefetch_3``), so the figures say which of constrain's threads used the CPU; constrain
itself is unchanged.

It prints, after the command ends: the CPU of each of constrain's threads by name (pool
threads ``name_1``, ``name_2``... summed as ``name_N``), of each helper process (page
parsing, unpacking), of the PEP 517 hooks of builds, and of any other process; then the total
and the wall time. What a thread or process used after the last sample before it ended is
not seen (a short ``--interval`` keeps that small); the line ``ended threads`` is what a
process's own total counts beyond its threads seen alive.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import time

#: runs ``constrain ARGS`` with each Python thread named in the kernel as it starts
WRAPPER = r"""
import ctypes, sys, threading
_prctl = ctypes.CDLL(None).prctl
_inner = threading.Thread._bootstrap_inner
def _named(self):
    try:
        name = self.name.removeprefix("constrain-")[-15:]
        _prctl(15, name.encode("ascii", "replace"), 0, 0, 0)  # PR_SET_NAME
    except Exception:
        pass
    return _inner(self)
threading.Thread._bootstrap_inner = _named
sys.argv[0] = "constrain"
from constrain.cli import entry
entry()
"""

_HZ = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(x) for x in fh.read().split()]
    except OSError:
        pass
    return out


def _cpu(stat: str) -> tuple[str, float]:
    """``(comm, user + system seconds)`` of a ``/proc/.../stat`` line."""
    comm = stat[stat.index("(") + 1: stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    return comm, (int(fields[11]) + int(fields[12])) / _HZ


def label_of(cmdline: str) -> str:
    """What a process of the tree is, for the report."""
    if "_worker_main" in cmdline:
        return "helper process"
    if "_in_process" in cmdline:  # pyproject_hooks' runner: HOOK is the next argument
        hook = re.search(r"_in_process\.py\s+(\w+)", cmdline)
        return f"PEP 517 hook {hook[1] if hook else ''}".rstrip()
    return cmdline.split(" ", 1)[0].rsplit("/", 1)[-1] or "?"


def sample(root: int, threads: dict, processes: dict) -> None:
    """Read the CPU of every thread and process of the tree under ``root`` now."""
    pids, i = [root], 0
    while i < len(pids):
        pids += _children(pids[i])
        i += 1
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            with open(f"/proc/{pid}/stat") as fh:
                _comm, total = _cpu(fh.read())
            # an ending process shows an empty command line: keep the one seen before
            processes[pid] = (cmd or processes.get(pid, ("", 0.0))[0], total)
            tids = os.listdir(f"/proc/{pid}/task")
        except (OSError, ValueError):
            continue  # ended between two reads
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as fh:
                    threads[(pid, int(tid))] = _cpu(fh.read())
            except (OSError, ValueError):
                continue  # this thread ended meanwhile; the others are still read


def report(root: int, threads: dict, processes: dict, wall: float, wrapped: bool) -> list[str]:
    rows: dict[str, float] = collections.defaultdict(float)
    seen: dict[int, float] = collections.defaultdict(float)
    for (pid, tid), (comm, cpu) in threads.items():
        seen[pid] += cpu
        if pid == root and wrapped:
            name = "main thread" if tid == root else re.sub(r"_\d+$", "_N", comm)
            rows[f"constrain: {name}"] += cpu
    for pid, (cmd, total) in processes.items():
        if pid == root and wrapped:
            rows["constrain: ended threads"] += max(0.0, total - seen[pid])
            continue
        what = label_of(cmd)
        rows[what if what.startswith("PEP 517") or pid == root else f"{what} (pid {pid})"] += total
    lines = [f"{cpu:7.2f} s  {what}" for what, cpu in sorted(rows.items(), key=lambda r: -r[1])]
    lines.append(f"{sum(rows.values()):7.2f} s  CPU in all, wall {wall:.2f} s")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between samples")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --")
    wrapped = command[0] == "constrain"
    argv_run = [sys.executable, "-c", WRAPPER, *command[1:]] if wrapped else command
    start = time.perf_counter()
    proc = subprocess.Popen(argv_run)
    threads: dict = {}
    processes: dict = {}
    try:
        while proc.poll() is None:
            sample(proc.pid, threads, processes)
            time.sleep(args.interval)
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
    wall = time.perf_counter() - start
    print("\n".join(report(proc.pid, threads, processes, wall, wrapped)), file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
