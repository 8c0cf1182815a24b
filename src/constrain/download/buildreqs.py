"""The build requirements of the sdists in a wheelhouse, chosen as a build would, so offline builds work.

An sdist in an air-gapped wheelhouse is built on the far side (``constrain install --wheelhouse
DIR --offline``, or pip with ``--no-index --find-links DIR``) in an isolated environment filled
from the same directory, so everything that environment needs must be there: the sdist's
``[build-system] requires`` (PEP 518) *and* what its backend's ``get_requires_for_build_wheel``
adds (an old setuptools asks for ``wheel``). The latter is only known by running the hook, so
:func:`sdist_build_requires` does, here, in a build environment of the command's rules; the
answer is kept in the cache (per sdist hash, rules and interpreter). For an sdist without a
``[build-system]`` table pip (up to at least 23.x) installs ``setuptools>=40.8.0`` *and*
``wheel``, so both go in: the far side's pip version is unknown.

Each sdist's requirements are then resolved on their own (a build environment holds one
sdist's requirements, nothing else) for each target -- the far side's build interpreter is
taken to be the target's Python -- by ``constrain.build.requirements``: the command's cut-off (its
``--exclude-newer``, or a reconstruction's date) applies, wheels only. For a target that is
this interpreter, the pins are exactly those of the environment the build here used.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import BuildError, BuildRequirementsUnavailable
from ..models import InstallSet
from ..target import TargetEnvironment

LEGACY_REQUIRES = ("setuptools>=40.8.0", "wheel")


def sdist_build_requires(path: Path, sha256: str, session, envs) -> list[str]:
    """Every build requirement of the sdist at ``path`` (``sha256``) for a wheel build:
    ``[build-system] requires`` (pip's legacy default, :data:`LEGACY_REQUIRES`, without one)
    plus what the backend's ``get_requires_for_build_wheel`` adds, run in ``envs`` (a
    :class:`~constrain.build.envs.BuildEnvs` of ``session``'s rules). When the backend
    cannot be asked, a warning says so and the ``[build-system]`` requirements are all there
    is; :class:`~constrain.errors.BuildRequirementsUnavailable` when even those cannot be had."""
    from ..build.envs import python_identity
    from ..build.sdist import build_requirements, read_build_system, shown_name, unpack

    rules = session.build_source.identity()
    key = "build-requirements-" + hashlib.sha256(json.dumps(
        [sha256, rules, python_identity()], sort_keys=True).encode()).hexdigest()[:40]
    cached = session.cache.get("misc", key)
    if cached is not None:
        try:
            found = json.loads(cached)
            if isinstance(found, list) and all(isinstance(r, str) for r in found):
                return found
        except ValueError:
            pass
    with tempfile.TemporaryDirectory(prefix="constrain-sdist-", ignore_cleanup_errors=True) as tmp:
        tree = unpack(path, Path(tmp))
        pyproject = tree / "pyproject.toml"
        declared = pyproject.is_file() and "[build-system]" in pyproject.read_text(
            encoding="utf-8", errors="replace")
        static = list(read_build_system(tree, path.name).requires)
    try:
        found = build_requirements(path, reporter=session.reporter, envs=envs)
    except BuildRequirementsUnavailable:
        raise
    except BuildError as exc:  # the far side's build fails too; say so, and carry what is known
        session.reporter.warning(
            f"{shown_name(path.name)}: its build backend could not be asked for more build "
            f"requirements ({exc.message}); the wheelhouse carries its [build-system] requires")
        return list(dict.fromkeys([*static, *(LEGACY_REQUIRES if not declared else ())]))
    reqs = list(dict.fromkeys([*found, *(LEGACY_REQUIRES if not declared else ())]))
    session.cache.put("misc", key, json.dumps(reqs).encode())
    return reqs


def resolve_build_requirements(
    requires: Mapping[str, Sequence[str]],
    session,
    target: TargetEnvironment,
) -> dict[str, list[InstallSet]]:
    """For each sdist ``requires`` maps (file name -> requirement strings), its build
    requirements resolved under ``session``'s rules (cut-off, sources, build constraints) for
    each interpreter that may build it on the far side: ``target``'s Python (pip builds with
    the interpreter it installs for) and, when it is another one, this one (``constrain
    install`` builds with the Python constrain runs on). Raises
    :class:`~constrain.errors.BuildRequirementsUnavailable` naming the sdist and what is
    missing for ``target``; for this interpreter, a miss only leaves its set out."""
    from ..errors import BuildRequirementsUnavailable

    host = TargetEnvironment.current()
    same = (host.python_short == target.python_short
            and set(target.platform_tags) <= set(host.platform_tags))
    out: dict[str, list[InstallSet]] = {}
    for filename, lines in sorted(requires.items()):
        if not lines:
            continue
        out[filename] = [session.build_source.resolve_for(target, lines, filename)]
        if not same:
            try:
                out[filename].append(session.build_source.resolve_for(host, lines, filename))
            except BuildRequirementsUnavailable as exc:
                session.reporter.warning(
                    f"{filename}: no build requirements for this Python ({exc.message}); "
                    "the far side can build it with its target's Python (pip), not with "
                    "constrain run on this Python")
    return out
