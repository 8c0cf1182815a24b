"""The shared vocabulary: files an index offers, their core metadata, origins, pins and install sets.

These are cheap frozen values built on ``packaging``'s types. Nothing here does I/O. The one
Protocol the resolver sees the world through is :class:`constrain.ports.MetadataProvider`.
Over 400 lines because every package shares these types and every command loads them: a
module more would be a cost on every run (the Protocol, named only by type checkers, is not).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, MutableSequence, Sequence
from dataclasses import field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from .records import record

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .target import TargetEnvironment

FileKind = Literal["wheel", "sdist"]
MetadataSource = Literal[
    "pep658", "range", "wheel", "pkg-info", "pyproject", "built", "installed"
]


@record
class Origin:
    """Where a requirement or constraint came from: a file path or URL and a 1-based line, or
    ``"command line"``. ``str()`` gives ``path:line``."""

    source: str
    line: int | None = None
    text: str | None = None  # the raw line, for error carets

    def __str__(self) -> str:
        from .errors import redact_url

        where = redact_url(self.source)
        return f"{where}:{self.line}" if self.line is not None else where


COMMAND_LINE = Origin("command line")


@record
class DistFile:
    """One file an index or find-links location offers: a wheel or an sdist.

    ``url`` may carry credentials: print ``redact_url(url)`` only. ``yanked`` is ``None`` when
    the file is not yanked, otherwise the reason (possibly empty). ``core_metadata`` is the PEP
    658/714 advertisement: ``None`` when not advertised, otherwise a tuple of ``(algo, digest)``
    pairs (empty when advertised without hashes). ``tags`` is the wheel's tag set (empty for
    sdists). ``index`` is the location (index URL or find-links entry) the file was listed on.
    """

    project: NormalizedName
    filename: str
    url: str
    version: Version
    kind: FileKind
    hashes: tuple[tuple[str, str], ...] = ()
    requires_python: str | None = None
    yanked: str | None = None
    upload_time: datetime | None = None
    size: int | None = None
    core_metadata: tuple[tuple[str, str], ...] | None = None
    tags: frozenset[Tag] = frozenset()
    index: str = ""

    @property
    def sha256(self) -> str | None:
        return dict(self.hashes).get("sha256")

    @property
    def is_wheel(self) -> bool:
        return self.kind == "wheel"

    @property
    def is_yanked(self) -> bool:
        return self.yanked is not None

    def cache_identity(self) -> str:
        """A stable identity for caching facts about this file: its sha256 when known, else
        its URL (without fragment)."""
        digest = self.sha256
        return f"sha256:{digest}" if digest else "url:" + self.url.split("#", 1)[0]


@record
class UnreadableLine:
    """A Requires-Dist line that cannot be read even as a legacy form, kept so that the
    resolver can decide whether it applies: it does when ``marker`` holds for the target and
    the extras asked for (a line without a valid marker never gets this far: the release is
    rejected when its metadata is read).

    ``where`` names the metadata (``foo-1.0-py3-none-any.whl (METADATA)``), ``line`` is the
    1-based line in it (``None`` when not found), ``text`` the line as written, ``error``
    packaging's complaint, ``marker`` the marker's text."""

    where: str
    line: int | None
    text: str
    error: str
    marker: str

    @property
    def extras(self) -> tuple[str, ...]:
        """The extras the marker compares ``extra`` with (``extra == "gcs"``), for messages."""
        found: list[str] = []
        for m in re.finditer(_EXTRA_IN_MARKER, self.marker):
            name = m[1] if m[1] is not None else m[2]
            if name not in found:
                found.append(name)
        return tuple(found)


#: compiled when first used (re's cache): an unreadable line is rare, and every run imports this
_EXTRA_IN_MARKER = r"""\bextra\s*==\s*['"]([^'"]*)['"]|['"]([^'"]*)['"]\s*==\s*extra\b"""


@record
class CoreMetadata:
    """The parts of a distribution's core metadata that resolving, locking and reporting use.

    ``source`` says how it was obtained; ``built`` means a PEP 517 hook ran on this host, so
    markers that the build evaluated may reflect the host rather than the target.
    """

    name: str
    version: Version
    requires_dist: tuple[Requirement, ...] = ()
    requires_python: SpecifierSet | None = None
    provides_extra: frozenset[NormalizedName] = frozenset()
    license: str | None = None
    source: MetadataSource = "range"
    #: Requires-Dist lines that cannot be read, each under a marker that may be false for the
    #: target and the extras asked for (typically an extra nobody asked for).
    unreadable: tuple[UnreadableLine, ...] = ()

    @property
    def canonical_name(self) -> NormalizedName:
        return canonicalize_name(self.name)

    def to_json(self) -> str:
        """Serialise for the parsed-metadata cache (stable key order)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_dict(self) -> dict:
        """What :meth:`to_json` writes, as JSON-able values (to embed in a larger document)."""
        return {
            "name": self.name,
            "version": str(self.version),
            "requires_dist": [str(r) for r in self.requires_dist],
            # The same, pre-split, so a warm run skips packaging's requirement tokenizer.
            "requires_dist_parts": [
                [r.name, sorted(r.extras), str(r.specifier), r.url,
                 str(r.marker) if r.marker is not None else None]
                for r in self.requires_dist
            ],
            "requires_python": str(self.requires_python)
            if self.requires_python is not None
            else None,
            "provides_extra": sorted(self.provides_extra),
            "license": self.license,
            "source": self.source,
            "unreadable": [
                [u.where, u.line, u.text, u.error, u.marker] for u in self.unreadable
            ],
        }

    @classmethod
    def from_json(cls, text: str | bytes, *, lazy: bool = False) -> CoreMetadata:
        """Read :meth:`to_json` output. ``lazy``: parse the requirements only when first
        used (a remembered resolution rendered as a constraints file never needs them)."""
        return cls.from_dict(json.loads(text), lazy=lazy)

    @classmethod
    def from_dict(cls, data: dict, *, lazy: bool = False) -> CoreMetadata:
        """Read :meth:`to_dict` output (``lazy`` as for :meth:`from_json`)."""
        rp = data.get("requires_python")
        parts = data.get("requires_dist_parts")
        if parts is not None and lazy:
            requires: Sequence[Requirement] = _LazyRequirements(parts, data.get("requires_dist") or [])
        elif parts is not None:
            requires = tuple(_requirement_from_parts(*p) for p in parts)
        else:
            requires = tuple(_requirement(r) for r in data["requires_dist"])
        return cls(
            name=data["name"],
            version=Version(data["version"]),
            requires_dist=requires,  # type: ignore[arg-type]
            requires_python=SpecifierSet(rp) if rp is not None else None,
            provides_extra=frozenset(
                canonicalize_name(e) for e in data.get("provides_extra", ())
            ),
            license=data.get("license"),
            source=data.get("source", "range"),
            unreadable=tuple(UnreadableLine(*u) for u in data.get("unreadable", ())),
        )


_REQUIREMENTS: dict[str, Requirement] = {}


def _requirement(text: str) -> Requirement:
    """``Requirement(text)``, memoised: the same dependency lines recur across the versions of
    a project, and cached metadata is read back on every warm run. Treat the result as
    immutable."""
    found = _REQUIREMENTS.get(text)
    if found is None:
        found = _REQUIREMENTS[text] = Requirement(text)
    return found


class _LazyRequirements(Sequence[Requirement]):
    """Requirements kept as pre-split parts until first used, then built once."""

    __slots__ = ("_built", "_parts", "_texts")

    def __init__(self, parts: list, texts: list) -> None:
        self._parts, self._texts = parts, texts  # texts: each one's str(), as to_dict stored
        self._built: tuple[Requirement, ...] | None = None

    def texts(self) -> list[str]:
        """``[str(r) for r in self]`` without building any requirement."""
        return [str(t) for t in self._texts] if len(self._texts) == len(self._parts) else [
            str(r) for r in self._all()]

    def applying(self, holds: Callable[[str], bool]) -> Iterator[Requirement]:
        """Those without a marker or whose marker's text ``holds``: only these are built."""
        for p in self._parts:
            if p[4] is None or holds(p[4]):
                yield _requirement_from_parts(*p)

    def _all(self) -> tuple[Requirement, ...]:
        if self._built is None:
            self._built = tuple(_requirement_from_parts(*p) for p in self._parts)
        return self._built

    def __len__(self) -> int:
        return len(self._parts)

    def __getitem__(self, index):
        return self._all()[index]

    def __iter__(self):
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        return tuple(self) == tuple(other) if isinstance(other, Sequence) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._all())


_SPECIFIERS: dict[str, SpecifierSet] = {}
_MARKERS: dict[str, object] = {}


def _requirement_from_parts(
    name: str, extras: list[str], specifier: str, url: str | None, marker: str | None
) -> Requirement:
    """A :class:`Requirement` rebuilt from parts that packaging produced earlier (the cache
    format), sharing the parsed specifier and marker objects between requirements."""
    req = Requirement.__new__(Requirement)
    req.name = name
    req.url = url
    req.extras = set(extras)
    spec = _SPECIFIERS.get(specifier)
    if spec is None:
        spec = _SPECIFIERS[specifier] = SpecifierSet(specifier)
    req.specifier = spec
    if marker is None:
        req.marker = None
    else:
        found = _MARKERS.get(marker)
        if found is None:
            from packaging.markers import Marker

            found = _MARKERS[marker] = Marker(marker)
        req.marker = found  # type: ignore[assignment]
    return req


@record
class Pin:
    """One resolved project in an install set: the version, the files that provide it for the
    target, why it is there, and the constraints that shaped it."""

    name: NormalizedName
    display_name: str
    version: Version
    files: tuple[DistFile, ...]  # compatible files of this version, best first
    metadata: CoreMetadata
    extras: frozenset[NormalizedName] = frozenset()
    required_by: tuple[str, ...] = ()  # e.g. "apache-airflow==2.10.5", "command line"
    constraint_origins: tuple[Origin, ...] = ()
    requested: bool = False  # named by a top-level requirement

    @property
    def file(self) -> DistFile:
        """The file that would be installed for the target (the best one)."""
        return self.files[0]

    @property
    def host_built(self) -> bool:
        return self.metadata.source == "built"


def required_by_project(via: str) -> NormalizedName | None:
    """The project of a :attr:`Pin.required_by` entry (``name[extra]==1.0 (spec)``), ``None``
    for a top-level origin (``command line``, ``file:line``)."""
    from packaging.requirements import InvalidRequirement

    try:
        return canonicalize_name(Requirement(via.split(" (", 1)[0]).name)
    except InvalidRequirement:
        return None


@record
class ResolveStats:
    """Work counters that do not drift with machine noise (for reports and benchmarks)."""

    rounds: int = 0
    candidates_visited: int = 0
    backtracks: int = 0
    pages_fetched: int = 0
    metadata_fetched: int = 0
    requests: int = 0
    bytes_received: int = 0
    # requirements the provider looked at to list a project's candidates (summed over every
    # question resolvelib asked): linear in the input, quadratic when roots pile up
    requirements_matched: int = 0


@record
class InstallSet:
    """The resolved pins for one target, sorted by name, with what went in."""

    target: TargetEnvironment
    pins: tuple[Pin, ...]
    requirements: tuple[tuple[Requirement, Origin], ...] = ()
    constraints: tuple[tuple[Requirement, Origin], ...] = ()
    exclude_newer: datetime | None = None
    command: str = ""  # the command line that reproduces this set (credentials redacted)
    stats: ResolveStats = field(default_factory=ResolveStats)
    #: remarks every output's header carries (reconstructed constraints, overrides, held back)
    notes: tuple[str, ...] = ()
    #: ``policies.bounds.HeldBack`` values: packages an upper-bound policy kept back
    held_back: tuple[object, ...] = ()
    #: ``reconstruction.Move`` values: packages a reconstruction of Airflow's constraints moved
    #: past the release date (from, to, why, when)
    moved: tuple[object, ...] = ()
    #: Airflow's constraints in force, for summaries: ``published <url>``, or ``reconstructed
    #: ... as of <date> (<why that date>)``; empty when none
    airflow: str = ""

    def pin(self, name: str) -> Pin | None:
        key = canonicalize_name(name)
        for p in self.pins:
            if p.name == key:
                return p
        return None

    @property
    def host_built(self) -> tuple[Pin, ...]:
        return tuple(p for p in self.pins if p.host_built)


class ProjectFiles(Sequence[DistFile]):
    """The files offered for one project, grouped by version, highest version first.

    An index page of a popular project lists thousands of files, of which a resolve looks at a
    handful of versions. Each version's :class:`DistFile` values are therefore built only when
    that version is first asked for (``files_of``); ``versions`` and ``has_upload_time`` are
    known up front. Iterating the whole sequence builds everything (slow paths only: messages,
    tests).
    """

    __slots__ = ("_build", "_built", "_count", "_raw", "has_upload_time", "indexes", "project",
                 "versions")

    def __init__(
        self,
        project: NormalizedName,
        versions: Sequence[Version],
        raw: Sequence[object],
        build: Callable[[object, Callable[[str], bool] | None], tuple[DistFile, ...]],
        *,
        has_upload_time: bool,
        count: int,
        indexes: tuple[str, ...] = (),
    ) -> None:
        self.project = project
        # copied when changeable only (the facts snapshot's are each made when first asked for)
        self.versions = tuple(versions) if isinstance(versions, MutableSequence) else versions
        self.has_upload_time = has_upload_time
        self.indexes = indexes
        self._raw = raw
        self._build = build
        self._built: list[tuple[DistFile, ...] | None] = [None] * len(self.versions)
        self._count = count

    @classmethod
    def from_files(cls, project: NormalizedName, files: Iterable[DistFile]) -> ProjectFiles:
        """Group already-built files (find-links, HTML pages, tests)."""
        by_version: dict[Version, list[DistFile]] = {}
        for f in files:
            by_version.setdefault(f.version, []).append(f)
        versions = sorted(by_version, reverse=True)
        groups = [tuple(by_version[v]) for v in versions]
        all_files = [f for g in groups for f in g]
        return cls(
            project,
            versions,
            groups,
            lambda group, keep: tuple(
                f for f in group if keep is None or keep(f.filename)  # type: ignore[attr-defined]
            ),
            has_upload_time=any(f.upload_time is not None for f in all_files),
            count=len(all_files),
            indexes=tuple(sorted({f.index for f in all_files if f.index})),
        )

    def files_of(
        self, position: int, keep: Callable[[str], bool] | None = None
    ) -> tuple[DistFile, ...]:
        """The files of ``versions[position]`` (built on first use). ``keep(filename)`` may
        skip files before they are built (a target's cheap wheel-tag test); such a filtered
        answer is not remembered."""
        if keep is not None:
            built = self._built[position]
            if built is not None:
                return tuple(f for f in built if keep(f.filename))
            return tuple(self._build(self._raw[position], keep))
        built = self._built[position]
        if built is None:
            built = self._built[position] = tuple(self._build(self._raw[position], None))
        return built

    def __len__(self) -> int:
        return self._count

    def __iter__(self):
        for i in range(len(self.versions)):
            yield from self.files_of(i)

    def __getitem__(self, index):
        return list(self)[index]

    def __bool__(self) -> bool:
        return self._count > 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (ProjectFiles, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<ProjectFiles {self.project}: {len(self.versions)} versions, {self._count} files>"
