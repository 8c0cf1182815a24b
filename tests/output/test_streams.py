"""Where a result goes when it cannot simply be printed: a pipe whose reader has left, stdout
closed or full, stderr closed, and ``-o`` paths that cannot (or must not) be written. Each is
said in one line, never as an internal error, and before any work where it can be known then.
The commands run in a real shell, as a user types them."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.builders import PackageSpec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def index(make_index, isolated_env):
    return make_index([PackageSpec("alpha", "1.0")])


def _resolve(index, tmp_path: Path, *args: str) -> str:
    """The shell words of ``constrain resolve alpha ARGS`` against ``index``."""
    argv = [sys.executable, "-m", "constrain", "resolve", *args, "--index-url",
            index.index_url, "--cache-dir", str(tmp_path / "cache")]
    return shlex.join(argv)


def _sh(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)


def test_a_reader_that_left_ends_the_command_quietly_as_a_sigpipe_would(index, tmp_path):
    # Before: "error: internal error: BrokenPipeError", exit 70, whenever the result did not
    # fit in the pipe before its reader left (| head -1 of a long result).
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen(shlex.split(_resolve(index, tmp_path, "alpha")),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""


def test_a_reader_that_leaves_halfway_through_a_long_result_is_no_error_either(
        make_index, isolated_env, tmp_path):
    # Before: a result longer than the pipe holds, its reader gone after 10 bytes: the rest
    # was dropped and the command said it succeeded (io's buffered writer takes a short write
    # to a pipe whose reader left as done).
    server = make_index([PackageSpec("alpha", "1.0", wheel_options={"license": "x" * 300_000})])
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen(shlex.split(_resolve(server, tmp_path, "alpha", "--format", "json")),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10) == b'{\n  "versi'
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""
    # read to its end, the same result is whole
    done = _sh(_resolve(server, tmp_path, "alpha", "--format", "json"), tmp_path)
    assert done.returncode == 0 and len(done.stdout) > 300_000 and done.stdout.endswith("}\n")


def test_stdout_closed_is_said_before_any_work(index, tmp_path):
    # Before: the resolve ran, then an internal error and a Python traceback.
    done = _sh(_resolve(index, tmp_path, "alpha") + " >&-", tmp_path)
    assert done.returncode == 1, done.stderr
    assert "cannot write the result to stdout: it is closed" in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert not index.requests_to("/simple/")  # nothing was asked of the index


def test_a_full_stdout_and_a_closed_stderr(index, tmp_path):
    done = _sh(_resolve(index, tmp_path, "alpha") + " > /dev/full", tmp_path)
    assert done.returncode == 1
    assert "cannot write the result to stdout: No space left on device" in done.stderr
    assert "internal error" not in done.stderr
    # stderr closed: messages go nowhere, the result is written all the same
    done = _sh(_resolve(index, tmp_path, "alpha") + " 2>&-", tmp_path)
    assert done.returncode == 0
    assert "alpha==1.0" in done.stdout


def test_output_paths_that_cannot_or_must_not_be_written_are_refused_first(index, tmp_path):
    reqs = tmp_path / "reqs.txt"
    reqs.write_text("alpha\n")
    (tmp_path / "adir").mkdir()
    cases = [  # (arguments, exit code, what stderr says)
        (["-r", "reqs.txt", "-o", "reqs.txt"], 2, "-o reqs.txt would replace the input file"),
        (["alpha", "-o", ""], 2, "-o/--output is empty"),
        (["alpha", "-o", "adir"], 1, "cannot write adir: it is a directory"),
        (["alpha", "-o", "missing/out.txt"], 1, "missing does not exist"),
    ]
    for args, code, said in cases:
        done = _sh(_resolve(index, tmp_path, *args), tmp_path)
        assert (done.returncode, said in done.stderr) == (code, True), (args, done.stderr)
    assert reqs.read_text() == "alpha\n"  # the input is as it was
    assert not index.requests_to("/simple/")  # every refusal came before any work
    # "-o -" is stdout, as in pip-compile (it was a file named "-")
    done = _sh(_resolve(index, tmp_path, "alpha", "-o", "-"), tmp_path)
    assert done.returncode == 0 and "alpha==1.0" in done.stdout
    assert not (tmp_path / "-").exists()
