"""Index pages to values: PEP 691 JSON and PEP 503 HTML project pages, find-links pages and root
listings become :class:`~constrain.models.DistFile` lists and project names. Pure: no I/O.

Files are recognised by name with ``packaging.utils`` (wheels, and ``.tar.gz`` / ``.zip``
sdists); anything else (``.egg``, ``.exe``, ``.msi``, invalid names, files of another project)
is skipped. Garbage HTML never raises: it yields nothing. A JSON page that is not JSON, or that
speaks a newer major version of the API, raises :class:`IndexPageError`, and so does a file name
that is not a plain name (a ``/``, ``\\`` or NUL in it: ``beta-1.0-1/../../x-py3-none-any.whl``
is a valid wheel name to ``packaging`` but would be written outside a wheelhouse).

One module past 400 lines: both page formats, find-links pages and root listings go through
the same file-name and attribute rules, which a split would have to share back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.tags import Tag, parse_tag
from packaging.version import InvalidVersion, Version

from ...errors import ConstrainError, redact_url
from ...models import DistFile

JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_CONTENT_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
SUPPORTED_MAJOR = 1

_HASH_FRAGMENT = re.compile(r"^([a-z0-9_-]+)=([0-9a-fA-F]+)$")


class IndexPageError(ConstrainError):
    """An index page cannot be understood: not JSON when it says so, or an API version newer
    than constrain speaks; or it lists a file name with a path in it."""


def _refuse_path_name(filename: str, url: str, index: str) -> None:
    if "/" in filename or "\\" in filename or "\0" in filename:
        raise IndexPageError(
            f"{redact_url(index) or 'the index'} lists a file named {filename!r} "
            f"(at {redact_url(url)}): a file name with a path in it is refused",
            hint="the index is broken or hostile; tell its operator, and use another index "
            "(--index-url) meanwhile",
        )


# ---------------------------------------------------------------------------- public API


def parse_project_page(
    content: bytes,
    content_type: str,
    page_url: str,
    project: NormalizedName | str,
    index: str,
) -> list[DistFile]:
    """The files of ``project`` listed on its index page (PEP 691 JSON or PEP 503 HTML).

    ``content_type`` picks the format (JSON when it names JSON; an empty one is sniffed).
    Relative URLs are resolved against ``page_url`` (or the HTML page's ``<base href>``);
    ``index`` is recorded on every file. Files of other projects are skipped.
    """
    key = canonicalize_name(str(project))
    if _is_json(content, content_type):
        return _files_from_json(content, page_url, key, index)
    return _files_from_links(_html_links(content, content_type, page_url), key, index)


def parse_find_links_page(
    content: bytes, content_type: str, page_url: str, index: str
) -> list[DistFile]:
    """Every distribution file linked from a find-links page or directory listing, of every
    project (the caller filters by project)."""
    if _is_json(content, content_type):
        return _files_from_json(content, page_url, None, index)
    return _files_from_links(_html_links(content, content_type, page_url), None, index)


def parse_root_index(content: bytes, content_type: str) -> list[str]:
    """Project names on an index's root page (PEP 691 ``projects`` or PEP 503 anchor texts),
    for "did you mean" suggestions. Never raises."""
    if _is_json(content, content_type):
        try:
            data = json.loads(content)
            return [str(p["name"]) for p in data.get("projects", ()) if p.get("name")]
        except (ValueError, TypeError, AttributeError, KeyError):
            return []
    from .anchors import AnchorParser

    parser = AnchorParser(collect_text=True)
    parser.feed_safely(_decode(content, content_type))
    return [text.strip() for _href, _attrs, text in parser.anchors if text.strip()]


def dist_file(
    filename: str,
    url: str,
    *,
    index: str,
    project: NormalizedName | None = None,
    hashes: Iterable[tuple[str, str]] = (),
    requires_python: str | None = None,
    yanked: str | None = None,
    upload_time: datetime | None = None,
    size: int | None = None,
    core_metadata: tuple[tuple[str, str], ...] | None = None,
) -> DistFile | None:
    """A :class:`DistFile` for ``filename`` at ``url``, or ``None`` when the name is not a
    wheel or ``.tar.gz``/``.zip`` sdist, is invalid, or (given ``project``) names another
    project. Raises :class:`IndexPageError` for a name with a path in it."""
    try:
        if filename.endswith(".whl"):
            name, version, tags = _parse_wheel_filename(filename)
            kind = "wheel"
        elif filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            tags = frozenset()
            kind = "sdist"
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion, ValueError):
        return None
    if project is not None and name != project:
        return None
    _refuse_path_name(filename, url, index)
    return DistFile(
        project=name,
        filename=filename,
        url=url,
        version=version,
        kind=kind,  # type: ignore[arg-type]
        hashes=tuple(sorted(hashes)),
        requires_python=requires_python or None,
        yanked=yanked,
        upload_time=upload_time,
        size=size,
        core_metadata=core_metadata,
        tags=frozenset(tags),
        index=index,
    )


#: memos of the parts of file names, each emptied at :data:`_MEMO_MAX` entries (a host process
#: resolving again and again keeps no more; a resolve of the large Airflow set makes ~20,000)
_TAGS: dict[str, frozenset[Tag]] = {}
_VERSIONS: dict[str, Version] = {}
_NAMES: dict[str, NormalizedName] = {}
_MEMO_MAX = 50_000


def _room(*memos: dict) -> None:
    """Empty those of ``memos`` that are full (called before an entry is added)."""
    for memo in memos:
        if len(memo) >= _MEMO_MAX:
            memo.clear()


def _parse_wheel_filename(filename: str):
    """``packaging.utils.parse_wheel_filename`` with its costly parts memoised: the same tag
    triples and versions recur across thousands of files on one page. Anything unusual (build
    tags, odd shapes) goes straight to packaging."""
    parts = filename[:-4].split("-")
    if len(parts) != 5:
        name, version, _build, tags = parse_wheel_filename(filename)
        return name, version, tags
    raw_name, raw_version = parts[0], parts[1]
    known_name = _NAMES.get(raw_name)
    known_version = _VERSIONS.get(raw_version)
    if known_name is None or known_version is None:  # first sight: packaging validates it all
        name, version, _build, tags = parse_wheel_filename(filename)
        _room(_NAMES, _VERSIONS, _TAGS)
        _NAMES[raw_name], _VERSIONS[raw_version] = name, version
        _TAGS.setdefault("-".join(parts[2:]), frozenset(tags))
        return name, version, tags
    triple = "-".join(parts[2:])
    known_tags = _TAGS.get(triple)
    if known_tags is None:
        _room(_TAGS)
        known_tags = _TAGS[triple] = frozenset(parse_tag(triple))
    return known_name, known_version, known_tags


_SDIST_NAMES: dict[str, NormalizedName] = {}  # apart from _NAMES: wheel names are stricter


def _parse_sdist_filename(filename: str) -> tuple[NormalizedName, Version]:
    """``packaging.utils.parse_sdist_filename``, through memos of the name part and of the
    version strings :func:`_parse_wheel_filename` also fills (``Version(text)`` is the same
    whichever file name it came from): a project page repeats both for every release."""
    if filename.endswith(".tar.gz"):
        stem = filename[:-7]
    elif filename.endswith(".zip"):
        stem = filename[:-4]
    else:
        return parse_sdist_filename(filename)
    name_part, _sep, version_part = stem.rpartition("-")
    name, version = _SDIST_NAMES.get(name_part), _VERSIONS.get(version_part)
    if name is None or version is None:  # first sight (or no dash): packaging checks it all
        name, version = parse_sdist_filename(filename)
        _room(_SDIST_NAMES, _VERSIONS)
        _SDIST_NAMES[name_part], _VERSIONS[version_part] = name, version
    return name, version


# ---------------------------------------------------------------------------- JSON (PEP 691)


def _is_json(content: bytes, content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    if media:
        return media.endswith("json")
    return content.lstrip()[:1] == b"{"


def _check_api_version(version: object, page_url: str) -> None:
    if version is None:
        return
    major = str(version).split(".", 1)[0]
    if major.isdigit() and int(major) > SUPPORTED_MAJOR:
        raise IndexPageError(
            f"{redact_url(page_url)} speaks version {version} of the simple repository API; "
            f"constrain understands 1.x",
            hint="upgrade constrain, or point it at an index serving API version 1",
        )


def json_entries(content: bytes, page_url: str) -> list:
    """The ``files`` entries of a PEP 691 JSON page, after checking it is JSON of a version
    constrain speaks (:class:`IndexPageError` otherwise); ``[]`` for an odd shape."""
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise IndexPageError(
            f"{redact_url(page_url)} sent a JSON index page that is not valid JSON ({exc})",
            hint="the index or a proxy is misbehaving; try again, or use --refresh",
        ) from exc
    if not isinstance(data, Mapping):
        return []
    meta = data.get("meta")
    _check_api_version(meta.get("api-version") if isinstance(meta, Mapping) else None, page_url)
    entries = data.get("files")
    return entries if isinstance(entries, list) else []


def _files_from_json(
    content: bytes, page_url: str, project: NormalizedName | None, index: str
) -> list[DistFile]:
    out = []
    for entry in json_entries(content, page_url):
        if not isinstance(entry, Mapping):
            continue
        filename, href = entry.get("filename"), entry.get("url")
        if not isinstance(filename, str) or not isinstance(href, str):
            continue
        hashes = entry.get("hashes")
        hash_pairs = (
            [(str(k).lower(), v.lower()) for k, v in hashes.items() if isinstance(v, str)]
            if isinstance(hashes, Mapping)
            else []
        )
        metadata = entry.get("core-metadata", entry.get("dist-info-metadata"))
        size = entry.get("size")
        f = dist_file(
            filename,
            urldefrag(urljoin(page_url, href))[0],
            index=index,
            project=project,
            hashes=hash_pairs,
            requires_python=_str_or_none(entry.get("requires-python")),
            yanked=_json_yanked(entry.get("yanked")),
            upload_time=_upload_time(entry.get("upload-time")),
            size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            core_metadata=_json_core_metadata(metadata),
        )
        if f is not None:
            out.append(f)
    return out


def _json_yanked(value: object) -> str | None:
    if value is None or value is False:
        return None
    if value is True:
        return ""
    return str(value)


def _json_core_metadata(value: object) -> tuple[tuple[str, str], ...] | None:
    if value is True:
        return ()
    if isinstance(value, Mapping):
        return tuple(sorted((str(k).lower(), str(v).lower()) for k, v in value.items()))
    return None


def _upload_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _str_or_none(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


# ---------------------------------------------------------------------------- HTML (PEP 503)


class _Link:
    __slots__ = ("attrs", "filename", "hashes", "url")

    def __init__(self, url: str, filename: str, hashes: list[tuple[str, str]], attrs) -> None:
        self.url = url
        self.filename = filename
        self.hashes = hashes
        self.attrs = attrs


def _decode(content: bytes, content_type: str) -> str:
    charset = "utf-8"
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    try:
        return content.decode(charset, errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


def _html_links(content: bytes, content_type: str, page_url: str) -> list[_Link]:
    from .anchors import AnchorParser  # html.parser: only for HTML pages (most are JSON)

    parser = AnchorParser()
    parser.feed_safely(_decode(content, content_type))
    _check_api_version(parser.api_version, page_url)
    base = urljoin(page_url, parser.base) if parser.base else page_url
    links = []
    for href, attrs, _text in parser.anchors:
        try:
            url, fragment = urldefrag(urljoin(base, href))
            path = urlsplit(url).path
        except ValueError:
            continue
        filename = unquote(path.rsplit("/", 1)[-1])
        hashes = []
        match = _HASH_FRAGMENT.match(fragment)
        if match:
            hashes.append((match.group(1).lower(), match.group(2).lower()))
        links.append(_Link(url, filename, hashes, attrs))
    return links


def _files_from_links(
    links: list[_Link], project: NormalizedName | None, index: str
) -> list[DistFile]:
    out = []
    for link in links:
        attrs = link.attrs
        # PEP 592: the attribute's presence means yanked; its value (maybe empty) is the reason.
        yanked = (attrs["data-yanked"] or "") if "data-yanked" in attrs else None
        metadata = (
            attrs["data-core-metadata"]
            if "data-core-metadata" in attrs
            else attrs.get("data-dist-info-metadata")
        )
        f = dist_file(
            link.filename,
            link.url,
            index=index,
            project=project,
            hashes=link.hashes,
            requires_python=_str_or_none(attrs.get("data-requires-python")),
            yanked=yanked,
            core_metadata=_html_core_metadata(metadata),
        )
        if f is not None:
            out.append(f)
    return out


def _html_core_metadata(value: str | None) -> tuple[tuple[str, str], ...] | None:
    """PEP 714 attribute value: ``"true"`` (no hash) or ``"<algo>=<digest>"``."""
    if value is None:
        return None
    value = value.strip()
    if value.lower() == "true":
        return ()
    match = _HASH_FRAGMENT.match(value)
    if match:
        return ((match.group(1).lower(), match.group(2).lower()),)
    return None
