"""INSTALLER and REQUESTED are hard links to one checked copy in the cache (install/shared.py)."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from constrain.cache.store import Cache
from constrain.cli import main
from tests.support.builders import PackageSpec

SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
ALPHA = PackageSpec("alpha", "1.0", requires_dist=["beta"],
                    wheel_options={"files": {"alpha/__init__.py": ""}})
BETA = PackageSpec("beta", "1.0", wheel_options={"files": {"beta/__init__.py": ""}})


@pytest.fixture
def server(make_index):
    return make_index([ALPHA, BETA])


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path


def _install(capsys, server, venv: Path) -> None:
    code = main(["install", "alpha", "--index-url", server.index_url,
                 "--python-executable", str(venv / "bin/python")])
    _out, err = capsys.readouterr()
    assert code == 0, err


def _recorded(dist_info: Path, name: str) -> str:
    """The hash RECORD gives the file ``name`` of ``dist_info``."""
    for line in (dist_info / "RECORD").read_text().splitlines():
        path, digest, _size = line.rsplit(",", 2)
        if path == f"{dist_info.name}/{name}":
            return digest
    raise AssertionError(f"{name} not in RECORD")


def _hash(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_an_installer_file_edited_through_one_environment_does_not_reach_the_next(
        server, tmp_path, capsys):
    one = _venv(tmp_path / "one")
    _install(capsys, server, one)
    edited = one / SITE / "alpha-1.0.dist-info" / "INSTALLER"
    assert edited.read_text() == "constrain\n"
    os.chmod(edited, 0o644)  # the file is read-only, as the cache's files are
    edited.write_text("somebody else\n")  # written in place: through the link

    two = _venv(tmp_path / "two")
    _install(capsys, server, two)
    for name in ("alpha", "beta"):
        dist_info = two / SITE / f"{name}-1.0.dist-info"
        assert (dist_info / "INSTALLER").read_text() == "constrain\n"
        assert _recorded(dist_info, "INSTALLER") == _hash(dist_info / "INSTALLER")
    requested = two / SITE / "alpha-1.0.dist-info" / "REQUESTED"
    assert requested.read_bytes() == b""
    assert not (two / SITE / "beta-1.0.dist-info" / "REQUESTED").exists()
    # the second environment's files are one copy, not the edited one
    assert (two / SITE / "alpha-1.0.dist-info" / "INSTALLER").stat().st_ino == (
        two / SITE / "beta-1.0.dist-info" / "INSTALLER").stat().st_ino != edited.stat().st_ino


def test_a_cache_that_cannot_keep_the_copy_still_installs_whole_files(
        server, tmp_path, capsys, isolated_env):
    copy = Cache(isolated_env.cache_dir).path("misc", "shared-INSTALLER")
    (copy / "in-the-way").mkdir(parents=True)  # a directory where the copy would go
    venv = _venv(tmp_path / "v")
    _install(capsys, server, venv)
    dist_info = venv / SITE / "alpha-1.0.dist-info"
    assert (dist_info / "INSTALLER").read_text() == "constrain\n"
    assert (dist_info / "INSTALLER").stat().st_nlink == 1
    assert _recorded(dist_info, "INSTALLER") == _hash(dist_info / "INSTALLER")
    assert (dist_info / "REQUESTED").stat().st_nlink == 2  # that copy could be kept
