"""How a candidate or a requirement came into a resolve, for messages: its chain from the top
(``command line -> a==1.0 -> c<2``), and the error of a build that a pin needed.

Read only when something is explained (a conflict, a missing project, a failed build), from
what the provider recorded of who asked for what (``ConstrainProvider.asked``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import BuildError, BuildRequirementsUnavailable
from ..models import COMMAND_LINE
from ..target import TargetEnvironment
from .candidates import Candidate, Req

#: identifier -> every (requirement, parent) seen, in order; parent None = top level
Asked = Mapping[str, Sequence[tuple[Req, Candidate | None]]]


def chain(asked: Asked, candidate: Candidate | None,
          _seen: frozenset[str] = frozenset()) -> list[str]:
    """How ``candidate`` came in, from the top: ``["command line", "a==1.0", ...]``."""
    if candidate is None:
        return []
    if candidate.key in _seen:
        return [str(candidate)]
    seen = _seen | {candidate.key}
    for req, parent in asked.get(candidate.key, ()):
        if not req.contains(candidate.version):
            continue
        if parent is None:
            return [str(req.origin or COMMAND_LINE), str(candidate)]
        if parent.key in seen:
            continue
        if parent.name == candidate.name:
            return chain(asked, parent, seen)
        return [*chain(asked, parent, seen), str(candidate)]
    return [str(candidate)]


def requirement_chain(asked: Asked, req: Req, parent: Candidate | None) -> str:
    """``command line -> a==1.0 -> c<2`` for one requirement of a conflict."""
    head = chain(asked, parent) if parent is not None else [str(req.origin or COMMAND_LINE)]
    return " -> ".join([*head, str(req)])


def build_failure(asked: Asked, target: TargetEnvironment, candidate: Candidate,
                  exc: BuildError) -> BuildError:
    """The build error, saying which pin needed it, why, and the ways out."""
    base = Candidate(candidate.name, candidate.version, frozenset(), candidate.files,
                     candidate.yanked)
    via = " -> ".join(chain(asked, base)) or f"{candidate.name}=={candidate.version}"
    if isinstance(exc, BuildRequirementsUnavailable):  # its hint is the way out
        return BuildRequirementsUnavailable(
            f"{candidate.name} {candidate.version} has no wheel for "
            f"{target.describe()}, and the build requirements of "
            f"{candidate.best_file.filename} cannot be had",
            details=(f"needed by {via}", exc.message, *exc.details),
            locations=exc.locations, pin=(candidate.name, candidate.version),
            hint=exc.hint)
    return BuildError(
        f"{candidate.name} {candidate.version} has no wheel for {target.describe()}, "
        f"and building its metadata from {candidate.best_file.filename} failed",
        details=(f"needed by {via}", exc.message, *exc.details),
        locations=exc.locations,
        pin=(candidate.name, candidate.version),
        hint=f"exclude that version (a -c file with '{candidate.name}!="
        f"{candidate.version}') or pin one that has a wheel for this target; or: {exc.hint}"
        + _uploaded(candidate) if exc.hint else f"exclude that version (a -c file with '{candidate.name}!="
        f"{candidate.version}'), pin one that has a wheel for this target, or fix the "
        "build (compilers, system libraries, build constraints)",
    )


def _uploaded(candidate: Candidate) -> str:
    """``; the sdist was uploaded on DAY``: the date whose build tools it was made with."""
    when = candidate.best_file.upload_time
    return f"; the sdist was uploaded on {when.date().isoformat()}" if when else ""
