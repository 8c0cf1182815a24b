"""A wheel's archive read one way only: refuse ZIP files that two readers could read differently.

A ZIP file can be read from its central directory (what ``zipfile`` and ``installer`` do) or by
walking its local headers (what streaming tools do). Where they disagree, a reviewed wheel can
install different code than a scanner saw, so before anything is unpacked every byte of the
archive must be accounted for by exactly one reading: one local header per central-directory
entry, carrying the same name, entries back to back from the first byte, the central directory
right after them and nothing after the end record. Names must be unique, and RECORD must list
exactly the files of the archive, each by a safe relative path. The members of an archive held
in memory are then read from the very bytes checked, each whole in one decompression
(:class:`Members`), with its size and CRC-32 checked as ``zipfile`` checks them.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import struct
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, Any, BinaryIO

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
    with checked_members(path, wheel, data) as members:
        yield members.zipfile


@contextlib.contextmanager
def checked_members(path: str | os.PathLike[str], wheel: str,
                    data: bytes | None = None) -> Iterator[Members]:
    """:func:`checked_zip`, as :class:`Members`: a member of an archive held in memory is
    read whole, in one decompression, from the bytes that were checked."""
    if data is not None:
        starts: dict[str, int] = {}
        with _checked(io.BytesIO(data), len(data), wheel, starts) as zf:
            yield Members(zf, data, starts)
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
            starts = {}
            zf = _checked(source, size, wheel, starts)
        except OSError as exc:
            raise _refuse(wheel, exc.strerror or str(exc)) from None
        with zf:
            yield Members(zf, data, starts)


#: a member up to this size is decompressed in one call (larger ones stream in chunks)
WHOLE = 32 << 20

_inflate: Any = zlib  # the module whose decompress, crc32 and error are used
try:  # ISA-L's inflate and CRC-32 where installed: zlib's results, in half the CPU
    from isal import isal_zlib

    _inflate = isal_zlib
except ImportError:  # pragma: no cover -- a platform isal has no wheel for
    pass


class Members:
    """The members of a checked archive. :meth:`open` gives what ``zipfile.ZipFile.open``
    gives, for ``installer``'s reading: a member of an archive held in memory comes whole,
    decompressed in one call from the bytes the check read, its size and CRC-32 checked as
    ``zipfile`` checks them (a damaged member raises ``zipfile.BadZipFile``); any other (a
    large one, one compressed otherwise, an archive read from its file) comes from
    ``zipfile``. An encrypted member, or one compressed by a method ``zipfile`` cannot read,
    raises ``zipfile.BadZipFile`` too (not ``zipfile``'s RuntimeError or NotImplementedError)."""

    def __init__(self, zf: zipfile.ZipFile, data: bytes | None, starts: dict[str, int]) -> None:
        self.zipfile = zf
        self.filename = zf.filename
        self._data = memoryview(data) if data is not None else None
        self._starts = starts  # archive name -> offset of its data (after its local header)

    def namelist(self) -> list[str]:
        return self.zipfile.namelist()

    def infolist(self) -> list[zipfile.ZipInfo]:
        return self.zipfile.infolist()

    def read(self, name: str | zipfile.ZipInfo) -> bytes:
        with self.open(name) as stream:
            return stream.read()

    def open(self, name: str | zipfile.ZipInfo) -> IO[bytes]:
        info = name if isinstance(name, zipfile.ZipInfo) else self.zipfile.getinfo(name)
        if info.flag_bits & 0x1:
            raise zipfile.BadZipFile(f"{info.filename!r} is encrypted")
        whole = self._whole(info)
        if whole is not None:
            return Whole(whole)
        try:
            return self.zipfile.open(info)
        except NotImplementedError as exc:  # a compression method zipfile cannot read
            raise zipfile.BadZipFile(f"{info.filename!r}: {exc}") from None

    def _whole(self, info: zipfile.ZipInfo) -> bytes | None:
        if (self._data is None or info.file_size > WHOLE
                or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)):
            return None
        start = self._starts[info.filename]
        raw = self._data[start:start + info.compress_size]
        ended = True
        try:
            if info.compress_type == zipfile.ZIP_STORED:
                out = bytes(raw)
            else:  # never more than one byte past the size it states: no bomb fills memory
                inflater = _inflate.decompressobj(-15)
                out = inflater.decompress(raw, info.file_size + 1)
                ended = inflater.eof
        except (zlib.error, _inflate.error) as exc:
            raise zipfile.BadZipFile(f"bad data for file {info.filename!r}: {exc}") from None
        if len(out) != info.file_size or not ended:
            raise zipfile.BadZipFile(f"{info.filename!r} does not inflate to the "
                                     f"{info.file_size} bytes its entry states")
        if _inflate.crc32(out) != info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
        return out


class Whole(io.BytesIO):
    """A member read whole: ``whole`` is all of its bytes (a writer takes them at once)."""

    def __init__(self, whole: bytes) -> None:
        super().__init__(whole)
        self.whole = whole


def _checked(fh: BinaryIO, size: int, wheel: str,
             starts: dict[str, int] | None = None) -> zipfile.ZipFile:
    """``fh`` (``size`` bytes) as a ZIP file, once it passed :func:`check_archive`; ``starts``
    is given where each member's data begins (after its local header)."""
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
        start = info.header_offset + _LOCAL.size + name_len + extra_len
        if starts is not None:
            starts[info.filename] = start
        end = start + info.compress_size
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
