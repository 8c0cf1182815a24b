"""Tests that the generated wheels, sdists and repositories are real, valid distributions."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import zipfile
from datetime import UTC, datetime
from email.parser import BytesParser
from pathlib import Path

import pytest
from installer.sources import WheelFile
from packaging.metadata import Metadata
from packaging.requirements import Requirement
from packaging.utils import parse_sdist_filename, parse_wheel_filename
from packaging.version import Version
from pyproject_hooks import BuildBackendHookCaller

from tests.support.builders import (
    BASE_UPLOAD_TIME,
    PackageSpec,
    build_repository,
    make_sdist,
    make_wheel,
)


def _metadata_of_wheel(path: Path) -> Metadata:
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return Metadata.from_email(zf.read(name))


def test_wheel_is_valid_and_record_verifies(tmp_path: Path) -> None:
    path = make_wheel(
        tmp_path,
        "Foo.Bar",
        "1.0",
        requires_dist=["requests>=2", 'rich; extra == "cli"'],
        requires_python=">=3.9",
        provides_extra=["cli"],
        entry_points={"console_scripts": {"foo": "foo_bar:main"}},
        license="MIT",
    )
    assert path.name == "foo_bar-1.0-py3-none-any.whl"
    name, version, _build, _tags = parse_wheel_filename(path.name)
    assert (name, version) == ("foo-bar", Version("1.0"))
    with WheelFile.open(path) as wheel:
        wheel.validate_record()
        assert wheel.dist_info_dir == "foo_bar-1.0.dist-info"
    meta = _metadata_of_wheel(path)
    assert meta.name == "Foo.Bar"
    assert meta.requires_dist == [Requirement("requests>=2"), Requirement('rich; extra == "cli"')]
    assert str(meta.requires_python) == ">=3.9"
    assert meta.provides_extra == ["cli"]
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert "foo_bar/__init__.py" in names
        assert b"[console_scripts]" in zf.read("foo_bar-1.0.dist-info/entry_points.txt")
        wheel_file = BytesParser().parsebytes(zf.read("foo_bar-1.0.dist-info/WHEEL"))
    assert wheel_file["Wheel-Version"] == "1.0"
    assert wheel_file.get_all("Tag") == ["py3-none-any"]
    # dist-info comes last, RECORD very last, like real wheels.
    assert all(".dist-info/" in n for n in names[-3:])
    assert names[-1].endswith("RECORD")


def test_wheel_compressed_tag_set_and_files(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, "x", "2", tag="py2.py3-none-any", files={"x.py": "X = 1\n"})
    assert path.name == "x-2-py2.py3-none-any.whl"
    with zipfile.ZipFile(path) as zf:
        tags = BytesParser().parsebytes(zf.read("x-2.dist-info/WHEEL")).get_all("Tag")
        assert zf.read("x.py") == b"X = 1\n"
        assert "x/__init__.py" not in zf.namelist()
    assert tags == ["py2-none-any", "py3-none-any"]


def test_wheel_padding_puts_metadata_far_from_start(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, "big", "1.0", pad_bytes=300_000)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("big-1.0.dist-info/METADATA")
        pad = zf.getinfo("big/_padding.bin")
    assert info.header_offset > 300_000
    assert pad.compress_size >= 300_000  # stored, incompressible
    assert path.stat().st_size - info.header_offset < 2_000
    with WheelFile.open(path) as wheel:
        wheel.validate_record()


def test_wheel_override_and_extra_entries(tmp_path: Path) -> None:
    path = make_wheel(
        tmp_path,
        "evil",
        "1.0",
        metadata_override=b"this is not metadata\x00\xff",
        extra_entries={"../evil.py": b"print('pwned')\n"},
    )
    with zipfile.ZipFile(path) as zf:
        assert zf.read("evil-1.0.dist-info/METADATA") == b"this is not metadata\x00\xff"
        assert zf.read("../evil.py") == b"print('pwned')\n"
        record = zf.read("evil-1.0.dist-info/RECORD").decode()
    assert "../evil.py,sha256=" in record


def test_wheels_are_reproducible(tmp_path: Path) -> None:
    a = make_wheel(tmp_path / "a", "r", "1.0", pad_bytes=1000)
    b = make_wheel(tmp_path / "b", "r", "1.0", pad_bytes=1000)
    s1 = make_sdist(tmp_path / "a", "r", "1.0")
    s2 = make_sdist(tmp_path / "b", "r", "1.0")
    assert a.read_bytes() == b.read_bytes()
    assert s1.read_bytes() == s2.read_bytes()


def test_sdist_layout_and_static_pkg_info(tmp_path: Path) -> None:
    path = make_sdist(tmp_path, "Foo.Bar", "1.0", requires_dist=["a>=1"], requires_python=">=3.8")
    assert path.name == "foo_bar-1.0.tar.gz"
    assert parse_sdist_filename(path.name) == ("foo-bar", Version("1.0"))
    with tarfile.open(path) as tf:
        names = tf.getnames()
        pkg_info = tf.extractfile("foo_bar-1.0/PKG-INFO").read()
        pyproject = tf.extractfile("foo_bar-1.0/pyproject.toml").read().decode()
    assert all(n.startswith("foo_bar-1.0") for n in names)
    meta = Metadata.from_email(pkg_info)
    assert meta.metadata_version == "2.2"
    assert meta.requires_dist == [Requirement("a>=1")]
    assert not meta.dynamic
    assert 'backend-path = ["_backend"]' in pyproject
    assert "requires = []" in pyproject


def test_sdist_dynamic_requires_dist_pkg_info_differs(tmp_path: Path) -> None:
    path = make_sdist(
        tmp_path,
        "d",
        "1.0",
        requires_dist=["real-dep"],
        dynamic=["Requires-Dist"],
        pkg_info_requires_dist=["decoy-dep"],
    )
    with tarfile.open(path) as tf:
        meta = Metadata.from_email(tf.extractfile("d-1.0/PKG-INFO").read())
    assert meta.dynamic == ["requires-dist"]
    assert meta.requires_dist == [Requirement("decoy-dep")]


def _hooks(sdist: Path, dest: Path) -> BuildBackendHookCaller:
    with tarfile.open(sdist) as tf:
        tf.extractall(dest, filter="data")
    source = next(dest.iterdir())
    return BuildBackendHookCaller(
        str(source), "inline_backend", backend_path=["_backend"], python_executable=sys.executable
    )


def test_pep517_backend_builds_what_was_asked(tmp_path: Path) -> None:
    sdist = make_sdist(
        tmp_path,
        "Built.Pkg",
        "3.1",
        requires_dist=["real-dep>=2", 'other; extra == "x"'],
        provides_extra=["x"],
        requires_python=">=3.10",
        dynamic=["Requires-Dist"],
        pkg_info_requires_dist=["decoy"],
        build_requires=["flit-core"],
    )
    hooks = _hooks(sdist, tmp_path / "src")
    assert hooks.get_requires_for_build_wheel() == ["flit-core"]
    (tmp_path / "meta").mkdir()
    dist_info = hooks.prepare_metadata_for_build_wheel(str(tmp_path / "meta"))
    assert dist_info == "built_pkg-3.1.dist-info"
    meta = Metadata.from_email((tmp_path / "meta" / dist_info / "METADATA").read_bytes())
    assert meta.name == "Built.Pkg"
    assert meta.requires_dist == [Requirement("real-dep>=2"), Requirement('other; extra == "x"')]
    assert str(meta.requires_python) == ">=3.10"
    (tmp_path / "out").mkdir()
    filename = hooks.build_wheel(str(tmp_path / "out"))
    assert filename == "built_pkg-3.1-py3-none-any.whl"
    wheel = tmp_path / "out" / filename
    with WheelFile.open(wheel) as wf:
        wf.validate_record()
    assert _metadata_of_wheel(wheel).requires_dist == meta.requires_dist
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("built_pkg/__init__.py") == b'__version__ = "3.1"\n'


def test_pep517_backend_failure_is_clear(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path, "broken", "1.0", fail_build=True)
    hooks = _hooks(sdist, tmp_path / "src")
    (tmp_path / "out").mkdir()
    messages: list[str] = []

    def runner(cmd, cwd=None, extra_environ=None):  # capture the backend's stderr
        env = {**os.environ, **(extra_environ or {})}
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        messages.append(proc.stderr)
        proc.check_returncode()

    with pytest.raises(subprocess.CalledProcessError), hooks.subprocess_runner(runner):
        hooks.build_wheel(str(tmp_path / "out"))
    assert "build_wheel failed on purpose for broken 1.0" in messages[0]
    assert not list((tmp_path / "out").iterdir())


def test_build_repository_records(tmp_path: Path) -> None:
    when = datetime(2023, 5, 1, tzinfo=UTC)
    repo = build_repository(
        tmp_path,
        [
            PackageSpec("Alpha", "2.0", kinds=("wheel", "sdist"), yanked="broken"),
            PackageSpec("alpha", "1.0", requires_python=">=3.8"),
            PackageSpec("alpha", "1.10", upload_time=when),
            PackageSpec("beta", "1.0", tags=("py3-none-any", "cp311-cp311-manylinux_2_17_x86_64")),
        ],
    )
    assert sorted(repo) == ["alpha", "beta"]
    alpha = repo["alpha"]
    assert [r.filename for r in alpha] == [
        "alpha-1.0-py3-none-any.whl",
        "alpha-1.10-py3-none-any.whl",
        "alpha-2.0-py3-none-any.whl",
        "alpha-2.0.tar.gz",
    ]
    first, tenth, two_whl, two_sdist = alpha
    assert first.upload_time == BASE_UPLOAD_TIME
    assert tenth.upload_time == when
    assert two_whl.upload_time == two_sdist.upload_time > first.upload_time
    assert first.requires_python == ">=3.8"
    assert two_whl.yanked == two_sdist.yanked == "broken"
    assert two_sdist.kind == "sdist" and two_sdist.metadata is None
    for r in alpha:
        data = r.path.read_bytes()
        assert r.sha256 == hashlib.sha256(data).hexdigest()
        assert r.size == len(data)
    assert Metadata.from_email(first.metadata).version == Version("1.0")
    assert len(repo["beta"]) == 2
