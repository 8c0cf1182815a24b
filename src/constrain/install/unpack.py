"""Wheels into environments: unpack once into the cache with pypa/installer, then link per env.

A wheel is unpacked once (``installer`` reads it, checks its RECORD hashes and decides each
file's scheme; constrain's destination refuses any path that would leave its scheme directory)
into the cache bucket ``unpacked`` with a manifest of every file. Installing it into an
environment then hard-links those files (copying when links are impossible), writes the
entry-point scripts and ``#!python`` scripts for that environment's interpreter, and writes
``INSTALLER``, ``REQUESTED`` and ``RECORD`` -- no zip is opened on a warm install.

Each distribution is replaced under a journal kept in ``<env>/.constrain/txn``: old files are
moved aside (not deleted) before new ones are linked, and the journal is marked committed only
when the new version is whole. :func:`recover` -- run before every install -- rolls an
interrupted distribution back to its old files, so each one is wholly old or wholly new.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import io
import json
import os
import posixpath
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..cache.store import Cache
from ..errors import ConstrainError
from .venv import Interpreter

#: Bump when the unpacked layout or manifest changes (old entries are then ignored).
_LAYOUT = "l1"
_SCHEMES = ("purelib", "platlib", "scripts", "data", "headers")


class InstallError(ConstrainError):
    """A distribution could not be installed into or removed from the environment."""


class UnsafeWheel(InstallError):
    """A wheel would write outside the environment (``..``, absolute paths, escaping scripts)."""


def record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _safe_relpath(path: str, what: str, wheel: str) -> str:
    """``path`` normalised, or :class:`UnsafeWheel` when it is absolute or climbs out."""
    if "\\" in path or "\x00" in path or path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise UnsafeWheel(f"{wheel} contains an unsafe {what}: {path!r}",
                          hint="the wheel is malformed or malicious; it was not installed")
    norm = posixpath.normpath(path)
    if norm in (".", "..") or norm.startswith("../"):
        raise UnsafeWheel(f"{wheel} contains an unsafe {what}: {path!r}",
                          hint="the wheel is malformed or malicious; it was not installed")
    return norm


# ====================================================================== unpacking into the cache


@dataclass(frozen=True)
class Unpacked:
    """A wheel unpacked in the cache: its tree and manifest."""

    root: Path
    manifest: dict

    @property
    def dist_info(self) -> str:
        return self.manifest["dist_info"]


class _CacheDestination:
    """An ``installer`` destination writing into a cache tree and remembering each file."""

    def __init__(self, tree: Path, wheel: str) -> None:
        self.tree = tree
        self.wheel = wheel
        self.files: list[list] = []
        self.entry_points: list[list[str]] = []
        self._root = os.fspath(tree)
        self._made: set[str] = set()  # directories already created (one mkdir each, not per file)

    def write_script(self, name, module, attr, section):
        from installer.records import RecordEntry

        if "/" in name or "\\" in name or name in (".", "..", "") or "\x00" in name:
            raise UnsafeWheel(f"{self.wheel} declares an entry-point script named {name!r}, "
                              "which would escape the scripts directory",
                              hint="the wheel is malformed or malicious; it was not installed")
        self.entry_points.append([name, module, attr, section])
        return RecordEntry(name, None, None)

    def write_file(self, scheme, path, stream, is_executable):
        from installer.records import Hash, RecordEntry

        rel = _safe_relpath(os.fspath(path), "file path", self.wheel)
        if scheme not in _SCHEMES:
            raise UnsafeWheel(f"{self.wheel} writes to an unknown scheme {scheme!r}")
        dest = f"{self._root}/{scheme}/{rel}"
        parent = os.path.dirname(dest)
        if parent not in self._made:
            os.makedirs(parent, exist_ok=True)
            self._made.add(parent)
        h = hashlib.sha256()
        size = 0
        with open(dest, "wb") as out:
            while chunk := stream.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if is_executable:
            os.chmod(dest, 0o755)
        digest = base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
        self.files.append([scheme, rel, "sha256=" + digest, size, bool(is_executable)])
        return RecordEntry(rel, Hash("sha256", digest), size)

    def finalize_installation(self, scheme, record_file_path, records):
        self.root_scheme = scheme
        self.record_path = record_file_path


def unpacked_key(wheel_sha256: str) -> str:
    return f"{wheel_sha256.lower()}-{_LAYOUT}"


def unpack(wheel: Path, sha256: str, cache: Cache, filename: str | None = None) -> Unpacked:
    """The unpacked form of ``wheel`` (whose hash is ``sha256``; ``filename`` its real name
    when the path's differs, as in the cache), made once per cache.

    Raises :class:`UnsafeWheel` for entries that would leave the environment and
    :class:`InstallError` when the wheel's RECORD does not match its contents."""
    final = cache.path("unpacked", unpacked_key(sha256))
    found = _load(final)
    if found is not None:
        return found
    final.parent.mkdir(parents=True, exist_ok=True)
    with cache.lock("unpack-" + sha256[:40]):
        found = _load(final)
        if found is not None:
            return found
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
        try:
            manifest = _unpack_into(wheel, tmp, filename or wheel.name)
            (tmp / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
            if final.exists():  # a foreign leftover: replace it
                shutil.rmtree(final, ignore_errors=True)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return Unpacked(final, manifest)


def _load(final: Path) -> Unpacked | None:
    try:
        manifest = json.loads((final / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return Unpacked(final, manifest)


def _not_matching(wheel: str, detail: str) -> InstallError:
    return InstallError(
        f"{wheel} does not match its own RECORD",
        details=[line for line in detail.splitlines()[:5]],
        hint="the wheel was altered after it was built; it was not installed",
    )


def _check_contents(source, dest: _CacheDestination, tree: Path, wheel: str) -> None:
    """Every file written must have the hash and size its RECORD line gives (one pass: the
    hashes were taken while the files were copied out of the archive)."""
    from installer.records import parse_record_file

    lines = source.read_dist_info("RECORD").splitlines()
    records = {posixpath.normpath(r[0]): r for r in parse_record_file(lines)}
    data_dir = source.data_dir
    for scheme, rel, digest, size, _ in dest.files:
        arc = rel if scheme == dest.root_scheme else f"{data_dir}/{scheme}/{rel}"
        entry = records.get(arc)
        if entry is None or not entry[1]:
            raise _not_matching(wheel, f"{arc} has no hash in RECORD")
        expected = entry[1]
        if not expected.startswith("sha256="):
            algo, _, value = expected.partition("=")
            try:
                h = hashlib.new(algo, (tree / scheme / rel).read_bytes()).digest()
            except ValueError:
                raise _not_matching(wheel, f"{arc}: unknown hash {algo}") from None
            actual = f"{algo}=" + base64.urlsafe_b64encode(h).rstrip(b"=").decode()
        else:
            actual = digest
        if actual != expected or (entry[2] and str(entry[2]) != str(size)):
            raise _not_matching(wheel, f"{arc}: RECORD says {expected}, the file is {actual}")


def background_worker() -> None:
    """The initializer of the unpacking worker processes (``command.py``): they yield the CPU
    to the resolve and its builds (``nice``), since what they make is needed only once the
    resolve is over, when they have the machine to themselves."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)


def unpack_in_worker(wheel: str, sha256: str, cache_root: str, filename: str) -> None:
    """:func:`unpack` with plain arguments, for a worker process (``command.py``)."""
    unpack(Path(wheel), sha256, Cache(cache_root), filename)


def _unpack_into(wheel: Path, tree: Path, name: str) -> dict:
    import zipfile

    from installer import install
    from installer.exceptions import InstallerError
    from installer.sources import WheelFile

    dest = _CacheDestination(tree, name)
    try:
        with zipfile.ZipFile(wheel) as zf:
            zf.filename = name  # installer reads name and version from the file's name
            source = WheelFile(zf)
            try:  # RECORD lists every file with a hash; contents are checked while copying
                source.validate_record(validate_contents=False)
            except ValueError as exc:
                raise _not_matching(name, str(exc)) from None
            # Refuse unsafe names before installer joins anything.
            for entry in source._zipfile.namelist():  # noqa: SLF001 -- the one listing we need
                _safe_relpath(entry, "archive entry", name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                install(source, dest, {})
            _check_contents(source, dest, tree, name)
            dist_info = source.dist_info_dir
    except ConstrainError:
        raise
    except (InstallerError, ValueError, KeyError, OSError) as exc:
        if isinstance(exc, zipfile.BadZipFile):
            raise InstallError(f"{name} is not a valid zip archive",
                               hint="the file is damaged; remove it from the cache") from None
        raise InstallError(f"cannot unpack {name}: {exc}") from None
    return {
        "wheel": name,
        "dist_info": dist_info,
        "root": dest.root_scheme,
        "files": dest.files,
        "entry_points": dest.entry_points,
    }


# ====================================================================== linking into an env

_test_counter = [0]
_test_lock = threading.Lock()


def _test_hook() -> None:
    """``CONSTRAIN_TEST_EXIT_AFTER_FILES=N``: exit abruptly after N files were placed (tests of
    interrupted installs use it instead of timing)."""
    limit = os.environ.get("CONSTRAIN_TEST_EXIT_AFTER_FILES")
    if not limit:
        return
    with _test_lock:
        _test_counter[0] += 1
        if _test_counter[0] >= int(limit):
            os._exit(17)


def _place(src: str | Path, dst: str | Path) -> None:
    """Hard-link ``src`` at ``dst`` (replacing what is there), copying when links fail."""
    try:
        os.link(src, dst)
        return
    except FileExistsError:
        dst = Path(dst)
        tmp = dst.with_name(f".{dst.name}.constrain-tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    except OSError:
        dst = Path(dst)
        tmp = dst.with_name(f".{dst.name}.constrain-tmp")
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)


def _write(dst: Path, data: bytes, executable: bool) -> None:
    tmp = dst.with_name(f".{dst.name}.constrain-tmp")
    tmp.write_bytes(data)
    if executable:
        os.chmod(tmp, 0o755)
    os.replace(tmp, dst)


def _inside(path: str, root: str) -> str:
    """``path`` made absolute and normalised; :class:`UnsafeWheel` unless under ``root``."""
    full = os.path.abspath(path)
    base = os.path.abspath(root)
    if os.path.commonpath([full, base]) != base:
        raise UnsafeWheel(f"refusing to write {full}: outside {base}")
    return full


def _under(base: str, rel: str) -> str:
    """``base/rel`` for a manifest path; :class:`UnsafeWheel` if it would leave ``base``.
    Manifest paths were normalised and checked when the wheel was unpacked, so the plain
    join is the common case; anything else (a cache entry changed since) gets the full
    check."""
    if rel and "\\" not in rel and rel[0] != "/":
        parts = rel.split("/")
        if ".." not in parts and "." not in parts and "" not in parts:
            return base + "/" + rel
    return _inside(os.path.join(base, rel), base)


def _destinations(interp: Interpreter, unpacked: Unpacked, name: str) -> list[str]:
    """The absolute path of each manifest file of ``unpacked`` in the environment."""
    scheme = {k: os.path.abspath(v) for k, v in interp.scheme(name).items()}
    return [_under(scheme[s], p) for s, p, *_ in unpacked.manifest["files"]]


def planned_files(interp: Interpreter, unpacked: Unpacked, name: str,
                  destinations: list[str] | None = None) -> list[str]:
    """Every absolute path installing ``unpacked`` will create (for the journal);
    ``destinations`` is :func:`_destinations` when already known."""
    scheme = interp.scheme(name)
    out = list(destinations if destinations is not None
               else _destinations(interp, unpacked, name))
    scripts = scheme["scripts"]
    out += [_inside(os.path.join(scripts, ep[0]), scripts) for ep in unpacked.manifest["entry_points"]]
    root = scheme[unpacked.manifest["root"]]
    di = unpacked.dist_info
    out += [os.path.join(root, di, n) for n in ("INSTALLER", "REQUESTED", "RECORD")]
    return out


def link(interp: Interpreter, unpacked: Unpacked, name: str, *, requested: bool,
         destinations: list[str] | None = None) -> int:
    """Place the files of ``unpacked`` into the environment; returns how many.
    ``destinations`` is :func:`_destinations` when already known."""
    from installer.scripts import Script
    from installer.utils import fix_shebang

    scheme = interp.scheme(name)
    manifest = unpacked.manifest
    root_scheme = manifest["root"]
    root_dir = scheme[root_scheme]
    records: list[tuple[str, str, str]] = []
    made: set[str] = set()
    if destinations is None:
        destinations = _destinations(interp, unpacked, name)

    def rec_path(s: str, full: str) -> str:
        rel = os.path.relpath(full, root_dir)
        return rel.replace(os.sep, "/")

    tree = str(unpacked.root)
    test_hook = _test_hook if os.environ.get("CONSTRAIN_TEST_EXIT_AFTER_FILES") else None
    for (s, rel, digest, size, executable), dst in zip(manifest["files"], destinations):
        parent = os.path.dirname(dst)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        src = f"{tree}/{s}/{rel}"
        if s == "scripts":
            with open(src, "rb") as fh, fix_shebang(fh, interp.executable) as fixed:
                data = fixed.read()
            _write(Path(dst), data, executable or True)
            records.append((rec_path(s, dst), record_hash(data), str(len(data))))
        else:
            _place(src, dst)
            # a file of the root scheme is recorded by its path in the wheel
            records.append((rel if s == root_scheme else rec_path(s, dst), digest, str(size)))
        if test_hook is not None:
            test_hook()
    scripts_dir = scheme["scripts"]
    for ep_name, module, attr, section in manifest["entry_points"]:
        script_name, data = Script(ep_name, module, attr, section).generate(
            interp.executable, "posix")
        dst = _inside(os.path.join(scripts_dir, script_name), scripts_dir)
        os.makedirs(scripts_dir, exist_ok=True)
        _write(Path(dst), data, True)
        records.append((rec_path("scripts", dst), record_hash(data), str(len(data))))
        _test_hook()
    di = os.path.join(root_dir, unpacked.dist_info)
    extra = {"INSTALLER": b"constrain\n"}
    if requested:
        extra["REQUESTED"] = b""
    for fname, data in extra.items():
        _write(Path(di, fname), data, False)
        records.append((f"{unpacked.dist_info}/{fname}", record_hash(data), str(len(data))))
    records.append((f"{unpacked.dist_info}/RECORD", "", ""))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerows(records)
    _write(Path(di, "RECORD"), buf.getvalue().encode(), False)
    return len(records)


# ====================================================================== journalled replacement


def _txn_dir(interp: Interpreter) -> Path:
    return Path(interp.prefix) / ".constrain" / "txn"


def record_files(interp: Interpreter, dist_info: Path) -> list[str]:
    """The absolute paths a distribution's RECORD lists (only those inside the environment),
    with the ``__pycache__`` files of its modules."""
    prefix = os.path.abspath(interp.prefix)
    base = dist_info.parent
    try:
        text = (dist_info / "RECORD").read_text(encoding="utf-8")
    except OSError:
        raise InstallError(
            f"{dist_info.name} has no RECORD, so its files are unknown",
            hint=f"remove it by hand ({dist_info}) and run the install again",
        ) from None
    out: list[str] = []
    seen: set[str] = set()
    for row in csv.reader(text.splitlines()):
        if not row or not row[0]:
            continue
        full = os.path.abspath(os.path.join(base, row[0]))
        if os.path.commonpath([full, prefix]) != prefix or full in seen:
            continue  # never touch anything outside the environment
        seen.add(full)
        out.append(full)
        if full.endswith(".py"):
            cache_dir = os.path.join(os.path.dirname(full), "__pycache__")
            stem = os.path.basename(full)[:-3] + "."
            with contextlib.suppress(OSError):
                for entry in os.scandir(cache_dir):
                    if entry.name.startswith(stem) and entry.name.endswith(".pyc"):
                        p = entry.path
                        if p not in seen:
                            seen.add(p)
                            out.append(p)
    return out


def _prune(paths, stop: set[str]) -> None:
    """Remove directories left empty by removed files (never the scheme directories)."""
    dirs = sorted({os.path.dirname(p) for p in paths}, key=len, reverse=True)
    for d in dirs:
        while d and d not in stop and len(d) > 1:
            pycache = os.path.join(d, "__pycache__")
            with contextlib.suppress(OSError):
                if os.path.isdir(pycache) and not os.listdir(pycache):
                    os.rmdir(pycache)
            try:
                os.rmdir(d)
            except OSError:
                break
            d = os.path.dirname(d)


def _stops(interp: Interpreter, name: str) -> set[str]:
    s = {os.path.abspath(p) for p in interp.scheme(name).values()}
    s.add(os.path.abspath(interp.prefix))
    return s


def replace(
    interp: Interpreter,
    name: str,
    *,
    old: Path | None,
    new: Unpacked | None,
    requested: bool = False,
) -> None:
    """Remove the distribution whose dist-info is ``old`` (if any) and install ``new`` (if
    any), under a journal so an interruption leaves it wholly old after :func:`recover`."""
    txn = _txn_dir(interp)
    txn.mkdir(parents=True, exist_ok=True)
    journal = txn / f"{name}.json"
    backup = txn / f"{name}.old"
    old_files = record_files(interp, old) if old is not None else []
    destinations = _destinations(interp, new, name) if new is not None else None
    new_files = planned_files(interp, new, name, destinations) if new is not None else []
    if backup.exists():
        shutil.rmtree(backup)
    # Made durable (fsync) only when old files are about to be moved aside: then a journal lost
    # to a power cut would strand them. With nothing old, a journal still covers any
    # interruption of this process, and committing is just removing it.
    _write_json(journal, {"state": "started", "old": old_files, "new": new_files,
                          "backup": str(backup)}, durable=bool(old_files))
    if old_files:
        backup.mkdir()
        for i, path in enumerate(old_files):
            with contextlib.suppress(FileNotFoundError):
                os.rename(path, backup / str(i))
    if new is not None:
        link(interp, new, name, requested=requested, destinations=destinations)
    if old_files:
        _write_json(journal, {"state": "committed", "old": old_files, "new": new_files,
                              "backup": str(backup)})
    _finish(interp, name, journal, backup, old_files, new_files)


def _finish(interp, name, journal: Path, backup: Path, old_files, new_files) -> None:
    shutil.rmtree(backup, ignore_errors=True)
    gone = set(old_files) - set(new_files)
    _prune(gone, _stops(interp, name))
    journal.unlink(missing_ok=True)


def _write_json(path: Path, data: dict, *, durable: bool = True) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def recover(interp: Interpreter) -> list[str]:
    """Finish or roll back every distribution an earlier, interrupted install left half-done;
    returns their names. Committed ones are completed; started ones get their old files back
    (new ones removed), so each is wholly old again and the plan sees it as such."""
    txn = _txn_dir(interp)
    if not txn.is_dir():
        return []
    done: list[str] = []
    for journal in sorted(txn.glob("*.json")):
        name = journal.name[:-5]
        try:
            data = json.loads(journal.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            journal.unlink(missing_ok=True)
            continue
        backup = Path(data["backup"])
        old_files, new_files = data["old"], data["new"]
        prefix = os.path.abspath(interp.prefix)
        if data["state"] != "committed":
            for path in new_files:
                if os.path.commonpath([os.path.abspath(path), prefix]) == prefix:
                    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                        os.unlink(path)
            for i, path in enumerate(old_files):
                src = backup / str(i)
                if src.exists():
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    os.replace(src, path)
            _prune(set(new_files) - set(old_files), _stops(interp, name))
            shutil.rmtree(backup, ignore_errors=True)
            journal.unlink(missing_ok=True)
        else:
            _finish(interp, name, journal, backup, old_files, new_files)
        done.append(name)
    for tmp in txn.glob("*.tmp"):
        tmp.unlink(missing_ok=True)
    return done
