"""Project listings: an index page's files as compact rows grouped by version, their on-disk
form, and lazy :class:`~constrain.models.ProjectFiles` built from them. Pure: no I/O.

A project page of a popular project lists tens of thousands of files (all platforms, all
releases) while a resolve for one target looks at a few versions. So a page is parsed once into
plain tuples (a *row* per file), grouped by version and sorted highest first, and stored in the
cache in :mod:`marshal` form with one blob per version; a warm run unmarshals only the versions
the resolver actually visits, and builds :class:`DistFile` values only for those.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterable, Sequence
from urllib.parse import urldefrag, urljoin
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ...models import DistFile, ProjectFiles
from .parse import (
    _is_json,
    _json_core_metadata,
    _json_yanked,
    _str_or_none,
    _upload_time,
    dist_file,
    json_entries,
    parse_project_page,
)

FORMAT = 1

# (filename, url, hashes, requires_python, yanked, upload_time ISO, size, core_metadata, index)
Row = tuple


def _version_of(filename: str) -> str | None:
    """The version part of a wheel or sdist filename (validated later by ``Version``)."""
    if filename.endswith(".whl"):
        parts = filename.split("-")
        return parts[1] if len(parts) >= 5 else None
    for ext in (".tar.gz", ".zip"):
        if filename.endswith(ext):
            stem = filename[: -len(ext)]
            name, sep, version = stem.rpartition("-")
            return version if sep and name else None
    return None


def _name_of(filename: str) -> str:
    if filename.endswith(".whl"):
        return filename.split("-", 1)[0]
    stem = filename[:-7] if filename.endswith(".tar.gz") else filename[:-4]
    return stem.rpartition("-")[0]


def json_rows(content: bytes, page_url: str, project: NormalizedName, index: str) -> list[Row]:
    """Rows for the files of ``project`` on a PEP 691 JSON page (the fast path: no
    :class:`DistFile` is built here). A popular project's page lists tens of thousands of
    files, so the loop keeps to exact type tests and plain dict reads (the JSON parser only
    makes dicts, lists, strings, numbers, booleans and ``None``)."""
    entries = json_entries(content, page_url)
    rows: list[Row] = []
    append = rows.append
    names_ok: dict[str, bool] = {}
    for entry in entries:
        if type(entry) is not dict:
            continue
        filename, href = entry.get("filename"), entry.get("url")
        if type(filename) is not str or type(href) is not str:
            continue
        if filename.endswith(".whl"):
            raw_name = filename.split("-", 1)[0]
        elif filename.endswith((".tar.gz", ".zip")):
            raw_name = _name_of(filename)
        else:
            continue
        ok = names_ok.get(raw_name)
        if ok is None:
            ok = names_ok[raw_name] = canonicalize_name(raw_name) == project
        if not ok:
            continue
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
        if requires_python is not None:
            requires_python = _str_or_none(requires_python)
        yanked = entry.get("yanked")
        yanked = _json_yanked(yanked) if yanked is not None and yanked is not False else None
        size = entry.get("size")
        upload = entry.get("upload-time")
        core = entry.get("core-metadata", entry.get("dist-info-metadata"))
        append((
            filename,
            href,
            hash_pairs,
            requires_python,
            yanked,
            upload if type(upload) is str else None,
            size if type(size) is int else None,
            None if core is None or core is False else _json_core_metadata(core),
            index,
        ))
    return rows


def listing_of_page(body: bytes, content_type: str, page_url: str, project: NormalizedName,
                    index: str) -> bytes:
    """A project page as served (PEP 691 JSON or PEP 503 HTML) in its stored form,
    :func:`dump_listing` of its rows grouped by version."""
    if _is_json(body, content_type):
        rows = json_rows(body, page_url, project, index)
    else:
        rows = [row_of(f) for f in parse_project_page(body, content_type, page_url, project,
                                                       index)]
    return dump_listing(*group_rows(rows))


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


def group_rows(rows: Iterable[Row]) -> tuple[list[str], list[list[Row]]]:
    """Rows grouped by version, highest version first; rows whose version does not parse are
    dropped. Versions are returned as their normalised strings."""
    parsed: dict[str, Version | None] = {}
    groups: dict[Version, list[Row]] = {}
    for row in rows:
        vstr = _version_of(row[0])
        if vstr is None:
            continue
        if vstr not in parsed:
            try:
                parsed[vstr] = Version(vstr)
            except InvalidVersion:
                parsed[vstr] = None
        version = parsed[vstr]
        if version is not None:
            groups.setdefault(version, []).append(row)
    order = sorted(groups, reverse=True)
    return [str(v) for v in order], [groups[v] for v in order]


def dump_listing(versions: Sequence[str], groups: Sequence[Sequence[Row]]) -> bytes:
    """The cache form: versions, one marshal blob per version, and summary facts."""
    has_upload = any(row[5] is not None for group in groups for row in group)
    count = sum(len(g) for g in groups)
    indexes = sorted({row[8] for group in groups for row in group if row[8]})
    return marshal.dumps(
        (FORMAT, list(versions), [marshal.dumps(list(g)) for g in groups], has_upload, count,
         indexes)
    )


def load_listing(project: NormalizedName, data: bytes, index: str = "") -> ProjectFiles | None:
    """A lazy :class:`ProjectFiles` from :func:`dump_listing` output (``None`` if foreign).
    Rows stored without an index (``listing_of_page(..., index="")``: the stored form then
    holds no index URL, nor the credentials in it) are of ``index``."""
    try:
        fmt, versions, blobs, has_upload, count, indexes = marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return None
    if fmt != FORMAT:
        return None
    if index and not indexes:
        indexes = [index]
    return _project_files(project, [Version(v) for v in versions], blobs, has_upload, count,
                          tuple(indexes), packed=True, index=index)


def _project_files(
    project: NormalizedName,
    versions: list[Version],
    raw: Sequence[object],
    has_upload: bool,
    count: int,
    indexes: tuple[str, ...],
    *,
    packed: bool,
    index: str = "",
) -> ProjectFiles:
    def build(group: object, keep) -> tuple[DistFile, ...]:
        rows: Any = marshal.loads(group) if packed else group  # type: ignore[arg-type]
        if keep is not None:
            rows = [row for row in rows if keep(row[0])]
        return tuple(f for row in rows if (f := file_of(row, project, index)) is not None)

    return ProjectFiles(project, versions, raw, build, has_upload_time=has_upload, count=count,
                        indexes=indexes)
