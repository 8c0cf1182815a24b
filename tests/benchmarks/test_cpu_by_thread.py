"""benchmarks/cpu_by_thread.py: a command's CPU by thread of constrain and by process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.builders import PackageSpec

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "cpu_by_thread.py"


def _run(*command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--", *command], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def _rows(stderr: str) -> dict[str, float]:
    """``{what: CPU seconds}`` of the report (the lines ``  1.23 s  what``)."""
    out = {}
    for line in stderr.splitlines():
        cpu, sep, what = line.strip().partition(" s  ")
        if sep:
            out[what] = float(cpu)
    return out


def test_constrain_threads_are_reported_by_their_names(make_index, tmp_path):
    index = make_index([PackageSpec("alpha", "1.0")])
    proc = _run("constrain", "resolve", "alpha", "--index-url", index.index_url,
                "--cache-dir", str(tmp_path / "cache"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "alpha==1.0" in proc.stdout  # the command ran as it would alone
    rows = _rows(proc.stderr)
    assert "constrain: main thread" in rows
    assert "constrain: http" in rows  # the HTTP thread, named without its prefix
    (total,) = [what for what in rows if what.startswith("CPU in all, wall ")]
    parts = [cpu for what, cpu in rows.items() if what != total]
    assert abs(rows[total] - sum(parts)) <= 0.005 * (len(parts) + 1)  # each row rounded


def test_any_command_is_reported_by_process_and_keeps_its_exit_code(tmp_path):
    child = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'sum(range(10**7))'])"
    proc = _run(sys.executable, "-c", child + "; sys.exit(3)", cwd=tmp_path)
    assert proc.returncode == 3
    rows = _rows(proc.stderr)
    assert any(what.startswith("python") and "(pid " in what for what in rows), rows
    assert not any(what.startswith("constrain:") for what in rows)
