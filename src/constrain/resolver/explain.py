"""Explanations of failed resolutions: which requirements collide, through which chains, why.

resolvelib reports the causes of an impossible resolution as requirement/parent pairs; this
module turns them into a :class:`~constrain.errors.ResolutionImpossible` whose ``details`` a
person can act on -- the chain from the command line to each colliding requirement, the
constraints (``file:line``) on the project, the versions that exist for the target, and the
specific reason when a requirement matches nothing (no file for the target, yanked, only
pre-releases, uploaded after the cut-off) -- plus one hint. Never resolvelib's own text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from typing import Any

from ..errors import ResolutionImpossible
from ..policies.filters import choose_versions, why_unusable
from ..policies.yanked import pins_exactly
from .candidates import PYTHON, Req
from .provider import ConstrainProvider

_SHOW_VERSIONS = 6
_SHOW_PROJECTS = 3


#: the hints that change the target, and what an install, which has no --python or
#: --platform, says instead (:func:`for_an_environment`)
OTHER_TARGET = "choose another --python/--platform, or a version of {name} with files for it"
OTHER_PYTHON = "choose a --python that {name} supports, or allow an older {name}"
_IN_ENVIRONMENT = {
    OTHER_TARGET: "choose a version of {name} with files for this environment, or install "
                  "into an environment of a Python and platform it has files for",
    OTHER_PYTHON: "allow an older {name}, or install into an environment of a Python {name} "
                  "supports",
}


def for_an_environment(error: ResolutionImpossible) -> ResolutionImpossible:
    """``error`` with its hints about ``--python``/``--platform`` said for an install, whose
    target is the environment's own interpreter (it takes neither flag)."""
    import re

    hint = error.hint or ""
    for general, here in _IN_ENVIRONMENT.items():
        # the hint as written, its project name matched wherever {name} stands
        head, *rest = [re.escape(part) for part in general.split("{name}")]
        pattern = (head + r"(?P<name>\S+)" + "".join(r + "(?P=name)" for r in rest[:-1])
                   + rest[-1])
        hint = re.sub(pattern, here.replace("{name}", r"\g<name>"), hint)
    error.hint = hint or None
    return error


def _versions_text(versions: Sequence[Any]) -> str:
    shown = ", ".join(str(v) for v in versions[:_SHOW_VERSIONS])
    if len(versions) > _SHOW_VERSIONS:
        shown += f", ... ({len(versions)} in all)"
    return shown


def _spec_text(req: Req) -> str:
    return str(req) if (req.exact is not None or str(req.specifier)) else f"{req.key} (any version)"


def _diagnose(provider: ConstrainProvider, req: Req, hints: list[str]) -> list[str]:
    """Why ``req`` alone (with the constraints) matches no usable version; [] if it does."""
    name = req.name
    cons = provider.constraints.specifiers(name)
    spec = req.specifier if req.exact is None else None
    specs = [spec] if spec is not None else []
    if choose_versions(provider.versions(name), specs + cons, provider.policy.prerelease):
        return []
    all_versions = sorted({f.version for f in provider.files(name)}, reverse=True)
    matching = [v for v in all_versions if req.contains(v)]
    if not matching:
        hints.append(f"no release of {name} matches {_spec_text(req)}; loosen it")
        return [f"no release of {name} matches {_spec_text(req)}"]
    allowed = [v for v in matching if all(c.contains(v, prereleases=True) for c in cons)]
    if not allowed:
        hints.append(
            "relax the constraint at "
            + ", ".join(str(c.origin) for c in provider.constraints.on(name))
        )
        return [f"the constraints on {name} exclude every version matching {_spec_text(req)}"]
    lines: list[str] = []
    by_version: dict[Any, list] = {}
    for f in provider.files(name):
        by_version.setdefault(f.version, []).append(f)
    reasons: list[str] = []
    for v in allowed[:3]:
        exact = pins_exactly(specs + cons, v)
        why = why_unusable(by_version[v], provider.target, provider.policy, exact)
        if why is not None:
            lines.append(f"{name} {v} {why}")
            reasons.append(why)
    if not reasons:
        pre = [v for v in allowed if v.is_prerelease]
        # only --prerelease disallow gets here: every other mode takes a pre-release when
        # nothing else fits
        hints.append("allow pre-releases with --prerelease allow (or if-necessary)")
        return [
            f"only pre-releases of {name} match {_spec_text(req)} "
            f"({_versions_text(pre)}) and pre-releases are not allowed here"
        ]
    if any("no file for" in r for r in reasons):
        hints.append(OTHER_TARGET.format(name=name))
    elif any("cut-off" in r for r in reasons):
        hints.append("move the --exclude-newer cut-off later")
    elif any("--only-binary" in r for r in reasons):
        hints.append("pick a version with a wheel for this target, or drop --only-binary (it "
                     "applies to every project)")
    elif any("yanked" in r for r in reasons):
        hints.append("pin the yanked version exactly with == to use it anyway")
    return lines


#: the chains of requirements shown per project in a conflict (the rest counted)
_SHOW_CHAINS = 8


def _project_lines(
    provider: ConstrainProvider, name: str, infos: list[Any], hints: list[str]
) -> list[str]:
    lines = [f"{name} is required by:"]
    seen: set[str] = set()
    reqs: list[Req] = []
    for info in infos:
        text = provider.requirement_chain(info.requirement, info.parent)
        if text not in seen:
            seen.add(text)
            if len(seen) <= _SHOW_CHAINS:
                lines.append(f"  {text}")
            reqs.append(info.requirement)
    if len(seen) > _SHOW_CHAINS:  # one per version of a parent tried: the first say enough
        parents = sorted({i.parent.version for i in infos if i.parent is not None})
        span = (f" (versions {parents[0]} to {parents[-1]} of "
                f"{next(i.parent.name for i in infos if i.parent is not None)})"
                if len(parents) > 1 else "")
        lines.append(f"  ... and {len(seen) - _SHOW_CHAINS} more{span}")
    for c in provider.constraints.on(name):
        lines.append(f"  constraint {c.text} ({c.origin})")
    usable = [  # a lazily listed version may turn out to have no file left for the target
        f"{vf.version} (yanked)" if all(f.is_yanked for f in vf.files) else vf.version
        for vf in provider.versions(name)
        if vf.files
    ]
    if usable:
        lines.append(
            f"{name} has {_versions_text(usable)} for {provider.target.describe()}"
        )
    else:
        existing = sorted({f.version for f in provider.files(name)}, reverse=True)
        lines.append(
            f"{name} has no usable version for {provider.target.describe()}"
            + (f" (releases: {_versions_text(existing)})" if existing else "")
        )
    diagnosed = False
    said: list[str] = []
    for req in reqs:
        extra = _diagnose(provider, req, hints)
        diagnosed = diagnosed or bool(extra)
        said.extend(extra)
    lines.extend(said[:_SHOW_CHAINS])
    if len(said) > _SHOW_CHAINS:
        lines.append(f"... and {len(said) - _SHOW_CHAINS} more like these")
    if not diagnosed:
        if provider.constraints.on(name):
            hints.append(
                "relax the constraint at "
                + ", ".join(str(c.origin) for c in provider.constraints.on(name))
                + ", or loosen one of the requirements"
            )
        else:
            hints.append(f"loosen one of the requirements on {name} so their ranges overlap")
    return lines


def explain_impossible(causes: Collection[Any], provider: ConstrainProvider) -> ResolutionImpossible:
    """The error for resolvelib's ``ResolutionImpossible(causes)``."""
    target = provider.target.describe()
    details: list[str] = []
    hints: list[str] = []
    groups: dict[str, list[Any]] = {}
    python: dict[str, list[Any]] = {}
    for info in causes:
        req = info.requirement
        if req.name == PYTHON:
            python.setdefault(str(req.specifier), []).append(info)
        else:
            groups.setdefault(req.name, []).append(info)
    for spec, infos in python.items():
        parents = sorted({i.parent for i in infos}, key=lambda c: c.version, reverse=True)
        name = parents[0].name
        versions = _versions_text([p.version for p in parents])
        verb = "requires" if len(parents) == 1 else "require"
        details.append(f"{name} {versions} {verb} Python {spec}, but the target is {target}")
        details.append(f"  via {' -> '.join(provider.chain(parents[0]))}")
        hints.append(OTHER_PYTHON.format(name=name))
    names = list(groups)
    for name in names[:_SHOW_PROJECTS]:
        details.extend(_project_lines(provider, name, groups[name], hints))
    if len(names) > _SHOW_PROJECTS:
        details.append(f"(and {len(names) - _SHOW_PROJECTS} more: {', '.join(names[3:])})")
    subjects = names or sorted({i.parent.name for v in python.values() for i in v})
    if not subjects:
        message = f"no set of versions satisfies every requirement for {target}"
    elif len(subjects) == 1:
        message = f"no version of {subjects[0]} satisfies every requirement for {target}"
    else:
        message = (
            f"no set of versions of {', '.join(subjects)} satisfies every requirement "
            f"for {target}"
        )
    unique_hints = list(dict.fromkeys(hints))
    error = ResolutionImpossible(
        message, details=details, hint="; ".join(unique_hints[:2]) or None
    )
    error.unmatched = tuple(dict.fromkeys(
        (req.name, str(req.specifier) if req.exact is None else f"=={req.exact}",
         str(info.parent) if info.parent is not None else str(req.origin or "command line"))
        for info in causes
        for req in [info.requirement]
        if req.name != PYTHON
    ))
    return error


def explain_too_deep(max_rounds: int, rejected: Counter[str], target: str) -> ResolutionImpossible:
    """The error for resolvelib's ``ResolutionTooDeep``: which projects it kept backtracking
    over, and how to help it."""
    top = rejected.most_common(5)
    details = [
        "most backtracked: "
        + ", ".join(f"{name} ({n} versions rejected)" for name, n in top)
    ] if top else []
    return ResolutionImpossible(
        f"gave up resolving for {target} after {max_rounds} rounds of backtracking",
        details=details,
        hint="pin the projects named above with constraints (a previous resolve's output is "
        "a good start), or tighten their lower bounds",
    )
