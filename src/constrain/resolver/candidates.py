"""The resolver's value types: requirements, candidates, identifiers, and constraints by project.

Requirement, candidate and artifact are three types: a :class:`Req` is what someone asked for
(already marker-evaluated for the target), a :class:`Candidate` is one version of one project
(with extras) together with the :class:`~constrain.models.DistFile` objects that provide it, and
the files are the artifacts. All are cheap frozen values; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from ..models import DistFile, Origin
from ..target import TargetEnvironment

#: The identifier of the synthetic project only the target's Python satisfies; a candidate
#: whose metadata Requires-Python excludes the target depends on it and so can never be chosen.
PYTHON = "<python>"


def identifier(name: str, extras: frozenset[str] = frozenset()) -> str:
    """``name`` or ``name[a,b]`` (extras sorted): the resolvelib identifier."""
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


def split_identifier(key: str) -> tuple[str, frozenset[NormalizedName]]:
    """The name and extras an :func:`identifier` was made of."""
    name, bracket, rest = key.partition("[")
    if not bracket:
        return name, frozenset()
    return name, frozenset(NormalizedName(e) for e in rest[:-1].split(","))


@dataclass(frozen=True)
class Req:
    """A requirement in the resolver: a project (with extras) and a specifier.

    ``exact`` is set for the requirement an extras candidate has on its own base project (or on
    other extras of it): exactly that version. ``origin`` is where a top-level requirement came
    from; ``None`` for dependencies.
    """

    name: str  # canonical project name, or PYTHON
    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    extras: frozenset[NormalizedName] = frozenset()
    exact: Version | None = None
    origin: Origin | None = None
    # version -> contains(version): resolvelib re-checks every pin against every requirement
    # each round, and packaging's specifier test is not cheap.
    _memo: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def key(self) -> str:
        return identifier(self.name, self.extras)

    @cached_property
    def pinned(self) -> bool:
        """Exact pin: ``exact``, ``===`` or ``==`` without a wildcard (made once: the
        preference asks it of every requirement of a criterion each time one changes)."""
        return self.exact is not None or any(
            s.operator == "===" or (s.operator == "==" and not s.version.endswith(".*"))
            for s in self.specifier
        )

    @cached_property
    def limit(self) -> tuple[str, SpecifierSet]:
        """The specifier this requirement puts on its project's versions and its text, made
        once (resolvelib hands every requirement on a project to ``find_matches`` each time
        one is added): ``===<version>`` for ``exact``. (A cached property writes the
        instance's ``__dict__`` directly, which a frozen dataclass allows; it is no field, so
        equality and hashing ignore it.)"""
        spec = exactly(self.exact) if self.exact is not None else self.specifier
        return str(spec), spec

    def contains(self, version: Version) -> bool:
        if self.exact is not None:
            return version == self.exact
        found = self._memo.get(version)
        if found is None:
            found = self._memo[version] = self.specifier.contains(version, prereleases=True)
        return found

    def __str__(self) -> str:
        if self.name == PYTHON:
            return f"Python{self.specifier}"
        spec = f"=={self.exact}" if self.exact is not None else str(self.specifier)
        return f"{self.key}{spec}"

    @classmethod
    def from_requirement(cls, req: Requirement, origin: Origin | None = None) -> Req:
        name = _CANONICAL.get(req.name)
        if name is None:
            name = _CANONICAL[req.name] = canonicalize_name(req.name)
        return cls(
            name,
            req.specifier,
            frozenset(canonicalize_name(e) for e in req.extras) if req.extras else _NO_EXTRAS,
            None,
            origin,
        )


#: project name as written -> canonical (every dependency of every candidate is one: the
#: large Airflow resolve makes 13,000 requirements of 1,800 distinct ones)
_CANONICAL: dict[str, NormalizedName] = {}
_NO_EXTRAS: frozenset[NormalizedName] = frozenset()


_EXACTLY: dict[str, SpecifierSet] = {}


def exactly(version: Version) -> SpecifierSet:
    """``SpecifierSet("===<version>")``, made once per version: an extras candidate's
    requirement on its base project is asked for in every round that touches it (the large
    Airflow resolve built 300,000 of them: 15% of its time). Keyed by the version's text, not
    the Version: 2.0 and 2.0.0 are equal Versions but ``===`` compares the text."""
    text = str(version)
    found = _EXACTLY.get(text)
    if found is None:
        found = _EXACTLY[text] = SpecifierSet(f"==={text}")
    return found


@dataclass(frozen=True)
class Candidate:
    """One version of one project, with the extras asked and the files that provide it for
    the target (best first). Equality ignores the files."""

    name: str  # canonical project name, or PYTHON
    version: Version
    extras: frozenset[NormalizedName] = frozenset()
    files: tuple[DistFile, ...] = field(default=(), compare=False)
    yanked: bool = field(default=False, compare=False)

    @property
    def key(self) -> str:
        return identifier(self.name, self.extras)

    @property
    def best_file(self) -> DistFile:
        """The file whose metadata is read and that would be installed."""
        return self.files[0]

    def __str__(self) -> str:
        return f"{self.key}=={self.version}"


def python_candidate(target: TargetEnvironment) -> Candidate:
    """The one candidate of :data:`PYTHON`: the target's Python version."""
    return Candidate(PYTHON, Version(target.python_full_version))


@dataclass(frozen=True)
class Constraint:
    """A constraint that applies on the target (its marker held)."""

    specifier: SpecifierSet
    origin: Origin
    text: str


@dataclass(frozen=True)
class ConstraintIndex:
    """The constraints of a resolve, by canonical project name; several on one project
    intersect."""

    by_project: dict[str, tuple[Constraint, ...]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, constraints: Sequence[tuple[Requirement, Origin]], target: TargetEnvironment
    ) -> ConstraintIndex:
        """Keep the constraints whose markers hold for ``target``. Extras on a constraint
        are ignored: a constraint limits the project's versions."""
        out: dict[str, list[Constraint]] = {}
        for req, origin in constraints:
            if not target.evaluate(req.marker):
                continue
            text = f"{req.name}{req.specifier}"
            out.setdefault(canonicalize_name(req.name), []).append(
                Constraint(req.specifier, origin, text)
            )
        return cls({k: tuple(v) for k, v in out.items()})

    def on(self, project: str) -> tuple[Constraint, ...]:
        return self.by_project.get(project, ())

    def specifiers(self, project: str) -> list[SpecifierSet]:
        return [c.specifier for c in self.on(project)]

    def pins(self, project: str) -> bool:
        """Does a constraint pin ``project`` exactly (``==`` without wildcard, ``===``)?"""
        return any(Req(project, c.specifier).pinned for c in self.on(project))
