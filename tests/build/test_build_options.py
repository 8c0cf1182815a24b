"""The options for builds of sdists are checked before any work, whether a build happens or not:
a value that cannot mean anything is a usage error naming it, never a rule that silently
applies to nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from constrain.cli import main
from tests.support.builders import PackageSpec


def _resolve(capsys, find_links: Path, tmp_path: Path, *options: str) -> tuple[int, str, str]:
    code = main(["resolve", "beta", "--no-index", "--find-links", str(find_links),
                 "--airflow-constraints", "off", "--cache-dir", str(tmp_path / "cache"),
                 *options])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("value", ["not a name!!", "setuptools>=60", ""])
def test_an_exemption_that_is_no_project_name_is_a_usage_error(
        find_links_dir, tmp_path, capsys, value):
    wheels = find_links_dir([PackageSpec("beta", "1.0")])  # no build: still refused
    code, out, err = _resolve(capsys, wheels, tmp_path, "--build-exclude-newer-exempt", value)
    assert code == 2, err
    assert f"--build-exclude-newer-exempt {value!r} is not a project name" in err
    assert "hint:" in err and ":all:" in err
    assert out == ""


def test_an_exemption_by_any_spelling_of_a_name_or_all_is_taken(find_links_dir, tmp_path,
                                                                 capsys):
    wheels = find_links_dir([PackageSpec("beta", "1.0")])
    for value in ("setuptools", "SetupTools", ":all:"):
        code, out, err = _resolve(capsys, wheels, tmp_path, "--build-exclude-newer-exempt",
                                  value)
        assert code == 0, err
        assert "beta==1.0" in out


@pytest.mark.parametrize(("given", "said", "hint"), [
    ("missing.txt", "no such file", "hint: check the path given to --build-constraint"),
    ("a-directory", "is a directory", "hint: give --build-constraint the path of a file"),
    ("bad.txt", "bad.txt:1:", "hint: fix every line listed"),
])
def test_a_build_constraint_file_is_read_before_any_work_and_its_flag_named(
        find_links_dir, tmp_path, capsys, monkeypatch, given, said, hint):
    """No sdist here, so no build: the file is refused all the same, with the hint naming
    --build-constraint (not -c, the flag of the resolve's own constraint files)."""
    wheels = find_links_dir([PackageSpec("beta", "1.0")])
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "bad.txt").write_text("not a ]] line\n")
    code, out, err = _resolve(capsys, wheels, tmp_path, "--build-constraint", given)
    assert code == 2, err
    assert said in err and hint in err
    assert "to -c" not in err and "give -c " not in err
    assert out == ""


def test_a_good_build_constraint_file_changes_nothing_without_a_build(find_links_dir, tmp_path,
                                                                      capsys):
    wheels = find_links_dir([PackageSpec("beta", "1.0")])
    (tmp_path / "build.txt").write_text("setuptools<58\n")
    code, out, err = _resolve(capsys, wheels, tmp_path, "--build-constraint",
                              str(tmp_path / "build.txt"))
    assert code == 0, err
    assert "beta==1.0" in out
