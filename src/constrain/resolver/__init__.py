"""The resolver: requirements and constraints in, an InstallSet for one target out.

Built on resolvelib. :func:`resolve` is the one entry point; it sees the package world only
through a :class:`~constrain.ports.MetadataProvider` and never looks at the host: the target is
a parameter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal

from typing import TYPE_CHECKING

from ..errors import InputError, SourceLocation
from ..records import record
from ..reporting import NULL_REPORTER, Reporter

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from ..models import DistFile, InstallSet, Origin
    from ..ports import MetadataProvider
    from ..target import TargetEnvironment

# resolvelib and the provider are imported by resolve() itself: reading ResolveOptions (every
# command does) or answering from a remembered resolution must not pay for them.

__all__ = ["ResolveOptions", "resolve"]


@record
class ResolveOptions:
    """How to choose among candidates.

    ``prerelease``: see :mod:`constrain.policies.prereleases`. ``exclude_newer``: an aware UTC
    datetime; files uploaded later are ignored. ``only_binary``: sdists are never candidates.
    ``exclude_newer_package``: per-project cut-offs that replace ``exclude_newer`` for those
    projects. ``hashes``: for each project a requirements file gave ``--hash`` values, the
    ``(algorithm, hexdigest)`` pairs allowed (sorted): only files with one of them are
    candidates, as pip's hash-checking mode allows.
    ``max_rounds``: resolvelib's round limit before giving up.
    """

    prerelease: Literal["allow", "if-necessary", "disallow", "if-necessary-or-explicit"] = (
        "if-necessary-or-explicit"
    )
    exclude_newer: datetime | None = None
    only_binary: bool = False
    #: ``(project, cut-off)`` pairs replacing ``exclude_newer`` for those canonical names
    exclude_newer_package: tuple[tuple[str, datetime], ...] = ()
    hashes: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    max_rounds: int = 200_000


def _check_supported(items: Sequence[tuple[Requirement, Origin]]) -> None:
    bad = [
        SourceLocation(o.source, o.line, o.text, message=f"{r.name} @ {r.url}")
        for r, o in items
        if r.url
    ]
    if bad:
        raise InputError(
            "direct URL requirements are not supported by the resolver",
            locations=bad,
            hint="name the project with a version specifier, and add its location with "
            "--find-links or --extra-index-url",
        )


def resolve(
    requirements: Sequence[tuple[Requirement, Origin]],
    constraints: Sequence[tuple[Requirement, Origin]],
    provider: MetadataProvider,
    target: TargetEnvironment,
    options: ResolveOptions = ResolveOptions(),  # noqa: B008 -- frozen: safe to share
    reporter: Reporter = NULL_REPORTER,
    on_pin: Callable[[DistFile], object] | None = None,
) -> InstallSet:
    """Resolve ``requirements`` under ``constraints`` for ``target``.

    ``on_pin(file)`` is told the file of each version the resolver pins, as it pins it (an
    installer starts downloading then; a later backtrack may make that download unneeded).

    Requirements and constraints whose markers are false on the target are dropped. Raises
    :class:`~constrain.errors.ResolutionImpossible` (with an explanation) when no set of
    versions fits, and passes on the provider's errors (``ProjectNotFound``,
    ``MetadataError``, ...) and ``UploadTimeMissing``.
    """
    import resolvelib

    from ..policies.filters import FilePolicy
    from .candidates import ConstraintIndex, Req
    from .collection import fewer_collections
    from .loop import resolver_class
    from .provider import ConstrainProvider
    from .result import StatsReporter, build_install_set

    _check_supported(list(requirements) + list(constraints))
    policy = FilePolicy(options.prerelease, options.exclude_newer, options.only_binary,
                        options.exclude_newer_package, options.hashes)
    constraint_index = ConstraintIndex.build(constraints, target)
    prov = ConstrainProvider(provider, target, policy, constraint_index, reporter)
    # Identical requirements (the same line repeated in one file or across files) are one
    # root: resolvelib re-checks every requirement already on a project each time another is
    # added, so 20,000 copies of one line cost 200 million checks (over 60 s) instead of one.
    unique: dict[tuple, Req] = {}
    for r, origin in requirements:
        if target.evaluate(r.marker):
            req = Req.from_requirement(r, origin)
            unique.setdefault((req.name, req.extras, str(req.specifier)), req)
    roots = list(unique.values())
    prov.add_roots(roots)
    counter = StatsReporter(reporter, on_pin)
    resolver = resolver_class()(prov, counter)
    with fewer_collections(pause=bool(getattr(provider, "offline", False))):
        try:
            result = resolver.resolve(roots, max_rounds=options.max_rounds)
        except resolvelib.ResolutionImpossible as exc:
            from .explain import explain_impossible  # only when explaining

            raise explain_impossible(exc.causes, prov) from None
        except resolvelib.ResolutionTooDeep:
            from .explain import explain_too_deep

            raise explain_too_deep(
                options.max_rounds, counter.rejected, target.describe()) from None
        stats = dataclasses.replace(counter.stats(), requirements_matched=prov.requirements_matched)
        return build_install_set(
            result,
            prov,
            target,
            requirements,
            constraints,
            options.exclude_newer,
            stats,
            reporter,
        )
