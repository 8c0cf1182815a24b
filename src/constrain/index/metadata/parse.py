"""``METADATA`` / ``PKG-INFO`` bytes to :class:`~constrain.models.CoreMetadata`. Pure: no I/O.

Fields are read with ``packaging.metadata``; Requires-Dist lines with ``legacy.py``'s reading
of the forms older tools accepted. Errors name the file and the line.
"""

from __future__ import annotations

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ...errors import MetadataError, SourceLocation
from ...models import CoreMetadata, MetadataSource, UnreadableLine
from ...reporting import NULL_REPORTER, Reporter
from .legacy import marker_of, read_requirement

_STATIC_FIELDS = frozenset({"requires-dist", "requires-python", "provides-extra"})

def parse_core_metadata(
    data: bytes | str,
    *,
    source: MetadataSource,
    where: str = "METADATA",
    expect_name: str | None = None,
    expect_version: Version | str | None = None,
    reporter: Reporter = NULL_REPORTER,
) -> CoreMetadata:
    """Parse ``METADATA`` / ``PKG-INFO`` bytes into :class:`CoreMetadata`.

    ``where`` names the input in messages (e.g. ``"foo-1.0-py3-none-any.whl (METADATA)"``).
    Raises :class:`MetadataError` when Name or Version is missing or invalid, and when they
    disagree with ``expect_name``/``expect_version`` (the file's own name).

    Requires-Dist lines are read as :func:`.legacy.read_requirement` does: legacy forms that
    the tools of their day accepted are rewritten (reported with ``reporter.info``). A line
    that still cannot be read is kept in ``unreadable`` when it has a valid marker (the
    resolver then rejects the release only where that marker holds: an extra that was asked
    for, a matching platform); a line without one applies everywhere, and the release cannot
    be used: :class:`MetadataError` lists every such line. Dropping a dependency would
    silently produce a broken install set. An invalid Requires-Python is ignored with a
    warning (pip does the same: the index's ``data-requires-python`` is what filters files
    anyway).
    """
    raw, unparsed = parse_email(data)
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    name = raw.get("name")
    version_text = raw.get("version")
    if not name or not version_text:
        missing = "Name" if not name else "Version"
        why = "repeated or undecodable" if missing.lower() in unparsed else "missing"
        raise MetadataError(f"the {missing} field of {where} is {why}")
    try:
        version = Version(version_text)
    except InvalidVersion:
        raise MetadataError(
            f"{where} has an invalid version {version_text!r}",
            locations=[_locate(text, where, "Version", version_text)],
        ) from None
    if expect_name is not None and canonicalize_name(name) != canonicalize_name(expect_name):
        raise MetadataError(
            f"{where} is for project {name!r}, but the file belongs to {expect_name!r}",
            hint="the index serves a mislabelled file; exclude this version or report it",
        )
    if expect_version is not None and version != Version(str(expect_version)):
        raise MetadataError(
            f"{where} says version {version}, but the file is version {expect_version}",
            hint="the index serves a mislabelled file; exclude this version or report it",
        )

    requires: list[Requirement] = []
    bad: list[SourceLocation] = []
    unreadable: list[UnreadableLine] = []
    for line in raw.get("requires_dist", []) + unparsed.get("requires-dist", []):
        try:
            req, fixed = read_requirement(line)
        except InvalidRequirement as exc:
            loc = _locate(text, where, "Requires-Dist", line)
            marker = marker_of(line)
            if marker is not None:
                error = str(exc).splitlines()[0]  # a one-line warning when it does not apply
                unreadable.append(UnreadableLine(where, loc.line, line, error, str(marker)))
            else:
                bad.append(SourceLocation(loc.source, loc.line, loc.text, None, str(exc)))
            continue
        if fixed is not None:
            reporter.info(f"{where}: read the legacy Requires-Dist {line!r} as '{req}' ({fixed})")
        requires.append(req)
    if bad:
        raise MetadataError(
            f"{len(bad)} invalid Requires-Dist line{'s' if len(bad) > 1 else ''} in {where} "
            f"({name} {version})",
            locations=bad,
            hint=f"this version of {name} cannot be used; exclude it (e.g. {name}!={version})",
        )

    requires_python = None
    rp_text = raw.get("requires_python")
    if rp_text:
        try:
            requires_python = SpecifierSet(rp_text)
        except InvalidSpecifier:
            reporter.warning(f"{where}: ignoring invalid Requires-Python {rp_text!r}")
    extras = frozenset(canonicalize_name(e) for e in raw.get("provides_extra", ()))
    return CoreMetadata(
        name=name,
        version=version,
        requires_dist=tuple(requires),
        requires_python=requires_python,
        provides_extra=extras,
        license=raw.get("license_expression") or raw.get("license"),
        source=source,
        unreadable=tuple(unreadable),
    )


def is_static_pkg_info(data: bytes | str) -> bool:
    """PEP 643: ``PKG-INFO`` of Metadata-Version 2.2+ whose dependency fields are not Dynamic
    can be trusted without building the sdist."""
    raw, _ = parse_email(data)
    try:
        mv = Version(raw.get("metadata_version", "0"))
    except InvalidVersion:
        return False
    dynamic = {d.strip().lower() for d in raw.get("dynamic", ())}
    return mv >= Version("2.2") and not (dynamic & (_STATIC_FIELDS | {"name", "version"}))


def _locate(text: str, where: str, field: str, value: str) -> SourceLocation:
    """The ``field: value`` header line of ``text`` as a location (line number when found)."""
    prefix = field.lower() + ":"
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            break  # end of headers: the body is the long description
        if line.lower().startswith(prefix) and line[len(prefix) :].strip() == value.strip():
            return SourceLocation(where, n, line, len(prefix) + 1)
    return SourceLocation(where, None, f"{field}: {value}")
