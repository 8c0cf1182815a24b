"""Wheels from sdists for an install: a PEP 517 build, cached by sdist hash and target.

The build runs in an isolated build environment (``build.sdist`` / ``build.envs``); its build
requirements are chosen under the command's rules (``constrain.build.requirements``: its cut-off, sources
and ``--build-constraint`` files). The built wheel is
kept in the cache bucket ``built`` under the sdist's sha256, the identity of the interpreter
that built it (constrain's own, whatever the target: :func:`builder_identity`) and the rules its
build requirements were chosen under (cut-off, sources, ``--build-constraint`` files: a changed
build constraint builds again rather than reuse a wheel its old build tools made), so the same
sdist is built once per rules, and its wheel serves every target whose tags it fits
(``--python 3.11`` and a 3.11.7 environment alike).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import sysconfig
from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from ..cache.store import Cache
from ..errors import BuildError, BuildForbidden, BuildRequirementsUnavailable
from ..models import InstallSet, required_by_project
from ..processes import scratch_directory
from ..reporting import NULL_REPORTER, Reporter
from ..target import TargetEnvironment

_CACHED_SDIST = re.compile(r"(?:\b(?:[0-9a-f]{64}|u[0-9a-f]+)_|(?<![^\s(]))"
                           r"([^\s/'\"()]+?\.(?:tar\.gz|zip))")


def explain_build_failure(exc: BuildError, target: TargetEnvironment) -> BuildError:
    """A build failure met while resolving for an install, said in the install's terms: which
    project and version could not be had for this interpreter, and how to steer around it."""
    match = _CACHED_SDIST.search(exc.message)
    if match is None or isinstance(exc, BuildRequirementsUnavailable):
        return exc  # (the latter names the sdist and the way out already)
    filename = match.group(1)
    try:
        name, version = parse_sdist_filename(filename)
    except InvalidSdistFilename:
        return exc
    first = exc.message.replace(match.group(0), filename)
    return BuildError(
        f"{name} {version} has no wheel for {target.describe()} and building it from "
        f"{filename} failed",
        details=(first, *exc.details),
        hint=f"exclude that version so another one with a wheel is chosen (a -c file with "
        f"'{name}!={version}', or a newer pin), or install what its build needs and retry",
    )


def explain_wheel_failure(exc: BuildError, install_set: InstallSet,
                          target: TargetEnvironment) -> BuildError:
    """A wheel build that failed after the resolve (its ``pin`` set by the fetch), said as
    :func:`explain_build_failure` says one met while resolving: with the chain of pins that
    needed it."""
    out = explain_build_failure(exc, target)
    chain = needed_by(install_set, exc.pin[0]) if exc.pin is not None else ""
    if chain:
        out.details = (f"needed by {chain}", *out.details)
    return out


def needed_by(install_set: InstallSet, name: str) -> str:
    """``command line -> a==1.0 -> b==2.0``: how ``install_set`` came to hold pin ``name``,
    following each pin's first ``required_by`` (a top-level origin comes first there)."""
    pins = {p.name: p for p in install_set.pins}
    chain: list[str] = []
    pin = pins.get(canonicalize_name(name))
    while pin is not None and f"{pin.display_name}=={pin.version}" not in chain:
        chain.append(f"{pin.display_name}=={pin.version}")
        if not pin.required_by:
            break
        parent = required_by_project(pin.required_by[0])
        if parent is None:  # ``command line``, ``file:line``
            chain.append(pin.required_by[0])
            break
        pin = pins.get(parent)
    return " -> ".join(reversed(chain))


def builder_identity() -> str:
    """What a built wheel depends on besides its sdist: the interpreter every build runs on
    (the one running constrain: its implementation, exact version and build, platform). Not
    the target: ``--python 3.11`` and a 3.11.7 environment get the same wheel from it."""
    return f"{sys.implementation.cache_tag}|{sys.version}|{sysconfig.get_platform()}"


def built_key(sdist_sha256: str, rules: Any = None) -> str:
    """The cache key of the wheel built from an sdist, under ``rules`` (the build requirements'
    source's ``identity()``; ``None`` for builds that resolve their requirements unconstrained)."""
    chosen = "" if rules is None else json.dumps(rules, sort_keys=True, default=str)
    return hashlib.sha256(f"{sdist_sha256}|{builder_identity()}|{chosen}".encode()).hexdigest()


def rules_of(envs: Any) -> Any:
    """The rules of the build requirements ``envs`` (a :class:`~constrain.build.sdist.BuildEnvs`)
    fills environments under; ``None`` without a source."""
    source = getattr(envs, "source", None)
    return source.identity() if source is not None else None


def _built(key: str, cache: Cache) -> Path | None:
    """The wheel built earlier under ``key``, whichever target it was built for."""
    raw = cache.get("built", key + ".name")
    try:
        name = raw.decode() if raw is not None else ""
    except UnicodeDecodeError:  # a damaged pointer: no wheel (the sdist is built again)
        return None
    if not name.endswith(".whl") or "/" in name or os.sep in name:
        return None
    import zipfile  # (an install of wheels only never asks)

    path = cache.path("built", key + "_" + name)
    # a wheel cut short (no zip directory at its end) is none: the sdist is built again
    return path if path.is_file() and zipfile.is_zipfile(path) else None


def forget_build(wheel: Path) -> None:
    """Remove a built wheel found damaged in the cache (``<key>_<name>``) and its pointer, so
    the sdist is built again."""
    key = wheel.name.split("_", 1)[0]
    for path in (wheel.with_name(key + ".name"), wheel):
        with contextlib.suppress(OSError):
            path.unlink()


def _misfit(wheel_name: str, shown: str, target: TargetEnvironment) -> BuildError | None:
    """The error of a wheel (named ``wheel_name``, built from ``shown``) that ``target``
    cannot install; ``None`` when it fits."""
    try:
        _, _, _, tags = parse_wheel_filename(wheel_name)
    except InvalidWheelFilename:
        return BuildError(f"building {shown} produced a misnamed file {wheel_name}")
    if set(tags) & set(target.tags):
        return None
    return BuildError(
        f"the wheel built from {shown} ({wheel_name}) does not fit {target.describe()}",
        hint="builds run on constrain's own interpreter; run constrain with the "
        "target's Python version, or provide a wheel for the target",
    )


def cached_build(sdist_sha256: str, target: TargetEnvironment, cache: Cache,
                 rules: Any = None) -> Path | None:
    """The wheel built earlier from this sdist under ``rules``, if there is one and ``target``
    can install it."""
    path = _built(built_key(sdist_sha256, rules), cache)
    if path is None or _misfit(path.name.split("_", 1)[1], path.name, target) is not None:
        return None
    return path


def refuse_unbuilt(pins, target: TargetEnvironment, cache: Cache | None, rules: Any) -> None:
    """``--no-build`` for an install: a pin whose file is an sdist is installed only from the
    wheel built from it earlier under the same rules (no build code runs); any other is
    refused with :class:`BuildForbidden` before anything is fetched or changed. (Its metadata
    may well have come from the cache without a build.)"""
    unbuilt = [p for p in pins if not p.file.is_wheel and (
        cache is None or not p.file.sha256
        or cached_build(p.file.sha256, target, cache, rules) is None)]
    if not unbuilt:
        return
    named = ", ".join(f"{p.display_name} {p.version} ({p.file.filename})" for p in unbuilt[:8])
    more = f" and {len(unbuilt) - 8} more" if len(unbuilt) > 8 else ""
    one = len(unbuilt) == 1
    raise BuildForbidden(
        f"--no-build is set, but {named}{more} {'has' if one else 'have'} no wheel for "
        f"{target.describe()}: installing {'it' if one else 'them'} would run "
        f"{'its' if one else 'their'} build backend",
        hint="drop --no-build to build it, or keep such versions out so ones with a wheel "
        "are chosen (a -c file with 'name!=version')",
    )


def build_for(
    sdist: Path,
    sdist_sha256: str,
    target: TargetEnvironment,
    cache: Cache,
    *,
    build_index=None,
    envs=None,
    reporter: Reporter = NULL_REPORTER,
    filename: str | None = None,
    speculate: bool = True,
) -> Path:
    """A wheel of ``sdist`` usable by ``target``, built (once) through PEP 517
    (``speculate`` as for :func:`~constrain.build.sdist.build_wheel`)."""
    rules = rules_of(envs)
    found = cached_build(sdist_sha256, target, cache, rules)
    if found is not None:
        return found
    import shutil  # only when building (a built wheel found needs it not)

    from ..build.sdist import build_wheel  # only when building: it imports the build tools

    shown = filename or sdist.name
    key = built_key(sdist_sha256, rules)
    with cache.lock("build-" + key[:40]):
        found = _built(key, cache)
        if found is not None:  # built by another process meanwhile, or for another target
            misfit = _misfit(found.name.split("_", 1)[1], shown, target)
            if misfit is not None:
                raise misfit  # a build again would make the same wheel
            return found
        reporter.info(f"building a wheel from {shown}")
        # an interrupted command ends without waiting for this thread: processes.py removes
        # the directory then, once the backend is killed
        with scratch_directory("constrain-build-") as out:
            named = out / "src" / shown  # the backend and its messages see the real file name
            named.parent.mkdir()
            try:
                os.link(sdist, named)
            except OSError:
                shutil.copyfile(sdist, named)
            wheel = build_wheel(named, out / "dist", build_index=build_index, reporter=reporter,
                                envs=envs, speculate=speculate)
            try:
                parse_wheel_filename(wheel.name)
            except InvalidWheelFilename:
                raise BuildError(f"building {shown} produced a misnamed file {wheel.name}") \
                    from None
            dest = cache.path("built", key + "_" + wheel.name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(".tmp-" + dest.name)
            shutil.copyfile(wheel, tmp)
            os.replace(tmp, dest)
            cache.put("built", key + ".name", wheel.name.encode())
            misfit = _misfit(wheel.name, shown, target)  # kept: it may fit another target
            if misfit is not None:
                raise misfit
            return dest
