"""Render an install set as a PEP 751 ``pylock.toml``, validated with ``packaging.pylock``.

Choices, each one a reading of PEP 751 for a lock that serves exactly one target:

- ``environments`` holds one marker per target platform (implementation, ``python_version``,
  ``sys_platform``, ``platform_machine``), so installers refuse the lock on the wrong target
  instead of installing wheels resolved for another one.
- ``requires-python`` is ``==X.Y.*``: the set was resolved for that Python minor only.
- Each package lists every compatible wheel of the pin (``wheels``) and its sdist if one was
  among the pin's files; ``index`` is the http(s) index the files were listed on.
- URLs never carry credentials: userinfo is stripped from file and index URLs (installers take
  credentials from their own index configuration), and URL fragments (``#sha256=``) are dropped
  because the hashes have their own table.
- PEP 751 requires hashes for every wheel and sdist. Files without any hash are left out; a pin
  left with no file at all raises :class:`~constrain.errors.OutputError` rather than writing an
  invalid lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import tomli_w
from packaging.markers import Marker
from packaging.pylock import (
    Package,
    PackageSdist,
    PackageWheel,
    Pylock,
    PylockValidationError,
)
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from ..errors import OutputError
from ..models import DistFile, InstallSet, Pin
from ..target import TargetEnvironment
from .constraints import pin_line, sorted_pins
from .header import header_lines
from .urls import strip_userinfo

LOCK_VERSION = "1.0"
CREATED_BY = "constrain"


def _is_http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def environment_markers(target: TargetEnvironment) -> list[Marker]:
    """One marker per platform of the target, true exactly on an environment like it."""
    if target.platforms:
        envs = [
            TargetEnvironment(
                python_version=target.python_version,
                platforms=(platform,),
                free_threaded=target.free_threaded,
            ).markers
            for platform in target.platforms
        ]
    else:
        envs = [target.markers]
    out: list[Marker] = []
    for env in envs:
        parts = [
            f'implementation_name == "{env["implementation_name"]}"',
            f'python_version == "{env["python_version"]}"',
        ]
        for key in ("sys_platform", "platform_machine"):
            if env.get(key):
                parts.append(f'{key} == "{env[key]}"')
        marker = Marker(" and ".join(parts))
        if str(marker) not in {str(m) for m in out}:
            out.append(marker)
    return out


def _hashes(file: DistFile) -> dict[str, str]:
    return dict(sorted(file.hashes))


def _package(pin: Pin) -> Package:
    hashed = [f for f in pin.files if f.hashes]
    wheels = [
        PackageWheel(
            name=f.filename,
            url=strip_userinfo(f.url),
            upload_time=_utc(f.upload_time),
            size=f.size,
            hashes=_hashes(f),
        )
        for f in hashed
        if f.is_wheel
    ]
    sdist_file = next((f for f in hashed if not f.is_wheel), None)
    sdist = (
        PackageSdist(
            name=sdist_file.filename,
            url=strip_userinfo(sdist_file.url),
            upload_time=_utc(sdist_file.upload_time),
            size=sdist_file.size,
            hashes=_hashes(sdist_file),
        )
        if sdist_file is not None
        else None
    )
    if not wheels and sdist is None:
        raise OutputError(
            f"cannot lock {pin_line(pin)}: no file of it has a known hash",
            hint="PEP 751 requires a hash for every file, and the index or find-links location "
            "gave none for this pin; use an index that reports sha256 hashes, or write "
            "--format constraints",
        )
    indexes = [f.index for f in pin.files if _is_http(f.index)]
    requires_python = pin.metadata.requires_python
    return Package(
        name=pin.name,
        version=pin.version,
        requires_python=requires_python if requires_python else None,
        index=strip_userinfo(indexes[0]) if indexes else None,
        sdist=sdist,
        wheels=wheels or None,
    )


def build_pylock(install_set: InstallSet) -> Pylock:
    """The validated :class:`packaging.pylock.Pylock` for ``install_set``."""
    major, minor = install_set.target.python_version[:2]
    lock = Pylock(
        lock_version=Version(LOCK_VERSION),
        environments=environment_markers(install_set.target),
        requires_python=SpecifierSet(f"=={major}.{minor}.*"),
        created_by=CREATED_BY,
        packages=[_package(pin) for pin in sorted_pins(install_set)],
    )
    try:
        lock.validate()
    except PylockValidationError as exc:
        raise OutputError(
            f"the lock for {install_set.target.describe()} would not be valid PEP 751: {exc}",
            hint="this is a bug in constrain; please report it with the command you ran",
        ) from exc
    return lock


def render_pylock(install_set: InstallSet, *, notes: Sequence[str] = ()) -> str:
    """The ``pylock.toml`` text: the provenance header as TOML comments, then the lock."""
    lock = build_pylock(install_set)
    header = "\n".join(header_lines(install_set, kind="lock", notes=notes))
    return header + "\n\n" + tomli_w.dumps(lock.to_dict())
