"""Core metadata of one distribution file, obtained with as few requests as possible.

:class:`MetadataFetcher` tries, in order: the parsed-metadata cache (bucket ``metadata``, kept
forever: file identities are sha256 digests or immutable URLs), a file that is already local
(``file://`` or a whole download in the ``files`` bucket), the PEP 658/714 ``.metadata`` file
when the index advertises one, then for wheels HTTP range reads of the zip's central directory
and ``METADATA`` member, and for sdists a download followed by PEP 643 static ``PKG-INFO``, a
PEP 621 static ``[project]`` table (``build/pyproject.py``) or a PEP 517 metadata build. Downloading
a whole wheel is the last resort.

The range path costs ONE request in the common case: a suffix request for the last
``tail_bytes`` (64 KiB). Builders (setuptools, hatchling, flit, poetry) write ``*.dist-info`` last,
so the central directory, ``RECORD`` and ``METADATA`` sit at the end of the file and together
take ~140 bytes per archive member plus ``METADATA`` itself: 64 KiB covers wheels of up to
~300 members, which is most of a large project's dependencies (measured on a sample of Airflow
dependencies: 5-50 KiB). Wheels with thousands of members (cloud SDKs) or with ``METADATA``
first (maturin) take one more request, sized from the central directory, never more than three.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import struct
import sys
import sysconfig
import tempfile
import threading
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ...cache.keys import file_key
from ...cache.store import Cache
from ...errors import (
    BuildError,
    BuildForbidden,
    ConstrainError,
    HashMismatch,
    MetadataError,
    NetworkError,
    OfflineMissing,
    SourceLocation,
    redact_url,
)
from ...models import CoreMetadata, DistFile, MetadataSource, UnreadableLine
from ...reporting import NULL_REPORTER, Reporter
from .. import files as _files
from ..transport.client import HttpClient
from .legacy import marker_of, read_requirement
from ...build.pyproject import static_metadata

if TYPE_CHECKING:
    from ...build.envs import BuildEnvs, BuildRequirementSource

DEFAULT_TAIL = 64 * 1024
_STATIC_FIELDS = frozenset({"requires-dist", "requires-python", "provides-extra"})


# ====================================================================== parsing metadata bytes


def parse_core_metadata(
    data: bytes | str,
    *,
    source: MetadataSource,
    where: str = "METADATA",
    expect_name: str | None = None,
    expect_version: Version | str | None = None,
    reporter: Reporter = NULL_REPORTER,
) -> CoreMetadata:
    """Parse ``METADATA`` / ``PKG-INFO`` bytes into :class:`CoreMetadata`.

    ``where`` names the input in messages (e.g. ``"foo-1.0-py3-none-any.whl (METADATA)"``).
    Raises :class:`MetadataError` when Name or Version is missing or invalid, and when they
    disagree with ``expect_name``/``expect_version`` (the file's own name).

    Requires-Dist lines are read as :func:`.legacy.read_requirement` does: legacy forms that
    the tools of their day accepted are rewritten (reported with ``reporter.info``). A line
    that still cannot be read is kept in ``unreadable`` when it has a valid marker (the
    resolver then rejects the release only where that marker holds: an extra that was asked
    for, a matching platform); a line without one applies everywhere, and the release cannot
    be used: :class:`MetadataError` lists every such line. Dropping a dependency would
    silently produce a broken install set. An invalid Requires-Python is ignored with a
    warning (pip does the same: the index's ``data-requires-python`` is what filters files
    anyway).
    """
    raw, unparsed = parse_email(data)
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    name = raw.get("name")
    version_text = raw.get("version")
    if not name or not version_text:
        missing = "Name" if not name else "Version"
        why = "repeated or undecodable" if missing.lower() in unparsed else "missing"
        raise MetadataError(f"the {missing} field of {where} is {why}")
    try:
        version = Version(version_text)
    except InvalidVersion:
        raise MetadataError(
            f"{where} has an invalid version {version_text!r}",
            locations=[_locate(text, where, "Version", version_text)],
        ) from None
    if expect_name is not None and canonicalize_name(name) != canonicalize_name(expect_name):
        raise MetadataError(
            f"{where} is for project {name!r}, but the file belongs to {expect_name!r}",
            hint="the index serves a mislabelled file; exclude this version or report it",
        )
    if expect_version is not None and version != Version(str(expect_version)):
        raise MetadataError(
            f"{where} says version {version}, but the file is version {expect_version}",
            hint="the index serves a mislabelled file; exclude this version or report it",
        )

    requires: list[Requirement] = []
    bad: list[SourceLocation] = []
    unreadable: list[UnreadableLine] = []
    for line in raw.get("requires_dist", []) + unparsed.get("requires-dist", []):
        try:
            req, fixed = read_requirement(line)
        except InvalidRequirement as exc:
            loc = _locate(text, where, "Requires-Dist", line)
            marker = marker_of(line)
            if marker is not None:
                error = str(exc).splitlines()[0]  # a one-line warning when it does not apply
                unreadable.append(UnreadableLine(where, loc.line, line, error, str(marker)))
            else:
                bad.append(SourceLocation(loc.source, loc.line, loc.text, None, str(exc)))
            continue
        if fixed is not None:
            reporter.info(f"{where}: read the legacy Requires-Dist {line!r} as '{req}' ({fixed})")
        requires.append(req)
    if bad:
        raise MetadataError(
            f"{len(bad)} invalid Requires-Dist line{'s' if len(bad) > 1 else ''} in {where} "
            f"({name} {version})",
            locations=bad,
            hint=f"this version of {name} cannot be used; exclude it (e.g. {name}!={version})",
        )

    requires_python = None
    rp_text = raw.get("requires_python")
    if rp_text:
        try:
            requires_python = SpecifierSet(rp_text)
        except InvalidSpecifier:
            reporter.warning(f"{where}: ignoring invalid Requires-Python {rp_text!r}")
    extras = frozenset(canonicalize_name(e) for e in raw.get("provides_extra", ()))
    return CoreMetadata(
        name=name,
        version=version,
        requires_dist=tuple(requires),
        requires_python=requires_python,
        provides_extra=extras,
        license=raw.get("license_expression") or raw.get("license"),
        source=source,
        unreadable=tuple(unreadable),
    )


def is_static_pkg_info(data: bytes | str) -> bool:
    """PEP 643: ``PKG-INFO`` of Metadata-Version 2.2+ whose dependency fields are not Dynamic
    can be trusted without building the sdist."""
    raw, _ = parse_email(data)
    try:
        mv = Version(raw.get("metadata_version", "0"))
    except InvalidVersion:
        return False
    dynamic = {d.strip().lower() for d in raw.get("dynamic", ())}
    return mv >= Version("2.2") and not (dynamic & (_STATIC_FIELDS | {"name", "version"}))


def _locate(text: str, where: str, field: str, value: str) -> SourceLocation:
    """The ``field: value`` header line of ``text`` as a location (line number when found)."""
    prefix = field.lower() + ":"
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            break  # end of headers: the body is the long description
        if line.lower().startswith(prefix) and line[len(prefix) :].strip() == value.strip():
            return SourceLocation(where, n, line, len(prefix) + 1)
    return SourceLocation(where, None, f"{field}: {value}")


# ====================================================================== zip reading


class _ZipFormatError(Exception):
    """The bytes at hand do not form the zip structure expected (caller falls back)."""


class _NoRanges(Exception):
    """The server does not answer range requests usefully (caller downloads the whole file)."""


@dataclass(frozen=True)
class _Member:
    name: str
    flags: int
    method: int
    crc: int
    csize: int
    usize: int
    offset: int


_EOCD = struct.Struct("<4sHHHHIIH")
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")
_CDH = struct.Struct("<4sHHHHHHIIIHHHHHII")
_LFH = struct.Struct("<4sHHHHHIIIHH")
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class _RemoteZip:
    """The bytes of one remote file fetched so far, fetching missing spans with range requests.

    Spans are kept merged; a server that answers 200 to a range request hands over the whole
    file, which is then kept as the single span."""

    def __init__(self, client: HttpClient, url: str, size: int | None) -> None:
        self.client = client
        self.url = url
        self.size = size
        self.spans: list[tuple[int, bytes]] = []
        self.whole: bytes | None = None
        self.requests = 0

    def fetch_tail(self, n: int) -> None:
        self._accept(self.client.get_range(self.url, None, n), suffix=n)

    def read(self, start: int, end: int, *, before: int = 0) -> bytes:
        """Bytes ``[start, end)``; when not all held, fetch them with one request that also
        takes ``before`` bytes ahead of ``start`` (and stops where held bytes begin)."""
        got = self._slice(start, end)
        if got is not None:
            return got
        lo = max(0, start - before)
        hi = end
        for s, data in self.spans:  # stop where held bytes reaching past ``end`` begin
            if lo < s < hi and s + len(data) >= end:
                hi = s
        self._accept(self.client.get_range(self.url, lo, hi - 1))
        got = self._slice(start, end)
        if got is None:
            raise _ZipFormatError(f"the server did not send bytes {start}-{end - 1}")
        return got

    def held_from_end(self) -> int:
        """Offset from which everything up to the end of the file is held."""
        assert self.size is not None
        for s, data in self.spans:
            if s + len(data) >= self.size:
                return s
        return self.size

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
            raise _NoRanges(f"HTTP {r.status}")
        m = _CONTENT_RANGE.match(r.headers.get("content-range", ""))
        if m:
            start, last = int(m[1]), int(m[2])
            if m[3] != "*":
                self.size = int(m[3])
        elif suffix is not None and self.size is not None:
            start, last = self.size - len(r.content), self.size - 1
        else:
            raise _NoRanges("206 without Content-Range")
        if last - start + 1 != len(r.content) or self.size is None:
            raise _NoRanges("inconsistent partial response")
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


def _eocd_at(buf: bytes, base: int, size: int) -> int | None:
    """Position in ``buf`` (which starts at file offset ``base``) of the End of Central
    Directory record whose comment runs to the end of the file."""
    pos = len(buf)
    while (pos := buf.rfind(b"PK\x05\x06", 0, pos)) >= 0:
        if pos + _EOCD.size <= len(buf):
            comment_len = _EOCD.unpack_from(buf, pos)[7]
            if base + pos + _EOCD.size + comment_len <= size:
                return pos
    return None


def _find_eocd(view: _RemoteZip) -> tuple[int, int, int]:
    """``(cd_offset, cd_size, entries)`` from the End of Central Directory (zip64 aware)."""
    size = view.size
    assert size is not None
    lo = view.held_from_end()
    floor = max(0, size - _EOCD.size - 0xFFFF)  # the archive comment is at most 64 KiB
    while (pos := _eocd_at(view.read(lo, size), lo, size)) is None:
        if lo <= floor:
            raise _ZipFormatError("no end of central directory record")
        lo = floor
    eocd = lo + pos
    _sig, _d, _cd, _nd, entries, cd_size, cd_offset, _clen = _EOCD.unpack(
        view.read(eocd, eocd + _EOCD.size)
    )
    if eocd >= _ZIP64_LOCATOR.size:
        loc = view.read(eocd - _ZIP64_LOCATOR.size, eocd)
        sig, _disk, z64_offset, _disks = _ZIP64_LOCATOR.unpack(loc)
        if sig == b"PK\x06\x07":
            rec = view.read(z64_offset, z64_offset + _ZIP64_EOCD.size, before=4096)
            fields = _ZIP64_EOCD.unpack(rec)
            if fields[0] != b"PK\x06\x06":
                raise _ZipFormatError("bad zip64 end of central directory")
            entries, cd_size, cd_offset = fields[7], fields[8], fields[9]
    if cd_offset + cd_size > eocd:
        raise _ZipFormatError("central directory beyond its end record")
    return cd_offset, cd_size, entries


def _parse_central_directory(cd: bytes, entries: int) -> list[_Member]:
    members: list[_Member] = []
    pos = 0
    for _ in range(entries):
        if pos + _CDH.size > len(cd):
            raise _ZipFormatError("truncated central directory")
        f = _CDH.unpack_from(cd, pos)
        if f[0] != b"PK\x01\x02":
            raise _ZipFormatError("bad central directory entry")
        flags, method, crc, csize, usize = f[3], f[4], f[7], f[8], f[9]
        nlen, elen, clen, offset = f[10], f[11], f[12], f[16]
        raw_name = cd[pos + 46 : pos + 46 + nlen]
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        extra = cd[pos + 46 + nlen : pos + 46 + nlen + elen]
        if 0xFFFFFFFF in (csize, usize, offset):
            usize, csize, offset = _zip64_extra(extra, usize, csize, offset)
        members.append(_Member(name, flags, method, crc, csize, usize, offset))
        pos += 46 + nlen + elen + clen
    return members


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    i = 0
    while i + 4 <= len(extra):
        hid, hlen = struct.unpack_from("<HH", extra, i)
        if hid == 1:
            vals = iter(struct.unpack_from(f"<{hlen // 8}Q", extra, i + 4))
            if usize == 0xFFFFFFFF:
                usize = next(vals)
            if csize == 0xFFFFFFFF:
                csize = next(vals)
            if offset == 0xFFFFFFFF:
                offset = next(vals)
            return usize, csize, offset
        i += 4 + hlen
    raise _ZipFormatError("zip64 sizes without a zip64 extra field")


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


def _member_bytes(blob: bytes, member: _Member) -> bytes:
    """Decompress ``member`` from ``blob``, which starts at its local file header."""
    if len(blob) < _LFH.size or blob[:4] != b"PK\x03\x04":
        raise _ZipFormatError("bad local file header")
    f = _LFH.unpack_from(blob)
    start = _LFH.size + f[9] + f[10]
    data = blob[start : start + member.csize]
    if len(data) != member.csize or member.flags & 1:
        raise _ZipFormatError("truncated or encrypted member")
    if member.method == zipfile.ZIP_STORED:
        out = data
    elif member.method == zipfile.ZIP_DEFLATED:
        d = zlib.decompressobj(-15)
        out = d.decompress(data) + d.flush()
    else:  # bzip2/lzma: rare in wheels; zipfile handles them on the whole-file path
        raise _ZipFormatError(f"compression method {member.method}")
    if len(out) != member.usize or zlib.crc32(out) != member.crc:
        raise _ZipFormatError("METADATA fails its CRC check")
    return out


def _remote_wheel_metadata(view: _RemoteZip, project: str) -> bytes:
    """Read ``METADATA`` out of a remote wheel whose tail ``view`` already holds."""
    cd_offset, cd_size, entries = _find_eocd(view)
    # When the central directory is not all held, fetch it together with what usually sits
    # just before it: RECORD (~60 bytes per member, compressed) and METADATA (< 32 KiB).
    cd = view.read(cd_offset, cd_offset + cd_size, before=entries * 64 + 32 * 1024)
    members = _parse_central_directory(cd, entries)
    chosen = select_metadata_member([m.name for m in members], project)
    member = next(m for m in members if m.name == chosen)
    later = [m.offset for m in members if m.offset > member.offset]
    end = min(later) if later else cd_offset
    return _member_bytes(view.read(member.offset, end), member)


def wheel_metadata_from_zip(source: str | Path | io.BytesIO, project: str, what: str) -> bytes:
    """``METADATA`` from a whole wheel (a path or bytes); :class:`MetadataError` if unusable."""
    try:
        with zipfile.ZipFile(source) as zf:
            return zf.read(select_metadata_member(zf.namelist(), project))
    except (zipfile.BadZipFile, OSError, NotImplementedError, zlib.error) as exc:
        raise MetadataError(f"{what} is not a readable wheel: {exc}") from None


# ====================================================================== the fetcher


def _host_tag() -> str:
    """Where a PEP 517 build ran: built metadata may reflect this host (markers evaluated)."""
    impl = sys.implementation.name
    return f"{impl}{sys.version_info[0]}{sys.version_info[1]}-{sysconfig.get_platform()}"


def metadata_url(url: str) -> str:
    """PEP 658/714: the ``.metadata`` URL of a file URL (fragment dropped, query kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path + ".metadata", fragment=""))


class MetadataFetcher:
    """``fetcher(file) -> CoreMetadata``: the core metadata of one distribution file.

    Thread-safe: the resolver calls it from a pool. Two threads asking for the same file share
    one fetch. ``counts`` tallies how each file's metadata was obtained (``"cache"``,
    ``"pep658"``, ``"range"``, ``"wheel"``, ``"pkg-info"``, ``"pyproject"``, ``"built"``) for
    reports and benchmarks; ``client.counters`` has the requests and bytes.

    ``build_source`` chooses and fetches build requirements under the command's rules (its
    cut-off and sources; ``build/envs.py``); without one, pip installs them, pointed at
    ``build_index`` (``index_url``/``extra_index_urls``/``find_links`` attributes; ``None``
    leaves pip's own configuration in force). Builds share ready build environments, kept
    under the cache root, or in a temporary directory that :meth:`close` removes. Under
    ``offline`` an sdist is still built when its build requirements are local (a wheelhouse,
    the cache); the error names any that is not. ``whole_wheel(file)`` true means the caller
    will download that wheel anyway: its metadata is then read from the whole, cached file.
    For such a file that is an sdist, ``sdist_wheel(file, path) -> wheel path`` (when given)
    builds the wheel the caller will install, and the metadata is read from it: one PEP 517
    build instead of a metadata build now and a wheel build later. ``fetched_whole(file)`` is
    told of each such file once it is in the cache (downloaded, and built for an sdist), so
    that the caller can go on with it (install: unpacking) while the resolve goes on.
    """

    def __init__(
        self,
        client: HttpClient,
        cache: Cache | None,
        *,
        allow_build: bool | Callable[[NormalizedName], bool] = True,
        offline: bool = False,
        refresh: bool = False,
        build_index: Any = None,
        reporter: Reporter = NULL_REPORTER,
        tail_bytes: int = DEFAULT_TAIL,
        max_builds: int = 2,
        build_source: BuildRequirementSource | None = None,
        whole_wheel: Callable[[DistFile], bool] | None = None,
        sdist_wheel: Callable[[DistFile, Path], Path] | None = None,
        fetched_whole: Callable[[DistFile], object] | None = None,
    ) -> None:
        self.client = client
        self.sdist_wheel = sdist_wheel
        self.fetched_whole = fetched_whole
        self.build_source = build_source
        self.whole_wheel = whole_wheel
        self.cache = cache
        self.allow_build = allow_build
        self.offline = offline or client.offline
        self.refresh = refresh
        self.build_index = build_index
        self.reporter = reporter
        self.tail_bytes = tail_bytes
        self.counts: Counter[str] = Counter()
        self._memo: dict[str, CoreMetadata | ConstrainError] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._builds = threading.Semaphore(max_builds)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._build_envs: BuildEnvs | None = None  # made on the first build

    def close(self) -> None:
        """Remove downloads and build environments kept for a fetcher without a cache."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        if self._build_envs is not None:
            self._build_envs.close()
            self._build_envs = None

    def __call__(self, file: DistFile) -> CoreMetadata:
        identity = file.cache_identity()
        with self._guard:
            lock = self._locks.setdefault(identity, threading.Lock())
        with lock:
            found = self._memo.get(identity)
            if isinstance(found, ConstrainError):
                raise found
            if found is not None:
                return found
            try:
                # a build is the longest wait: an sdist's downloads do not queue behind the bulk
                with contextlib.nullcontext() if file.is_wheel else self.client.urgent():
                    md = self._memo[identity] = self._fetch(file)
            except (BuildError, BuildForbidden, MetadataError) as exc:
                self._memo[identity] = exc  # the same file fails the same way: do not rebuild
                raise
            return md

    # ------------------------------------------------------------------ steps
    def _fetch(self, file: DistFile) -> CoreMetadata:
        key = file_key(file.cache_identity())
        # A local file without a hash may be rebuilt under the same name: never cache its facts.
        cache = None if file.url.startswith("file:") and not file.sha256 else self.cache
        if cache is not None and not self.refresh:
            md = self._from_cache(key)
            if md is not None:
                self._count("cache")
                return md
        local = _files.cached_path(file, self.cache)
        if local is not None and (self.refresh is False or file.sha256):
            md = self._from_path(file, local)
        elif self.offline:
            raise OfflineMissing(f"the metadata of {file.filename}")
        elif self.whole_wheel is not None and self.whole_wheel(file):
            # the caller will want the whole file anyway (an install of an exact pin): fetch it
            # once, into the cache, instead of reading its METADATA with range requests first
            path = _files.download(
                self.client, file, self.cache, dest_dir=self._tmpdir(), reporter=self.reporter
            )
            md = self._from_path(file, path)
            if self.fetched_whole is not None:
                self.fetched_whole(file)
        else:
            md = None
            if file.core_metadata is not None:
                md = self._via_pep658(file)
            if md is None:
                md = self._via_range(file) if file.is_wheel else self._via_sdist(file)
        self._count(md.source)
        if cache is not None:
            meta = {"fetched": time.time(), "file": file.filename}
            if md.source == "built":
                meta["host"] = _host_tag()
            cache.put("metadata", key, md.to_json().encode(), meta=meta)
        return md

    def _from_cache(self, key: str) -> CoreMetadata | None:
        assert self.cache is not None
        data = self.cache.get("metadata", key)
        if data is None:
            return None
        try:
            md = CoreMetadata.from_json(data)
        except (ValueError, KeyError, TypeError, InvalidRequirement, InvalidSpecifier):
            return None  # an unreadable entry is a miss; it is overwritten below
        if md.source == "built":
            meta = self.cache.get_meta("metadata", key) or {}
            if meta.get("host") != _host_tag():
                return None  # built elsewhere: markers may have been evaluated differently
        return md

    def _parse(self, data: bytes, file: DistFile, source: MetadataSource, what: str) -> CoreMetadata:
        return parse_core_metadata(
            data,
            source=source,
            where=f"{file.filename} ({what})",
            expect_name=file.project,
            expect_version=file.version,
            reporter=self.reporter,
        )

    def _from_path(self, file: DistFile, path: Path) -> CoreMetadata:
        if file.is_wheel:
            data = wheel_metadata_from_zip(path, file.project, file.filename)
            return self._parse(data, file, "wheel", "METADATA")
        return self._sdist_metadata(file, path)

    def _via_pep658(self, file: DistFile) -> CoreMetadata | None:
        url = metadata_url(file.url)
        r = self.client.get(url)
        if not r.ok:
            self.reporter.info(f"{redact_url(url)}: HTTP {r.status}; reading the file instead")
            return None
        assert file.core_metadata is not None
        hashes = dict(file.core_metadata)
        algo = "sha256" if "sha256" in hashes else next(
            (a for a in hashes if a in hashlib.algorithms_guaranteed), None
        )
        if algo is not None:
            actual = hashlib.new(algo, r.content).hexdigest()
            if actual != hashes[algo].lower():
                raise HashMismatch(
                    f"the metadata file of {file.filename} ({redact_url(url)})",
                    expected=f"{algo}:{hashes[algo].lower()}",
                    actual=f"{algo}:{actual}",
                )
        if not file.is_wheel and not is_static_pkg_info(r.content):
            return None  # an sdist's dynamic PKG-INFO: only a build can tell
        return self._parse(r.content, file, "pep658", "metadata file")

    def _via_range(self, file: DistFile) -> CoreMetadata:
        url = file.url.split("#", 1)[0]
        view = _RemoteZip(self.client, url, file.size)
        try:
            view.fetch_tail(self.tail_bytes)
            if view.whole is None:
                data = _remote_wheel_metadata(view, file.project)
                return self._parse(data, file, "range", "METADATA")
        except (_NoRanges, _ZipFormatError) as exc:
            self.reporter.info(f"{file.filename}: range reads failed ({exc}); downloading it")
            path = _files.download(
                self.client, file, self.cache, dest_dir=self._tmpdir(), reporter=self.reporter
            )
            return self._from_path(file, path)
        # the server ignored the Range header and sent the whole wheel: use it, keep it
        _files.verify(file, hashlib.sha256(view.whole).hexdigest())
        _files.store_bytes(file, view.whole, self.cache)
        data = wheel_metadata_from_zip(io.BytesIO(view.whole), file.project, file.filename)
        return self._parse(data, file, "wheel", "METADATA")

    def _via_sdist(self, file: DistFile) -> CoreMetadata:
        path = _files.download(
            self.client, file, self.cache, dest_dir=self._tmpdir(), reporter=self.reporter
        )
        return self._sdist_metadata(file, path)

    def _sdist_metadata(self, file: DistFile, path: Path) -> CoreMetadata:
        from ...build import sdist

        top = sdist.read_top_files(path, ("PKG-INFO", "pyproject.toml"))
        pkg_info = top.get("PKG-INFO")
        if pkg_info is not None and is_static_pkg_info(pkg_info):
            return self._parse(pkg_info, file, "pkg-info", "PKG-INFO")
        if "pyproject.toml" in top:  # PEP 621: a static [project] table needs no build either
            md, why = static_metadata(top["pyproject.toml"], expect_name=file.project,
                                      expect_version=file.version)
            if md is not None:
                return md
            self.reporter.info(f"{file.filename}: {why}; its metadata needs a build")
        spec = f"{file.project}=={file.version}"
        allowed = self.allow_build(file.project) if callable(self.allow_build) else self.allow_build
        if not allowed:
            raise BuildForbidden(
                f"{file.filename} ({spec}) has no static metadata and building it is not allowed",
                hint=f"allow builds for {file.project} (drop --no-build / --only-binary for it) "
                "or choose a version that has a wheel",
            )
        if self.sdist_wheel is not None and self.whole_wheel is not None and self.whole_wheel(file):
            with self._builds:
                wheel = self.sdist_wheel(file, path)
            data = wheel_metadata_from_zip(wheel, file.project,
                                           f"the wheel built from {file.filename}")
            return self._parse(data, file, "built", "METADATA of the wheel built")
        with self._builds:
            self.reporter.info(f"building metadata for {spec} from sdist {file.filename}")
            data = sdist.prepare_metadata(
                path, build_index=self.build_index, reporter=self.reporter, envs=self._envs()
            )
        return self._parse(data, file, "built", "built METADATA")

    def _envs(self) -> BuildEnvs:
        """The build environments shared by this fetcher's builds (created on first use)."""
        from ...build.envs import BuildEnvs

        with self._guard:
            if self._build_envs is None:
                self._build_envs = BuildEnvs(
                    self.cache, build_index=self.build_index, reporter=self.reporter,
                    source=self.build_source,
                )
            return self._build_envs

    # ------------------------------------------------------------------ helpers
    def _tmpdir(self) -> Path | None:
        if self.cache is not None:
            return None
        with self._guard:
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="constrain-dl-",
                                                        ignore_cleanup_errors=True)
            return Path(self._tmp.name)

    def _count(self, what: str) -> None:
        with self._guard:
            self.counts[what] += 1
