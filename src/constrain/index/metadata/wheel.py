"""``METADATA`` out of a wheel: a local one, or a remote one read with HTTP range requests.

A remote wheel is read with :mod:`zipfile` over :class:`RangeFile`, a seekable file object that
fetches the bytes it is asked for with range requests and keeps every byte it has fetched. It
starts with ONE suffix request for the last ``tail`` bytes (64 KiB by default): builders
(setuptools, hatchling, flit, poetry) write ``*.dist-info`` last, so the central directory,
``RECORD`` and ``METADATA`` sit at the end of the file and together take ~140 bytes per archive
member plus ``METADATA`` itself -- 64 KiB covers wheels of up to ~300 members, most of a large
project's dependencies (figures in benchmarks/README.md). A wheel with thousands of
members (cloud SDKs) takes one more request: a read the held bytes do not cover also takes what
sits just before it (RECORD and METADATA precede the central directory). A wheel with
``METADATA`` first (maturin) takes one more, for exactly that member's span. Never more than
three in all. Whatever :mod:`zipfile` reads (zip64, archive comments, bzip2 or lzma members)
is read this way too, with its CRC check.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from ...errors import MetadataError, NetworkError, redact_url
from ..transport.client import HttpClient

DEFAULT_TAIL = 64 * 1024
#: a read the held bytes miss also takes this much before it, plus 3/4 of its own size: in a
#: wheel, a missed read is the central directory, and RECORD (about 64 bytes a member, 3/4 of
#: a central directory entry) and METADATA (under 32 KiB) sit just before it
_LOOK_BEHIND = 32 * 1024
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class ZipFormatError(Exception):
    """The bytes at hand do not form the zip structure expected (caller falls back)."""


class NoRanges(Exception):
    """The server does not answer range requests usefully (caller downloads the whole file)."""


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of the remote file ``url``, fetched piecewise with range
    requests; construction fetches the last ``tail`` bytes (which also tells the size when
    ``size`` is ``None``). Fetched spans are kept merged. A server that answers 200 to a range
    request hands over the whole file: it is kept in :attr:`whole` (and served from).
    :attr:`requests` counts the requests made. Raises :class:`NoRanges` when the server's
    answers cannot be used, :class:`NetworkError` when the file is gone (404/410)."""

    def __init__(self, client: HttpClient, url: str, size: int | None, tail: int) -> None:
        super().__init__()
        self.client = client
        self.url = url
        self.size = size
        self.spans: list[tuple[int, bytes]] = []
        self.whole: bytes | None = None
        self.requests = 0
        self._pos = 0
        self._accept(client.get_range(url, None, tail), suffix=tail)
        if self.size is None:
            raise NoRanges("no file size")

    # ---------------------------------------------------------------- io.RawIOBase
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        assert self.size is not None
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise OSError("seek before the start of the file")  # zipfile expects OSError
        self._pos = base + offset
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        assert self.size is not None
        end = self.size if n is None or n < 0 else min(self.size, self._pos + n)
        if end <= self._pos:
            return b""
        data = self._read(self._pos, end)
        self._pos = end
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    # ---------------------------------------------------------------- fetching
    def want(self, start: int, end: int) -> None:
        """Make sure bytes ``[start, end)`` are held, with at most one request."""
        self._read(start, end, look_behind=False)

    def _read(self, start: int, end: int, *, look_behind: bool = True) -> bytes:
        """Bytes ``[start, end)``; when not all held, fetch them with one request that also
        takes bytes ahead of ``start`` (:data:`_LOOK_BEHIND`) and stops where held bytes
        reaching past ``end`` begin."""
        got = self._slice(start, end)
        if got is not None:
            return got
        before = _LOOK_BEHIND + (end - start) * 3 // 4 if look_behind else 0
        lo = max(0, start - before)
        hi = end
        for s, data in self.spans:
            if lo < s < hi and s + len(data) >= end:
                hi = s
        self._accept(self.client.get_range(self.url, lo, hi - 1))
        got = self._slice(start, end)
        if got is None:
            raise ZipFormatError(f"the server did not send bytes {start}-{end - 1}")
        return got

    def _slice(self, start: int, end: int) -> bytes | None:
        for s, data in self.spans:
            if s <= start and end <= s + len(data):
                return data[start - s : end - s]
        return None

    def _accept(self, r: Any, suffix: int | None = None) -> None:
        self.requests += 1
        if r.status == 200:
            self.whole = r.content
            self.size = len(r.content)
            self.spans = [(0, r.content)]
            return
        if r.status in (404, 410):
            raise NetworkError(
                f"{redact_url(self.url)} is gone (HTTP {r.status})",
                url=redact_url(self.url),
                hint="the index lists a file it no longer serves; try --refresh",
            )
        if r.status != 206:
            raise NoRanges(f"HTTP {r.status}")
        m = _CONTENT_RANGE.match(r.headers.get("content-range", ""))
        if m:
            start, last = int(m[1]), int(m[2])
            if m[3] != "*":
                self.size = int(m[3])
        elif suffix is not None and self.size is not None:
            start, last = self.size - len(r.content), self.size - 1
        else:
            raise NoRanges("206 without Content-Range")
        if last - start + 1 != len(r.content) or self.size is None:
            raise NoRanges("inconsistent partial response")
        self._add(start, r.content)

    def _add(self, start: int, data: bytes) -> None:
        spans = sorted([*self.spans, (start, data)], key=lambda s: s[0])
        merged: list[tuple[int, bytes]] = []
        for s, d in spans:
            if merged and s <= merged[-1][0] + len(merged[-1][1]):
                ms, md = merged[-1]
                overlap = ms + len(md) - s
                merged[-1] = (ms, md + d[overlap:]) if overlap < len(d) else (ms, md)
            else:
                merged.append((s, d))
        self.spans = merged


#: what zipfile raises for bytes that are not the archive it expects
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, RuntimeError,
               NotImplementedError, OSError)


def remote_wheel_metadata(view: RangeFile, project: str) -> bytes:
    """``METADATA`` of the remote wheel ``view`` reads (its tail already held). Raises
    :class:`ZipFormatError` when the bytes are not a readable wheel (CRC included),
    :class:`MetadataError` when it has no single ``METADATA`` for ``project``."""
    try:
        with zipfile.ZipFile(view) as zf:
            infos = zf.infolist()
            chosen = zf.getinfo(select_metadata_member([i.filename for i in infos], project))
            # the member's whole span (local header to the next member) in one request
            later = [i.header_offset for i in infos if i.header_offset > chosen.header_offset]
            view.want(chosen.header_offset, min(later) if later else zf.start_dir)
            return zf.read(chosen)
    except _ZIP_ERRORS as exc:
        raise ZipFormatError(str(exc) or type(exc).__name__) from None


def wheel_metadata_from_zip(source: str | Path | io.BytesIO, project: str, what: str) -> bytes:
    """``METADATA`` from a whole wheel (a path or bytes); :class:`MetadataError` if unusable."""
    try:
        with zipfile.ZipFile(source) as zf:
            return zf.read(select_metadata_member(zf.namelist(), project))
    except (zipfile.BadZipFile, OSError, NotImplementedError, zlib.error) as exc:
        raise MetadataError(f"{what} is not a readable wheel: {exc}") from None


def select_metadata_member(names: list[str], project: str) -> str:
    """The ``<name>-<ver>.dist-info/METADATA`` member of a wheel's ``names``, tolerating case
    and name-normalisation differences; when several dist-info directories exist, the one
    whose name matches ``project``. Raises :class:`MetadataError` when there is none."""
    found = [n for n in names if re.fullmatch(r"[^/]+\.dist-info/METADATA", n, re.IGNORECASE)]
    if len(found) > 1:
        want = canonicalize_name(project)
        found = [n for n in found if canonicalize_name(n.split("/")[0][:-10].split("-")[0]) == want]
    if len(found) != 1:
        what = "no" if not found else "more than one"
        raise MetadataError(f"the wheel has {what} .dist-info/METADATA for {project}")
    return found[0]
