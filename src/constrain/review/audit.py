"""Which pinned releases of a wheelhouse or a constraints file have known vulnerabilities.

The releases come from a wheelhouse's ``manifest.json`` (every file, build tools included), a
PEP 751 ``pylock*.toml`` (every package with a version), or local constraints/requirements files (every ``name==version`` or ``name===version`` line;
nested ``-c``/``-r`` files are followed; other lines are counted as not checked). They are
matched against an :class:`~constrain.review.osv.OsvDatabase`. Everything is local: a URL
given as a constraints file is refused rather than fetched.

One vulnerability often has several records in one dump (a PYSEC and a GHSA record that list
each other as aliases): findings for the same release whose ids or aliases overlap are merged
into one, under the lowest id, the others kept as aliases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from ..errors import InputError
from .osv import Affected, OsvDatabase

#: Exit code of ``constrain audit`` (and ``download --audit``) when something is found.
FOUND_EXIT_CODE = 3


@dataclass(frozen=True)
class Pinned:
    """One release to check: its project, version and where it was named (wheelhouse file
    names, or ``file:line``)."""

    name: str
    version: str
    where: tuple[str, ...]


@dataclass(frozen=True)
class Finding:
    """A known vulnerability of one pinned release."""

    id: str
    aliases: tuple[str, ...]
    package: str
    version: str
    fixed: tuple[str, ...]
    last_affected: tuple[str, ...]
    summary: str
    severity: tuple[str, ...]
    where: tuple[str, ...]
    records: tuple[str, ...]  # the files of the database it was read from

    def to_json(self) -> dict:
        return {"id": self.id, "aliases": list(self.aliases), "package": self.package,
                "version": self.version, "fixed": list(self.fixed),
                "last_affected": list(self.last_affected), "summary": self.summary,
                "severity": list(self.severity),
                "where": list(self.where), "records": list(self.records)}


@dataclass(frozen=True)
class AuditResult:
    """The findings (by package, then id), how many releases were checked, the input lines
    that were not pins, and the database's own figures."""

    findings: tuple[Finding, ...]
    checked: int
    not_pinned: tuple[str, ...]
    database: OsvDatabase

    @property
    def vulnerable_packages(self) -> int:
        return len({(f.package, f.version) for f in self.findings})

    def to_json(self) -> dict:
        db = self.database
        return {
            "database": {"source": db.source, "records": db.records, "withdrawn": db.withdrawn,
                         "modified": db.modified, "unreadable_ranges": db.unreadable},
            "checked": self.checked,
            "not_pinned": list(self.not_pinned),
            "vulnerable_packages": self.vulnerable_packages,
            "findings": [f.to_json() for f in self.findings],
        }


def pins_from_manifest(manifest) -> list[Pinned]:
    """Every release a wheelhouse manifest (:class:`~constrain.download.manifest.Manifest`)
    holds, with the file names that hold it."""
    where: dict[tuple[str, str], list[str]] = {}
    names: dict[tuple[str, str], str] = {}
    for f in manifest.files:
        key = (canonicalize_name(f.project or f.name), f.version)
        names.setdefault(key, f.name or f.project)
        where.setdefault(key, []).append(f.filename + (" (build tool)" if f.for_build else ""))
    return [Pinned(names[k], k[1], tuple(v)) for k, v in sorted(where.items())]


def pins_from_files(paths: Sequence[str]) -> tuple[list[Pinned], list[str]]:
    """The ``==``/``===`` pins of local constraints or requirements files (nested ones
    followed), and the lines that are not pins (``file:line: text``)."""
    from ..constraints.sources import is_url, load_inputs

    def fetch(location: str) -> tuple[str, str]:
        if is_url(location):
            raise InputError(
                f"{location} is a URL; audit reads only local files (it never uses the network)",
                hint="download the file first and give its path")
        try:
            return location, Path(location).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"no such file: {location}",
                             hint="give a wheelhouse directory, its manifest.json, or a "
                             "constraints file of name==version lines") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {location}: {exc}") from None

    for path in paths:  # said plainly here, not as a bad line of an including file
        fetch(path)
    # read as requirements files, which may name extras (apache-airflow[postgres]==2.10.5);
    # the -c files they include as constraints
    inputs = load_inputs((), list(paths), (), fetch=fetch)
    where: dict[tuple[str, str], list[str]] = {}
    names: dict[tuple[str, str], str] = {}
    not_pinned = []
    for req, origin in (*inputs.requirements, *inputs.constraints):
        pins = [s for s in req.specifier
                if s.operator == "===" or (s.operator == "==" and not s.version.endswith(".*"))]
        if not pins:
            not_pinned.append(f"{origin}: {origin.text.strip() if origin.text else req}")
            continue
        key = (canonicalize_name(req.name), pins[0].version)
        names.setdefault(key, req.name)
        where.setdefault(key, []).append(str(origin))
    return [Pinned(names[k], k[1], tuple(v)) for k, v in sorted(where.items())], not_pinned


def pins_from_pylock(path: str) -> list[Pinned]:
    """Every package with a version of a PEP 751 lock file (``[[packages]]`` name, version)."""
    import tomllib

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path} is not a readable pylock.toml: {exc}",
                         hint="give a lock file written by constrain, pip or uv (PEP 751)") \
            from None
    packages = data.get("packages")
    if not isinstance(packages, list):
        raise InputError(f"{path} has no [[packages]] table (not a PEP 751 lock file)",
                         hint="give a lock file written by constrain, pip or uv (PEP 751)")
    pins = []
    for i, pkg in enumerate(packages, start=1):
        if isinstance(pkg, dict) and isinstance(pkg.get("name"), str) \
                and isinstance(pkg.get("version"), str):
            pins.append(Pinned(pkg["name"], pkg["version"],
                               (f"{path} (packages #{i})",)))
    return pins


def is_pylock(path: str) -> bool:
    """Whether ``path`` names a PEP 751 lock file (``pylock.toml``, ``pylock.NAME.toml``)."""
    name = Path(path).name
    return name.startswith("pylock.") and name.endswith(".toml")


def is_wheelhouse(path: str) -> bool:
    """Whether ``path`` names a wheelhouse (a directory, or a ``.json`` manifest) rather
    than a constraints file."""
    p = Path(path)
    return p.is_dir() or p.suffix == ".json"


def audit(pins: Iterable[Pinned], db: OsvDatabase, not_pinned: Sequence[str] = ()) -> AuditResult:
    """Match ``pins`` against ``db``."""
    findings: list[Finding] = []
    count = 0
    for pin in pins:
        count += 1
        for group in _merge(db.lookup(pin.name, pin.version)):
            findings.append(_finding(pin, group))
    findings.sort(key=lambda f: (canonicalize_name(f.package), f.version, f.id))
    return AuditResult(tuple(findings), count, tuple(not_pinned), db)


def load_targets(paths: Sequence[str]) -> tuple[list[Pinned], list[str]]:
    """The releases of every path given to ``constrain audit``: wheelhouses (directories or
    manifests) and constraints files, in one list."""
    from ..download.manifest import read_manifest

    if not paths:
        raise InputError("nothing to audit",
                         hint="give a wheelhouse directory (or its manifest.json) or a "
                         "constraints file, e.g. constrain audit --db all.zip wheelhouse/")
    pins: list[Pinned] = []
    files = [p for p in paths if not is_wheelhouse(p) and not is_pylock(p)]
    for path in paths:
        if is_wheelhouse(path):
            pins += pins_from_manifest(read_manifest(path))
        elif is_pylock(path):
            pins += pins_from_pylock(path)
    not_pinned: list[str] = []
    if files:
        more, not_pinned = pins_from_files(files)
        pins += more
    return pins, not_pinned


def _merge(hits: list[Affected]) -> list[list[Affected]]:
    """Group entries of one release that describe one vulnerability (ids/aliases overlap)."""
    groups: list[tuple[set[str], list[Affected]]] = []
    for hit in hits:
        names = {hit.advisory.id, *hit.advisory.aliases}
        joined = [g for g in groups if g[0] & names]
        merged_names, merged = set(names), [hit]
        for g in joined:
            merged_names |= g[0]
            merged = g[1] + merged
            groups.remove(g)
        groups.append((merged_names, merged))
    return [g[1] for g in groups]


def _finding(pin: Pinned, group: list[Affected]) -> Finding:
    from packaging.version import InvalidVersion, Version

    try:
        pinned: Version | None = Version(pin.version)
    except InvalidVersion:
        pinned = None
    ids = sorted({a.advisory.id for a in group})
    aliases = sorted({x for a in group for x in a.advisory.aliases} | set(ids[1:]))
    aliases = [a for a in aliases if a != ids[0]]
    # a fix below the pin belongs to another branch of releases: not a way out for this one
    fixed = sorted({v for a in group for v in a.fixed
                    if pinned is None or Version(v) > pinned}, key=Version)
    last = sorted({v for a in group for v in a.last_affected}, key=Version)
    summary = next((a.advisory.summary for a in sorted(group, key=lambda a: a.advisory.id)
                    if a.advisory.summary), "")
    return Finding(id=ids[0], aliases=tuple(aliases), package=pin.name, version=pin.version,
                   fixed=tuple(fixed), last_affected=tuple(last), summary=summary,
                   severity=tuple(sorted({s for a in group for s in a.advisory.severity})),
                   where=pin.where, records=tuple(sorted({a.advisory.source for a in group})))


__all__ = ["FOUND_EXIT_CODE", "AuditResult", "Finding", "Pinned", "audit", "is_pylock",
           "is_wheelhouse", "load_targets", "pins_from_files", "pins_from_manifest",
           "pins_from_pylock"]
