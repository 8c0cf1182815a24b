"""Fault suite, input at scale: requirement and constraint files that repeat a line 20,000
times (as generated or concatenated files do) are read in linear work. The assertion is on a
work counter (``CONSTRAIN_STATS_FILE``), never on time: resolvelib re-checks every requirement
already on a project when another is added, so 20,000 copies cost 200 million checks unless
identical ones are merged; the subprocess timeout only keeps a regression from hanging the
suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.builders import PackageSpec

LINES = 20_000


def resolve(*args: str, stats=None) -> subprocess.CompletedProcess:
    env = {**os.environ, **({"CONSTRAIN_STATS_FILE": str(stats)} if stats else {})}
    return subprocess.run([sys.executable, "-m", "constrain", "resolve", *args],
                          capture_output=True, text=True, timeout=300, env=env)


def test_twenty_thousand_duplicate_lines_are_read_in_linear_work(make_index, tmp_path):
    server = make_index([PackageSpec("beta", "1.0"), PackageSpec("beta", "2.0")])
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("beta\n" * LINES)
    cons = tmp_path / "constraints.txt"
    cons.write_text("beta==1.0\n" * LINES)
    stats = tmp_path / "stats.json"
    run = resolve("-r", str(reqs), "-c", str(cons), "--index-url", server.index_url,
                  stats=stats)
    assert run.returncode == 0, run.stderr
    assert "beta==1.0" in run.stdout.splitlines()
    work = json.loads(stats.read_text())
    # one requirement on beta, looked at once per question -- not 20,000 x 20,000 / 2
    assert work["requirements_matched"] <= 4
    assert work["rounds"] <= 3


def test_one_disagreeing_pin_among_twenty_thousand_is_found_and_named(make_index, tmp_path):
    server = make_index([PackageSpec("beta", "1.0"), PackageSpec("beta", "2.0")])
    cons = tmp_path / "constraints.txt"
    lines = ["beta==1.0"] * LINES
    lines[12_344] = "beta==2.0"
    cons.write_text("\n".join(lines) + "\n")
    run = resolve("beta", "-c", str(cons), "--index-url", server.index_url)
    assert run.returncode != 0
    assert "conflicting pins for beta" in run.stderr
    assert f"{cons}:12345" in run.stderr and "hint:" in run.stderr
    assert "Traceback" not in run.stderr
