"""Static PEP 621 metadata: an sdist's ``pyproject.toml`` ``[project]`` table, read instead of
running its build backend.

PEP 621 binds backends: a field not listed in ``dynamic`` is exactly what the table says, and a
backend must not fill it in. So when the table names the project and version of the file and
leaves ``dependencies``, ``optional-dependencies`` and ``requires-python`` out of ``dynamic``, it
gives every fact the resolver needs -- an absent ``dependencies`` then means none -- and the
build (which may need compilers, network or a backend that no longer installs) is not run. uv
does the same; an sdist whose ``PKG-INFO`` is PEP 643-static is read from ``PKG-INFO`` first.

Only the fields the resolver uses are read, with ``packaging``'s parsers; the rest of the table
(readme files, licence files, entry points) is left to the build that makes the wheel. (A full
PEP 621 validator such as pyproject-metadata would reject a table for a readme file the sdist
does not carry, and so force the build this exists to avoid.)
"""

from __future__ import annotations

import tomllib
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..models import CoreMetadata

#: ``dynamic`` entries that would leave the resolver without a fact it needs.
NEEDED = frozenset({"name", "version", "dependencies", "optional-dependencies",
                    "requires-python"})


def static_metadata(
    pyproject: bytes, *, expect_name: str, expect_version: Version
) -> tuple[CoreMetadata | None, str]:
    """``(metadata, "")`` from the ``[project]`` table of ``pyproject`` when it is static for
    every field the resolver needs and names ``expect_name`` ``expect_version``; otherwise
    ``(None, why not)`` -- the caller then builds. Never raises on bad input: a table this
    function cannot trust is one the build must settle."""
    try:
        data = tomllib.loads(pyproject.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return None, f"pyproject.toml is not valid TOML ({exc})"
    project = data.get("project")
    if not isinstance(project, dict):
        return None, "pyproject.toml has no [project] table"
    dynamic = project.get("dynamic", [])
    if not isinstance(dynamic, list):
        return None, "[project] dynamic is not a list"
    named = NEEDED & {str(d).lower() for d in dynamic}
    if named:
        return None, f"[project] lists {', '.join(sorted(named))} as dynamic"
    try:
        return _read(project, expect_name, expect_version), ""
    except _Untrusted as exc:
        return None, str(exc)


class _Untrusted(Exception):
    """The table cannot be taken as the release's metadata (the reason is the message)."""


def _read(project: dict[str, Any], expect_name: str, expect_version: Version) -> CoreMetadata:
    name, version = project.get("name"), project.get("version")
    if not isinstance(name, str) or canonicalize_name(name) != canonicalize_name(expect_name):
        raise _Untrusted(f"[project] name {name!r} is not the file's project {expect_name!r}")
    try:
        if not isinstance(version, str) or Version(version) != expect_version:
            raise _Untrusted(f"[project] version {version!r} is not the file's {expect_version}")
    except InvalidVersion:
        raise _Untrusted(f"[project] version {version!r} is invalid") from None
    requires = [_requirement(r, None) for r in _strings(project, "dependencies")]
    optional = project.get("optional-dependencies", {})
    if not isinstance(optional, dict):
        raise _Untrusted("[project] optional-dependencies is not a table")
    extras = []
    for extra, lines in optional.items():
        extras.append(canonicalize_name(extra))
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise _Untrusted(f"[project.optional-dependencies] {extra} is not a list of strings")
        requires += [_requirement(line, canonicalize_name(extra)) for line in lines]
    rp = project.get("requires-python")
    try:
        requires_python = SpecifierSet(rp) if isinstance(rp, str) else None
    except InvalidSpecifier:
        raise _Untrusted(f"[project] requires-python {rp!r} is invalid") from None
    return CoreMetadata(
        name=name,
        version=Version(version),
        requires_dist=tuple(requires),
        requires_python=requires_python,
        provides_extra=frozenset(extras),
        license=_license(project),
        source="pyproject",
    )


def _strings(project: dict[str, Any], key: str) -> list[str]:
    value = project.get(key, [])
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise _Untrusted(f"[project] {key} is not a list of strings")
    return value


def _requirement(line: str, extra: str | None) -> Requirement:
    """``line`` as a Requires-Dist requirement; under ``extra``, its marker gains
    ``extra == "<extra>"`` as a backend writes it."""
    try:
        req = Requirement(line)
        if extra is not None:
            guard = f'extra == "{extra}"'
            req.marker = Marker(f"({req.marker}) and {guard}" if req.marker else guard)
    except (InvalidRequirement, InvalidMarker) as exc:
        raise _Untrusted(f"[project] requirement {line!r} is invalid: {exc}") from None
    return req


def _license(project: dict[str, Any]) -> str | None:
    value = project.get("license")
    if isinstance(value, str):
        return value  # PEP 639 SPDX expression
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return value["text"]
    return None
