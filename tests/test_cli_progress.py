"""What a resolve shows while it works and when it is done: a progress line on a terminal,
nothing extra in a pipe, one summary line after writing ``-o``."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from tests.support.builders import PackageSpec


def _resolve(index_url: str, out: str, *, stderr_tty: bool) -> tuple[int, str]:
    return _run(["resolve", "alpha", "--index-url", index_url, "-o", out], stderr_tty=stderr_tty)


def _run(args: list[str], *, stderr_tty: bool, python_flags: tuple[str, ...] = ()
         ) -> tuple[int, str]:
    argv = [sys.executable, *python_flags, "-m", "constrain", *args]
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    if not stderr_tty:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
        return done.returncode, done.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_gets_a_progress_line_and_a_summary(make_index, tmp_path):
    index = make_index([PackageSpec("alpha", "1.0", requires_dist=["beta"]),
                        PackageSpec("beta", "2.0")])
    out = tmp_path / "pins.txt"
    code, err = _resolve(index.index_url, str(out), stderr_tty=True)
    assert code == 0, err
    assert "resolving: " in err and "index pages" in err and "metadata file" in err
    assert "2 pins" in err  # the last state drawn, then erased
    assert f"wrote 2 pins to {out} for CPython" in err
    assert "beta==2.0" in out.read_text()


def test_a_remembered_resolve_on_a_terminal_loads_no_display(make_index, tmp_path):
    index = make_index([PackageSpec("alpha", "1.0")])
    out = tmp_path / "pins.txt"
    code, err = _resolve(index.index_url, str(out), stderr_tty=True)
    assert code == 0 and "resolving: " in err, err
    code, err = _run(["resolve", "alpha", "--index-url", index.index_url, "-o", str(out)],
                     stderr_tty=True, python_flags=("-X", "importtime"))
    assert code == 0, err
    loaded = {line.rsplit("|", 1)[1].strip() for line in err.splitlines()
              if line.startswith("import time:")}
    assert "constrain.models" in loaded  # the import lines are there to read
    assert not {m for m in loaded if m == "rich" or m.startswith("rich.")}
    assert "resolving: " not in err
    assert f"wrote 1 pin to {out} for CPython" in err


def test_a_pipe_gets_only_the_summary(make_index, tmp_path):
    index = make_index([PackageSpec("alpha", "1.0")])
    out = tmp_path / "pins.txt"
    code, err = _resolve(index.index_url, str(out), stderr_tty=False)
    assert code == 0, err
    assert err.splitlines() == [f"wrote 1 pin to {out} for CPython "
                                f"{sys.version_info[0]}.{sys.version_info[1]}."
                                f"{sys.version_info[2]} on this host"]


def test_a_refresh_on_a_terminal_shows_the_progress_line_too(make_index, tmp_path):
    index = make_index([PackageSpec("alpha", "1.0")])
    args = ["refresh", "alpha", "--python", "3.11", "--output-dir", str(tmp_path / "out"),
            "--index-url", index.index_url]
    code, err = _run(args, stderr_tty=True)
    assert code == 0, err
    assert "refreshing: " in err and "1 pin" in err
    code, err = _run(args, stderr_tty=False)
    assert code == 0, err
    assert "refreshing" not in err


def test_download_and_install_show_it_until_their_own_bars(make_index, tmp_path):
    index = make_index([PackageSpec("alpha", "1.0")])
    code, err = _run(["download", "alpha", "--index-url", index.index_url, "--dest",
                      str(tmp_path / "wh")], stderr_tty=True)
    assert code == 0, err
    assert "resolving: " in err and "1 pin" in err
    assert list((tmp_path / "wh").glob("alpha-1.0-*.whl"))
    code, err = _run(["install", "alpha", "--index-url", index.index_url, "--venv",
                      str(tmp_path / "venv"), "--dry-run"], stderr_tty=True)
    assert code == 0, err
    # the download's resolve is remembered: no page, no metadata, no pin to count, so no
    # status line (and no display loaded for it)
    assert "resolving: " not in err
