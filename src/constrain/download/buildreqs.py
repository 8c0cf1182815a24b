"""The build requirements of the sdists in a wheelhouse, resolved per target, so offline builds work.

An sdist in an air-gapped wheelhouse is built on the far side by pip (or constrain) in an
isolated environment, which is filled from the same ``--find-links`` directory: its
``[build-system] requires`` (PEP 518) must be in the wheelhouse too. For an sdist without a
``[build-system]`` table pip (up to at least 23.x) installs ``setuptools>=40.8.0`` *and*
``wheel``, so both go in: the far side's pip version is unknown. They are resolved separately from the
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


LEGACY_REQUIRES = ("setuptools>=40.8.0", "wheel")


def sdist_build_requires(path: Path) -> list[str]:
    """The ``[build-system] requires`` of the sdist at ``path``; pip's legacy default
    (:data:`LEGACY_REQUIRES`) when it has no ``[build-system]``."""
    with tempfile.TemporaryDirectory(prefix="constrain-sdist-", ignore_cleanup_errors=True) as tmp:
        tree = unpack(path, Path(tmp))
        pyproject = tree / "pyproject.toml"
        declared = pyproject.is_file() and "[build-system]" in pyproject.read_text(
            encoding="utf-8", errors="replace")
        if not declared:
            return list(LEGACY_REQUIRES)
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
