"""A wheel built from an sdist is kept under the places its build requirements may come from,
not under how those places were written: naming pip's default index or leaving it unset, a
trailing ``/``, a find-links directory given relative or absolute -- the next install (offline,
as on the air-gapped side) takes the built wheel instead of building it again."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from constrain.cli import main
from tests.install.test_build_requires_once import COUNTING
from tests.support.builders import PackageSpec, make_wheel

SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"

SPECS = [
    PackageSpec("app", "1.0", kinds=("sdist",),
                sdist_options={"build_system": {"requires": ["counttool"],
                                                "build-backend": "counttool_backend"}}),
    PackageSpec("counttool", "1.0", wheel_options={"files": {"counttool_backend.py": COUNTING}}),
]


def _builds(log: Path) -> int:
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text().splitlines() if line.startswith("build_wheel "))


def test_the_same_places_written_differently_reuse_the_built_wheel(
        make_index, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch):
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("HOOK_LOG", str(log))
    server = make_index(SPECS)
    # this index stands for pip's default one: the index used when nothing names one
    monkeypatch.setattr("constrain.config.default_index_url", lambda: server.index_url + "/")
    (tmp_path / "links").mkdir()
    make_wheel(tmp_path / "links", "extra", "1.0")
    monkeypatch.chdir(tmp_path)
    cache = str(tmp_path / "cache")

    def install(venv: str, *options: str) -> None:
        code = main(["install", "app==1.0", "--venv", str(tmp_path / venv), "--cache-dir", cache,
                     "--airflow-constraints", "off", *options])
        err = capsys.readouterr().err
        assert code == 0, err
        assert (tmp_path / venv / SITE / "app").is_dir()

    install("first", "--index-url", server.index_url, "--find-links", "links")
    assert _builds(log) == 1
    # pip's default index left unset, find-links absolute and with a trailing slash, offline
    install("second", "--find-links", str(tmp_path / "links") + os.sep, "--offline")
    # the default index named with a trailing slash
    install("third", "--index-url", server.index_url + "/", "--find-links",
            (tmp_path / "links").as_uri(), "--offline")
    assert _builds(log) == 1  # built once, taken from the cache twice


def test_other_places_build_again(make_index, tmp_path: Path, capsys,
                                  monkeypatch: pytest.MonkeyPatch):
    """The other side: another index may hold other build requirements, so its wheel is its
    own."""
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("HOOK_LOG", str(log))
    server = make_index(SPECS)
    other = make_index(SPECS)
    monkeypatch.setattr("constrain.config.default_index_url", lambda: server.index_url)
    cache = str(tmp_path / "cache")
    for venv, index in (("first", server.index_url), ("second", other.index_url)):
        code = main(["install", "app==1.0", "--venv", str(tmp_path / venv), "--cache-dir", cache,
                     "--airflow-constraints", "off", "--index-url", index])
        assert code == 0, capsys.readouterr().err
    assert _builds(log) == 2


def test_no_build_installs_a_wheel_built_before_and_refuses_a_build(
        make_index, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch):
    # Before: an sdist whose metadata the cache held was built by `install --no-build`.
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("HOOK_LOG", str(log))
    server = make_index(SPECS)
    cache = str(tmp_path / "cache")

    def install(venv: str, *options: str) -> tuple[int, str]:
        code = main(["install", "app", "--venv", str(tmp_path / venv), "--cache-dir", cache,
                     "--airflow-constraints", "off", "--index-url", server.index_url, *options])
        return code, capsys.readouterr().err

    assert main(["resolve", "app", "--cache-dir", cache, "--index-url", server.index_url,
                 "--airflow-constraints", "off"]) == 0  # app's metadata now in the cache
    capsys.readouterr()
    for options in (("--dry-run",), ()):
        code, err = install("refused", "--no-build", *options)
        assert code == 1, err
        assert "--no-build is set, but app 1.0 (app-1.0.tar.gz) has no wheel" in err
        assert _builds(log) == 0 and not (tmp_path / "refused").exists()
    assert install("built", "app==1.0")[0] == 0 and _builds(log) == 1
    code, err = install("again", "--no-build")  # the wheel built then: no code runs
    assert code == 0, err
    assert (tmp_path / "again" / SITE / "app").is_dir() and _builds(log) == 1


@pytest.mark.parametrize("damage", ["pointer not UTF-8", "wheel cut short", "member garbled"])
def test_a_built_wheel_damaged_in_the_cache_is_built_again(
        make_index, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, damage):
    # Before: "internal error: UnicodeDecodeError" (exit 70), or "not a well-formed ZIP
    # archive" on every run, --refresh and --reinstall included.
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("HOOK_LOG", str(log))
    server = make_index(SPECS)
    cache = tmp_path / "cache"

    def install(venv: str) -> str:
        code = main(["install", "app==1.0", "--venv", str(tmp_path / venv), "--cache-dir",
                     str(cache), "--index-url", server.index_url, "--airflow-constraints", "off"])
        err = capsys.readouterr().err
        assert code == 0, err
        assert (tmp_path / venv / SITE / "app").is_dir()
        return err

    install("first")
    (pointer,) = cache.glob("built-v*/*/*.name")
    (wheel,) = cache.glob("built-v*/*/*.whl")
    for tree in cache.glob("unpacked-v*/*/*"):  # the next install must read the wheel again
        shutil.rmtree(tree)
    data = wheel.read_bytes()
    if damage == "pointer not UTF-8":
        pointer.write_bytes(pointer.read_bytes()[:-1] + b"\xfb")
    elif damage == "wheel cut short":
        wheel.write_bytes(data[: len(data) // 2])
    else:  # the zip's structure intact, a member's compressed bytes not
        start = data.index(b"PK\x03\x04") + 60
        wheel.write_bytes(data[:start] + bytes(b ^ 0xFF for b in data[start:start + 8])
                          + data[start + 8:])
    err = install("second")
    assert _builds(log) == 2, err  # built again, once
    if damage == "member garbled":
        assert "is damaged in the cache" in err and "building it again" in err, err
    install("third")
    assert _builds(log) == 2  # and that build is reused
