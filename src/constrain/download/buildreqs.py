"""The build requirements of the sdists in a wheelhouse, resolved per target, so offline builds work.

An sdist in an air-gapped wheelhouse is built on the far side by pip (or constrain) in an
isolated environment, which is filled from the same ``--find-links`` directory: its
``[build-system] requires`` (PEP 518; ``setuptools>=40.8.0`` when the sdist has no
``pyproject.toml``) must be in the wheelhouse too. They are resolved separately from the
target's install set -- build environments are isolated, and pip does not apply ``-c`` to them --
with the same index and policies. Requirements the backend adds at build time
(``get_requires_for_build_wheel``) are not known without running it and are not included.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from ..errors import ConstrainError
from ..index.sdist import read_build_system, unpack
from ..models import InstallSet, Origin
from ..reporting import Reporter
from ..target import TargetEnvironment


def sdist_build_requires(path: Path) -> list[str]:
    """The ``[build-system] requires`` of the sdist at ``path`` (PEP 517/518 defaults)."""
    with tempfile.TemporaryDirectory(prefix="constrain-sdist-") as tmp:
        tree = unpack(path, Path(tmp))
        return list(read_build_system(tree, path.name).requires)


def resolve_build_requirements(
    requires: Mapping[str, Sequence[str]],
    provider,
    target: TargetEnvironment,
    options,
    reporter: Reporter,
) -> InstallSet | None:
    """Resolve the build requirements of the sdists ``requires`` maps (filename -> requirement
    strings) for ``target``; ``None`` when there are none."""
    from ..resolver import resolve

    reqs: list[tuple[Requirement, Origin]] = []
    for filename, lines in sorted(requires.items()):
        for line in lines:
            try:
                reqs.append((Requirement(line), Origin(f"build-system of {filename}")))
            except InvalidRequirement as exc:
                raise ConstrainError(
                    f"the build requirement {line!r} of {filename} is invalid: {exc}",
                    hint="the sdist is broken; use a wheel or another version",
                ) from None
    if not reqs:
        return None
    return resolve(reqs, (), provider, target, options, reporter)
