"""After an install: does every installed distribution have what it requires (``pip check``)?

Each distribution's ``Requires-Dist`` lines are evaluated with the environment's marker values
(no extras, as pip does) and checked against the installed versions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from .plan import Installed, read_installed
from .venv import Interpreter

#: a marker comparing the extra with one (non-empty) name, as packaging writes it
_EXTRA_ONLY = re.compile(r'extra == "[^"]+"')

#: a ``.dist-info`` directory name -> what is installed there and its parsed requirements
Linked = Mapping[str, tuple[Installed, Sequence[Requirement]]]


def check(interp: Interpreter, linked: Linked | None = None) -> list[str]:
    """Problems in the environment, one line each in pip's wording; empty when it is sound.

    ``linked`` names the distributions this install has just linked, by ``.dist-info``
    directory: their METADATA was compared with the metadata the resolve read before linking
    (``trust.check_metadata``), so what they are and what they require is taken from there
    instead of parsing each METADATA again. Every other distribution is read from disk."""
    linked = linked or {}
    installed = read_installed(interp, {d: dist for d, (dist, _) in linked.items()})
    by_dir = {d: reqs for d, (_dist, reqs) in linked.items()}
    return check_set(interp, installed, lambda dist: by_dir.get(dist.dist_info.name))


def check_set(interp: Interpreter, installed: Mapping[NormalizedName, Installed],
              known=lambda dist: None) -> list[str]:
    """:func:`check` of the distributions ``installed`` (canonical name -> what is there, or
    would be: a dry run's plan), with ``known(dist)`` giving the parsed requirements of those
    already known (``None``: parsed from its Requires-Dist lines)."""
    env = dict(interp.markers)
    env["extra"] = ""
    values: dict[str, bool] = {}  # marker text -> its value here (markers repeat a lot)

    def holds(text: str, marker: Marker | None = None) -> bool:
        value = values.get(text)
        if value is None:
            # evaluated with no extra, a marker naming one extra alone never holds: no need
            # to parse it (most lines of a large distribution, e.g. 257 of 326 markers here)
            value = values[text] = False if _EXTRA_ONLY.fullmatch(text) else (
                marker or Marker(text)).evaluate(env)
        return value

    problems: list[str] = []
    for name in sorted(installed):
        dist = installed[name]
        mine = known(dist)
        requirements = mine if mine is not None else parsed(dist.requires_dist)
        applying = getattr(requirements, "applying", None)  # read lazily: builds fewer
        for req in (applying(holds) if applying is not None else
                    (r for r in requirements if r.marker is None or holds(str(r.marker), r.marker))):
            dep = installed.get(canonicalize_name(req.name))
            who = f"{dist.display_name} {dist.raw_version}"
            if dep is None:
                problems.append(f"{who} requires {req.name}, which is not installed.")
            elif req.specifier and (
                dep.version is None or not req.specifier.contains(dep.version, prereleases=True)
            ):
                problems.append(f"{who} has requirement {req}, but you have "
                                f"{dep.display_name} {dep.raw_version}.")
    return problems


def parsed(lines: Sequence[str]) -> list[Requirement]:
    """The lines that parse (an unreadable one is skipped, as pip's check skips it)."""
    out = []
    for line in lines:
        try:
            out.append(Requirement(line))
        except InvalidRequirement:
            continue
    return out
