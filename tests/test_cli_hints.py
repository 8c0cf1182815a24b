"""Hints that point the way out from where the user is (issue 18, "rough edges")."""

from __future__ import annotations

import socket
import sys

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


def test_requirements_may_follow_options_as_in_pip(make_index, tmp_path, capsys,
                                                   isolated_env):
    # Before: "unrecognized arguments: beta" -- only the first run of positionals was read.
    server = make_index([PackageSpec("alpha", "1.0"), PackageSpec("beta", "2.0")])
    out = tmp_path / "pins.txt"
    code, err = _run(["resolve", "alpha", "--index-url", server.index_url, "beta",
                      "-o", str(out)], capsys)
    assert code == 0, err
    assert out.read_text().splitlines()[-2:] == ["alpha==1.0", "beta==2.0"]


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


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (["--index-url", "http://[::1"], "cannot read the location 'http://[::1': Invalid IPv6"),
        (["--extra-index-url", "http://u:pw@[::1"], "cannot read the location "
                                                    "'http://u:****@[::1'"),
        (["--find-links", "http://[::1"], "cannot read the location"),
        (["--index-url", "http://127.0.0.1:99999/simple"], "Port out of range 0-65535"),
        (["--index-url", "ftp://127.0.0.1/simple"], "the scheme ftp:// is not supported"),
        (["--index-url", "https:///simple"], "it names no host"),
    ],
)
def test_a_location_that_cannot_be_asked_for_is_an_error_not_a_bug(option, said, capsys,
                                                                     isolated_env):
    # Before: "internal error: ValueError: Invalid IPv6 URL" / "OverflowError: connect():
    # port must be 0-65535" (exit 70), and ftp:// tried four times over 2.7 s.
    code, err = _run(["resolve", "six", *option], capsys)
    assert code in (1, 2)
    assert said in err, err
    assert "internal error" not in err and "pw" not in err


def test_the_last_day_there_is_as_a_cut_off(make_index, capsys, isolated_env):
    # Before: "internal error: OverflowError: date value out of range".
    server = make_index([PackageSpec("alpha", "1.0")])
    code, err = _run(["resolve", "alpha", "--index-url", server.index_url,
                      "--exclude-newer", "9999-12-31"], capsys)
    assert code == 0, err


def test_a_project_name_longer_than_a_file_name_can_be_is_not_found(tmp_path, capsys,
                                                                      isolated_env):
    # Before: "internal error: OSError: [Errno 36] File name too long" from the find-links
    # directory, and "InvalidURL: URL too long" from the index.
    local = tmp_path / "simple"
    local.mkdir()
    for length, index, said in ((5000, local.as_uri(), "no project named"),
                                (70_000, "http://127.0.0.1:9/simple", "characters long")):
        reqs = tmp_path / f"long-{length}.txt"
        reqs.write_text("a" * length + "\n")
        code, err = _run(["resolve", "-r", str(reqs), "--index-url", index], capsys)
        assert code != 0 and said in err, err[:300]
        assert "internal error" not in err


def test_a_configuration_file_that_is_not_utf8_is_named(tmp_path, capsys, monkeypatch,
                                                         isolated_env):
    # Before: "internal error: UnicodeDecodeError".
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.constrain]\ntimeout = 5\n# caf\xe9\n")
    monkeypatch.chdir(tmp_path)
    code, err = _run(["resolve", "six", "--offline"], capsys)
    assert code == 1
    assert "pyproject.toml: byte 35 (line 3) is not UTF-8" in err, err


def test_refresh_refuses_a_report_it_could_not_write_before_writing_anything(
        make_index, tmp_path, capsys, isolated_env):
    # Before: the constraint files were written, then "cannot write adir: Is a directory".
    server = make_index([PackageSpec("alpha", "1.0")])
    (tmp_path / "adir").mkdir()
    out = tmp_path / "constraints"
    for report in (["--report", str(tmp_path / "adir")],
                   ["--json-report", str(tmp_path / "missing" / "r.json")]):
        code, err = _run(["refresh", "alpha", "--python", "3.11", "--output-dir", str(out),
                          "--index-url", server.index_url, *report], capsys)
        assert code == 1 and "cannot write" in err, err
        assert not out.exists()
    assert not server.requests_to("/simple/")


def test_input_files_that_are_not_requirement_files_are_named_without_reading_them_whole(
        tmp_path, capsys, isolated_env):
    # Before: -r /dev/zero ran until the machine's memory was gone; a directory and a file
    # that is not UTF-8 were named with no way out; a line of millions of words took
    # gigabytes, and an error on it quoted it whole with a caret line as long.
    (tmp_path / "adir").mkdir()
    (tmp_path / "latin1.txt").write_bytes(b"six\n# caf\xe9\n")
    (tmp_path / "words.txt").write_text("six\n" + " ".join(["a"] * 600_000) + "\n")
    (tmp_path / "long.txt").write_text("a" * 100_000 + " >=1 extra\n")
    cases = [
        ("/dev/zero", "larger than 32 MiB"),
        (str(tmp_path / "adir"), "adir is a directory"),
        (str(tmp_path / "latin1.txt"), "is not UTF-8 text: byte 10 (line 2) cannot be read"),
        (str(tmp_path / "words.txt"), "words.txt:2: the line is 1,199,999 characters long"),
    ]
    for path, said in cases:
        code, err = _run(["resolve", "-r", path, "--offline"], capsys)
        assert code == 2 and said in err, (path, err[:400])
        assert max(len(line) for line in err.splitlines()) < 400, path
    code, err = _run(["resolve", "-r", str(tmp_path / "long.txt"), "--offline"], capsys)
    lines = err.splitlines()
    quoted = next(i for i, line in enumerate(lines) if line.lstrip().startswith("1 | "))
    assert len(lines[quoted]) < 200 and lines[quoted].endswith("a >=1 extra")
    assert lines[quoted][lines[quoted + 1].index("^"):].startswith("extra")


def test_a_lock_file_or_report_given_as_constraints_is_named_once(tmp_path, capsys, isolated_env):
    # Before: -c pylock.toml or -c report.json listed thousands of unreadable "lines".
    files = {"pylock.toml": 'lock-version = "1.0"\n[[packages]]\nname = "six"\n' * 300,
             "report.json": '{"version": "1", "install": []}\n' * 300,
             "pyproject.toml": '[project]\nname = "x"\ndependencies = ["six"]\n'}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        code, err = _run(["resolve", "six", "-c", str(tmp_path / name), "--offline"], capsys)
        assert code == 2, err
        assert len(err.splitlines()) < 6, err  # one problem, not one per line
        assert "not a requirements or constraints file" in err and "pip's format" in err


@pytest.mark.parametrize("command", [["resolve", "six"], ["install", "six", "--dry-run"],
                                     ["cache", "info"]])
def test_a_cache_directory_that_cannot_be_one_is_said_once_before_any_work(
        command, tmp_path, capsys, isolated_env):
    # Before: a warning "continuing without caching index pages", then an error with a hint
    # about disk space, exit 1; `cache info` called the file "(does not exist yet)".
    (tmp_path / "file.txt").write_text("")
    for given, said in ((tmp_path / "file.txt", "file.txt is not a directory"),
                        (tmp_path / "file.txt" / "sub", "cannot be made: "),
                        ("", "--cache-dir is empty")):
        code, err = _run([*command, "--cache-dir", str(given)], capsys)
        assert code == 2 and said in err, (given, err)
        assert "warning" not in err and err.count("error:") == 1


@pytest.mark.parametrize("flag", [["--timeout", "-1"], ["--deadline", "-5"],
                                  ["--timeout", "nan"], ["--timeout", "abc"]])
def test_a_bad_network_limit_on_the_command_line_is_a_usage_error(flag, capsys, isolated_env):
    # Before: "abc" was a usage error (2) but -1, nan and a negative deadline exit 1.
    code, err = _run(["resolve", "six", "--offline", *flag], capsys)
    assert code == 2, err


@pytest.mark.parametrize("jobs", ["0", "-3", "many"])
def test_download_jobs_must_be_one_or_more(jobs, tmp_path, capsys, isolated_env):
    # Before: -j 0 and -j -3 were taken without a word.
    code, err = _run(["download", "six", "--dest", str(tmp_path / "wh"), "-j", jobs], capsys)
    assert code == 2 and "--jobs" in err, err
    assert not (tmp_path / "wh").exists()


def test_a_misspelt_configuration_key_is_named_with_the_one_meant(tmp_path, capsys,
                                                                   monkeypatch, isolated_env):
    # Before: `timout = 5` was ignored without a word (the refresh table already said so).
    (tmp_path / "pyproject.toml").write_text("[tool.constrain]\ntimout = 5\n")
    monkeypatch.chdir(tmp_path)
    code, err = _run(["resolve", "six", "--offline"], capsys)
    assert code == 1
    assert "unknown key timout (did you mean timeout?)" in err, err


def test_the_patch_hint_only_where_a_later_patch_would_do(make_index, capsys, isolated_env):
    # Before: "give the patch (e.g. --python 3.8.20)" for a release requiring >=3.10 too.
    server = make_index([PackageSpec("newer", "1.0", requires_python=">=3.10"),
                         PackageSpec("patched", "1.0", requires_python=">=3.8.1")])
    hint = "give the patch (e.g. --python 3.8.20)"
    code, err = _run(["resolve", "newer==1.0", "--python", "3.8", "--index-url",
                      server.index_url], capsys)
    assert code == 1 and "requires-python >=3.10" in err and hint not in err, err
    code, err = _run(["resolve", "patched==1.0", "--python", "3.8", "--index-url",
                      server.index_url], capsys)
    assert code == 1 and hint in err, err


def test_python_2_is_said_to_be_unsupported_not_unreadable(capsys, isolated_env):
    code, err = _run(["resolve", "six", "--python", "2.7"], capsys)
    assert code == 2 and "Python 2 is not supported (--python 2.7)" in err, err


def test_hints_speak_of_the_command_given(tmp_path, capsys, isolated_env):
    # Before: `policy check missing.toml` was told to check "the path given to -r or -c",
    # and a project missing under --no-index to add an index with --extra-index-url.
    code, err = _run(["policy", "check", str(tmp_path / "missing.toml")], capsys)
    assert code != 0 and "no such file" in err and "-r or -c" not in err, err
    code, err = _run(["resolve", "six", "--no-index", "--find-links", str(tmp_path)], capsys)
    assert code == 1 and "add a --find-links location that has it" in err, err
    assert "--extra-index-url" not in err


def test_a_wheelhouse_that_is_a_file_is_called_one(tmp_path, capsys, isolated_env):
    (tmp_path / "wh.txt").write_text("")
    code, err = _run(["install", "six", "--wheelhouse", str(tmp_path / "wh.txt"), "--offline",
                      "--venv", str(tmp_path / "venv")], capsys)
    assert code == 2 and "wh.txt: not a directory" in err, err
    assert not (tmp_path / "venv").exists()


def test_a_constraint_pip_is_configured_with_is_said_not_silently_dropped(
        make_index, tmp_path, capsys, monkeypatch, isolated_env):
    # Before: pip's `constraint` setting was ignored without a word; pip would have kept
    # alpha below 2 here, constrain picked 2.0.
    server = make_index([PackageSpec("alpha", "1.0"), PackageSpec("alpha", "2.0")])
    caps = tmp_path / "caps.txt"
    caps.write_text("alpha<2\n")
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nconstraint = {caps}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    out = tmp_path / "out.txt"
    code, err = _run(["resolve", "alpha", "--index-url", server.index_url, "-o", str(out)],
                     capsys)
    assert code == 0, err
    assert f"pip's configuration sets constraint = {caps} ({conf}:2)" in err
    assert f"add -c {caps}" in err and "alpha==2.0" in out.read_text()
    code, err = _run(["resolve", "alpha", "--index-url", server.index_url, "-o", str(out),
                      "-c", str(caps)], capsys)
    assert code == 0 and "constraint =" not in err, err
    assert "alpha==1.0" in out.read_text()
    # a command that takes no -c has nothing to add: not said there
    code, err = _run(["policy", "check", "--no-lookup"], capsys)
    assert code == 0 and "constraint =" not in err, err


def test_no_result_replaces_a_file_the_command_reads_or_another_result(
        make_index, tmp_path, capsys, monkeypatch, isolated_env):
    # Before: only top-level -r/-c were checked; a policy file, a policy reference, a build
    # constraint, a nested -c, or refresh's reports (over an input or over a constraints file
    # it writes) were replaced, exit 0.
    server = make_index([PackageSpec("alpha", "1.0")])
    monkeypatch.chdir(tmp_path)
    files = {
        "p.toml": '[alpha]\nbound = "<2"\nreason = "r"\nremove-when = "w"\n',
        "ref.txt": "alpha==1.0\n",
        "bc.txt": "setuptools<80\n",
        "outer.txt": "alpha\n-c inner.txt\n",
        "inner.txt": "alpha<2\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    index = ["--index-url", server.index_url]
    for argv, replaced in ((["alpha", "--policies", "p.toml"], "p.toml"),
                           (["alpha", "--policy-reference", "ref.txt"], "ref.txt"),
                           (["alpha", "--build-constraint", "bc.txt"], "bc.txt"),
                           (["-r", "outer.txt"], "inner.txt")):
        code, err = _run(["resolve", *argv, *index, "-o", replaced], capsys)
        assert code == 2, err
        assert f"-o {replaced} would replace the input file" in err, err
    refresh = ["refresh", "alpha", "--python", "3.11", "--output-dir", "out", *index]
    for extra, said in ((["-c", "inner.txt", "--report", "inner.txt"],
                         "--report inner.txt would replace the input file"),
                        (["--json-report", "out/constraints-3.11.txt"],
                         "the constraints file out/constraints-3.11.txt and --json-report "
                         "out/constraints-3.11.txt are the same file"),
                        (["--report", "r.md", "--json-report", "r.md"],
                         "--report r.md and --json-report r.md are the same file"),
                        (["--report", ""], "--report is empty")):
        (tmp_path / "out").mkdir(exist_ok=True)
        code, err = _run([*refresh, *extra], capsys)
        assert code == 2 and said in err, err
    assert {p.name: p.read_text() for p in tmp_path.glob("*.t*")} == files
    assert not list((tmp_path / "out").iterdir()) and not (tmp_path / "r.md").exists()
    # an empty --dest (an unset variable) was the working directory, filled and overwritten
    code, err = _run(["download", "alpha", "--dest", "", *index], capsys)
    assert code == 2 and "--dest is empty" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*files, "out"])


def test_an_install_is_not_told_to_choose_a_python_or_platform_it_cannot_take(
        make_index, tmp_path, capsys, isolated_env):
    # Before: "hint: choose another --python/--platform", flags install refuses.
    server = make_index([PackageSpec("winonly", "1.0", tags=("py3-none-win_amd64",)),
                         PackageSpec("newpy", "1.0", requires_python=">=3.99")])
    for name, said in (("winonly", "choose a version of winonly with files for this "
                                   "environment, or install into an environment of a Python "
                                   "and platform it has files for"),
                       ("newpy", "choose a version of newpy with files for this environment")):
        code, err = _run(["install", name, "--index-url", server.index_url, "--venv",
                          str(tmp_path / "v")], capsys)
        assert code == 1 and said in err, err
        assert "--python" not in err.split("hint:", 1)[1], err


def test_an_offline_download_into_a_new_wheelhouse_says_where_the_files_are(
        make_index, tmp_path, capsys, isolated_env):
    # Before: "hint: run once without --offline to fill the cache", which a download does not
    # do (its files go to the wheelhouse): following it changed nothing.
    server = make_index([PackageSpec("alpha", "1.0")])
    index = ["--index-url", server.index_url]
    assert _run(["download", "alpha", "--dest", str(tmp_path / "a"), *index], capsys)[0] == 0
    code, err = _run(["download", "alpha", "--dest", str(tmp_path / "b"), "--offline", *index],
                     capsys)
    assert code == 1 and "is not in the cache" in err, err
    assert "download writes files to the wheelhouse, not the cache" in err
    assert "fill the cache" not in err
    assert _run(["download", "alpha", "--dest", str(tmp_path / "a"), "--offline", *index],
                capsys)[0] == 0


def test_a_download_rerun_for_fewer_targets_names_the_files_it_no_longer_writes(
        make_index, tmp_path, capsys, isolated_env):
    # Before: only stale wheels were named; the dropped target's constraints, requirements and
    # pylock files stayed beside the new ones without a word.
    server = make_index([PackageSpec("alpha", "1.0")])
    args = ["download", "alpha", "--dest", str(tmp_path / "wh"), "--index-url", server.index_url]
    assert _run([*args, "--python", "3.11", "--python", "3.12"], capsys)[0] == 0
    code, err = _run([*args, "--python", "3.11"], capsys)
    assert code == 0, err
    for name in ("constraints-3.12.txt", "requirements-3.12.txt", "pylock.cp312.toml"):
        assert f"{name} is in {tmp_path / 'wh'} but no target needs it any more" in err, err
    assert "3.11.txt is in" not in err and "cp311" not in err


def test_an_install_from_a_wheelhouse_with_no_requirement_installs_what_it_was_made_for(
        make_index, tmp_path, capsys, isolated_env):
    # Before: "nothing to install", though the README gave `constrain install --wheelhouse
    # DIR --offline` as the way to install on the other side.
    server = make_index([PackageSpec("alpha", "1.0")])
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    elsewhere = "3.12" if here != "3.12" else "3.13"
    house, other = tmp_path / "wh", tmp_path / "wh-elsewhere"
    for dest, python in ((house, here), (other, elsewhere)):
        assert _run(["download", "alpha", "--dest", str(dest), "--python", python,
                     "--index-url", server.index_url], capsys)[0] == 0
    venv = tmp_path / "v"
    code, err = _run(["install", "--wheelhouse", str(house), "--offline", "--venv", str(venv)],
                     capsys)
    assert code == 0, err
    assert list(venv.glob(f"lib/python{here}/site-packages/alpha-1.0.dist-info"))
    # downloaded for another Python only: nothing for this one, and its files are named
    code, err = _run(["install", "--wheelhouse", str(other), "--offline", "--venv",
                      str(tmp_path / "v2")], capsys)
    assert code == 2 and "nothing to install" in err, err
    listed = other / f"requirements-{elsewhere}.txt"
    assert f"install what the wheelhouse was downloaded for: -r {listed}" in err, err


def test_hashes_in_a_requirements_file_are_checked_as_pip_checks_them(
        make_index, tmp_path, capsys, isolated_env):
    # Before: --hash and --require-hashes were read and then ignored: a file with a wrong hash
    # was installed, and unpinned or unhashed requirements passed.
    server = make_index([PackageSpec("alpha", "1.0", requires_dist=["beta>=1"]),
                         PackageSpec("beta", "1.0"), PackageSpec("beta", "2.0")])
    index = ["--index-url", server.index_url]
    locked = tmp_path / "req.txt"
    code, err = _run(["resolve", "alpha", *index, "--format", "requirements", "-o", str(locked)],
                     capsys)
    assert code == 0 and locked.read_text().count("--hash=sha256:") == 2, err
    venv = tmp_path / "v"
    code, err = _run(["install", "-r", str(locked), "--venv", str(venv), *index], capsys)
    assert code == 0, err
    text = locked.read_text()
    alpha_hash = text.split("alpha==1.0", 1)[1].split("--hash=sha256:", 1)[1][:64]
    wrong = tmp_path / "wrong.txt"
    wrong.write_text(text.replace(alpha_hash, "0" * 64))
    code, err = _run(["install", "-r", str(wrong), "--venv", str(tmp_path / "w"), *index],
                     capsys)
    assert code == 1 and "alpha 1.0 has no file with a hash the requirements allow" in err, err
    assert not (tmp_path / "w").exists()
    half = tmp_path / "half.txt"  # beta's lines left out: its file would go unchecked
    half.write_text(f"alpha==1.0 --hash=sha256:{alpha_hash}\n")
    code, err = _run(["resolve", "-r", str(half), *index], capsys)
    assert code == 2 and "hash-checking mode: 1 of the 2 pins have no --hash: beta" in err, err
    loose = tmp_path / "loose.txt"
    loose.write_text("--require-hashes\nalpha\n")
    code, err = _run(["resolve", "-r", str(loose), *index], capsys)
    assert code == 2 and f"{loose}:2: not pinned" in err, err


def test_options_in_a_requirements_file_are_applied_or_said_not_to_be(
        make_index, tmp_path, capsys, isolated_env):
    # Before: --no-index, --only-binary, --no-binary, --prefer-binary and --trusted-host in a
    # requirements file were read and silently dropped (--no-index still asked the index).
    server = make_index([PackageSpec("alpha", "1.0"),
                         PackageSpec("sdonly", "1.0", kinds=("sdist",))])
    index = ["--index-url", server.index_url]
    (tmp_path / "empty").mkdir()
    files = {"no-index.txt": f"--no-index\n-f {tmp_path / 'empty'}\nalpha\n",
             "binary.txt": "--only-binary :all:\nsdonly\n",
             "others.txt": "--prefer-binary\n--no-binary alpha\n--trusted-host h.example\nalpha\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    code, err = _run(["resolve", "-r", str(tmp_path / "no-index.txt"), *index], capsys)
    assert code == 1 and "no project named 'alpha'" in err, err
    code, err = _run(["resolve", "-r", str(tmp_path / "binary.txt"), *index], capsys)
    assert code == 1 and "--only-binary is set" in err, err
    code, err = _run(["resolve", "-r", str(tmp_path / "others.txt"), *index], capsys)
    assert code == 0, err
    for option in ("--prefer-binary", "--no-binary alpha", "--trusted-host h.example"):
        assert f"a requirements file asks for {option}" in err, err


def test_exact_keeps_what_the_running_constrain_needs_in_its_own_environment(
        make_index, capsys, isolated_env):
    # Before: `install --exact` into constrain's own environment removed constrain and httpx
    # halfway through the run (a ModuleNotFoundError, and no constrain left). A dry run only.
    import sys

    server = make_index([PackageSpec("alpha", "1.0")])
    code = main(["install", "alpha", "--exact", "--dry-run", "--venv", sys.prefix,
                 "--index-url", server.index_url])
    out, err = capsys.readouterr()
    assert code == 0, err
    removed = {line.split()[1].split("==")[0].lower()
               for line in out.splitlines() if line.strip().startswith("- ")}
    assert "iniconfig" in removed  # pytest's, not constrain's: --exact still removes it
    assert not removed & {"constrain", "httpx", "packaging", "resolvelib", "installer", "pip"}


def test_platforms_of_different_systems_in_one_resolve_are_refused(make_index, capsys,
                                                                  isolated_env):
    # Before: markers were evaluated for the first --platform only, while the header and the
    # pylock file claimed all of them (a win32-only requirement silently missing).
    server = make_index([PackageSpec("alpha", "1.0")])
    code, err = _run(["resolve", "alpha", "--platform", "macosx_11_0_arm64", "--platform",
                      "win_amd64", "--index-url", server.index_url], capsys)
    assert code == 2 and "are different systems" in err and "constrain download" in err, err
    code, err = _run(["resolve", "alpha", "--platform", "manylinux2014_x86_64", "--platform",
                      "manylinux_2_28_x86_64", "--index-url", server.index_url], capsys)
    assert code == 0, err


def test_a_path_requirement_is_told_the_way_that_works(capsys, isolated_env):
    # Before: "write it as `name @ url`", which the resolver then refused as a direct URL.
    code, err = _run(["resolve", "./project"], capsys)
    assert code == 2 and "a path or URL is not supported as a requirement" in err, err
    assert "--find-links" in err and "name @ url" not in err


def test_every_spelling_of_a_bare_date_is_its_whole_day():
    # Before: 20240521 meant the start of that day while 2024-05-21 meant all of it, and
    # RFC 3339's lower-case z was refused.
    from datetime import UTC, datetime

    from constrain.app.requests import parse_exclude_newer

    whole_day = datetime(2024, 5, 22, tzinfo=UTC)
    assert parse_exclude_newer("2024-05-21") == parse_exclude_newer("20240521") == whole_day
    assert (parse_exclude_newer("2024-05-20T20:00:00z")
            == parse_exclude_newer("2024-05-20T22:00:00+02:00")
            == datetime(2024, 5, 20, 20, tzinfo=UTC))


def test_the_only_binary_hint_does_not_offer_a_per_project_flag(make_index, capsys,
                                                               isolated_env):
    # Before: "drop --only-binary for this project", which no option can do.
    server = make_index([PackageSpec("sdonly", "1.0", kinds=("sdist",))])
    code, err = _run(["resolve", "sdonly", "--only-binary", "--index-url", server.index_url],
                     capsys)
    assert code == 1 and "for this project" not in err, err
    assert "drop --only-binary (it applies to every project)" in err


def test_a_conflict_over_many_versions_of_a_parent_is_summed_up(make_index, capsys,
                                                                isolated_env):
    # Before: one line per version of the parent tried (94 lines for boto3 against botocore).
    specs = [PackageSpec("parent", f"1.{i}", requires_dist=[f"child<{i + 1}"])
             for i in range(12)]
    server = make_index([*specs, PackageSpec("child", "50")])
    code, err = _run(["resolve", "parent", "child>=50", "--index-url", server.index_url],
                     capsys)
    assert code == 1, err
    chains = [line for line in err.splitlines() if " -> " in line]
    assert len(chains) == 8, err  # the command line's, and the first seven parents'
    assert "... and 5 more (versions 1.0 to 1.11 of parent)" in err, err
    assert len(err.splitlines()) < 25, err


def test_local_find_links_files_get_their_hash_in_a_lock_and_hashed_requirements(
        tmp_path, capsys, isolated_env):
    # Before: `--format pylock` failed ("no file of it has a known hash") and the requirements
    # format dropped every hash, for files of a local find-links directory.
    import hashlib

    from tests.support.builders import make_wheel

    here = tmp_path / "fl"
    here.mkdir()
    wheel = make_wheel(here, "alpha", "1.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    for fmt in ("requirements", "pylock"):
        out = tmp_path / f"out-{fmt}"
        code, err = _run(["resolve", "alpha", "--no-index", "--find-links", str(here),
                          "--format", fmt, "-o", str(out)], capsys)
        assert code == 0, err
        assert digest in out.read_text(), out.read_text()


def test_a_dry_run_says_what_the_check_after_the_real_run_would_find(make_index, tmp_path,
                                                                     capsys, isolated_env):
    # Before: the dry run planned a plain downgrade, exit 0; the real run then downgraded and
    # exited 1, "inconsistent after the install".
    server = make_index([PackageSpec("app", "1.0", requires_dist=["lib>=2"]),
                         PackageSpec("lib", "1.0"), PackageSpec("lib", "2.0")])
    venv = str(tmp_path / "v")
    index = ["--index-url", server.index_url]
    assert _run(["install", "app", "--venv", venv, *index], capsys)[0] == 0
    code, err = _run(["install", "lib==1.0", "--venv", venv, "--dry-run", *index], capsys)
    assert code == 0, err
    assert "after this install: app 1.0 has requirement lib>=2, but you have lib 1.0" in err, err
    code, err = _run(["install", "lib==2.0", "--venv", venv, "--dry-run", *index], capsys)
    assert code == 0 and "after this install" not in err, err
