"""Remembered resolutions: a resolve's install set kept in the cache and reused, without
resolving again, while every input and every index listing it consulted is unchanged.

A resolution is a pure function of its inputs -- requirements, constraints, target, options,
index locations -- and of the index listings it read (metadata is immutable per file hash). So
the key is a digest of the inputs, and the entry records, for every project the resolver
looked at, the provenance tokens of the listings it came from (``IndexRepository.provenance``:
fetch times and validators of cached pages, mtimes of local directories). The entry is used only
when all tokens still match and those listings would be used as they are (fresh, or
``--offline``); otherwise the resolve runs and the entry is replaced. ``--refresh`` never uses
it. Warnings the resolve gave are stored and given again, so a remembered answer says the same
things as a computed one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from .. import __version__
from ..errors import CacheError
from ..models import CoreMetadata, InstallSet, Origin, Pin, ResolveStats
from ..reporting import Reporter

#: Part of the key: bump it when the entry's shape changes AND when a resolving rule changes (the
#: same inputs would now resolve differently; a development install keeps its version number).
#: 2: an exclusive upper bound such as ``<2.0dev`` no longer asks for pre-releases.
#: 3: each pin's metadata is an object in the entry, not a JSON text inside it (one parse).
#: 4: the work counter ``requirements_matched`` is kept too (a remembered answer said 0).
FORMAT = 4


def memo_key(
    requirements: Sequence[tuple[Requirement, Origin]],
    constraints: Sequence[tuple[Requirement, Origin]],
    target,
    options,
    locations: Sequence[str],
    allow_build: bool,
) -> str:
    """The digest naming one resolve's inputs (everything but the index's contents)."""
    payload = {
        "format": FORMAT,
        "constrain": __version__,
        "requirements": [[str(r), *_origin(o)] for r, o in requirements],
        "constraints": [[str(r), *_origin(o)] for r, o in constraints],
        "target": [
            list(target.python_version),
            list(target.platforms),
            target.free_threaded,
            target.any_patch,
            target.host,
            list(target.platform_tags),
            sorted(target.markers.items()),
        ],
        "options": repr(options),
        "locations": list(locations),
        "allow_build": allow_build,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def _origin(o: Origin | None) -> list:
    return [None, None, None] if o is None else [o.source, o.line, o.text]


def _from_origin(parts: list) -> Origin | None:
    source, line, text = parts
    return None if source is None else Origin(source, line, text)


def _without_credentials(row: tuple, indexes: dict[str, str]) -> tuple:
    """A file's row with no login in its URL and no login or token in its index URL: the
    cache never holds them (the HTTP client gives an index's host its login again).
    ``indexes`` keeps each index URL's stripped form for the rows of one entry (hundreds of
    rows, a few indexes)."""
    from urllib.parse import urlsplit, urlunsplit

    from ..output.urls import strip_userinfo

    filename, url, *middle, index = row
    if "@" in url:  # a login has one; most URLs have none, and need no split
        parts = urlsplit(url)
        if "@" in parts.netloc:
            url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    if index:
        stripped = indexes.get(index)
        if stripped is None:
            stripped = indexes[index] = strip_userinfo(index)
        index = stripped
    return (filename, url, *middle, index)


def dump(install_set: InstallSet, provenance: dict[str, list], warnings: Sequence[str]) -> bytes:
    """The cache entry for ``install_set`` (a fresh resolve's answer: no notes yet)."""
    from ..index.pages.listing import row_of

    s = install_set.stats
    indexes: dict[str, str] = {}
    return json.dumps(
        {
            "format": FORMAT,
            "provenance": provenance,
            "warnings": list(warnings),
            "pins": [
                {
                    "name": p.name,
                    "display_name": p.display_name,
                    "version": str(p.version),
                    "files": [_without_credentials(row_of(f), indexes) for f in p.files],
                    "metadata": p.metadata.to_dict(),
                    "extras": sorted(p.extras),
                    "required_by": list(p.required_by),
                    "constraint_origins": [_origin(o) for o in p.constraint_origins],
                    "requested": p.requested,
                }
                for p in install_set.pins
            ],
            "requirements": [[str(r), *_origin(o)] for r, o in install_set.requirements],
            "constraints": [[str(r), *_origin(o)] for r, o in install_set.constraints],
            "exclude_newer": install_set.exclude_newer.isoformat()
            if install_set.exclude_newer
            else None,
            "stats": [s.rounds, s.candidates_visited, s.backtracks, s.requirements_matched],
        },
        sort_keys=True,
    ).encode()


def load(data: bytes, target) -> tuple[InstallSet, dict[str, list], list[str]] | None:
    """The install set, provenance and warnings of an entry (``None`` if unreadable)."""
    from ..index.pages.listing import file_of

    try:
        entry = json.loads(data)
        if entry.get("format") != FORMAT:
            return None
        pins = []
        for p in entry["pins"]:
            name = canonicalize_name(p["name"])
            files = tuple(f for row in p["files"] if (f := file_of(tuple(row), name)) is not None)
            pins.append(
                Pin(
                    name=name,
                    display_name=p["display_name"],
                    version=Version(p["version"]),
                    files=files,
                    metadata=CoreMetadata.from_dict(p["metadata"], lazy=True),
                    extras=frozenset(canonicalize_name(e) for e in p["extras"]),
                    required_by=tuple(p["required_by"]),
                    constraint_origins=tuple(
                        o for o in map(_from_origin, p["constraint_origins"]) if o is not None
                    ),
                    requested=p["requested"],
                )
            )
        rounds, visited, backtracks, matched = entry["stats"]
        install_set = InstallSet(
            target=target,
            pins=tuple(pins),
            # written from an InstallSet, whose requirements and constraints all have an origin
            requirements=tuple(
                (Requirement(r[0]), cast("Origin", _from_origin(r[1:])))
                for r in entry["requirements"]
            ),
            constraints=tuple(
                (Requirement(r[0]), cast("Origin", _from_origin(r[1:])))
                for r in entry["constraints"]
            ),
            exclude_newer=datetime.fromisoformat(entry["exclude_newer"])
            if entry["exclude_newer"]
            else None,
            stats=ResolveStats(rounds=rounds, candidates_visited=visited, backtracks=backtracks,
                               requirements_matched=matched),
        )
        return install_set, entry["provenance"], list(entry["warnings"])
    except (ValueError, KeyError, TypeError, IndexError):
        return None


class _Recorder(Reporter):
    """Passes everything on to ``inner`` and keeps the warnings (to store with the entry)."""

    def __init__(self, inner: Reporter) -> None:
        self.inner = inner
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        self.inner.warning(message)

    def info(self, message: str) -> None:
        self.inner.info(message)

    def start(self, task: str, total: int | None = None, unit: str = "") -> None:
        self.inner.start(task, total, unit)

    def advance(self, task: str, amount: int = 1) -> None:
        self.inner.advance(task, amount)

    def finish(self, task: str) -> None:
        self.inner.finish(task)


def resolve_remembered(
    requirements,
    constraints,
    repository,
    cache,
    target,
    options,
    reporter: Reporter,
    *,
    allow_build: bool,
    use: bool = True,
    store: bool = True,
    on_pin=None,
) -> tuple[InstallSet, bool]:
    """``resolver.resolve`` through the memo: ``(install_set, remembered)``. ``use=False``
    (``--refresh``) skips the lookup but still stores the fresh answer; ``store=False``
    (``CONSTRAIN_NO_REMEMBER``) stores nothing."""
    from ..resolver import resolve

    locations = list(getattr(repository, "indexes", ())) + list(
        getattr(repository, "find_links", ())
    )
    can_memo = cache is not None and hasattr(repository, "provenance")
    key = (
        memo_key(requirements, constraints, target, options, locations, allow_build)
        if can_memo
        else None
    )
    if key is not None and use:
        from ..resolver.collection import fewer_collections

        # an entry's objects live as long as the answer: no collection would find garbage
        with fewer_collections(pause=True):
            data = cache.get("resolutions", key)
            found = load(data, target) if data is not None else None
            fits = found is not None and all(
                repository.provenance(project) == tokens
                and repository.provenance_fresh(tokens)
                for project, tokens in found[1].items()
            )
        if found is not None:
            install_set, provenance, warnings = found
            if fits:
                for message in warnings:
                    reporter.warning(message)
                return install_set, True
    recorder = _Recorder(reporter)
    install_set = resolve(requirements, constraints, repository, target, options, recorder,
                          on_pin=on_pin)
    if store and key is not None and not install_set.notes and not install_set.held_back:
        provenance = {}
        for project in sorted(_consulted(repository, install_set)):
            tokens = repository.provenance(project, as_read=True)  # what this answer came from
            if tokens is None:
                return install_set, False
            provenance[project] = tokens
        try:
            cache.put("resolutions", key, dump(install_set, provenance, recorder.warnings))
        except CacheError:
            pass  # remembering is an optimisation; the answer stands
    return install_set, False


def _consulted(repository, install_set: InstallSet) -> set[str]:
    """Every project whose listing the resolve read (not only the pinned ones: a project
    whose releases were all rejected shaped the answer too)."""
    asked = getattr(repository, "consulted", None)
    names = set(asked()) if callable(asked) else set()
    return names | {p.name for p in install_set.pins}
