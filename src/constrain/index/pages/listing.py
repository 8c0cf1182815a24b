"""Project listings: an index page's files grouped by version, their on-disk form, and lazy
:class:`~constrain.models.ProjectFiles` built from them. Pure: no I/O.

A project page of a popular project lists tens of thousands of files (all platforms, all
releases) while a resolve for one target looks at a few versions. So a page is read once,
grouped by version and sorted highest first, and stored in the cache as a small header followed
by one :mod:`marshal` blob per version. A warm run unmarshals the header alone (the versions
come back from packaging's pickle state, without parsing), then the blobs of the versions the
resolver actually visits, sliced out of the entry without a copy, and builds :class:`DistFile`
values only for those.

What a blob holds depends on the page. For a PEP 691 JSON page (:func:`json_groups`,
:func:`dump_entries`) it is the version's file entries as served: storing reads only each
entry's file name (to group it), and the rest of an entry is read when its version is first
visited (:func:`_json_row`) -- on a cold install of Airflow that halves the work of storing the
141 pages (91,590 entries) and costs a visited version about 1 microsecond more per file. For
an HTML page or find-links it is *rows*: plain tuples already read from the files, carrying
their parsed names (:func:`group_rows`, :func:`dump_listing`). Either way no file name is
parsed again when a version is visited, and the files come out the same.
"""

from __future__ import annotations

import dataclasses
import functools
import marshal
import os
import struct
import weakref
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urldefrag, urljoin
from typing import Any, BinaryIO

from packaging.tags import Tag, parse_tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
)
from packaging.version import InvalidVersion, Version

from ...errors import CacheError
from ...models import DistFile, ProjectFiles
from .parse import (
    _is_json,
    _parse_sdist_filename,
    _parse_wheel_filename,
    _refuse_path_name,
    _json_core_metadata,
    _json_yanked,
    _upload_time,
    dist_file,
    json_entries,
    parse_project_page,
)

#: 3: the header says whether the blobs hold rows (HTML pages, find-links) or a JSON page's
#: entries as served; 2 (rows only, no such field) is still read
FORMAT = 3
_LENGTH = struct.Struct("<I")  # the header's length, before it

# (filename, url, hashes, requires_python, yanked, upload_time ISO, size, core_metadata, index)
Row = tuple
_ABSENT = object()


def _json_row(entry: object, page_url: str, index: str) -> Row | None:
    """The row of one file entry of a PEP 691 JSON page (``None`` for an entry without a
    file name and URL). A popular project's page lists tens of thousands of files, so this
    keeps to exact type tests and plain dict reads (the JSON parser only makes dicts, lists,
    strings, numbers, booleans and ``None``)."""
    if type(entry) is not dict:
        return None
    filename, href = entry.get("filename"), entry.get("url")
    if type(filename) is not str or type(href) is not str:
        return None
    if "://" not in href or "#" in href:
        href = urldefrag(urljoin(page_url, href))[0]
    hashes = entry.get("hashes")
    if type(hashes) is not dict or not hashes:
        hash_pairs: tuple = ()
    elif len(hashes) == 1:
        ((algo, digest),) = hashes.items()
        hash_pairs = ((str(algo).lower(), digest.lower()),) if type(digest) is str else ()
    else:
        hash_pairs = tuple(sorted((str(k).lower(), v.lower()) for k, v in hashes.items()
                                  if type(v) is str))
    requires_python = entry.get("requires-python")
    if requires_python is not None:  # _str_or_none, inline: one call less per file
        requires_python = (requires_python.strip() or None
                           if type(requires_python) is str else None)
    yanked = entry.get("yanked")
    yanked = _json_yanked(yanked) if yanked is not None and yanked is not False else None
    size = entry.get("size")
    upload = entry.get("upload-time")
    core = entry.get("core-metadata", _ABSENT)  # PEP 714: the older name only if absent
    if core is _ABSENT:
        core = entry.get("dist-info-metadata")
    if core is None or core is False:
        core = None
    elif type(core) is dict and len(core) == 1:  # {"sha256": ...}: most files today
        ((key, value),) = core.items()
        core = (((key.lower(), value.lower()),) if type(key) is str and type(value) is str
                else _json_core_metadata(core))
    else:
        core = _json_core_metadata(core)
    return (
        filename,
        href,
        hash_pairs,
        requires_python,
        yanked,
        upload if type(upload) is str else None,
        size if type(size) is int else None,
        core,
        index,
    )


def _name_and_version(filename: str) -> tuple[NormalizedName, Version] | None:
    """The project and version a wheel or sdist file name gives, read by packaging (through
    the memos of ``parse.py``); ``None`` for any other file or a name that does not parse."""
    try:
        if filename.endswith(".whl"):
            name, version, _tags = _parse_wheel_filename(filename)
            return name, version
        if filename.endswith((".tar.gz", ".zip")):
            return _parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion, ValueError):
        pass
    return None


def json_groups(content: bytes, page_url: str, project: NormalizedName
                ) -> tuple[list[Version], list[tuple[list[dict], list | None]], bool]:
    """The file entries of ``project`` on a PEP 691 JSON page, as served, grouped by version
    (highest first), and whether any has an upload time. Only the file name of each entry is
    read here (by packaging, through the memos :func:`group_rows` uses too), so the entries
    kept and their grouping are those of :func:`group_rows`; the rest of an entry is read
    when its version is first visited (:func:`_json_row`), which a run does for a few
    versions of a page of thousands. A group is its entries and, when some entry's version
    prints otherwise than the group's (``1.0`` beside ``1.0.0``), each entry's version
    string where it differs (else ``None``)."""
    groups: dict[Version, list] = {}  # version -> [that version, entries, shown or None]
    has_upload = False
    for entry in json_entries(content, page_url):
        if type(entry) is not dict:
            continue
        filename = entry.get("filename")
        if type(filename) is not str or type(entry.get("url")) is not str:
            continue
        named = _name_and_version(filename)
        if named is None or named[0] != project:
            continue
        version = named[1]
        if not has_upload and type(entry.get("upload-time")) is str:
            has_upload = True
        group = groups.get(version)
        if group is None:
            groups[version] = [version, [entry], None]
            continue
        key, entries, shown = group
        # the same object as the group's version (file names are parsed through a memo of
        # version strings) prints the same: no str() per file
        text = None if version is key else str(version)
        if text is not None and text == str(key):
            text = None
        if shown is None and text is not None:
            shown = group[2] = [None] * len(entries)
        if shown is not None:
            shown.append(text)
        entries.append(entry)
    order = sorted(groups, reverse=True)
    return order, [(groups[v][1], groups[v][2]) for v in order], has_upload


def listing_of_page(body: bytes, content_type: str, page_url: str, project: NormalizedName,
                    index: str) -> bytes:
    """A project page as served (PEP 691 JSON or PEP 503 HTML) in its stored form: for JSON,
    :func:`dump_entries` of its entries grouped by version (each read when its version is
    first visited); for HTML, :func:`dump_listing` of its rows grouped by version."""
    if _is_json(body, content_type):
        return dump_entries(*json_groups(body, page_url, project), page_url, index)
    rows = [row_of(f) for f in parse_project_page(body, content_type, page_url, project, index)]
    return dump_listing(*group_rows(rows, project))


def row_of(f: DistFile) -> Row:
    """The row form of an already-built file (HTML pages, find-links)."""
    return (
        f.filename,
        f.url,
        tuple(f.hashes),
        f.requires_python,
        f.yanked,
        f.upload_time.isoformat() if f.upload_time is not None else None,
        f.size,
        f.core_metadata,
        f.index,
    )


def file_of(row: Row, project: NormalizedName, index_of_page: str = "") -> DistFile | None:
    """Build the :class:`DistFile` for a row (``None`` for a name that does not parse). A
    row stored with an empty index (:func:`load_listing`) is of ``index_of_page``."""
    filename, url, hashes, rp, yanked, upload, size, core, index = row
    return dist_file(
        filename,
        url,
        index=index or index_of_page,
        project=project,
        hashes=hashes,
        requires_python=rp,
        yanked=yanked,
        upload_time=_upload_time(upload),
        size=size,
        core_metadata=tuple(map(tuple, core)) if core is not None else None,
    )


def group_rows(rows: Iterable[Row], project: NormalizedName | None = None
               ) -> tuple[list[Version], list[list[tuple]]]:
    """Rows grouped by version, highest version first, in their stored form: the :data:`Row`
    fields, then whether the file is a wheel, then its version's string when it differs from
    its group's (``1.0`` beside ``1.0.0``; else ``None``). Names are read by packaging here,
    once (as :func:`.parse.dist_file` reads them), so that loading a version's files parses no
    file name; rows whose name does not parse as a wheel or sdist of ``project`` (when
    given) are dropped, as :func:`file_of` would drop them."""
    groups: dict[Version, list[tuple]] = {}
    for row in rows:
        filename = row[0]
        named = _name_and_version(filename)
        if named is None or (project is not None and named[0] != project):
            continue
        version = named[1]
        group = groups.get(version)
        if group is None:
            group = groups[version] = []
        group.append((version, row))
    order = sorted(groups, reverse=True)
    out = []
    for key in order:
        text = str(key)
        stored = []
        for version, row in groups[key]:
            hashes = row[2]
            if type(hashes) is not tuple or len(hashes) > 1:
                hashes = tuple(sorted(hashes))
            # the same object as the group's version (file names are parsed through a memo
            # of version strings) prints the same: no str() per file
            shown = None if version is key else str(version)
            stored.append((row[0], row[1], hashes, row[3], row[4], row[5], row[6], row[7],
                           row[8], row[0].endswith(".whl"),
                           None if shown is None or shown == text else shown))
        out.append(stored)
    return order, out


def dump_listing(versions: Sequence[Version], groups: Sequence[Sequence[tuple]]) -> bytes:
    """The cache form of rows grouped by version (:func:`group_rows`): one marshal blob of
    rows per version after the header (:func:`_dump`)."""
    has_upload = any(row[5] is not None for group in groups for row in group)
    count = sum(len(g) for g in groups)
    indexes = sorted({row[8] for group in groups for row in group if row[8]})
    return _dump(versions, [marshal.dumps(list(g)) for g in groups], has_upload, count,
                 indexes, None)


def dump_entries(versions: Sequence[Version], groups: Sequence[tuple[list[dict], list | None]],
                 has_upload: bool, page_url: str, index: str) -> bytes:
    """The cache form of a JSON page's entries grouped by version (:func:`json_groups`): one
    marshal blob per version of its entries as served (and their version strings where they
    differ), read into files by :func:`_json_row` when the version is visited; the page's URL
    (for relative links) and ``index`` are in the header (:func:`_dump`)."""
    count = sum(len(entries) for entries, _shown in groups)
    return _dump(versions, [marshal.dumps(group) for group in groups], has_upload, count,
                 [index] if index else [], (page_url, index))


def _dump(versions: Sequence[Version], blobs: Sequence[bytes], has_upload: bool, count: int,
          indexes: Sequence[str], entries_of: tuple[str, str] | None) -> bytes:
    """The header's length, the header (the versions in packaging's own pickle state and as
    strings, where each version's blob ends, summary facts, and for blobs of JSON entries the
    page's URL and index), then the blobs: a load unmarshals the header alone, and a version's
    blob when that version is first visited."""
    ends, end = [], 0
    for blob in blobs:
        end += len(blob)
        ends.append(end)
    header = marshal.dumps((FORMAT, [v.__getstate__() for v in versions],
                            [str(v) for v in versions], ends, has_upload, count, list(indexes),
                            entries_of))
    return b"".join([_LENGTH.pack(len(header)), header, *blobs])


#: stored listings up to this size are read whole; a larger one is read in parts through the
#: open entry: its header, then each version's rows when that version is first visited (on
#: workload 1, 7 of the 40 MB of its listings are ever looked at). A cold run reads a page it
#: fetched the same way, through the entry it wrote: on the large workload the stored forms of
#: 668 pages, 80-110 MB, were otherwise held for the whole run
WHOLE_BELOW = 256 * 1024


def load_listing(project: NormalizedName, data: bytes | BinaryIO, index: str = "", *,
                 whole_below: int | None = None) -> ProjectFiles | None:
    """A lazy :class:`ProjectFiles` from :func:`dump_listing` output (``None`` if foreign or
    damaged). Rows stored without an index (``listing_of_page(..., index="")``: the stored
    form then holds no index URL, nor the credentials in it) are of ``index``.

    ``data`` may be the entry opened (:meth:`.Cache.open`): one of ``whole_below`` bytes or
    more is then kept open and read in parts (one read per version visited); what it reads is
    the entry as it was opened, even if a concurrent run replaces it meanwhile. Otherwise the
    entry is read whole and closed. ``whole_below`` defaults to :data:`WHOLE_BELOW`."""
    if whole_below is None:
        whole_below = WHOLE_BELOW
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        size = len(view)

        def read(a: int, b: int) -> bytes | memoryview:
            return view[a:b]
    else:
        try:
            size = os.fstat(data.fileno()).st_size
            if size < whole_below or not hasattr(os, "pread"):
                with data:
                    return load_listing(project, data.read(), index)
        except OSError:
            data.close()
            return None
        read = functools.partial(_read_at, data)
    try:
        (length,) = _LENGTH.unpack_from(read(0, _LENGTH.size))
        start = _LENGTH.size + length
        header = marshal.loads(read(_LENGTH.size, start))
        if header[0] == 2 and len(header) == 7:  # rows, written before format 3
            header = (FORMAT, *header[1:], None)
        fmt, states, texts, ends, has_upload, count, indexes, entries_of = header
        if fmt != FORMAT or len(states) != len(texts) or len(ends) != len(texts) or not (
                entries_of is None or (type(entries_of) is tuple and len(entries_of) == 2)):
            raise ValueError("another format")
        if start + (ends[-1] if ends else 0) != size:
            raise ValueError("cut short or padded: not what dump_listing wrote")
        versions = _versions(states, texts)
        if versions is None:
            raise ValueError("versions that do not read back")
    except (ValueError, EOFError, TypeError, OSError, struct.error):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            data.close()
        return None
    if index and not indexes:
        indexes = [index]
    starts = [start, *(start + end for end in ends[:-1])]
    files = _project_files(project, versions, starts, [start + end for end in ends], has_upload,
                           count, tuple(indexes), read, index=index, entries_of=entries_of)
    if not isinstance(data, (bytes, bytearray, memoryview)):  # closed with the last reader
        weakref.finalize(files._build, data.close)  # noqa: SLF001 -- its reader, made above
    return files


def _read_at(entry: BinaryIO, a: int, b: int) -> bytes:
    """Bytes ``a`` to ``b`` of the open ``entry`` (``os.pread``: no shared file position,
    so threads may read at once)."""
    parts, fd = [], entry.fileno()
    while a < b:
        part = os.pread(fd, b - a, a)
        if not part:
            raise EOFError("the cached listing ends early")
        parts.append(part)
        a += len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _versions(states: list, texts: list[str]) -> list[Version] | None:
    """The stored versions, rebuilt from packaging's pickle state (its stable format: no
    regular expression runs); the strings when that state is not understood (another
    packaging release), ``None`` when neither reads back to the stored text."""
    new = Version.__new__
    try:
        versions = []
        for state in states:
            v = new(Version)
            v.__setstate__(state)
            versions.append(v)
        if versions and str(versions[0]) != texts[0]:
            raise ValueError("a state that means something else here")
        return versions
    except (TypeError, ValueError, AttributeError):
        try:
            return [Version(t) for t in texts]
        except InvalidVersion:
            return None


def _project_files(
    project: NormalizedName,
    versions: list[Version],
    starts: list[int],
    ends: list[int],
    has_upload: bool,
    count: int,
    indexes: tuple[str, ...],
    read: Callable[[int, int], bytes | memoryview],
    *,
    index: str = "",
    entries_of: tuple[str, str] | None = None,
) -> ProjectFiles:
    # a version is named by its position (a range: no object per version for the garbage
    # collector to walk on every full collection)
    def build(position: Any, keep) -> tuple[DistFile, ...]:
        version = versions[position]
        try:
            stored: Any = marshal.loads(read(starts[position], ends[position]))
            if entries_of is not None:
                stored = _entry_rows(stored, *entries_of, keep)
            elif keep is not None:
                stored = [row for row in stored if keep(row[0])]
            return tuple(_stored_file(row, project, index, version) for row in stored)
        except (ValueError, EOFError, TypeError, KeyError, IndexError, AttributeError) as exc:
            # the header read well, the version's part does not: damaged after it was written
            raise CacheError(
                f"cannot read the cached listing of {project} (version {version}: {exc})",
                hint="remove the cache directory or use --refresh") from None

    return ProjectFiles(project, versions, range(len(versions)), build,
                        has_upload_time=has_upload, count=count, indexes=indexes)


def _entry_rows(group: Any, page_url: str, index: str,
                keep: Callable[[str], bool] | None) -> list[tuple]:
    """The stored rows (as :func:`group_rows` makes them) of one version's blob of JSON
    entries (:func:`dump_entries`), only for the files ``keep`` takes (the others are not
    read); a blob of another shape is a damaged entry."""
    entries, shown = group
    if shown is None:
        shown = [None] * len(entries)
    rows = []
    for entry, vstr in zip(entries, shown, strict=True):  # ValueError when they do not pair
        if keep is not None and type(entry) is dict:
            filename = entry.get("filename")
            if type(filename) is str and not keep(filename):
                continue
        row = _json_row(entry, page_url, index)
        if row is None:
            raise ValueError("a damaged listing: an entry without a file name or URL")
        rows.append((*row, row[0].endswith(".whl"), vstr))
    return rows


_TRIPLE_TAGS: dict[str, frozenset[Tag]] = {}


def _stored_file(row: tuple, project: NormalizedName, index_of_page: str,
                 version: Version) -> DistFile:
    """The :class:`DistFile` of a stored row of ``version`` (its name was read when it was
    stored: :func:`group_rows`)."""
    filename, url, hashes, rp, yanked, upload, size, core, index, wheel, vstr = row
    _refuse_path_name(filename, url, index or index_of_page)
    tags: frozenset[Tag] = frozenset()
    if wheel:
        _, py, abi, platform = filename[:-4].rsplit("-", 3)
        triple = f"{py}-{abi}-{platform}"
        known = _TRIPLE_TAGS.get(triple)
        if known is None:
            known = _TRIPLE_TAGS[triple] = frozenset(parse_tag(triple))
        tags = known
    return _dist_file(
        project,
        filename,
        url,
        version if vstr is None else Version(vstr),  # 1.0 beside 1.0.0: kept apart
        "wheel" if wheel else "sdist",
        hashes,
        rp or None,
        yanked,
        _upload_time(upload),
        size,
        tuple(map(tuple, core)) if core is not None else None,
        tags,
        index or index_of_page,
    )


_FIELDS = tuple(f.name for f in dataclasses.fields(DistFile))
_SLOTTED = "__slots__" in vars(DistFile)
_new = object.__new__


def _dist_file(*values: Any) -> DistFile:
    """``DistFile(*values)`` (its fields in order) without the frozen dataclass's ``__init__``,
    which sets each field through ``object.__setattr__``: the instance gets its ``__dict__``
    at once, as :mod:`copy` and :mod:`pickle` build it (half the cost, on thousands of files
    a warm resolve). A ``DistFile`` with slots would go through its ``__init__``."""
    if _SLOTTED:
        return DistFile(*values)
    f = _new(DistFile)
    f.__dict__.update(zip(_FIELDS, values, strict=True))
    return f
