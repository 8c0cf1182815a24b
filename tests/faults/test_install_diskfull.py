"""A full disk while linking: a clear error, the distribution rolled back, no RECORD-less dist.

The venv lives on a small tmpfs (mounted for the test; it needs root, as CI has), the cache on
the test's ordinary disk: files cannot be hard-linked across the two, so they are copied, and
the copy of a wheel bigger than the free space fails with ENOSPC.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.faults.installing import (SITE, install, installed, missing_record_files,
                                     plain_venv, pyrun)
from tests.support.builders import PackageSpec

SMALL = PackageSpec("beta", "1.0", wheel_options={"files": {"beta/__init__.py": "V = 1\n"}})
BIG = PackageSpec("beta", "2.0", wheel_options={"files": {"beta/__init__.py": "V = 2\n"},
                                                "pad_bytes": 3_000_000})
NEW_BIG = PackageSpec("delta", "1.0", wheel_options={"pad_bytes": 3_000_000})


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_while_linking_rolls_back_with_a_clear_error(make_index, small_disk, tmp_path,
                                                               capsys):
    server = make_index([SMALL, BIG, NEW_BIG])
    venv = plain_venv(small_disk / "V")
    args = ("--index-url", server.index_url, "--venv", str(venv),
            "--cache-dir", str(tmp_path / "cache"))
    assert install(capsys, "beta==1.0", *args)[0] == 0

    for wanted, name in (("beta==2.0", "beta"), ("delta", "delta")):
        code, _, err = install(capsys, wanted, *args)
        assert code == 1, err
        assert f"no space left on the device while installing {name}" in err
        assert f"{name} was rolled back to what was installed before" in err
        assert "internal error" not in err and "Traceback" not in err
        assert missing_record_files(venv) == []
        assert installed(venv) == {"beta": "1.0"}
        assert not list(venv.rglob("*.constrain-tmp"))
        assert not list((venv / ".constrain" / "txn").iterdir())
        assert not (venv / SITE / "delta").exists()
        assert pyrun(venv, "import beta; print(beta.V)").stdout.strip() == "1"


def test_disk_full_while_unpacking_into_the_cache_changes_nothing(find_links_dir, small_disk,
                                                                  tmp_path, capsys):
    # the wheel is read from a find-links directory; the cache is on the full disk
    wheels = find_links_dir([NEW_BIG])
    venv = plain_venv(tmp_path / "V")
    code, _, err = install(capsys, "delta", "--no-index", "--find-links", str(wheels),
                           "--venv", str(venv), "--cache-dir", str(small_disk / "cache"))
    assert code == 1, err
    assert "no space left on the device while unpacking delta-1.0-py3-none-any.whl into the " \
           "cache" in err
    assert "--cache-dir" in err and "internal error" not in err
    assert installed(venv) == {}
    assert not list((small_disk / "cache").glob("unpacked-v*/*/.tmp-*"))


def test_disk_full_while_creating_the_venv_leaves_nothing(make_index, small_disk, tmp_path,
                                                          capsys):
    server = make_index([SMALL])
    st = os.statvfs(small_disk)
    fd = os.open(small_disk / "filler", os.O_CREAT | os.O_WRONLY)
    try:  # leave 16 KiB: not enough for a venv
        os.posix_fallocate(fd, 0, st.f_bavail * st.f_frsize - 16384)
    finally:
        os.close(fd)
    venv = small_disk / "V"
    code, _, err = install(capsys, "beta", "--index-url", server.index_url, "--venv", str(venv),
                           "--cache-dir", str(tmp_path / "cache"))
    assert code == 1, err
    assert f"could not create a virtual environment at {venv}" in err
    assert "internal error" not in err and "Traceback" not in err
    assert not venv.exists()


@pytest.mark.parametrize("cached", [False, True], ids=["from the index", "from the cache"])
def test_disk_full_while_downloading_into_a_wheelhouse_is_said_clearly(
        make_index, small_disk, tmp_path, capsys, cached):
    # Before: "internal error: OSError: [Errno 28] No space left on device" (exit 70).
    from constrain.cli import main

    server = make_index([SMALL, NEW_BIG])
    cache = ["--cache-dir", str(tmp_path / "cache")]
    if cached:  # the wheel is copied from the cache
        assert main(["install", "delta", "--index-url", server.index_url, "--venv",
                     str(tmp_path / "V"), "--without-pip", *cache]) == 0
        capsys.readouterr()
    dest = small_disk / "wh"
    code = main(["download", "delta", "--index-url", server.index_url, "--dest", str(dest),
                 *cache])
    err = capsys.readouterr().err
    assert code == 1, err
    assert (f"error: cannot write delta-1.0-py3-none-any.whl into the wheelhouse {dest}: "
            "No space left on device") in err, err
    assert "free space on its disk" in err and "internal error" not in err
    assert not (dest / "delta-1.0-py3-none-any.whl").exists()  # nothing half-written in place
