"""ZIP files two readers could read differently are refused with a clear error (never exit 70)."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from tests.faults.installing import install
from tests.support.builders import make_wheel

FILES = {"gamma/__init__.py": "V = 1\n", "gamma/extra.py": "E = 1\n"}


def _duplicate(path: Path) -> None:
    with zipfile.ZipFile(path, "a") as zf, pytest.warns(UserWarning):
        zf.writestr("gamma/extra.py", "import os  # the second reading\n")


def _eocd(data: bytes) -> int:
    return data.rindex(b"PK\x05\x06")


def _local_header_only(path: Path) -> None:
    """A local header and data that no central-directory entry lists, before the directory."""
    data = path.read_bytes()
    eocd = _eocd(data)
    cd_offset = struct.unpack_from("<L", data, eocd + 16)[0]
    hidden = path.with_name("hidden.zip")
    with zipfile.ZipFile(hidden, "w") as zf:
        zf.writestr("gamma/hidden.py", "import os  # only a streaming reader sees this\n")
    raw = hidden.read_bytes()
    hidden_local = raw[: struct.unpack_from("<L", raw, _eocd(raw) + 16)[0]]
    hidden.unlink()
    out = bytearray(data[:cd_offset] + hidden_local + data[cd_offset:])
    struct.pack_into("<L", out, _eocd(bytes(out)) + 16, cd_offset + len(hidden_local))
    path.write_bytes(bytes(out))


def _trailing(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"PK\x03\x04 trailing data after the end record")


def _bad_local_name(path: Path) -> None:
    data = path.read_bytes()
    at = data.index(b"gamma/extra.py")  # the first occurrence: the local header's name
    path.write_bytes(data[:at] + b"gamma/evil!.py" + data[at + len(b"gamma/extra.py"):])


@pytest.mark.parametrize("case, damage, expected", [
    ("duplicate names", _duplicate, "the name 'gamma/extra.py' appears twice"),
    ("local-header-only entry", _local_header_only, "no central-directory entry accounts for"),
    ("trailing data", _trailing, "trailing data after the end of the central directory"),
    ("bad local-header name", _bad_local_name,
     "the local header of 'gamma/extra.py' names it 'gamma/evil!.py'"),
])
def test_ambiguous_zip_is_refused(tmp_path, capsys, case, damage, expected):
    wheels = tmp_path / "wheels"
    damage(make_wheel(wheels, "gamma", "1.0", files=FILES))
    venv = tmp_path / "V"
    code, _, err = install(capsys, "gamma", "--no-index", "--find-links", str(wheels),
                           "--venv", str(venv))
    assert code == 1, err
    assert "gamma-1.0-py3-none-any.whl is not a well-formed ZIP archive" in err
    assert expected in err
    assert "internal error" not in err and "Traceback" not in err
    assert not venv.exists()


@pytest.mark.parametrize("in_memory", [True, False], ids=["read whole", "read from the file"])
@pytest.mark.parametrize("case, damage, expected", [
    ("intact", None, None),
    ("duplicate names", _duplicate, "the name 'gamma/extra.py' appears twice"),
    ("local-header-only entry", _local_header_only, "no central-directory entry accounts for"),
    ("trailing data", _trailing, "trailing data after the end of the central directory"),
    ("bad local-header name", _bad_local_name,
     "the local header of 'gamma/extra.py' names it 'gamma/evil!.py'"),
])
def test_archive_reads_the_same_whole_or_from_its_file(tmp_path, monkeypatch, in_memory, case,
                                                       damage, expected):
    """A wheel read whole into memory and one too large for that (read from its file as it
    goes) are checked alike, and an intact one gives the same files either way."""
    from constrain.install import archive

    monkeypatch.setattr(archive, "IN_MEMORY", 1 << 30 if in_memory else 0)
    wheel = make_wheel(tmp_path, "gamma", "1.0", files=FILES)
    if damage is None:
        with archive.checked_zip(wheel, wheel.name) as zf:
            assert {n: zf.read(n).decode() for n in FILES} == FILES
        return
    damage(wheel)
    with pytest.raises(archive.AmbiguousArchive, match=expected.replace("(", r"\(")):
        archive.check_archive(wheel, wheel.name)


def _deflated(path: Path) -> tuple[bytes, zipfile.ZipInfo]:
    """The wheel at ``path`` written again with its members deflated, as real wheels are:
    ``(its bytes, the entry of gamma/extra.py)``."""
    with zipfile.ZipFile(path) as zf:
        members = [(info.filename, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("gamma/extra.py")
    return path.read_bytes(), info


def _bad_crc(path: Path) -> None:
    """gamma/extra.py's CRC-32, in its local header and its central-directory entry, is not
    the CRC-32 of its bytes (which still match RECORD)."""
    data, info = _deflated(path)
    out = bytearray(data)
    central, local = _central_and_local(data, info)
    for at in (local + 14, central + 16):
        struct.pack_into("<L", out, at, info.CRC ^ 1)
    path.write_bytes(bytes(out))


def _bad_deflate(path: Path) -> None:
    """gamma/extra.py's compressed bytes are not a deflate stream."""
    data, info = _deflated(path)
    name_len, extra_len = struct.unpack_from("<2H", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    path.write_bytes(data[:start] + b"\xff" * info.compress_size
                     + data[start + info.compress_size:])


def _inflaters() -> list[str]:
    """zlib, and ISA-L's isal_zlib where it is installed (install/archive.py uses it then)."""
    try:
        import isal.isal_zlib  # noqa: F401
    except ImportError:
        return ["zlib"]
    return ["isal", "zlib"]


def _central_and_local(data: bytes, info: zipfile.ZipInfo) -> tuple[int, int]:
    """Where gamma/extra.py's central-directory entry and local header begin."""
    central = data.index(b"PK\x01\x02", info.header_offset + 1)  # the central directory
    while data[central + 46:central + 46 + len(b"gamma/extra.py")] != b"gamma/extra.py":
        central = data.index(b"PK\x01\x02", central + 1)
    return central, info.header_offset


def _encrypted(path: Path) -> None:
    """gamma/extra.py says it is encrypted (flag bit 0, in both of its headers)."""
    data, info = _deflated(path)
    central, local = _central_and_local(data, info)
    out = bytearray(data)
    for at in (local + 6, central + 8):
        struct.pack_into("<H", out, at, struct.unpack_from("<H", out, at)[0] | 1)
    path.write_bytes(bytes(out))


def _unknown_method(path: Path) -> None:
    """gamma/extra.py is compressed by a method no reader here knows (99, in both headers)."""
    data, info = _deflated(path)
    central, local = _central_and_local(data, info)
    out = bytearray(data)
    for at in (local + 8, central + 10):
        struct.pack_into("<H", out, at, 99)
    path.write_bytes(bytes(out))


def _inflates_past_its_size(path: Path) -> None:
    """gamma/extra.py states (in both headers) a size one byte short of what it inflates to,
    the way a compression bomb hides its size."""
    data, info = _deflated(path)
    central, local = _central_and_local(data, info)
    out = bytearray(data)
    for at in (local + 22, central + 24):
        struct.pack_into("<L", out, at, info.file_size - 1)
    path.write_bytes(bytes(out))


@pytest.mark.parametrize("inflater", _inflaters())
@pytest.mark.parametrize("in_memory", [True, False], ids=["read whole", "read from the file"])
@pytest.mark.parametrize("case, damage", [
    ("intact", _deflated),
    ("a member's CRC-32 is wrong", _bad_crc),
    ("a member's data is not deflate", _bad_deflate),
    ("a member inflates past its size", _inflates_past_its_size),
    ("a member is encrypted", _encrypted),
    ("a member's compression method is unknown", _unknown_method),
])
def test_damaged_member_is_refused_whole_or_streamed(tmp_path, capsys, monkeypatch, inflater,
                                                     in_memory, case, damage):
    """A member whose bytes do not inflate, whose CRC-32 is not theirs, that is encrypted or
    compressed by an unknown method is refused with a clear error whether the wheel is unpacked from its bytes in memory (inflated by zlib or
    ISA-L) or read from its file; an intact deflated wheel installs the same files either way."""
    import zlib

    from constrain.install import archive

    monkeypatch.setattr(archive, "IN_MEMORY", 1 << 30 if in_memory else 0)
    if inflater == "zlib":
        monkeypatch.setattr(archive, "_inflate", zlib)
    else:
        assert archive._inflate.__name__ == "isal.isal_zlib"
    wheels = tmp_path / "wheels"
    damage(make_wheel(wheels, "gamma", "1.0", files=FILES))
    venv = tmp_path / "V"
    code, _, err = install(capsys, "gamma", "--no-index", "--find-links", str(wheels),
                           "--venv", str(venv))
    assert "internal error" not in err and "Traceback" not in err
    if case == "intact":
        assert code == 0, err
        site = next(venv.glob("lib/python*/site-packages"))
        assert {n: (site / n).read_text() for n in FILES} == FILES
        return
    assert code == 1, err
    assert "gamma-1.0-py3-none-any.whl is not a valid zip archive" in err
    assert not venv.exists()


@pytest.mark.parametrize("inflater", _inflaters())
def test_a_member_never_inflates_far_past_its_stated_size(tmp_path, monkeypatch, inflater):
    """A compression bomb -- a member stating 10 bytes that inflates to 48 MB -- is refused
    without its output ever being held in memory: the inflater stops one byte past the size
    the member states."""
    import tracemalloc
    import zlib

    from constrain.install import archive

    if inflater == "zlib":
        monkeypatch.setattr(archive, "_inflate", zlib)
    path = tmp_path / "bomb-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb/zeros.bin", bytes(48 << 20))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("bomb/zeros.bin")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<L", data, info.header_offset + 22, 10)  # local header: 10 bytes
    struct.pack_into("<L", data, central + 24, 10)  # central directory: 10 bytes
    with archive.checked_members(path, path.name, bytes(data)) as members:
        entry = members.zipfile.getinfo("bomb/zeros.bin")
        assert entry.file_size == 10
        tracemalloc.start()
        try:
            with pytest.raises(zipfile.BadZipFile):  # its size, or its CRC-32
                members.open(entry)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 4 << 20, peak
