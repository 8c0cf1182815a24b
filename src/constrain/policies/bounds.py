"""Upper-bound policies: read a TOML policy file, bound each package relative to a reference pin,
and tell what a bound held back.

A policy file has one table per package::

    [SQLAlchemy]
    bound = "minor"        # "minor", "major", or an explicit specifier such as "<2.1"
    reason = "minor releases remove deprecated APIs"
    remove-when = "Airflow's test suite passes on the next minor"

``minor`` keeps the reference's minor version (reference 1.4.36 -> ``<1.5``), ``major`` its
major version (-> ``<2``; "up to the next major"). Bounds are relative to a *reference*: the pin
in the constraints currently in force, so an eager upgrade moves freely up to the bound and stops
there. An explicit specifier needs no reference.

Parsing never stops at the first problem: every bad line is collected and raised once as an
:class:`~constrain.errors.InputError` with file:line and a caret, and nothing of a bad file is
applied. Entries without a reason or removal condition are *lint* (:meth:`PolicyFile.lint`):
``constrain policy check`` fails on them, a resolve only warns. Nothing here does I/O except
:func:`default_policy_text` reading the packaged default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from ..errors import InputError, SourceLocation
from ..models import Origin

#: The name that selects the packaged policy file (``--policies airflow``).
DEFAULT_POLICIES = "airflow"
DEFAULT_RESOURCE = "airflow-policies.toml"

_KEYS = ("bound", "reason", "remove-when")
_HEADER_RE = re.compile(r"""^\s*\[\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\]\s]+))\s*\]""")
_KEY_RE = re.compile(r"""^\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[A-Za-z0-9_-]+))\s*=\s*""")
_TOML_POS_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


@dataclass(frozen=True)
class BoundPolicy:
    """One entry of a policy file: keep ``name`` below a bound, for a reason, until a condition.

    ``bound`` is ``"minor"``, ``"major"`` or the text of a specifier; ``origin`` is the line of
    the package's table header."""

    name: NormalizedName
    display_name: str
    bound: str
    reason: str | None
    remove_when: str | None
    origin: Origin

    @property
    def relative(self) -> bool:
        """Does the bound need a reference version (``minor``/``major``)?"""
        return self.bound in ("minor", "major")

    def specifier(self, reference: Version | None) -> SpecifierSet | None:
        """The upper bound as a specifier: ``<X.(Y+1)`` for ``minor``, ``<(X+1)`` for
        ``major`` (relative to ``reference``; ``None`` without one), else the explicit one."""
        if not self.relative:
            return SpecifierSet(self.bound)
        if reference is None:
            return None
        release = (*tuple(reference.release), 0)
        if self.bound == "major":
            return SpecifierSet(f"<{release[0] + 1}")
        return SpecifierSet(f"<{release[0]}.{release[1] + 1}")


@dataclass(frozen=True)
class PolicyFile:
    """Every policy of one file, in file order."""

    source: str
    policies: tuple[BoundPolicy, ...] = ()

    def lint(self) -> list[SourceLocation]:
        """Entries that lack a reason or a removal condition, one location each."""
        out = []
        for p in self.policies:
            missing = [k for k, v in (("reason", p.reason), ("remove-when", p.remove_when))
                       if not (v and v.strip())]
            if missing:
                out.append(SourceLocation(
                    p.origin.source, p.origin.line, p.origin.text, None,
                    f"{p.display_name}: no {' and no '.join(missing)}"))
        return out

    def get(self, name: str) -> BoundPolicy | None:
        key = canonicalize_name(name)
        return next((p for p in self.policies if p.name == key), None)


@dataclass(frozen=True)
class Bound:
    """A policy applied to a reference version: the specifier it puts on the package."""

    policy: BoundPolicy
    reference: Version | None
    specifier: SpecifierSet

    def describe(self) -> str:
        """``<1.5 (minor of 1.4.36)`` or ``<2.1``."""
        if self.policy.relative:
            return f"{self.specifier} ({self.policy.bound} of {self.reference})"
        return str(self.specifier)

    def constraint(self) -> tuple[Requirement, Origin]:
        """The bound as a constraint line for the resolver, from the policy's file:line."""
        return Requirement(f"{self.policy.display_name}{self.specifier}"), self.policy.origin


@dataclass(frozen=True)
class HeldBack:
    """A package an upper bound kept below its newest release."""

    bound: Bound
    chosen: Version | None
    newest: Version

    @property
    def name(self) -> str:
        return self.bound.policy.display_name

    def line(self) -> str:
        at = f" at {self.chosen}" if self.chosen is not None else ""
        reason = self.bound.policy.reason or "no reason given"
        return (f"held back: {self.name}{at} by bound {self.bound.describe()} from "
                f"{self.bound.policy.origin}; newest release {self.newest}; reason: {reason}")


def default_policy_text() -> tuple[str, str]:
    """``(source name, text)`` of the packaged policy file with Airflow's documented bounds."""
    text = (resources.files("constrain") / "data" / DEFAULT_RESOURCE).read_text("utf-8")
    return f"<packaged {DEFAULT_RESOURCE}>", text


def parse_policies(text: str, source: str) -> PolicyFile:
    """Parse a policy file; raise one :class:`InputError` listing every bad line."""
    import tomllib  # here, not at import: most runs read no policy file

    problems: list[SourceLocation] = []
    lines = text.splitlines()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problems.extend(_syntax_problems(text, source, exc))
        _raise(problems, source)
    headers = _table_lines(lines)
    seen: dict[NormalizedName, BoundPolicy] = {}
    out: list[BoundPolicy] = []
    for name, value in data.items():
        line_no = headers.get(name)
        where = _loc(source, lines, line_no)
        if not isinstance(value, dict):
            line_no = _key_line(lines, 0, len(lines), name)
            problems.append(_loc(source, lines, line_no, 0,
                                 f"{name!r}: expected a table [{name}] with bound, reason "
                                 "and remove-when"))
            continue
        try:
            Requirement(name)
            valid = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) is not None
        except InvalidRequirement:
            valid = False
        if not valid:
            problems.append(_at(where, _header_column(lines, line_no),
                                f"{name!r} is not a valid package name"))
            continue
        end = _table_end(lines, line_no)
        start = line_no or 0
        for key in value:
            if key not in _KEYS:
                kl = _key_line(lines, start, end, key)
                problems.append(_loc(source, lines, kl, _key_column(lines, kl),
                                     f"unknown key {key!r}; expected one of {', '.join(_KEYS)}"))
        fields: dict[str, str | None] = {}
        for key in _KEYS:
            raw = value.get(key)
            if raw is not None and not isinstance(raw, str):
                kl = _key_line(lines, start, end, key)
                problems.append(_loc(source, lines, kl, _value_column(lines, kl),
                                     f"{key} must be a string"))
                raw = None
            fields[key] = raw
        bound = fields["bound"]
        if bound is None:
            if "bound" not in value:
                problems.append(_at(where, _header_column(lines, line_no), f"{name}: no bound (give \"minor\", \"major\" "
                                                 "or a specifier such as \"<2.1\")"))
            continue
        bound = bound.strip()
        error = _check_bound(bound)
        if error:
            kl = _key_line(lines, start, end, "bound")
            problems.append(_loc(source, lines, kl, _value_column(lines, kl), error))
            continue
        policy = BoundPolicy(canonicalize_name(name), name, bound, fields["reason"],
                             fields["remove-when"], Origin(source, line_no, where.text))
        if policy.name in seen:
            first = seen[policy.name]
            problems.append(_at(where, _header_column(lines, line_no),
                                f"{name} already has a policy at {first.origin}"))
            continue
        seen[policy.name] = policy
        out.append(policy)
    _raise(problems, source)
    return PolicyFile(source, tuple(out))


def bounds_for(
    policies: Iterable[BoundPolicy], reference: Mapping[str, Version]
) -> tuple[list[Bound], list[BoundPolicy]]:
    """Apply ``policies`` to the ``reference`` pins (canonical name -> version).

    Returns the bounds and the relative policies left without a reference (not applied)."""
    refs = {canonicalize_name(k): v for k, v in reference.items()}
    bounds: list[Bound] = []
    unused: list[BoundPolicy] = []
    for p in policies:
        ref = refs.get(p.name)
        spec = p.specifier(ref)
        if spec is None:
            unused.append(p)
        else:
            bounds.append(Bound(p, ref, spec))
    return bounds, unused


def held_back(
    bounds: Iterable[Bound],
    chosen: Mapping[str, Version],
    newest: Callable[[str], Version | None],
) -> list[HeldBack]:
    """The bounds whose package's newest release (``newest(name)``; ``None``: unknown) lies
    beyond the bound. Only packages in ``chosen`` (the resolved pins) are asked about."""
    out = []
    for b in bounds:
        if b.policy.name not in chosen:
            continue
        top = newest(b.policy.name)
        if top is not None and not b.specifier.contains(top, prereleases=True):
            out.append(HeldBack(b, chosen[b.policy.name], top))
    return out


# ---------------------------------------------------------------------------- internals


def _check_bound(bound: str) -> str | None:
    if bound in ("minor", "major"):
        return None
    try:
        spec = SpecifierSet(bound)
    except InvalidSpecifier:
        return (f"bound {bound!r} is neither \"minor\", \"major\" nor a valid specifier "
                "such as \"<2.1\"")
    if not any(s.operator in ("<", "<=", "==", "~=", "===") for s in spec):
        return f"bound {bound!r} sets no upper limit (use <, <=, ~= or ==)"
    return None


def _syntax_problems(text: str, source: str, exc: Exception) -> list[SourceLocation]:
    """Every line that is not TOML on its own (so all are reported at once); tomllib's own
    position when that finds nothing (a multi-line construct)."""
    import tomllib  # here, not at import: most runs read no policy file

    lines = text.splitlines()
    out = []
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            tomllib.loads(line.lstrip())
        except tomllib.TOMLDecodeError as err:
            m = _TOML_POS_RE.search(str(err))
            col = (len(line) - len(line.lstrip()) + int(m.group(2)) - 1) if m else None
            out.append(SourceLocation(source, number, line, col, _first(str(err))))
    if out:
        return out
    m = _TOML_POS_RE.search(str(exc))
    if m:
        n, c = int(m.group(1)), int(m.group(2)) - 1
        return [SourceLocation(source, n, lines[n - 1] if 0 < n <= len(lines) else None, c,
                               _first(str(exc)))]
    return [SourceLocation(source, None, None, None, _first(str(exc)))]


def _first(message: str) -> str:
    return _TOML_POS_RE.sub("", message).replace("(at end of document)", "").strip()


def _raise(problems: list[SourceLocation], source: str) -> None:
    if problems:
        n = len(problems)
        problems = sorted(problems, key=lambda p: (p.line or 0, p.column or 0))
        raise InputError(
            f"{n} problem{'s' if n != 1 else ''} in policy file {SourceLocation(source)}",
            locations=problems,
            hint="one table per package: [Name] with bound = \"minor\" | \"major\" | "
            "\"<specifier>\", reason = \"...\", remove-when = \"...\"; nothing was applied",
        )


def _name_of(m: re.Match[str]) -> str:
    return next(g for g in (m.group("dq"), m.group("sq"), m.group("bare")) if g is not None)


def _table_lines(lines: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        m = _HEADER_RE.match(line)
        if m and not line.lstrip().startswith("[["):
            out.setdefault(_name_of(m), number)
    return out


def _table_end(lines: list[str], start: int | None) -> int:
    if start is None:
        return len(lines)
    for i in range(start, len(lines)):
        if _HEADER_RE.match(lines[i]):
            return i
    return len(lines)


def _key_line(lines: list[str], start: int, end: int, key: str) -> int | None:
    for i in range(start, end):
        m = _KEY_RE.match(lines[i])
        if m and _name_of(m) == key:
            return i + 1
    return None


def _key_column(lines: list[str], number: int | None) -> int | None:
    if number is None:
        return None
    return len(lines[number - 1]) - len(lines[number - 1].lstrip())


def _value_column(lines: list[str], number: int | None) -> int | None:
    if number is None:
        return None
    m = _KEY_RE.match(lines[number - 1])
    return m.end() if m else None


def _header_column(lines: list[str], number: int | None) -> int | None:
    if number is None:
        return None
    line = lines[number - 1]
    return line.index("[") + 1


def _loc(source: str, lines: list[str], number: int | None, col: int | None = None,
         message: str | None = None) -> SourceLocation:
    text = lines[number - 1] if number is not None and 0 < number <= len(lines) else None
    return SourceLocation(source, number, text, col if text is not None else None, message)


def _at(where: SourceLocation, col: int | None, message: str) -> SourceLocation:
    return SourceLocation(where.source, where.line, where.text,
                          col if where.text is not None else None, message)
