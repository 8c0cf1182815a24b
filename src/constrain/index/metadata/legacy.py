"""Reading Requires-Dist lines that today's PEP 508 parser rejects but the tools of their day read.

Metadata is immutable: a release uploaded in 2020 keeps the lines its tools accepted then
(celery 4.4.7: ``Requires-Dist: pytz (>dev)``). :func:`read_requirement` parses a line with
``packaging``; when that fails it retries with the rewrites uv's lenient parser applies to the
same legacy forms (each seen in real files), one after another, until ``packaging`` accepts
the result:

- ``>=7.2.0<8.0.0`` -> ``>=7.2.0,<8.0.0`` (missing comma);
- ``!=~5.0`` -> ``!=5.0.*``; ``>=1.9.*`` -> ``>=1.9``; ``!=3.0*`` -> ``!=3.0.*``;
- ``>=3.6,`` -> ``>=3.6`` (trailing comma); ``>=9.0.0a1.0`` -> ``>=9.0.0a1``;
- stray quotes in the version part (``>= '2.7'``), never in the marker;
- ``>dev`` / ``>=dev`` are dropped: pip read them (packaging's ``LegacySpecifier``, until
  packaging 22) as "any version", every real version sorting above the legacy ``dev``. uv
  writes ``>0.0.0dev`` instead, which admits the same releases -- but names a pre-release, and
  would ask for pre-releases of the project.

A line no rewrite rescues is an :class:`~constrain.models.UnreadableLine`, kept with its marker
so that the resolver can tell whether it applies (see ``CoreMetadata.unreadable``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement

_Fix = Callable[[str], str]

#: ``(rewrite of the part before the marker, what it fixes)``, applied cumulatively in order.
_FIXES: tuple[tuple[_Fix, str], ...] = (
    (lambda s: re.sub(r"(\d)([<>=~!])", r"\1,\2", s), "missing comma"),
    (lambda s: re.sub(r"!=~((?:\d+\.)*\d+)", r"!=\1.*", s), "'!=~' for '!=...*'"),
    (lambda s: re.sub(r"(<=|>=|<|>)(\d+(?:\.\d+)*)\.\*", r"\1\2", s), "'.*' after < or >"),
    (lambda s: re.sub(r"((?:\d\.)+\d)\*", r"\1.*", s), "missing dot before '*'"),
    (lambda s: re.sub(r",(\s*)(\)|$)", r"\1\2", s), "trailing comma"),
    (lambda s: re.sub(r">=?\s*dev\b\s*,?", "", re.sub(r",\s*>=?\s*dev\b", "", s)),
     "legacy '>dev' (any version)"),
    (lambda s: re.sub(r"(\d+(?:\.\d+)*(?:a|b|rc|post|dev)\d+)\.0\b", r"\1", s),
     "trailing '.0' after a pre-release"),
    (lambda s: re.sub(r"['\"]", "", s), "stray quotes"),
)


def read_requirement(line: str) -> tuple[Requirement, str | None]:
    """``(requirement, None)`` for a valid PEP 508 line; ``(requirement, what was fixed)`` for
    a legacy line that a rewrite rescues. Raises ``InvalidRequirement`` (``packaging``'s
    message for the line as written) when none does."""
    try:
        return Requirement(line), None
    except InvalidRequirement as exc:
        error = exc
    head, sep, marker = line.partition(";")
    fixed: list[str] = []
    for fix, why in _FIXES:
        patched = fix(head)
        if patched == head:
            continue
        head = patched
        fixed.append(why)
        try:
            return Requirement(head + sep + marker), ", ".join(fixed)
        except InvalidRequirement:
            continue
    raise error


def marker_of(line: str) -> Marker | None:
    """The environment marker of an unreadable line (the text after its first ``;``), or
    ``None`` when it has none or that text is not a valid marker either."""
    _head, sep, text = line.partition(";")
    if not sep or not text.strip():
        return None
    try:
        return Marker(text)
    except InvalidMarker:
        return None

