"""An OSV vulnerability database read offline: the PyPI records of a directory or zip of OSV JSON.

The input is what OSV publishes per ecosystem (``PyPI/all.zip``: one JSON record per advisory,
https://ossf.github.io/osv-schema/), unpacked into a directory or as the zip itself; nothing is
fetched. Of each record only the ``affected`` entries whose ``package.ecosystem`` is ``PyPI``
count; a record with ``withdrawn`` set is skipped. An entry affects a version when its
``versions`` list names it, or when one of its ``ECOSYSTEM`` ranges includes it under the OSV
schema's rule: events sorted by version (``introduced: "0"`` first), ``introduced`` opens,
``fixed`` closes at that version, ``last_affected`` closes after it, ``limit`` bounds the range.
Versions are compared as :class:`packaging.version.Version`, names by ``canonicalize_name``.

A record that is not JSON or not shaped as the schema says is an :class:`InputError` naming the
file (``all.zip:PYSEC-2023-1.json`` for a zip member), every such record at once. A version
string packaging cannot read (legacy releases) is not an error: the range holding it is not
used, the entry's ``versions`` list still is, and :attr:`OsvDatabase.unreadable` counts them.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import InputError, SourceLocation

ECOSYSTEM = "PyPI"
_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
_EVENT_ORDER = {"introduced": 0, "fixed": 1, "last_affected": 2, "limit": 3}
_MAX_SHOWN = 20  # malformed records listed in one error


@dataclass(frozen=True)
class Advisory:
    """One OSV record: its id, aliases (CVE, GHSA ...), summary, severity scores as
    ``TYPE SCORE`` (``CVSS_V3 CVSS:3.1/AV:N/...``), last modification and the file it was
    read from."""

    id: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    severity: tuple[str, ...] = ()
    modified: str | None = None
    source: str = ""


@dataclass(frozen=True)
class _Range:
    """One ECOSYSTEM range: its events as ``(version, kind)`` sorted the schema's way."""

    events: tuple[tuple[Version, str], ...]

    def includes(self, version: Version) -> bool:
        affected = False
        for at, kind in self.events:
            if kind == "introduced" and version >= at:
                affected = True
            elif (kind == "fixed" and version >= at) or (kind == "last_affected" and version > at):
                affected = False
        limits = [at for at, kind in self.events if kind == "limit"]
        return affected and not any(version >= at for at in limits)

    def boundary(self, kind: str) -> list[str]:
        return [str(at) for at, k in self.events if k == kind]


@dataclass(frozen=True)
class Affected:
    """One ``affected`` entry of an advisory for one PyPI project."""

    advisory: Advisory
    versions: frozenset[Version | str]
    ranges: tuple[_Range, ...]

    def includes(self, version: str) -> bool:
        """Whether ``version`` (as pinned) is affected."""
        try:
            parsed: Version | None = Version(version)
        except InvalidVersion:
            parsed = None
        if (parsed if parsed is not None else version) in self.versions:
            return True
        return parsed is not None and any(r.includes(parsed) for r in self.ranges)

    @property
    def fixed(self) -> tuple[str, ...]:
        """Every version a range of this entry says is fixed, lowest first."""
        found = {v for r in self.ranges for v in r.boundary("fixed")}
        return tuple(sorted(found, key=Version))

    @property
    def last_affected(self) -> tuple[str, ...]:
        found = {v for r in self.ranges for v in r.boundary("last_affected")}
        return tuple(sorted(found, key=Version))


@dataclass
class OsvDatabase:
    """The PyPI advisories of one OSV dump, by canonical project name.

    ``records`` counts the records read with a PyPI entry; ``withdrawn`` those skipped as
    withdrawn; ``other`` those of other ecosystems only; ``unreadable`` the ranges set aside
    for a version packaging cannot read (of the projects looked up so far); ``modified`` is
    the newest ``modified`` time seen (how current the dump is). Every record's shape is
    checked when the dump is read; its versions are parsed when its project is first looked
    up (a dump holds tens of thousands of records and hundreds of thousands of versions, of
    which an audit needs a few)."""

    source: str
    raw: dict[NormalizedName, list[tuple[Advisory, dict]]] = field(default_factory=dict)
    parsed: dict[NormalizedName, list[Affected]] = field(default_factory=dict)
    records: int = 0
    withdrawn: int = 0
    other: int = 0
    unreadable: int = 0
    modified: str | None = None

    def entries(self, name: str) -> list[Affected]:
        """Every PyPI ``affected`` entry naming the project ``name``."""
        key = canonicalize_name(name)
        if key not in self.parsed:
            self.parsed[key] = [_parse(self, adv, item) for adv, item in self.raw.get(key, ())]
        return self.parsed[key]

    def lookup(self, name: str, version: str) -> list[Affected]:
        """The entries that say ``name`` ``version`` is affected, in advisory-id order."""
        hits = [a for a in self.entries(name) if a.includes(version)]
        return sorted(hits, key=lambda a: a.advisory.id)


class _Malformed(Exception):
    """A record is not shaped as the OSV schema says (the message says how)."""


def load_database(path: str | os.PathLike[str]) -> OsvDatabase:
    """Read the OSV dump at ``path``: a directory (searched recursively for ``*.json``) or a
    zip of such files. Raises :class:`InputError` for a path that is neither, or naming every
    malformed record."""
    p = Path(path)
    shown = str(path)
    hint_get = ("give the directory or zip of OSV records for PyPI (OSV publishes it as "
                "PyPI/all.zip), downloaded where a network is reachable")
    if p.is_dir():
        records: Iterator[tuple[str, bytes]] = _directory_records(p)
    elif p.is_file():
        if not zipfile.is_zipfile(p):
            raise InputError(f"{shown} is neither a directory nor a zip of OSV records",
                             locations=[SourceLocation(shown)], hint=hint_get)
        records = _zip_records(p, shown)
    else:
        raise InputError(f"no OSV database at {shown}", hint=hint_get)
    db = OsvDatabase(source=shown)
    problems: list[SourceLocation] = []
    for where, raw in records:
        try:
            _add_record(db, where, raw)
        except _Malformed as exc:
            problems.append(SourceLocation(where, exc.args[1] if len(exc.args) > 1 else None,
                                           message=str(exc.args[0])))
    if problems:
        n = len(problems)
        more = [f"... and {n - _MAX_SHOWN} more"] if n > _MAX_SHOWN else []
        raise InputError(
            f"{n} malformed OSV record{'s' if n != 1 else ''} in {shown}",
            locations=problems[:_MAX_SHOWN], details=more,
            hint="give an unmodified OSV dump (each file one record of the OSV schema), or "
            "remove the files named",
        )
    if not db.records and not db.withdrawn:  # nothing to check against: no audit can pass
        zips = sorted(str(z) for z in p.rglob("*.zip")) if p.is_dir() else []
        raise InputError(
            f"{shown} holds no PyPI advisory"
            + (f" ({db.other} records of other ecosystems)" if db.other else ""),
            details=[f"zip files in it are not read: {', '.join(zips[:3])}"] if zips else [],
            hint="give the zip itself (OSV's PyPI/all.zip) or the directory it was extracted "
            "into" if zips else hint_get)
    return db


def _directory_records(root: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*.json")):
        try:
            yield str(path), path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}",
                             locations=[SourceLocation(str(path))]) from None


def _zip_records(path: Path, shown: str) -> Iterator[tuple[str, bytes]]:
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir() or not info.filename.endswith(".json"):
                    continue
                yield f"{shown}:{info.filename}", zf.read(info)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"cannot read the zip {shown}: {exc}",
                         locations=[SourceLocation(shown)],
                         hint="download the OSV dump again; it is damaged") from None


def _add_record(db: OsvDatabase, where: str, raw: bytes) -> None:
    try:
        data = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise _Malformed(f"not UTF-8 text: {exc.reason}") from None
    except ValueError as exc:
        raise _Malformed(f"not JSON: {getattr(exc, 'msg', exc)}",
                         getattr(exc, "lineno", None)) from None
    if not isinstance(data, dict):
        raise _Malformed(f"a record is a JSON object, not {type(data).__name__}")
    rid = data.get("id")
    if not isinstance(rid, str) or not rid:
        raise _Malformed("no 'id'")
    affected = _typed(data, "affected", list, [], rid)
    if data.get("withdrawn"):
        db.withdrawn += 1
        return
    aliases = _typed(data, "aliases", list, [], rid)
    modified = _typed(data, "modified", str, None, rid)
    advisory = Advisory(id=rid, aliases=tuple(str(a) for a in aliases),
                        summary=str(data.get("summary") or "").strip(), modified=modified,
                        severity=_severity(data.get("severity")),
                        source=where)
    entries = []
    for item in affected:
        if not isinstance(item, dict):
            raise _Malformed(f"{rid}: an 'affected' entry is not an object")
        package = _typed(item, "package", dict, {}, rid)
        if package.get("ecosystem") != ECOSYSTEM:
            continue
        name = package.get("name")
        if not isinstance(name, str) or not name:
            raise _Malformed(f"{rid}: a PyPI 'affected' entry has no package name")
        _check(item, rid)
        entries.append((canonicalize_name(name), item))
    if not entries:
        db.other += 1
        return
    db.records += 1
    if modified and (db.modified is None or modified > db.modified):
        db.modified = modified
    for name, item in entries:
        db.raw.setdefault(name, []).append((advisory, item))


def _check(item: dict, rid: str) -> None:
    """Raise :class:`_Malformed` unless ``item``'s versions and ranges have the schema's shape."""
    for text in _typed(item, "versions", list, [], rid):
        if not isinstance(text, str):
            raise _Malformed(f"{rid}: 'versions' holds {text!r}, not a string")
    for rng in _typed(item, "ranges", list, [], rid):
        if not isinstance(rng, dict) or not isinstance(rng.get("events"), list):
            raise _Malformed(f"{rid}: a range without an 'events' list")
        if rng.get("type") != "ECOSYSTEM":
            continue  # GIT and SEMVER ranges do not speak of PyPI versions
        for event in rng["events"]:
            if not isinstance(event, dict) or len(event) != 1 \
                    or next(iter(event)) not in _EVENT_KINDS:
                raise _Malformed(f"{rid}: an event is not one of {', '.join(_EVENT_KINDS)}: "
                                 f"{event!r}")
            kind, text = next(iter(event.items()))
            if not isinstance(text, str):
                raise _Malformed(f"{rid}: event {kind} holds {text!r}, not a version string")


def _parse(db: OsvDatabase, advisory: Advisory, item: dict) -> Affected:
    """The :class:`Affected` of an entry :func:`_check` accepted."""
    versions: set[Version | str] = set()
    for text in item.get("versions") or ():
        try:
            versions.add(Version(text))
        except InvalidVersion:
            versions.add(text)
    ranges = []
    for rng in item.get("ranges") or ():
        if rng.get("type") != "ECOSYSTEM":
            continue
        events = []
        readable = True
        for event in rng["events"]:
            kind, text = next(iter(event.items()))
            try:
                events.append((Version(text), kind))
            except InvalidVersion:
                readable = False
        if not readable:
            db.unreadable += 1
            continue
        events.sort(key=lambda e: (e[0], _EVENT_ORDER[e[1]]))
        ranges.append(_Range(tuple(events)))
    return Affected(advisory, frozenset(versions), tuple(ranges))


def _severity(value) -> tuple[str, ...]:
    """``severity`` entries as ``TYPE SCORE``; anything not shaped so is left out (a score
    is information for the reader, never a reason to refuse the dump)."""
    if not isinstance(value, list):
        return ()
    return tuple(f"{s['type']} {s['score']}" for s in value
                 if isinstance(s, dict) and isinstance(s.get("type"), str)
                 and isinstance(s.get("score"), str))


def _typed(data: dict, key: str, kind: type, default, rid: str):
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise _Malformed(f"{rid}: '{key}' is a {type(value).__name__}, not a "
                         f"{'list' if kind is list else kind.__name__}")
    return value
