"""The ``constrain`` command's own exit: exit handlers run, streams are flushed, codes kept."""

from __future__ import annotations

import subprocess
import sys

from tests.support.builders import PackageSpec


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def test_exit_handlers_run_and_output_is_flushed_after_a_command():
    r = _run("import atexit, sys\n"
             "from constrain.cli import entry\n"
             "atexit.register(lambda: print('exit handler ran'))\n"
             "sys.argv = ['constrain', '--version']\n"
             "print('before', end='')\n"
             "entry()\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("beforeconstrain ")
    assert r.stdout.rstrip().endswith("exit handler ran")


def test_a_failing_command_keeps_its_exit_code_and_whole_message(make_index, tmp_path):
    index = make_index([PackageSpec("alpha", "1.0")])
    ok = subprocess.run([sys.executable, "-m", "constrain", "resolve", "alpha", "--index-url",
                         index.index_url, "--cache-dir", str(tmp_path / "c"),
                         "-o", str(tmp_path / "out.txt")],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "alpha==1.0" in (tmp_path / "out.txt").read_text()
    bad = subprocess.run([sys.executable, "-m", "constrain", "resolve", "nothere",
                          "--index-url", index.index_url, "--cache-dir", str(tmp_path / "c")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert "nothere" in bad.stderr and bad.stderr.rstrip().splitlines()[-1].startswith("hint:")
