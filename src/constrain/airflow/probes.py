"""What a reconstruction learns about the Airflow release before resolving, and how it checks that sdists build.

:func:`release_time` is the basis date (:func:`nearest_versions` names releases near a
version that is not there); :func:`classifier_pythons` names the Pythons the release supports
(for the refusal); :func:`check_release_python` refuses at once a target the release itself
excludes; :func:`sdist_builder` builds an sdist of the reconstruction for the target the way
the command builds (an install reuses the wheel).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from packaging.version import Version

from ..errors import ConstrainError
from ..models import DistFile
from ..reporting import Reporter
from . import published as af
from .moves import unsupported_error

if TYPE_CHECKING:
    from ..target import TargetEnvironment
    from .ports import Resolving


def release_time(repository, version: Version) -> datetime:
    """When apache-airflow ``version`` was uploaded (its latest file's upload time)."""
    every = repository.files(NormalizedName(af.AIRFLOW))
    files = [f for f in every if f.version == version]
    if not files:
        near = nearest_versions({f.version for f in every}, version)
        raise ConstrainError(
            f"apache-airflow {version} is not on any configured index",
            hint=(f"the nearest release{'s are' if len(near) > 1 else ' is'} "
                  f"{', '.join(map(str, near))}; " if near else "")
            + "check the version (reconstruction resolves a release that exists)")
    times = [f.upload_time for f in files if f.upload_time is not None]
    if not times:
        raise ConstrainError(
            f"the index reports no upload time for apache-airflow {version}",
            hint="reconstruction needs PEP 700 upload times; give --exclude-newer DATE")
    return max(times)


def nearest_versions(versions: set[Version], wanted: Version, n: int = 5) -> list[Version]:
    """Up to ``n`` of ``versions`` around ``wanted`` in version order, ascending: the ones
    just below it (most of them) and just above; pre-releases only when ``wanted`` is one."""
    known = sorted(v for v in versions if wanted.is_prerelease or not v.is_prerelease)
    below = [v for v in known if v < wanted]
    above = [v for v in known if v > wanted]
    take_above = min(len(above), max(1, n - len(below)))
    return below[max(0, len(below) - (n - take_above)):] + above[:take_above]


def classifier_pythons(session: Resolving, version: Version) -> list[str] | None:
    """The Pythons the release's classifiers name (Airflow publishes a constraints file for
    each of them), read from its wheel's PEP 658 metadata; ``None`` when that cannot be read
    (the refusal then says so less precisely)."""
    from packaging.metadata import parse_email

    from ..index.metadata.fetcher import metadata_url

    try:
        wheel = next((f for f in session.repository.files(NormalizedName(af.AIRFLOW))
                      if f.version == version and f.is_wheel and f.core_metadata is not None),
                     None)
        if wheel is None or session.request.offline:
            return None
        response = session.client.get(metadata_url(wheel.url))
        if response.status != 200:
            return None
        raw, _ = parse_email(response.content)
    except (ConstrainError, ValueError):
        return None
    prefix = "Programming Language :: Python :: "
    found = set()
    for c in raw.get("classifiers", []):
        tail = c[len(prefix):] if c.startswith(prefix) else ""
        if tail.count(".") == 1 and all(p.isdigit() for p in tail.split(".")):
            found.add(tail)
    return sorted(found, key=lambda v: tuple(int(p) for p in v.split("."))) or None


def check_release_python(session: Resolving, version: Version, target: TargetEnvironment,
                          req: Requirement,
                          available) -> None:
    """Refuse at once when the release itself has no file for the target Python."""
    from ..policies.filters import FilePolicy, group_versions

    files = [f for f in session.repository.files(NormalizedName(af.AIRFLOW))
             if f.version == version]
    if files and not group_versions(af.AIRFLOW, files, target, FilePolicy("disallow")):
        pythons = sorted({f.requires_python for f in files if f.requires_python})
        reason = ("the release requires Python " + ", ".join(pythons) if pythons
                  else "the release has no file for it")
        raise unsupported_error(req, target, reason, available, session.request.command)


def sdist_builder(session: Resolving, target: TargetEnvironment, reporter: Reporter):
    """``(build, close)``: ``build(file)`` builds an sdist of the reconstruction into a wheel
    for ``target`` (cached; an install reuses it), raising :class:`BuildError` when it does not
    build; ``close()`` ends its build environments. ``build`` is ``None`` when builds here
    cannot speak for the target (another Python or platform): metadata builds are then the
    only check."""
    from ..index.files import download, sha256_of

    from ..target import TargetEnvironment

    install_build = session.sdist_wheel
    envs = None

    def close() -> None:
        if envs is not None:
            envs.close()

    here = TargetEnvironment.current()
    same = (target.python_short == here.python_short and not target.platforms
            and target.free_threaded == here.free_threaded and here.host)
    if session.request.no_build or (install_build is None and not same):
        return None, close

    def build(file: DistFile) -> None:
        nonlocal envs
        path = download(session.client, file, session.cache, reporter=reporter)
        if install_build is not None:
            install_build(file, path)
            return
        from ..install.build import build_for
        from ..install.fetch import build_envs

        if envs is None:
            envs = build_envs(session.cache, session.settings, reporter, session.build_source)
        build_for(path, file.sha256 or sha256_of(path), target, session.cache,
                  build_index=session.settings, envs=envs, reporter=reporter,
                  filename=file.filename)

    return build, close
