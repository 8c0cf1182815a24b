"""The facts a resolve read from the cache (listings, parsed metadata), kept as one snapshot entry.

A warm resolve reads a project's listing and a file's parsed metadata from hundreds of cache
entries, and rebuilds the same :class:`~constrain.models.DistFile`, ``Version`` and
``Requirement`` objects from them every run. :class:`Facts` keeps what one process read -- for
each project its versions and the files of the versions looked at, for each file its metadata,
for each listing entry its sidecar (fetch time, validators: read before the entry) -- in one
entry per set of sources (bucket ``facts``), loaded whole by the next process.

Every fact is stored with the identity of the cache entry it came from (inode, device, size,
modification and change times), and is used only while that entry is still the same: a listing
when the entry the page cache opened for it is, a metadata only when the metadata entry is,
a sidecar only when its file is (a page revalidated or fetched again has a new one).
So a snapshot is exactly as fresh as the entries (a page fetched again is a new entry, and its
facts are read from it), and a damaged or replaced entry is read as it is now. Facts read from
an entry just written (a page fetched now) are not taken: they are taken from the entry on the
next run. A version the snapshot lacks is read from the listing's entry as it was opened (held:
kept open, or read whole when small and many are open), so an entry pruned or replaced
meanwhile changes nothing for the run under way, as for a listing read from its entry. The
snapshot carries a digest of its body and the versions of Python and packaging that wrote it,
and is read by an unpickler that builds only packaging's and constrain's value types
(:mod:`~constrain.index.snapshot`); anything else is a miss, and so are a listing's versions
that cannot be read from it (they are read from the listing's entry, and written again). A
snapshot is written when a run read facts it did not have, or left more than a fifth of it
(by the cost of loading) unused as the run before it did, and then holds what that run used;
a run that failed or was interrupted only adds what it read (its part says nothing of what
the next run needs).

Over 400 lines: the use of a snapshot's facts (listings with their fallback to the entry,
metadata) and its upkeep (what a run used, when that is written) are one contract.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from packaging.utils import NormalizedName
from packaging.version import Version

from ..cache.keys import digest
from ..cache.store import Cache
from ..errors import CacheError
from ..heap import hold_frozen, release_frozen
from ..models import CoreMetadata, ProjectFiles
from .pages.listing import WHOLE_BELOW, load_listing
from .pages.pagecache import strip_userinfo
from .snapshot import DUMP_ERRORS, FORMAT, StoredVersions, dump_snapshot, load_snapshot

__all__ = ["Facts", "dump_snapshot", "facts_key", "identity", "load_snapshot", "tags_token"]

Identity = tuple[int, int, int, int, int]


def identity(st: os.stat_result) -> Identity:
    """What says a cache entry is still the one a fact came from (``os.replace`` makes a new
    inode; a write in place moves the size or the times)."""
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def facts_key(sources: list[str], scope: str = "") -> str:
    """The snapshot of one set of sources (index URLs and find-links locations, in order) for
    one target (``scope``: :func:`tags_token` of its wheel tags, ``""`` for none named)."""
    return digest("facts", str(FORMAT), scope, *sources)


def tags_token(target: Any) -> str | None:
    """A name for ``target``'s wheel tags that holds across processes (``None`` without
    tags): the files of a listing kept for a target are those its tags may accept."""
    tags = getattr(target, "tags", None)
    return None if tags is None else digest("tags", *map(str, tags))


def _hold(entry: BinaryIO, size: int, keep_open: Callable[[], bool]) -> bytes | BinaryIO | None:
    """What a listing taken from the snapshot keeps of its ``entry`` for versions the snapshot
    lacks: the entry itself, kept open (read in parts, as :func:`load_listing` reads a large
    one), when it is large or ``keep_open()`` allows it; else its bytes (read now, the entry
    closed). ``None`` when it cannot be read."""
    if hasattr(os, "pread") and (size >= WHOLE_BELOW or keep_open()):
        return entry
    try:
        with entry:
            return entry.read()
    except OSError:
        return None


def open_budget() -> int:
    """How many small listing entries one run keeps open rather than read whole (the large
    Airflow set: 566, 27 MB, read for the rare version its snapshot lacks): a quarter of the
    soft limit on open files, at most 512; none without ``pread``."""
    if not hasattr(os, "pread"):
        return 0
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 0
    return 512 if soft == resource.RLIM_INFINITY else max(0, min(soft // 4, 512))


class _Listing:
    """One project's facts: the listing entry's identity, the index it was read for, its
    versions and summary, and the files of the versions looked at (by position and filter)."""

    __slots__ = ("count", "files", "has_upload", "ident", "index", "indexes", "used",
                 "versions")

    def __init__(self, ident: Identity, index: str, files_of: ProjectFiles) -> None:
        self.ident = ident
        self.index = index
        self.versions = files_of.versions
        self.has_upload = files_of.has_upload_time
        self.count = len(files_of)
        self.indexes = files_of.indexes
        #: (position, filter token) -> files: see :meth:`Facts._token`
        self.files: dict[tuple[int, str], tuple] = {}
        #: the keys of ``files`` this run used; ``None``: all (each was made when first used)
        self.used: set[tuple[int, str]] | None = None

    def __getstate__(self) -> tuple:
        return (self.ident, self.index, StoredVersions.state(self.versions), self.has_upload,
                self.count, self.indexes, dict(self.files))

    def __setstate__(self, state: tuple) -> None:
        (self.ident, self.index, versions, self.has_upload, self.count, self.indexes,
         self.files) = state
        self.versions = StoredVersions(*versions)  # each made when first asked for
        self.used = set()  # loaded: none used yet

    def cost(self) -> int:
        """What loading this listing costs, in versions: a file costs about eight."""
        return len(self.versions) + 8 * sum(len(files) for files in self.files.values())

    def kept(self) -> _Listing:
        """This listing with only the files this run used (itself when it used them all).
        A job still running may add to ``used`` meanwhile: it is copied in one step."""
        if self.used is None:
            return self
        used = tuple(self.used)
        if len(used) == len(self.files):
            return self
        kept = _Listing.__new__(_Listing)
        kept.__setstate__((*self.__getstate__()[:6], {k: self.files[k] for k in used}))
        return kept


def _cost(md: CoreMetadata) -> int:
    """What loading a metadata costs, in versions (see :meth:`_Listing.cost`)."""
    return 4 + 2 * len(md.requires_dist)


class Facts:
    """The snapshot of ``cache`` for ``sources``, read on first use; ``use=False`` (a refresh)
    neither reads nor writes it. Safe to call from several threads.

    ``target``, the target of the command's first resolve, names the snapshot with
    ``sources``: each target keeps its own (requests for one target share theirs, and one
    for another platform neither loads nor replaces it). A command that resolves for
    several targets keeps what it read for all of them in the first one's."""

    def __init__(self, cache: Cache | None, sources: list[str], *, use: bool = True,
                 target: object | None = None) -> None:
        self.cache = cache if use else None
        token = tags_token(target) if target is not None else None
        self.key = facts_key(sources, token or "")
        self._lock = threading.Lock()
        self._loaded = False
        self._listings: dict[NormalizedName, _Listing] = {}
        self._metadata: dict[str, tuple[Identity, CoreMetadata]] = {}
        self._used_listings: dict[NormalizedName, _Listing] = {}
        self._used_metadata: dict[str, tuple[Identity, CoreMetadata]] = {}
        #: a listing entry's key -> its sidecar (what the page cache reads first): the same
        self._sidecars: dict[str, tuple[Identity, dict]] = {}
        self._used_sidecars: dict[str, tuple[Identity, dict]] = {}
        self._dirty = False
        self._failed = False  # see note_failed
        self._pruned = False  # written: what it holds is what this run used
        self._frozen = False  # gc.freeze() done at the load, undone by close()
        self._open_left: int | None = None  # small listing entries this run may keep open
        self._snapshot: Identity | None = None  # the snapshot entry read
        self._tokens: dict[int, tuple[object, str]] = {}
        if token is not None:  # the same name for the filter of its may_accept_filename
            self._tokens[id(target)] = (target, token)
        self.hits = 0  # work counter: facts served from the snapshot

    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded or self.cache is None:
                self._loaded = True
                return
            entry = self.cache.get_stat("facts", self.key)
            data = None
            if entry is not None:
                data, self._snapshot = entry[0], identity(entry[1])
            # The snapshot's objects (tens of thousands, in no cycle) live as long as the run:
            # frozen out of the collector's walks until close(), before any collection (the
            # first one after the load walked them all, young at once, and later ones again
            # before they reached the oldest generation: ~0.1 s on the large set). Not when
            # something else froze objects (its freeze is neither undone nor added to).
            collecting = gc.isenabled()
            gc.disable()
            try:
                found = load_snapshot(data) if data is not None else None
                if found is not None:
                    self._listings, self._metadata, self._sidecars = found
                    if collecting and hold_frozen():
                        self._frozen = True
            finally:
                if collecting:
                    gc.enable()
            self._loaded = True

    # ------------------------------------------------------------------ listings
    def listing(self, project: NormalizedName, entry: BinaryIO, index: str) -> ProjectFiles | None:
        """The files of ``project`` from its cached listing, opened as ``entry`` (which this
        closes or hands on): from the snapshot while ``entry`` is the one its facts came
        from, else read from ``entry`` (``None`` when it is unreadable). A version the
        snapshot does not hold is read from ``entry`` as it was opened, even if the entry is
        removed (``cache prune``) or replaced meanwhile: the small ones are read whole now,
        a large one is kept open (as :func:`load_listing` does)."""
        if self.cache is None:
            return load_listing(project, entry, index)
        try:
            ident = identity(os.fstat(entry.fileno()))
        except OSError:
            return load_listing(project, entry, index)
        self._load()
        found = self._listings.get(project)
        if found is not None and found.ident == ident and found.index == index:
            held = _hold(entry, ident[2], self._keep_open)
            if held is None:
                return None  # unreadable now: the caller fetches it afresh
            with self._lock:
                self._used_listings[project] = found
                self.hits += 1
            return self._from_snapshot(project, found, index, held)
        real = load_listing(project, entry, index)
        if real is None or strip_userinfo(index) != index:
            return real  # an index URL with a login or token is not written down here
        record = _Listing(ident, index, real)
        with self._lock:
            self._used_listings[project] = record
            self._dirty = True
        return self._recording(project, real, record)

    def _keep_open(self) -> bool:
        """May one more small listing entry be kept open (:func:`open_budget`)?"""
        with self._lock:
            if self._open_left is None:
                self._open_left = open_budget()
            self._open_left -= 1
            return self._open_left >= 0

    def _token(self, keep: Callable[[str], bool] | None) -> str | None:
        """A name for the filter ``keep`` that holds across processes: ``""`` for none, a
        digest of the wheel tags of the target whose ``may_accept_filename`` it is; ``None``
        for any other filter (its answers are not kept)."""
        if keep is None:
            return ""
        owner = getattr(keep, "__self__", None)
        if owner is None or getattr(keep, "__name__", "") != "may_accept_filename":
            return None
        found = self._tokens.get(id(owner))
        if found is None:
            token = tags_token(owner)
            if token is None:
                return None
            found = self._tokens[id(owner)] = (owner, token)
        return found[1]

    def _recording(self, project: NormalizedName, real: ProjectFiles, record: _Listing) -> ProjectFiles:
        files = record.files

        def build(position: Any, keep: Callable[[str], bool] | None) -> tuple:
            token = self._token(keep)
            if token is None:
                return real.files_of(position, keep)
            got = files.get((position, token))
            if got is None:
                got = files[(position, token)] = real.files_of(position, keep)
            return got

        return ProjectFiles(real.project, real.versions, range(len(real.versions)), build,
                            has_upload_time=real.has_upload_time, count=len(real),
                            indexes=real.indexes)

    def _from_snapshot(self, project: NormalizedName, record: _Listing, index: str,
                       held: bytes | BinaryIO) -> ProjectFiles:
        files, used = record.files, record.used
        again: list[ProjectFiles] = []  # the held entry read, once, when needed

        def build(position: Any, keep: Callable[[str], bool] | None) -> tuple:
            token = self._token(keep)
            got = files.get((position, token)) if token is not None else None
            if got is None:
                got = self._read_again(project, record, index, held, again, position, keep,
                                       token)
            elif used is not None and token is not None:
                used.add((position, token))
            return got

        def versions() -> Sequence[Version]:
            """The versions, from the held entry: the snapshot's could not be read."""
            current = self._entry_again(project, held, index, again)
            with self._lock:
                record.versions = current.versions  # the snapshot written holds them again
                self._dirty = True
            return current.versions

        if isinstance(record.versions, StoredVersions):
            record.versions.fallback = versions
        if not isinstance(held, bytes):  # closed with the last reader
            weakref.finalize(build, held.close)
        return ProjectFiles(project, record.versions, range(len(record.versions)), build,
                            has_upload_time=record.has_upload, count=record.count,
                            indexes=record.indexes)

    @staticmethod
    def _entry_again(project: NormalizedName, held: bytes | BinaryIO, index: str,
                     again: list[ProjectFiles]) -> ProjectFiles:
        """The listing read from the entry the snapshot's facts came from, as it was opened
        (``held``), once (kept in ``again``)."""
        if not again:
            current = load_listing(project, held, index, whole_below=0)  # bytes, or in parts
            if current is None:  # changed in place under the same identity: damaged
                raise CacheError(f"cannot read the cached listing of {project}",
                                 hint="remove the cache directory or use --refresh")
            again.append(current)
        return again[0]

    def _read_again(self, project: NormalizedName, record: _Listing, index: str,
                    held: bytes | BinaryIO, again: list[ProjectFiles], position: int,
                    keep: Callable[[str], bool] | None, token: str | None) -> tuple:
        """The files of a version the snapshot does not hold, from the entry the snapshot's
        facts came from, as it was opened (``held``)."""
        got = self._entry_again(project, held, index, again).files_of(position, keep)
        if token is not None:
            with self._lock:
                record.files[(position, token)] = got
                if record.used is not None:
                    record.used.add((position, token))
                self._dirty = True
        return got

    def sidecar(self, bucket: str, key: str) -> dict | None:
        """The sidecar of the cache entry ``key`` of ``bucket`` (what
        :meth:`~constrain.cache.store.Cache.get_meta` reads, a copy): from the snapshot while
        the sidecar file is the one it came from, else read from the file (``None`` when
        there is none or it is unreadable)."""
        if self.cache is None:
            return None
        self._load()
        path = self.cache._file(bucket, key) + ".meta"  # noqa: SLF001 -- its own path
        found = self._sidecars.get(key)
        if found is not None:
            try:
                st = os.stat(path)
            except OSError:
                return None
            if identity(st) == found[0]:
                with self._lock:
                    self._used_sidecars[key] = found
                return dict(found[1])
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                meta = json.loads(fh.read())
        except (OSError, ValueError):
            return None
        if type(meta) is dict and bucket == "listings":
            with self._lock:
                self._used_sidecars[key] = (identity(st), dict(meta))
                self._dirty = True
        return meta

    # ------------------------------------------------------------------ metadata
    def metadata(self, key: str) -> CoreMetadata | None:
        """The parsed metadata of the ``metadata`` entry ``key`` while that entry is the one
        it came from; ``None`` otherwise."""
        if self.cache is None:
            return None
        self._load()
        found = self._metadata.get(key)
        if found is None:
            return None
        try:
            st = os.stat(self.cache._file("metadata", key))  # noqa: SLF001 -- its own path
        except OSError:
            return None
        if identity(st) != found[0]:
            return None
        with self._lock:
            self._used_metadata[key] = found
            self.hits += 1
        return found[1]

    def note_metadata(self, key: str, md: CoreMetadata, st: os.stat_result) -> None:
        """``md`` was read from (or written as) the ``metadata`` entry ``key``, whose status
        is ``st``. Metadata built on this host is left out (its entry says where it was
        built, which the fetcher checks)."""
        if self.cache is None or md.source == "built":
            return
        if not isinstance(md.requires_dist, tuple):
            import dataclasses

            md = dataclasses.replace(md, requires_dist=tuple(md.requires_dist))
        with self._lock:
            self._used_metadata[key] = (identity(st), md)
            self._dirty = True

    # ------------------------------------------------------------------ writing
    def close(self) -> None:
        """:meth:`save`, and the objects frozen at the load handed back to the collector."""
        try:
            self.save()
        finally:
            with self._lock:
                frozen, self._frozen = self._frozen, False
            if frozen:
                release_frozen()

    def note_failed(self) -> None:
        """The run failed or was interrupted (a resolve raised): what it read is a part of
        what a run needs, so :meth:`save` neither cuts the snapshot to it nor counts it as
        a run that left the snapshot unused; it writes the snapshot with what the run read
        added, when it read facts the snapshot lacked."""
        with self._lock:
            self._failed = True

    def _left_unused(self, snapshot: Identity, unused: bool) -> bool:
        """Is the ``snapshot`` read left largely ``unused`` by this run and by the run before
        it that read it? Noted in the entry's sidecar (a run that used nearly all of it
        removes the note): requests that take turns, one using a part of the other's facts
        (a resolve, an install of its pins), leave it as it is."""
        assert self.cache is not None
        noted = (self.cache.get_meta("facts", self.key) or {}).get("left_unused")
        if unused and noted == list(snapshot):
            return True
        if unused or noted is not None:
            with contextlib.suppress(CacheError, OSError):
                self.cache.touch_meta("facts", self.key,
                                      {"left_unused": list(snapshot)} if unused else {})
        return False

    def save(self) -> None:
        """Write the snapshot of what this run used, if it read facts the snapshot lacked, or
        if it left more than a fifth of the snapshot unused as the run before it did (a cold
        run's snapshot holds what its prefetching and builds looked at too, which every later
        run loaded and never used). A run that failed (:meth:`note_failed`) only adds to the
        snapshot. A cache that cannot be written is left as it is (the
        facts are an optimisation)."""
        if self.cache is None:
            return
        with self._lock:
            if self._failed:
                if not self._dirty:
                    return
                listings = {**self._listings, **self._used_listings}  # files lists whole
                metadata = {**self._metadata, **self._used_metadata}
                sidecars = {**self._sidecars, **self._used_sidecars}
            else:
                listings = {p: found.kept() for p, found in self._used_listings.items()}
                metadata = dict(self._used_metadata)
                sidecars = dict(self._used_sidecars)
            if not self._dirty:
                if self._pruned or self._snapshot is None:
                    return
                loaded = (sum(found.cost() for found in self._listings.values())
                          + sum(_cost(md) for _, md in self._metadata.values())
                          + 2 * len(self._sidecars))
                used = (sum(found.cost() for found in listings.values())
                        + sum(_cost(md) for _, md in metadata.values()) + 2 * len(sidecars))
                if not self._left_unused(self._snapshot, 5 * (loaded - used) > loaded):
                    return
            self._dirty, self._pruned = False, True
        try:
            data = dump_snapshot(listings, metadata, sidecars)
        except DUMP_ERRORS:
            return
        try:
            self.cache.put("facts", self.key, data)
        except CacheError:
            pass
