"""Build requirements chosen the way the resolve chooses: its cut-off, its sources, constrain's resolver.

An sdist's build requirements (PEP 518 ``requires`` and what its backend's
``get_requires_for_build_wheel`` adds) are resolved by constrain's own resolver for the *build
interpreter* (the Python running constrain, which the build environment is made from), against
the command's repository -- so the first-index rule, find-links, ``--wheelhouse`` and
``--offline`` apply as they do to the resolve -- and installed from wheels with pypa/installer
(``build/envs.py``). pip applies no cut-off (and the pip here predates any option for one),
so it is not used for this.

**The cut-off.** Files uploaded after the command's cut-off are not candidates: the earliest
``--exclude-newer`` of the command's resolves, which includes the date a reconstruction of
Airflow's constraints resolves as of (``Session.note_cutoff``). An sdist of 2021 is then built
with the setuptools of 2021, as it was when it was published. Exempt from it: projects named with
``--build-exclude-newer-exempt NAME`` (``:all:`` for every build requirement), and projects
a ``--build-constraint`` file constrains (the file wins: it says which versions to use).

Build requirements come from wheels only: a build requirement built from its own sdist would be
a build inside a build. The error then names the project, the sdist that needs it, and the ways
out (exempting it from the cut-off usually finds a wheel for a newer Python).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from ..errors import (
    BuildRequirementsUnavailable,
    ConstrainError,
    NetworkError,
    OfflineMissing,
    ProjectNotFound,
    ResolutionImpossible,
    UploadTimeMissing,
)
from ..models import InstallSet, Origin
from ..records import record

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..cache import Cache
    from ..config import IndexSettings
    from ..index.transport.client import HttpClient
    from ..reporting import Reporter
    from ..target import TargetEnvironment
    from .envs import BuildWheel


class BuildSession(Protocol):
    """What build requirements need of the command's session (``app.session.Session`` has
    it): its cut-off, settings and the places they name, cache, client, repository and text
    reader; a Protocol so that ``build`` does not import ``app``."""

    @property
    def request(self) -> Any: ...
    @property
    def build_cutoff(self) -> datetime | None: ...
    @property
    def settings(self) -> IndexSettings: ...
    @property
    def cache(self) -> Cache: ...
    @property
    def client(self) -> HttpClient: ...
    @property
    def reporter(self) -> Reporter: ...
    @property
    def repository(self) -> Any: ...
    @property
    def environ(self) -> Mapping[str, str]: ...

    def fetch_text(self, location: str) -> tuple[str, str]: ...
    def sources_identity(self) -> Any: ...

#: ``--build-exclude-newer-exempt :all:`` exempts every build requirement from the cut-off
ALL = ":all:"


@record
class BuildRules:
    """The command's rules for build requirements besides the cut-off (which is the
    session's): projects exempt from the cut-off, and ``--build-constraint`` files."""

    exempt: frozenset[str] = frozenset()  # canonical names, or ALL
    constraint_files: tuple[str, ...] = ()

    @classmethod
    def from_options(cls, exempt: Iterable[str], constraint_files: Iterable[str]) -> BuildRules:
        names = frozenset(ALL if n.strip() == ALL else canonicalize_name(n.strip())
                          for n in exempt if n.strip())
        return cls(names, tuple(constraint_files))


class _AsOf:
    """A view of a repository (a ``MetadataProvider``) holding only the files uploaded by
    ``cutoff``, except for the projects ``exempt`` says may be newer."""

    def __init__(self, provider: Any, cutoff: datetime | None,
                 exempt: Callable[[NormalizedName], bool]) -> None:
        self.provider = provider
        self.cutoff = cutoff
        self.exempt = exempt

    def _limited(self, project: str, files: Sequence) -> Sequence:
        from ..policies.exclude_newer import check_upload_times, uploaded_by

        if self.cutoff is None or self.exempt(canonicalize_name(project)):
            return files
        check_upload_times(project, files)
        return uploaded_by(list(files), self.cutoff)

    def files(self, project: str) -> Sequence:
        return self._limited(project, self.provider.files(project))

    def metadata(self, file):
        return self.provider.metadata(file)

    def prefetch(self, project, choose=None, then=None) -> None:
        limited = None if choose is None else (
            lambda files: choose(self._limited(project, files)))
        self.provider.prefetch(project, limited, then)

    def prefetch_files(self, files) -> None:
        self.provider.prefetch_files(files)


class SessionBuildRequirements:
    """The :class:`~constrain.build.envs.BuildRequirementSource` of one command: resolves
    build requirements through the session's repository, under its cut-off and
    :class:`BuildRules`, and fetches the wheels into the cache. Thread-safe."""

    def __init__(self, session: BuildSession, rules: BuildRules) -> None:
        self.session = session
        self.rules = rules
        self._constraints: list[tuple[Requirement, Origin]] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the source protocol
    def identity(self) -> Any:
        cutoff = self.session.build_cutoff
        return {
            "cutoff": cutoff.isoformat() if cutoff else None,
            "exempt": sorted(self.rules.exempt),
            "constraints": [(str(r), o.source) for r, o in self._build_constraints()],
            "sources": self.session.sources_identity(),
        }

    def stable(self) -> bool:
        """Pins chosen as of a past cut-off stay valid: no later upload can change them."""
        cutoff = self.session.build_cutoff
        if cutoff is None:
            return False
        from datetime import UTC

        return cutoff < datetime.now(UTC)

    def resolve(self, requirements: Sequence[str], needed_by: str) -> list[BuildWheel]:
        from ..index.files import download, sha256_of
        from ..target import TargetEnvironment
        from .envs import BuildWheel  # here: an install of cached wheels and builds makes none

        install_set = self.resolve_for(TargetEnvironment.current(), requirements, needed_by)
        out = []
        for pin in install_set.pins:
            file = pin.file
            try:
                path = download(self.session.client, file, self.session.cache,
                                reporter=self.session.reporter)
            except OfflineMissing:
                raise self._unavailable(
                    f"the build requirement {pin.display_name}=={pin.version} of "
                    f"{_shown(needed_by)} ({file.filename}) is not in the cache", pin.name,
                    needed_by, offline=True) from None
            out.append(BuildWheel(str(pin.name), str(pin.version), path, file.filename,
                                  file.sha256 or sha256_of(path)))
        return out

    # ------------------------------------------------------------------ for download too
    def resolve_for(self, target: TargetEnvironment, requirements: Sequence[str],
                    needed_by: str) -> InstallSet:
        """The build requirements of ``needed_by`` resolved for ``target`` (the build
        interpreter; ``download`` asks for each target of a wheelhouse) under this command's
        rules: wheels only, files after the cut-off left out."""
        from ..resolver import ResolveOptions, resolve

        shown = _shown(needed_by)
        origin = Origin(f"build requirements of {shown}")
        reqs = []
        for text in requirements:
            try:
                reqs.append((Requirement(text), origin))
            except InvalidRequirement as exc:
                raise BuildRequirementsUnavailable(
                    f"the build requirement {text!r} of {shown} is invalid: {exc}",
                    hint="the sdist is broken; use a wheel or another version") from None
        constraints = self._build_constraints()
        constrained = {canonicalize_name(r.name) for r, _ in constraints}
        cutoff = self.session.build_cutoff

        def exempt(name: NormalizedName) -> bool:
            return ALL in self.rules.exempt or name in self.rules.exempt or name in constrained

        provider = _AsOf(self.session.repository, cutoff, exempt)
        options = ResolveOptions(only_binary=True)
        try:
            return resolve(reqs, constraints, provider, target, options, self.session.reporter)
        except (ResolutionImpossible, ProjectNotFound, UploadTimeMissing) as exc:
            name = getattr(exc, "project", None) or _first_name(reqs)
            raise self._unavailable(
                f"the build requirements of {shown} ({', '.join(requirements)}) cannot be had "
                f"for {target.describe()}", name, needed_by,
                details=tuple(_as_build(line) for line in (exc.message, *exc.details)),
                why=exc) from None
        except OfflineMissing as exc:
            raise self._unavailable(
                f"the build requirements of {shown} ({', '.join(requirements)}) are not all "
                f"in the cache: {exc.missing}", _first_name(reqs), needed_by,
                offline=True) from None
        except NetworkError as exc:
            raise self._unavailable(
                f"the build requirements of {shown} cannot be fetched: {exc.message}",
                _first_name(reqs), needed_by, why=exc) from None

    def read_constraints(self) -> None:
        """Read the ``--build-constraint`` files now, raising :class:`InputError` for one that
        cannot be read or holds a bad line: said before any work, whether a build comes or not
        (read once: the builds use what was read here)."""
        self._build_constraints()

    # ------------------------------------------------------------------ internals
    def _build_constraints(self) -> list[tuple[Requirement, Origin]]:
        with self._lock:
            if self._constraints is None:
                if not self.rules.constraint_files:
                    self._constraints = []
                else:
                    from ..constraints.sources import load_inputs

                    inputs = load_inputs((), (), self.rules.constraint_files,
                                         fetch=self.session.fetch_text,
                                         environ=self.session.environ,
                                         constraint_flag="--build-constraint")
                    self._constraints = list(inputs.constraints)
            return self._constraints

    def _unavailable(self, message: str, name: str | None, needed_by: str, *,
                     details: Sequence[str] = (), offline: bool = False,
                     why: ConstrainError | None = None) -> BuildRequirementsUnavailable:
        """The error for build requirements that cannot be had, with a hint for where the user
        is: offline (which file to add), under a cut-off (the exemption), else the index."""
        from ..output.header import format_utc

        request = self.session.request
        cutoff = self.session.build_cutoff
        shown = _shown(needed_by)
        what = name or "it"
        extra = list(details)
        # a build constraint on it: the cut-off does not apply to it, the constraint does
        constrained = [str(o) for r, o in self._build_constraints()
                       if name is not None and canonicalize_name(r.name) == name]
        if cutoff is not None and not constrained and not (
                ALL in self.rules.exempt or name in self.rules.exempt):
            extra.append(f"build requirements are limited to files uploaded by "
                         f"{format_utc(cutoff)} (the resolve's cut-off)")
        if constrained and not (offline or request.offline) and not isinstance(
                why, UploadTimeMissing):
            hint = (f"loosen the build constraint on {what} ({', '.join(constrained)}), or "
                    f"make a version it allows available from the indexes or find-links")
        elif offline or request.offline:
            where = (f"the wheelhouse ({', '.join(request.find_links)})"
                     if request.no_index and request.find_links else "the cache")
            hint = (f"add a wheel of {what} for this Python to {where} -- `constrain download` "
                    f"puts the build requirements of each sdist there (run it again for "
                    f"{shown}) -- or run once without --offline")
        elif isinstance(why, UploadTimeMissing):
            hint = (f"the index gives no upload times for {what}: exempt it from the cut-off "
                    f"with --build-exclude-newer-exempt {what}, or pin it with "
                    "--build-constraint FILE")
        elif cutoff is not None:
            hint = (f"let {what} be newer than the cut-off with --build-exclude-newer-exempt "
                    f"{what} (or :all:), or pin a version with --build-constraint FILE")
        else:
            hint = (f"make {what} available from the configured indexes or find-links "
                    "(build requirements are installed from wheels for this Python)")
        return BuildRequirementsUnavailable(message, details=extra, hint=hint)


def _as_build(line: str) -> str:
    """A line of the resolve of build requirements, in the user's terms: its wheels-only rule
    is the builds' own, not a ``--only-binary`` the user set."""
    return line.replace("and --only-binary is set",
                        "and build requirements are installed from wheels only")


def _first_name(reqs: Sequence[tuple[Requirement, Origin]]) -> str | None:
    return str(canonicalize_name(reqs[0][0].name)) if reqs else None


def _shown(needed_by: str) -> str:
    """An sdist's name as the user knows it (a cached copy is ``<sha256>_<name>``)."""
    head, sep, tail = needed_by.partition("_")
    if sep and len(head) in (64, 65) and all(c in "0123456789abcdefu" for c in head):
        return tail
    return needed_by

