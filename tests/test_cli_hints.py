"""Hints that point the way out from where the user is (issue 18, "rough edges")."""

from __future__ import annotations

import socket

import pytest

from constrain.cli import main
from tests.support.builders import PackageSpec


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's errors
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["resolve", "six", "--bogus"], "resolve"),
        (["install", "--nope", "six"], "install"),
        (["policy", "check", "a.toml", "b.toml"], "policy check"),
    ],
)
def test_unknown_flag_or_extra_value_shows_the_subcommands_usage(argv, command, capsys):
    code, err = _run(argv, capsys)
    assert code == 2
    assert err.startswith(f"usage: constrain {command} ")
    assert f"hint: run 'constrain {command} --help'" in err


def test_install_help_does_not_offer_what_install_refuses(capsys):
    with pytest.raises(SystemExit):
        main(["install", "--help"])
    text = capsys.readouterr().out
    assert "--python-executable" in text and "--venv" in text
    assert "--python " not in text and "--python X" not in text and "--platform" not in text
    code, err = _run(["install", "six", "--python", "3.11", "--venv", "/nonexistent/v"], capsys)
    assert code == 2 and "--python and --platform do not apply" in err  # still refused, hinted


def test_missing_constraint_file_hint_is_about_the_path(tmp_path, capsys):
    missing = tmp_path / "nothere.txt"
    code, err = _run(["resolve", "six", "-c", str(missing), "--no-index"], capsys)
    assert code == 2
    assert f"error: cannot read {missing}" in err
    assert "hint: check the path given to -c" in err
    assert "fix every line" not in err


def test_unreachable_constraint_url_hint_is_about_the_url(tmp_path, capsys):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/constraints.txt"
    code, err = _run(["resolve", "six", "-c", url, "--no-index", "--timeout", "5"], capsys)
    assert code == 2
    assert f"error: cannot read {url}" in err
    assert "hint: check the URL and the network, or save the file and give -c its path" in err
    assert "fix every line" not in err


def test_bad_lines_still_get_the_fix_every_line_hint(tmp_path, capsys):
    bad = tmp_path / "c.txt"
    bad.write_text("six==\n")
    code, err = _run(["resolve", "six", "-c", str(bad), "--no-index"], capsys)
    assert code == 2 and "hint: fix every line listed" in err


def test_stale_virtual_env_is_named(tmp_path, monkeypatch, capsys, make_index):
    index = make_index([PackageSpec("alpha", "1.0")])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "gone"))
    code, err = _run(["install", "alpha", "--index-url", index.index_url, "--dry-run"], capsys)
    assert code != 0
    assert f"VIRTUAL_ENV={tmp_path / 'gone'} names no virtual environment" in err
    assert "deactivate" in err.splitlines()[-1]


def test_platform_typo_is_refused_before_any_work(make_index, capsys):
    index = make_index([PackageSpec("alpha", "1.0")])
    code, err = _run(["resolve", "alpha", "--index-url", index.index_url, "--python", "3.11",
                      "--platform", "linux_x86_64_typo"], capsys)
    assert code == 2
    assert "unknown platform tag 'linux_x86_64_typo'" in err
    assert "hint: did you mean linux_x86_64?" in err
    assert index.requests == []


@pytest.mark.parametrize(("columns", "width"), [("60", 58), ("", 78), ("wide", 78)])
def test_help_is_wrapped_to_the_terminal_width_or_80_columns(columns, width, capsys,
                                                             monkeypatch):
    monkeypatch.setenv("COLUMNS", columns)  # no terminal under pytest: $COLUMNS, else 80
    with pytest.raises(SystemExit):
        main(["--help"])
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) <= width
    assert max(map(len, lines)) > width - 12  # filled up to the width, not wrapped narrower


def test_top_level_help_names_every_command_and_cache_help_its_options(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("resolve", "install", "download", "refresh", "policy", "audit", "cache"):
        assert f"    {command} " in text
    with pytest.raises(SystemExit):
        main(["cache", "prune", "--help"])
    assert "--cache-dir DIR" in capsys.readouterr().out  # from the options shared by parent
