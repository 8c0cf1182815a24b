"""Running constrain as a real command for the fault suite: its own process group, a marker in
its environment to find every process it started, and bounded waits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    proc: subprocess.Popen
    marker: str

    def signal(self, signum: int) -> None:
        """What a terminal does: the signal to the whole foreground process group."""
        os.killpg(self.proc.pid, signum)

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        """``(exit code, stdout, stderr)``; fails the test when it does not end in time."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with_children = processes_of(self.marker)
            for pid in with_children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.proc.kill()
            self.proc.communicate()
            raise AssertionError(f"constrain did not end within {timeout} s") from None
        return self.proc.returncode, out, err

    def left_behind(self) -> list[int]:
        """Processes this run started that still run (zombies excepted)."""
        return processes_of(self.marker)


def start(*args: str, env: dict[str, str] | None = None, cwd: str | Path | None = None,
          ignoring: tuple[int, ...] = ()) -> Run:
    """``python -m constrain ARGS`` in a process group of its own, stdout and stderr piped;
    started with the signals in ``ignoring`` ignored (as ``nohup`` or a shell's ``&`` do)."""
    marker = uuid.uuid4().hex
    environ = dict(os.environ if env is None else env, CONSTRAIN_TEST_RUN=marker)
    environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), environ.get("PYTHONPATH", "")) if p)
    command = [sys.executable, "-m", "constrain", *args]
    if ignoring:  # a shell's `trap '' SIG`, then exec: the same process, the signals ignored
        names = " ".join(signal.Signals(n).name.removeprefix("SIG") for n in ignoring)
        command = ["sh", "-c", f"trap '' {names}; exec \"$0\" \"$@\"", *command]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environ, cwd=cwd, process_group=0)
    return Run(proc, marker)


def ignored_signals(pid: int) -> set[int]:
    """The signals process ``pid`` ignores (``SigIgn`` of ``/proc/PID/status``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("SigIgn:"):
                mask = int(line.split()[1], 16)
                return {n for n in range(1, 65) if mask >> (n - 1) & 1}
    return set()


def processes_of(marker: str) -> list[int]:
    """Live processes whose environment carries ``marker`` (every process a run started)."""
    found = []
    needle = f"CONSTRAIN_TEST_RUN={marker}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle not in fh.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in (b"Z", b"X"):
            found.append(int(entry))
    return found
