"""A wheel's archive read one way only: refuse ZIP files that two readers could read differently.

A ZIP file can be read from its central directory (what ``zipfile`` and ``installer`` do) or by
walking its local headers (what streaming tools do). Where they disagree, a reviewed wheel can
install different code than a scanner saw, so before anything is unpacked every byte of the
archive must be accounted for by exactly one reading: one local header per central-directory
entry, carrying the same name, entries back to back from the first byte, the central directory
right after them and nothing after the end record. Names must be unique, and RECORD must list
exactly the files of the archive, each by a safe relative path.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import struct
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from ..errors import ConstrainError

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record (22 bytes)
_EOCD64_LOCATOR = struct.Struct("<4sLQL")  # zip64 end of central directory locator (20 bytes)
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # zip64 end of central directory record (56 bytes)
_LOCAL = struct.Struct("<4s5H3L2H")  # local file header (30 bytes)
_SIGNATURES = ("RECORD.jws", "RECORD.p7s")
#: an archive up to this size is read whole into memory and checked and unpacked from there
#: (a few reads instead of a seek and a read per header and per member); a larger one is read
#: from its file as it goes
IN_MEMORY = 64 << 20


class AmbiguousArchive(ConstrainError):
    """A wheel's ZIP structure can be read in more than one way (or is damaged)."""


def _refuse(wheel: str, detail: str) -> AmbiguousArchive:
    return AmbiguousArchive(
        f"{wheel} is not a well-formed ZIP archive: {detail}",
        hint="the wheel is damaged or was crafted to be read differently by different tools; "
        "it was not installed (rebuild it, or fetch it again from its source)")


def _end_record(fh: BinaryIO, size: int, wheel: str) -> tuple[int, int]:
    """``(central directory offset, where the central directory must end)``."""
    tail_len = min(size, _EOCD.size + 0xFFFF)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        raise _refuse(wheel, "no end of central directory record")
    fields = _EOCD.unpack_from(tail, at)
    cd_size, cd_offset, comment_len = fields[5], fields[6], fields[7]
    eocd_pos = size - tail_len + at
    if eocd_pos + _EOCD.size + comment_len != size:
        extra = size - (eocd_pos + _EOCD.size + comment_len)
        raise _refuse(wheel, f"{extra} bytes of trailing data after the end of the central "
                      "directory" if extra > 0 else "the end record's comment runs past the "
                      "end of the file")
    cd_end = eocd_pos
    locator = eocd_pos - _EOCD64_LOCATOR.size
    if locator >= 0:
        fh.seek(locator)
        sig, _disk, rec_offset, _disks = _EOCD64_LOCATOR.unpack(fh.read(_EOCD64_LOCATOR.size))
        if sig == b"PK\x06\x07":
            fh.seek(rec_offset)
            raw = fh.read(_EOCD64.size)
            if len(raw) != _EOCD64.size or raw[:4] != b"PK\x06\x06":
                raise _refuse(wheel, "a zip64 locator points to no zip64 end record")
            rec = _EOCD64.unpack(raw)
            cd_size, cd_offset = rec[8], rec[9]
            if rec_offset + 12 + rec[1] != locator:
                raise _refuse(wheel, "data between the zip64 end record and its locator")
            cd_end = rec_offset
    if cd_offset + cd_size != cd_end:
        raise _refuse(wheel, f"{cd_end - cd_offset - cd_size} bytes between the central "
                      "directory and the end record")
    return cd_offset, cd_end


def check_archive(path: str | os.PathLike[str], wheel: str) -> None:
    """Raise :class:`AmbiguousArchive` unless the archive at ``path`` (named ``wheel`` in
    messages) reads the same from its central directory and from its local headers: no
    duplicate names, no bytes outside a listed entry (a local-header-only entry, data
    prepended, or trailing data after the end record), and each local header's name equal to
    its central-directory name."""
    with checked_zip(path, wheel):
        pass


@contextlib.contextmanager
def checked_zip(path: str | os.PathLike[str], wheel: str,
                data: bytes | None = None) -> Iterator[zipfile.ZipFile]:
    """The archive at ``path`` (or ``data``, its bytes already read) open for reading once it
    passed :func:`check_archive` (its central directory read once, for the check and for the
    reader); closed on leaving."""
    if data is not None:
        with _checked(io.BytesIO(data), len(data), wheel) as zf:
            yield zf
        return
    try:
        fh = open(path, "rb")  # noqa: SIM115 -- closed below, after the reader
    except OSError as exc:
        raise _refuse(wheel, exc.strerror or str(exc)) from None
    with fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            source: BinaryIO = fh
            if size <= IN_MEMORY:
                data = fh.read()  # to its end, whatever its size now: what is checked is read
                source, size = io.BytesIO(data), len(data)
            zf = _checked(source, size, wheel)
        except OSError as exc:
            raise _refuse(wheel, exc.strerror or str(exc)) from None
        with zf:
            yield zf


def _checked(fh: BinaryIO, size: int, wheel: str) -> zipfile.ZipFile:
    """``fh`` (``size`` bytes) as a ZIP file, once it passed :func:`check_archive`."""
    cd_offset, _ = _end_record(fh, size, wheel)
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise _refuse(wheel, str(exc)) from None
    infos = zf.infolist()
    seen: set[str] = set()
    for info in infos:
        if info.filename in seen:
            raise _refuse(wheel, f"the name {info.filename!r} appears twice")
        seen.add(info.filename)
    expected = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset != expected:
            what = ("bytes no central-directory entry accounts for (a local-header-only "
                    "entry?)" if info.header_offset > expected else "overlapping entries")
            raise _refuse(wheel, f"{what} before {info.filename!r} (offset "
                          f"{expected}, next entry at {info.header_offset})")
        fh.seek(info.header_offset)
        raw = fh.read(_LOCAL.size)
        if len(raw) != _LOCAL.size or raw[:4] != b"PK\x03\x04":
            raise _refuse(wheel, f"no local header for {info.filename!r}")
        fields = _LOCAL.unpack(raw)
        flags, name_len, extra_len = fields[2], fields[9], fields[10]
        local_name = fh.read(name_len)
        central_name = info.orig_filename.encode(
            "utf-8" if info.flag_bits & 0x800 else "cp437", "surrogateescape")
        if local_name != central_name:
            shown = local_name.decode("utf-8", "backslashreplace")
            raise _refuse(wheel, f"the local header of {info.filename!r} names it "
                          f"{shown!r}")
        end = info.header_offset + _LOCAL.size + name_len + extra_len + info.compress_size
        if flags & 0x08:  # a data descriptor follows: 12-24 bytes, optional signature
            fh.seek(end)
            end += 4 if fh.read(4) == b"PK\x07\x08" else 0
            end += 20 if info.compress_size >= 0xFFFFFFFF else 12
        expected = end
    if expected != cd_offset:
        raise _refuse(wheel, f"{cd_offset - expected} bytes no central-directory entry "
                      "accounts for before the central directory (a local-header-only "
                      "entry?)" if cd_offset > expected else "the last entry overlaps "
                      "the central directory")
    return zf


def check_record(record_paths: list[str], names: list[str], refuse) -> None:
    """RECORD must list exactly the archive's files: ``refuse(detail)`` (an exception to
    raise) for a RECORD path that is unsafe (absolute, ``..``) or names no file of the
    archive. (``installer`` checks the other way: every file is in RECORD with a hash.)"""
    files = {n for n in names if not n.endswith("/")}
    for raw in record_paths:
        if (raw.startswith("/") or "\\" in raw or "\x00" in raw
                or ".." in raw.split("/") or (len(raw) > 1 and raw[1] == ":")):
            raise refuse(f"RECORD lists an unsafe path {raw!r}")
        if raw not in files and posixpath.basename(raw) not in _SIGNATURES:
            raise refuse(f"RECORD lists {raw!r}, which the wheel does not contain")
