"""How the facts snapshot (:mod:`constrain.index.facts`) is written and read back.

The entry is a magic line, a header (format, Python and packaging versions, the fields of the
classes stored, a digest of the body) and a pickled body, read by an unpickler that builds only
packaging's and constrain's value types: anything else, a damaged body, another Python or
packaging, or other fields (a file is stored as its values in order) is a miss.
Requirements, markers and specifier sets are stored as the parts packaging parsed (its own
pickling parses or renders their text again), and equal ones are stored once: a dependency
line recurs across the versions of a project and across projects (5,171 distinct of 22,363 in
the large Airflow set), and a cold run's metadata, parsed file by file, shared none of them.
"""

from __future__ import annotations

import copyreg
import dataclasses
import gc
import hashlib
import io
import marshal
import struct
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

import _pickle as pickle  # the C pickler itself: pickle.py's import is several ms more

import packaging
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from ..models import CoreMetadata, DistFile

FORMAT = 5
_MAGIC = b"constrain-facts\n"
_LENGTH = struct.Struct("<I")
_NEWOBJ = copyreg.__newobj__  # type: ignore[attr-defined] # pickle's own: object.__new__, then the state
#: what writing a snapshot of values it cannot store raises (the snapshot is then not written)
DUMP_ERRORS = (pickle.PicklingError, TypeError, AttributeError, RecursionError, ValueError,
               KeyError)


#: (module, name) pairs the unpickler may build: value types and pickle's own helpers
_ALLOWED_MODULES = frozenset({
    "packaging.version", "packaging.specifiers", "packaging.markers", "packaging._parser",
    "packaging.requirements", "packaging.tags", "constrain.models", "constrain.index.facts",
    "constrain.index.snapshot", "datetime", "copyreg",
})
_ALLOWED_BUILTINS = frozenset({"frozenset", "set"})


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module in _ALLOWED_MODULES or (module == "builtins" and name in _ALLOWED_BUILTINS):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a fact")


#: the fields of the classes stored, in order: a snapshot written for other ones is a miss (a
#: file is stored as its values in this order, a metadata by its fields' names)
_LAYOUT = tuple(tuple(f.name for f in dataclasses.fields(cls)) for cls in (DistFile, CoreMetadata))
_FILE_FIELDS = _LAYOUT[0]
_new = object.__new__


def _header() -> tuple:
    return (FORMAT, sys.version, packaging.__version__, _LAYOUT)


def _file(values: tuple) -> DistFile:
    """A stored file, from its fields' values in order: one call, where pickle's own way (a
    dict of the fields, then each of them set on the object) costs half as much again (a
    warm resolve loads 3,000 to 12,000 files)."""
    f = _new(DistFile)
    f.__dict__.update(zip(_FILE_FIELDS, values, strict=True))
    return f


class StoredVersions(Sequence[Version]):
    """A listing's versions as the snapshot stores them: packaging's state of each, in one
    :mod:`marshal` blob (the body's digest is checked before anything is read), each
    ``Version`` made when its position is first asked for. A resolve reaches a sixth of the
    versions it loads (workload 1: 1,571 of 10,252; the large Airflow set 8,716 of 52,932),
    and making them all was a third of the snapshot's load. Threads asking for one position
    at once may each make it: equal values, one of them kept.

    The digest covers the blob, not what it holds (a writer could have stored anything): a
    blob that is not the listing's versions (not marshal, another count, states packaging's
    ``Version.__setstate__`` refuses) is found when a version is first made, and then
    ``fallback`` gives them all (the facts read them from the listing's entry); without one,
    :class:`ValueError`.

    ``state`` is what the snapshot writes: the blob read (unchanged) or made from versions."""

    __slots__ = ("_made", "_states", "blob", "fallback")

    def __init__(self, blob: bytes, count: int) -> None:
        self.blob = blob
        self._states: list | None = None  # read from the blob when a version is first asked for
        self._made: list[Version | None] = [None] * count
        self.fallback: Callable[[], Sequence[Version]] | None = None

    @staticmethod
    def state(versions: Sequence[Version]) -> tuple[bytes, int]:
        """What stores ``versions``: the blob and the count."""
        if isinstance(versions, StoredVersions):
            return versions.blob, len(versions)
        return marshal.dumps([v.__getstate__() for v in versions]), len(versions)

    def __len__(self) -> int:
        return len(self._made)

    def _make(self, position: int) -> Version:
        try:
            states = self._states
            if states is None:
                states = marshal.loads(self.blob)
                if type(states) is not list or len(states) != len(self._made):
                    raise ValueError("a stored listing whose versions do not match its count")
                self._states = states
            found = _new(Version)
            found.__setstate__(states[position])  # raises for what is not a version's state
        except (ValueError, TypeError, EOFError, AttributeError, KeyError):
            return self._fall_back(position)
        self._made[position] = found  # kept whole: another thread may read it at once
        return found

    def _fall_back(self, position: int) -> Version:
        """The version at ``position`` when the blob does not hold the listing's versions:
        all of them from ``fallback``."""
        if self.fallback is None:
            raise ValueError("a stored listing whose versions cannot be read")
        versions = tuple(self.fallback())
        if len(versions) != len(self._made):
            raise ValueError("a stored listing whose versions do not match its count")
        self._made[:] = versions  # in one step: another thread may read them at once
        return versions[position]

    @overload
    def __getitem__(self, index: int) -> Version: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Version, ...]: ...

    def __getitem__(self, index: int | slice) -> Version | tuple[Version, ...]:
        found: Any = self._made[index]  # IndexError as a tuple's; a list for a slice
        if found is None:
            return self._make(index)  # type: ignore[arg-type]
        if type(found) is list:
            return tuple(self[i] for i in range(*index.indices(len(self._made))))  # type: ignore[union-attr]
        return found

    def __iter__(self) -> Iterator[Version]:
        return map(self.__getitem__, range(len(self._made)))


def _requirement(name: str, url: str | None, extras: tuple, specifier: SpecifierSet,
                 marker: Marker | None) -> Requirement:
    """A stored requirement, rebuilt from its parts as packaging parsed them (packaging's own
    unpickling parses the requirement's text again)."""
    req = Requirement.__new__(Requirement)
    req.name, req.url, req.extras = name, url, set(extras)
    req.specifier, req.marker = specifier, marker
    return req


def _marker(tree: list) -> Marker:
    """A stored marker, from packaging's parsed tree (not its text parsed again)."""
    found = Marker.__new__(Marker)
    found._markers = tree  # noqa: SLF001 -- the tree Marker.__init__ made when it was stored
    found._serialized = None  # noqa: SLF001
    return found


def _reduce_marker(marker: Marker) -> tuple:
    return (_marker, (marker._markers,))  # noqa: SLF001


_SET_SLOTS = ("_canonicalized", "_has_arbitrary", "_is_unsatisfiable", "_prereleases",
              "_ranges", "_specs")


def _specifier_set(specs: tuple, prereleases: bool | None, canonicalized: bool,
                   has_arbitrary: bool) -> SpecifierSet:
    """A stored specifier set, from its parsed specifiers (packaging's own unpickling
    renders each of them as text again)."""
    found = SpecifierSet.__new__(SpecifierSet)
    found._specs, found._prereleases = specs, prereleases  # noqa: SLF001
    found._canonicalized, found._has_arbitrary = canonicalized, has_arbitrary  # noqa: SLF001
    found._ranges = found._is_unsatisfiable = None  # noqa: SLF001 -- caches, made on demand
    return found


def _reduce_specifier_set(spec: SpecifierSet) -> tuple:
    return (_specifier_set, (spec._specs, spec._prereleases, spec._canonicalized,  # noqa: SLF001
                             spec._has_arbitrary))  # noqa: SLF001


#: how markers and specifier sets are stored: from the parts packaging parsed, for the layouts
#: of packaging known here (the snapshot's header names the packaging that wrote it; another
#: one reads none of it); requirements: :meth:`_Sharing.reduce_requirement`
_REDUCE: dict = {}
if getattr(Marker, "__slots__", None) == ("_markers", "_serialized"):
    _REDUCE[Marker] = _reduce_marker
if tuple(sorted(getattr(SpecifierSet, "__slots__", ()))) == _SET_SLOTS:
    _REDUCE[SpecifierSet] = _reduce_specifier_set


class _Sharing:
    """One dump's equal values, each written once: requirements, their specifier sets and
    markers, and the requires-python strings of files. Read back, equal ones are one object,
    as :meth:`~constrain.models.CoreMetadata.from_dict` shares them (values, never changed)."""

    def __init__(self) -> None:
        self._texts: dict[int, tuple[object, str]] = {}  # id -> (value kept alive, its repr)
        self._one: dict[tuple, Any] = {}

    def _text(self, value: object) -> str:
        found = self._texts.get(id(value))
        if found is None:
            found = self._texts[id(value)] = (value, repr(value))
        return found[1]

    def _same(self, kind: str, value: Any) -> Any:
        return None if value is None else self._one.setdefault((kind, self._text(value)), value)

    def _requirement(self, req: Requirement) -> Requirement:
        key = ("r", req.name, req.url, tuple(sorted(req.extras)), self._text(req.specifier),
               None if req.marker is None else self._text(req.marker))
        return self._one.setdefault(key, req)

    def reduce_requirement(self, req: Requirement) -> tuple:
        return (_requirement, (req.name, req.url, tuple(sorted(req.extras)),
                               self._same("s", req.specifier), self._same("m", req.marker)))

    def reduce_metadata(self, md: CoreMetadata) -> tuple:
        state = dict(md.__dict__)
        state["requires_dist"] = tuple(map(self._requirement, md.requires_dist))
        return (_NEWOBJ, (CoreMetadata,), state)

    def reduce_file(self, f: DistFile) -> tuple:
        state = f.__dict__
        rp = state["requires_python"]
        if rp is not None:
            state = {**state, "requires_python": self._one.setdefault(("p", rp), rp)}
        return (_file, (tuple(state[name] for name in _FILE_FIELDS),))


def dump_snapshot(listings: dict, metadata: dict, sidecars: dict | None = None) -> bytes:
    """The entry: magic, header length, header (format, Python, packaging, body digest), body."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5)
    sharing = _Sharing()
    pickler.dispatch_table = {**copyreg.dispatch_table, **_REDUCE,
                              Requirement: sharing.reduce_requirement,
                              CoreMetadata: sharing.reduce_metadata,
                              DistFile: sharing.reduce_file}
    pickler.dump((listings, metadata, {} if sidecars is None else sidecars))
    body = out.getvalue()
    header = marshal.dumps((*_header(), hashlib.sha256(body).hexdigest()))
    return b"".join([_MAGIC, _LENGTH.pack(len(header)), header, body])


def load_snapshot(data: bytes) -> tuple[dict, dict, dict] | None:
    """The ``(listings, metadata, sidecars)`` of :func:`dump_snapshot` output; ``None`` when it is
    foreign, damaged, or written by another Python or packaging."""
    try:
        if not data.startswith(_MAGIC):
            return None
        at = len(_MAGIC)
        (length,) = _LENGTH.unpack_from(data, at)
        at += _LENGTH.size
        header = marshal.loads(data[at:at + length])
        body = memoryview(data)[at + length:]
        if tuple(header[:4]) != _header() or hashlib.sha256(body).hexdigest() != header[4]:
            return None
        collecting = gc.isenabled()
        gc.disable()  # tens of thousands of new objects, none in a cycle: no collection
        try:
            listings, metadata, sidecars = _Unpickler(io.BytesIO(body)).load()
        finally:
            if collecting:
                gc.enable()
        if type(listings) is not dict or type(metadata) is not dict or type(sidecars) is not dict:
            return None
        return listings, metadata, sidecars
    except Exception:  # noqa: BLE001 -- whatever a damaged entry raises, it is a miss
        return None
