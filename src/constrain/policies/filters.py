"""Composition of the policies: which files and versions of a project may be candidates.

Two steps, both pure. :func:`group_versions` keeps the files a target can use that pass the
file policies (exclude-newer, only-binary) and groups them by version, best file first.
:func:`choose_versions` then applies the specifiers on the project (requirements and
constraints) with the yanked and pre-release policies. :func:`why_unusable` explains, for
messages, why a version has no usable file.

Over 400 lines: the lazily built listing (versions made when reached, files filtered when
first looked at, a cheaper look at whether there are any) belongs with the walk that reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import overload

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from ..models import DistFile, ProjectFiles
from ..target import TargetEnvironment
from .binary import binaries
from .exclude_newer import check_upload_times, uploaded_by
from .prereleases import PrereleaseMode, allows_prereleases
from .window import bounds, span
from .yanked import pins_exactly, usable_files, yank_reason


@dataclass(frozen=True)
class FilePolicy:
    """The policy settings of one resolve."""

    prerelease: PrereleaseMode = "if-necessary-or-explicit"
    exclude_newer: datetime | None = None
    only_binary: bool = False
    #: ``(project, cut-off)`` pairs that replace ``exclude_newer`` for those projects (a
    #: reconstruction moves a package past the release date this way)
    exclude_newer_package: tuple[tuple[str, datetime], ...] = ()
    #: ``(project, ((algorithm, hexdigest), ...))``: the only hashes a file of those projects
    #: may have (``--hash`` in a requirements file)
    hashes: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    def allowed_hashes(self, project: str) -> frozenset[tuple[str, str]] | None:
        """The hashes a file of ``project`` must have one of; ``None``: any file will do."""
        for name, allowed in self.hashes:
            if name == project:
                return frozenset(allowed)
        return None

    def cutoff(self, project: str) -> datetime | None:
        """The exclude-newer cut-off that applies to ``project`` (canonical name)."""
        for name, moment in self.exclude_newer_package:
            if name == project:
                return moment
        return self.exclude_newer


class VersionFiles:
    """One version of a project with the files the target may use, best first (yanked ones
    included; :func:`choose_versions` decides about them).

    ``files`` may be given, or computed on first use by ``load`` -- so that a project with
    thousands of versions costs only the versions a resolve actually looks at."""

    __slots__ = ("_files", "_load", "_unyanked", "pre", "version")

    def __init__(
        self,
        version: Version,
        files: tuple[DistFile, ...] | None = None,
        load: Callable[[], tuple[DistFile, ...]] | None = None,
    ) -> None:
        self.version = version
        self.pre = version.is_prerelease
        self._files = files
        self._load = load
        self._unyanked: Choice | bool | None = False  # False: not made yet

    @property
    def files(self) -> tuple[DistFile, ...]:
        if self._files is None:
            self._files = self._load() if self._load is not None else ()
        return self._files

    def unyanked(self) -> Choice | None:
        """The choice of this version's files that are not yanked (``None``: it has none),
        made once: it depends on nothing else, and every candidate walk over the version
        asks for it."""
        found = self._unyanked
        if found is False:
            kept = tuple(f for f in self.files if not f.is_yanked)
            found = self._unyanked = Choice(self.version, kept) if kept else None
        return found  # type: ignore[return-value]

    def kinds(self) -> int:
        """What this version's usable files are: :data:`UNYANKED` (one at least is not
        yanked), :data:`YANKED` (all are) or :data:`NONE` (there are none)."""
        if self._unyanked is not False and self._unyanked is not None:
            return UNYANKED
        files = self.files
        if any(not f.is_yanked for f in files):
            return UNYANKED
        return YANKED if files else NONE

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VersionFiles):
            return NotImplemented
        return (self.version, self.files) == (other.version, other.files)

    def __hash__(self) -> int:
        return hash(self.version)

    def __repr__(self) -> str:
        return f"VersionFiles({self.version!s}, {len(self.files)} files)"


#: :meth:`VersionFiles.kinds`
UNYANKED, YANKED, NONE = 2, 1, 0


@dataclass(frozen=True)
class Choice:
    """A version that may be a candidate, with its usable files (best first)."""

    version: Version
    files: tuple[DistFile, ...]
    yanked: bool = False


def file_order(files: Sequence[DistFile], target: TargetEnvironment) -> tuple[DistFile, ...]:
    """``files`` best first: wheels by the target's tag preference, then sdists; ties by name."""

    def key(f: DistFile) -> tuple[int, int, str]:
        rank = target.wheel_rank(f)
        return (0, rank, f.filename) if rank is not None else (1, 0, f.filename)

    return tuple(sorted(files, key=key))


def group_versions(
    project: str, files: Sequence[DistFile], target: TargetEnvironment, policy: FilePolicy
) -> Sequence[VersionFiles]:
    """The versions of ``project`` with at least one file the target accepts that passes the
    file policies, highest version first.

    Raises ``UploadTimeMissing`` when a cut-off is set and no file reports an upload time.
    """
    if isinstance(files, ProjectFiles):
        return _lazy_versions(project, files, target, policy)
    cutoff = policy.cutoff(project)
    if cutoff is not None:
        check_upload_times(project, files)
    python_ok: dict[str | None, bool] = {}  # requires-python strings repeat across files

    def accepts(f: DistFile) -> bool:  # target.accepts, with requires-python memoised
        if f.is_wheel and target.wheel_rank(f) is None:
            return False
        rp = f.requires_python
        if rp not in python_ok:
            python_ok[rp] = target.python_matches(rp)
        return python_ok[rp]

    allowed = policy.allowed_hashes(project)
    kept = [f for f in files if accepts(f) and (allowed is None or hashed(f, allowed))]
    kept = list(binaries(uploaded_by(kept, cutoff), policy.only_binary))
    by_version: dict[Version, list[DistFile]] = {}
    for f in kept:
        by_version.setdefault(f.version, []).append(f)
    return tuple(
        VersionFiles(v, file_order(by_version[v], target))
        for v in sorted(by_version, reverse=True)
    )


def _lazy_versions(
    project: str, files: ProjectFiles, target: TargetEnvironment, policy: FilePolicy
) -> Sequence[VersionFiles]:
    """:func:`group_versions` for a lazily built listing: the same versions, but each one's
    object is made when first reached and its files filtered when first looked at (a version
    left with none is skipped by :func:`choose_versions`): a full resolve from the cache made
    53,000 version objects, one closure each, for the large Airflow resolve (5% of its CPU);
    it reaches 22,000 of them."""
    cutoff = policy.cutoff(project)
    if cutoff is not None and files and not files.has_upload_time:
        check_upload_times(project, files.files_of(0))
    python_ok: dict[str | None, bool] = {}
    only_binary, may_accept, wheel_rank = (
        policy.only_binary, target.may_accept_filename, target.wheel_rank)
    allowed = policy.allowed_hashes(project)

    def order(f: DistFile) -> tuple[int, int, str] | None:
        # group_versions' filters (target, upload time, only-binary) and file_order's sort
        # key in one pass, the wheel's rank found once (None: the file is not usable)
        if f.is_wheel:
            rank = wheel_rank(f)
            if rank is None:
                return None
            key = (0, rank, f.filename)
        elif only_binary:
            return None
        else:
            key = (1, 0, f.filename)
        if cutoff is not None and (f.upload_time is None or f.upload_time > cutoff):
            return None
        if allowed is not None and not hashed(f, allowed):
            return None
        rp = f.requires_python
        ok = python_ok.get(rp)
        if ok is None:
            ok = python_ok[rp] = target.python_matches(rp)
        return key if ok else None

    def load(position: int) -> tuple[DistFile, ...]:
        ranked: list[tuple[tuple[int, int, str], DistFile]] = []
        for f in files.files_of(position, may_accept):
            key = order(f)
            if key is not None:
                ranked.append((key, f))
        ranked.sort(key=_first)
        return tuple(f for _, f in ranked)

    def probe(position: int) -> int:
        # VersionFiles.kinds without the sort: the walk asks it of every version the sort
        # key counts, the resolver tries the first
        found = NONE
        for f in files.files_of(position, may_accept):
            if order(f) is not None:
                if not f.is_yanked:
                    return UNYANKED
                found = YANKED
        return found

    return _ListedVersions(files.versions, load, probe)


def hashed(f: DistFile, allowed: frozenset[tuple[str, str]]) -> bool:
    """Has ``f`` one of the ``allowed`` ``(algorithm, hexdigest)`` hashes (as its index or
    manifest gives them)?"""
    return any((algo.lower(), digest.lower()) in allowed for algo, digest in f.hashes)


def _first(pair: tuple[tuple[int, int, str], DistFile]) -> tuple[int, int, str]:
    return pair[0]


class _ListedVersion(VersionFiles):
    """A version of a lazily built listing: its files are filtered on first use, by the
    listing's shared ``load(position)`` (no closure made per version); what kinds of usable
    files it has is asked of the listing's ``probe(position)`` until then."""

    __slots__ = ("_at", "_kinds", "_load_at", "_probe_at")

    def __init__(self, version: Version, at: int,
                 load_at: Callable[[int], tuple[DistFile, ...]],
                 probe_at: Callable[[int], int] | None = None) -> None:
        self.version = version
        self.pre = version.is_prerelease
        self._files = None
        self._load = None
        self._unyanked = False
        self._at = at
        self._load_at = load_at
        self._probe_at = probe_at
        self._kinds = -1  # not known yet

    @property
    def files(self) -> tuple[DistFile, ...]:
        if self._files is None:
            self._files = self._load_at(self._at)
        return self._files

    def kinds(self) -> int:
        if self._kinds < 0:
            self._kinds = (super().kinds() if self._files is not None or self._probe_at is None
                           else self._probe_at(self._at))
        return self._kinds


class _ListedVersions(Sequence[VersionFiles]):
    """The versions of a lazily built listing, highest first, each made when first reached:
    a project with hundreds of releases costs the ones a resolve looks at (iteration stops
    at the first fitting version, usually), not an object per release. The same object
    answers for a position every time."""

    __slots__ = ("_load", "_made", "_probe", "_versions")

    def __init__(self, versions: Sequence[Version],
                 load: Callable[[int], tuple[DistFile, ...]],
                 probe: Callable[[int], int] | None = None) -> None:
        self._versions = versions
        self._load = load
        self._probe = probe  # VersionFiles.kinds of a position, without loading its files
        self._made: list[_ListedVersion | None] = [None] * len(versions)

    def __len__(self) -> int:
        return len(self._versions)

    def _at(self, position: int) -> _ListedVersion:
        made = self._made[position]
        if made is None:
            made = self._made[position] = _ListedVersion(
                self._versions[position], position, self._load, self._probe)
        return made

    @overload
    def __getitem__(self, index: int) -> VersionFiles: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[VersionFiles, ...]: ...

    def __getitem__(self, index: int | slice) -> VersionFiles | tuple[VersionFiles, ...]:
        if isinstance(index, slice):
            return tuple(self._at(i) for i in range(*index.indices(len(self._versions))))
        return self._at(range(len(self._versions))[index])  # negative, out of range: as a tuple

    def __iter__(self) -> Iterator[VersionFiles]:
        made = self._made
        for position, vf in enumerate(made):
            yield vf if vf is not None else self._at(position)

    def between(self, start: int, stop: int) -> _Between:
        """The versions at positions ``start`` to ``stop - 1``, in order, each made when a
        walk reaches it (iterable again)."""
        return _Between(self, start, stop)


class _Between:
    """A run of a lazily built listing's versions (:meth:`_ListedVersions.between`)."""

    __slots__ = ("_listing", "_start", "_stop")

    def __init__(self, listing: _ListedVersions, start: int, stop: int) -> None:
        self._listing, self._start, self._stop = listing, start, stop

    def __iter__(self) -> Iterator[VersionFiles]:
        listing = self._listing
        made = listing._made  # noqa: SLF001 -- its own listing's
        for position in range(self._start, self._stop):
            vf = made[position]
            yield vf if vf is not None else listing._at(position)  # noqa: SLF001


def _window(versions: Sequence[VersionFiles], specifiers: Sequence[SpecifierSet]
            ) -> Iterable[VersionFiles]:
    """The part of ``versions`` (highest first) where a version may satisfy every one of
    ``specifiers``: none outside it can (see :mod:`~constrain.policies.window`)."""
    found = bounds(specifiers)
    if not (found[0] or found[1]) or not versions:
        return versions
    if isinstance(versions, _ListedVersions):
        start, stop = span(len(versions), versions._versions.__getitem__, found)  # noqa: SLF001
        return versions if (start, stop) == (0, len(versions)) else versions.between(start, stop)
    start, stop = span(len(versions), lambda i: versions[i].version, found)
    return versions if (start, stop) == (0, len(versions)) else versions[start:stop]


def choose_versions(
    versions: Sequence[VersionFiles],
    specifiers: Sequence[SpecifierSet],
    mode: PrereleaseMode,
) -> list[Choice]:
    """The versions (highest first) satisfying every specifier that the yanked and
    pre-release policies allow, each with the files to use."""
    return list(iter_choices(versions, specifiers, mode))


def iter_choices(
    versions: Sequence[VersionFiles],
    specifiers: Sequence[SpecifierSet],
    mode: PrereleaseMode,
    fits: Callable[[Version], bool] | None = None,
) -> Iterator[Choice]:
    """:func:`choose_versions` as a lazy iterator: a version's files are looked at only when
    the iteration reaches it, so a resolver that takes the first fitting version of a project
    with thousands of releases pays for one. ``fits(version)`` may replace the direct
    specifier test (for a caller that memoises it). ``versions`` are highest first, as
    :func:`group_versions` gives them: versions the specifiers' bounds rule out are skipped
    untested (:mod:`~constrain.policies.window`)."""
    for vf in iter_usable(versions, specifiers, mode, fits):
        yield choice_of(vf, specifiers)


def choice_of(vf: VersionFiles, specifiers: Sequence[SpecifierSet]) -> Choice:
    """The choice :func:`iter_usable` found ``vf`` to give: its files that are not yanked,
    or (all yanked, under an exact pin) all of them."""
    found = vf.unyanked()
    if found is not None:
        return found
    usable, yanked = usable_files(vf.files, pins_exactly(specifiers, vf.version))
    return Choice(vf.version, usable, yanked)


def iter_usable(
    versions: Sequence[VersionFiles],
    specifiers: Sequence[SpecifierSet],
    mode: PrereleaseMode,
    fits: Callable[[Version], bool] | None = None,
) -> Iterator[VersionFiles]:
    """The versions :func:`iter_choices` gives a choice of, in its order, each known to give
    one by what kinds of files it has (:meth:`VersionFiles.kinds`): a lazily built listing
    sorts a version's files only when :func:`choice_of` is asked (a resolver counting
    candidates looks at ten versions of a project and tries the first)."""
    if fits is None:

        def fits(v: Version) -> bool:
            return all(s.contains(v, prereleases=True) for s in specifiers)

    def usable(vf: VersionFiles) -> bool:
        if not fits(vf.version):
            return False
        kinds = vf.kinds()
        # all yanked: usable only under an exact pin (PEP 592, yanked.usable_files)
        return kinds == UNYANKED or (kinds == YANKED and pins_exactly(specifiers, vf.version))

    if_final = allows_prereleases(mode, specifiers, True)
    if_none = allows_prereleases(mode, specifiers, False)
    walk = _window(versions, specifiers)
    if if_final == if_none:
        for vf in walk:
            if vf.pre and not if_final:
                continue
            if usable(vf):
                yield vf
        return
    # It depends on whether some final release fits: find the first one. The walk goes on
    # from there (the versions before it gave nothing: pre-releases not allowed, finals not
    # fitting), each version looked at once; none fits: the pre-releases alone, the finals
    # having given nothing.
    rest = iter(walk)
    for vf in rest:
        if not vf.pre and usable(vf):
            yield vf
            for vf in rest:
                if not vf.pre and usable(vf):
                    yield vf
            return
    for vf in walk:
        if vf.pre and usable(vf):
            yield vf


def _later_patch_fits(file: DistFile, target: TargetEnvironment) -> bool:
    """Would a later patch of the target's Python (X.Y.99) meet ``file``'s requires-python?
    (Then naming the patch is the way out; for ``>=3.10`` on 3.8 it is not.)"""
    if not file.requires_python:
        return False
    from packaging.specifiers import InvalidSpecifier

    try:
        return SpecifierSet(file.requires_python).contains(f"{target.python_short}.99",
                                                            prereleases=True)
    except InvalidSpecifier:
        return False


def why_unusable(
    files: Sequence[DistFile],
    target: TargetEnvironment,
    policy: FilePolicy,
    exact_pin: bool = False,
) -> str | None:
    """Why the files of one version give no candidate (``None`` when they do), for messages:
    ``no file for CPython 3.7.0 on win_amd64``, ``uploaded after ...``, ``yanked: reason``."""
    if not files:
        return "has no files"
    accepted = [f for f in files if target.accepts(f)]
    if not accepted:
        shown = ", ".join(sorted(f.filename for f in files)[:3])
        more = f" and {len(files) - 3} more" if len(files) > 3 else ""
        pythons = sorted({f.requires_python for f in files if f.requires_python})
        rp = f" (requires-python {', '.join(pythons)})" if pythons else ""
        tagged = [f for f in files if not f.is_wheel or target.wheel_rank(f) is not None]
        if target.any_patch and any(_later_patch_fits(f, target) for f in tagged):
            rp += (
                f"; an unpatched --python {target.python_short} must support "
                f"{target.python_short}.0: give the patch (e.g. --python "
                f"{target.python_short}.20) to allow releases that need a later one"
            )
        return f"has no file for {target.describe()}: files are {shown}{more}{rp}"
    limit = policy.cutoff(files[0].project)
    dated = uploaded_by(accepted, limit)
    if not dated:
        cutoff = limit.isoformat() if limit else ""
        return f"was uploaded after the --exclude-newer cut-off {cutoff}"
    allowed = policy.allowed_hashes(files[0].project)
    if allowed is not None:
        dated = tuple(f for f in dated if hashed(f, allowed))
        if not dated:
            return ("has no file with a hash the requirements allow (--hash: "
                    + ", ".join(sorted(f"{a}:{d[:12]}..." for a, d in allowed)[:3]) + ")")
    if not binaries(dated, policy.only_binary):
        return "has only an sdist for this target and --only-binary is set"
    usable, _ = usable_files(dated, exact_pin)
    if not usable:
        return f"is yanked ({yank_reason(dated[0])})"
    return None
