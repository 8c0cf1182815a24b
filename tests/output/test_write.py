"""write_atomic: whole files or nothing, the old mode kept, errors as OutputError."""

from __future__ import annotations

import os
import stat

import pytest

from constrain.errors import OutputError
from constrain.output import write_atomic


def test_writes_utf8_text_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "constraints.txt"
    write_atomic(target, "café==1.0\n")
    assert target.read_bytes() == "café==1.0\n".encode()
    assert os.listdir(tmp_path) == ["constraints.txt"]


def test_replaces_an_existing_file_and_keeps_its_mode(tmp_path):
    target = tmp_path / "pylock.toml"
    target.write_text("old\n")
    target.chmod(0o640)
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_new_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.txt", "x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_a_failed_write_keeps_the_old_file_and_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "c.txt"
    target.write_text("old\n")

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OutputError) as info:
        write_atomic(target, "new\n")
    assert "No space left" in info.value.message and info.value.hint
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["c.txt"]


def test_missing_directory_is_an_output_error(tmp_path):
    with pytest.raises(OutputError) as info:
        write_atomic(tmp_path / "nope" / "c.txt", "x\n")
    assert str(tmp_path / "nope" / "c.txt") in info.value.message


def test_a_pipe_is_written_into_not_replaced(tmp_path):
    # what `-o /dev/null` or `-o /dev/stdout` needs: the special file stays what it is
    import threading

    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, "pins\n")
    reader.join(timeout=10)
    assert got == [b"pins\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["out"]


def test_a_symlink_keeps_pointing_at_the_replaced_file(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_atomic(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    assert sorted(os.listdir(tmp_path)) == ["link.txt", "real.txt"]
