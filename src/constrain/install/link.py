"""Unpacked trees into an environment: hard-link the files, write scripts, INSTALLER and RECORD.

Linking is the only step that writes into the environment's site and script directories (the
journal in ``journal.py`` moves old files aside around it). Paths are checked on the way in: no
file of a wheel may land outside its scheme directory, nor on one of the environment's own files
(the interpreter launchers ``bin/python*``, the ``activate`` scripts, ``pyvenv.cfg``,
constrain's ``.constrain/`` state, another distribution's ``.dist-info``) -- see
:func:`environment_file`.

Over 400 lines: the checks of every path an install writes sit beside the writes they guard.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
from pathlib import Path

from ..cache.store import Cache
from ..errors import ConstrainError
from . import shared
from .unpack import Unpacked, UnsafeWheel, record_hash, reserved_script
from .venv import Interpreter

def _layout(interp: Interpreter) -> tuple[str, str, frozenset[str], str, tuple[str, ...]]:
    """``(prefix, scripts directory, layout directories, constrain's state directory, site
    directories each with a trailing separator)`` of ``interp``, absolute (computed once per
    interpreter: :func:`environment_file` runs for every file of an install)."""
    key = (interp.prefix, interp.base_prefix, tuple(sorted(interp.paths.items())))
    found = _LAYOUTS.get(key)
    if found is None:
        prefix = os.path.abspath(interp.prefix)
        dirs = frozenset({prefix, *(os.path.abspath(p) for p in interp.paths.values())})
        found = _LAYOUTS[key] = (prefix, os.path.abspath(interp.paths["scripts"]), dirs,
                                 os.path.abspath(interp.state_dir),
                                 tuple(os.path.join(os.path.abspath(p), "")
                                       for p in interp.site_dirs))
    return found


_LAYOUTS: dict[tuple, tuple[str, str, frozenset[str], str, tuple[str, ...]]] = {}


def environment_file(interp: Interpreter, path: str,
                     own_dist_info: str | None = None, *, normalized: bool = False
                     ) -> str | None:
    """Why the absolute ``path`` belongs to the environment itself (and no distribution may
    write or remove it), or ``None``: the interpreter launchers and activation scripts, its
    ``pyvenv.cfg``, constrain's ``.constrain/`` state, a directory of its layout, and files of
    a ``.dist-info`` directory of a site directory other than ``own_dist_info`` (a name; one
    deeper, such as ``setuptools/_vendor/packaging-24.2.dist-info``, is a package's own data).
    ``normalized``: the caller made ``path`` absolute and normalised already (it runs once
    per file)."""
    prefix, scripts, dirs, state, sites = _layout(interp)
    full = path if normalized else os.path.abspath(path)
    if full in dirs:
        return "a directory of the environment's layout"
    if full == state or full.startswith(state + os.sep):
        return "constrain's state for the environment"
    for site in sites:
        if full.startswith(site):
            top, inside, _rest = full[len(site):].partition(os.sep)
            if inside and top.endswith(".dist-info") and top != own_dist_info:
                return f"a file of another distribution's metadata ({top})"
    if full.startswith(scripts) and full[len(scripts):len(scripts) + 1] == os.sep:
        parent, base = os.path.split(full)
        if parent == scripts and reserved_script(base):
            return "one of the environment's own launchers or activation scripts"
    if not full.startswith(prefix + os.sep):
        return None
    rel = full[len(prefix) + 1:]
    if rel == "pyvenv.cfg":
        return "the environment's configuration"
    return None


def _place(src: str | Path, dst: str | Path) -> None:
    """Hard-link ``src`` at ``dst`` (replacing what is there), copying when links fail; a
    failed copy (a full disk) leaves no temporary file behind."""
    try:
        os.link(src, dst)
        return
    except FileExistsError:
        linked = True
    except OSError:
        linked = False
    import shutil  # copies are the rare case (shutil brings bz2 and lzma)

    dst = Path(dst)
    tmp = temporary_of(dst)
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        if linked:
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copy2(src, tmp)
        else:
            shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _make_dir(path: str) -> None:
    """``os.makedirs(path, exist_ok=True)`` in one ``mkdir`` when the parent exists (the usual
    case while linking: a tree's directories come parent first)."""
    try:
        os.mkdir(path)
    except FileExistsError:
        if not os.path.isdir(path):
            raise
    except FileNotFoundError:
        os.makedirs(path, exist_ok=True)


def temporary_of(dst: str | Path) -> Path:
    """Where a file is written before it is renamed to ``dst``: an interrupted install may
    leave it behind, and a rollback removes it with ``dst``."""
    dst = Path(dst)
    return dst.with_name(f".{dst.name}.constrain-tmp")


def _write(dst: Path, data: bytes, executable: bool) -> None:
    tmp = os.fspath(temporary_of(dst))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                     0o777 if executable else 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        if executable:
            os.chmod(tmp, 0o755)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _create(dst: str, data: bytes, executable: bool) -> None:
    """Write a file the journal lists as new straight to ``dst``: nothing is there (the
    journal moved any old file aside first), and a rollback removes a partial one, so no
    temporary and rename are needed. Should a file have appeared there meanwhile, it is
    replaced atomically (:func:`_write`)."""
    try:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                     0o777 if executable else 0o666)
    except FileExistsError:
        _write(Path(dst), data, executable)
        return
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if executable:
                os.fchmod(fd, 0o755)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(dst)
        raise


def _inside(path: str, root: str) -> str:
    """``path`` made absolute and normalised; :class:`UnsafeWheel` unless under ``root``."""
    full = os.path.abspath(path)
    base = os.path.abspath(root)
    if os.path.commonpath([full, base]) != base:
        raise UnsafeWheel(f"refusing to write {full}: outside {base}")
    return full


def _child(base: str, *names: str) -> str:
    """:func:`_inside` of ``base`` joined with ``names``, for an absolute, normalised ``base``:
    the plain join when each name is one plain component (a script name or a ``.dist-info``
    file: the usual case, a few per distribution), else the full check."""
    for n in names:
        if "/" in n or "\\" in n or n in ("", ".", ".."):
            return _inside(os.path.join(base, *names), base)
    return "/".join((base, *names))


def _destinations(interp: Interpreter, unpacked: Unpacked, name: str) -> list[str]:
    """The absolute path of each manifest file of ``unpacked`` in the environment;
    :class:`UnsafeWheel` if one would leave its scheme directory. Manifest paths were
    normalised and checked when the wheel was unpacked, so the plain join is the common case;
    anything else (a cache entry changed since) gets the full check (:func:`_inside`)."""
    scheme = {k: os.path.abspath(v) for k, v in interp.scheme(name).items()}
    files = unpacked.manifest["files"]
    # All paths checked at once: none holds a "\\" or a part "", "." or ".." (each shows as
    # below once "/" is put around it; "/\n/" between them makes none across two)
    joined = "/" + "/\n/".join([f[1] for f in files]) + "/"
    if not ("\\" in joined or "//" in joined or "/./" in joined or "/../" in joined):
        return [f"{scheme[f[0]]}/{f[1]}" for f in files]
    out = []
    for s, p, *_ in files:
        base = scheme[s]
        # a part "", "." or ".." shows as "//", "/./" or "/../" once "/" is put around p
        w = "/" + p + "/"
        if "\\" in p or "//" in w or "/./" in w or "/../" in w:
            out.append(_inside(os.path.join(base, p), base))
        else:
            out.append(base + w[:-1])
    return out


def planned_files(interp: Interpreter, unpacked: Unpacked, name: str,
                  destinations: list[str] | None = None) -> list[str]:
    """Every absolute, normalised path installing ``unpacked`` will create (for the
    journal); ``destinations`` is :func:`_destinations` when already known."""
    scheme = interp.scheme(name)
    out = list(destinations if destinations is not None
               else _destinations(interp, unpacked, name))
    scripts = os.path.abspath(scheme["scripts"])
    out += [_child(scripts, ep[0]) for ep in entry_points(interp, unpacked.manifest)]
    root = os.path.abspath(scheme[unpacked.manifest["root"]])
    di = unpacked.dist_info
    out += [_child(root, di, n) for n in ("INSTALLER", "REQUESTED", "RECORD")]
    return out


def refuse_environment_files(interp: Interpreter, unpacked: Unpacked,
                             planned: list[str]) -> None:
    """:class:`UnsafeWheel` when installing ``unpacked`` would write one of the environment's
    own files (:func:`environment_file`), e.g. an entry point named ``python`` or a
    ``.data/data/pyvenv.cfg``; checked before anything of the environment changes."""
    own = unpacked.dist_info
    prefix, scripts, dirs, state, sites = _layout(interp)
    under_prefix, under_scripts = prefix + os.sep, scripts + os.sep
    own_state, config = state + os.sep, os.path.join(prefix, "pyvenv.cfg")
    # A file directly in the distribution's own .dist-info directory (METADATA, RECORD...)
    # meets none of environment_file's cases when no other part of its path names one.
    root = interp.paths.get(unpacked.manifest["root"]) if unpacked.manifest["root"] in (
        "purelib", "platlib") else None
    plain = os.sep not in own and "\\" not in own and own not in ("", ".", "..")
    mine = (os.path.join(os.path.abspath(root), own, "")
            if root and plain and ".dist-info" not in os.path.abspath(root) else None)
    special = (under_scripts, own_state)
    # Only a path passing this cheap test can be one (see environment_file's cases): most of
    # a wheel's files are under the prefix with no ".dist-info" in their path. (planned_files'
    # paths are absolute and normalised.)
    for path in [p for p in planned if ".dist-info" in p or p in dirs or p == config
                 or p.startswith(special)]:
        if not path.startswith((under_prefix, *special, *sites)) and path not in dirs:
            continue
        if (mine is not None and path.startswith(mine) and os.sep not in path[len(mine):]
                and path not in dirs and path != config and not path.startswith(special)):
            continue
        why = environment_file(interp, path, own, normalized=True)
        if why is not None:
            raise UnsafeWheel(
                f"{unpacked.manifest['wheel']} would overwrite {path}, {why}",
                hint="the wheel is malformed or malicious; it was not installed")


def entry_points(interp: Interpreter, manifest: dict) -> list:
    """The scripts installing the tree of ``manifest`` makes in ``interp``: its entry points,
    and for pip's ``pip`` also ``pip<X>.<Y>`` of that interpreter, as pip's own installer and
    ``python -m venv`` make it (pip's wheel lists only ``pip`` and ``pip3``: an upgrade of pip
    would otherwise remove the ``pip3.11`` the old RECORD names)."""
    eps = manifest["entry_points"]
    pip = next((ep for ep in eps if ep[0] == "pip" and ep[3] == "console"), None)
    if pip is None or not manifest["dist_info"].lower().startswith("pip-"):
        return eps
    versioned = f"pip{interp.version[0]}.{interp.version[1]}"
    return eps if any(ep[0] == versioned for ep in eps) else [*eps, [versioned, *pip[1:]]]


#: Bump when what a launchers entry holds (:func:`launchers`) changes.
_LAUNCHERS_FORMAT = "1"


def launchers(interp: Interpreter, unpacked: Unpacked, cache: Cache | None = None
              ) -> tuple[list[tuple[str, bytes]], dict[str, bytes | None]]:
    """What ``installer`` writes for the scripts of ``unpacked`` in ``interp``'s environment:
    each entry point's launcher as ``(file name, bytes)``, in the manifest's order, and for
    each ``.data/scripts`` file (by its path in the manifest) its bytes with installer's
    shebang fix, or ``None`` when installer leaves it as it is (no ``#!python`` line).

    Both depend only on the tree, the interpreter's path and installer's version, so they
    are made by installer once and kept in ``cache`` (``misc``, keyed by the three: a later
    installer may write them otherwise, see :func:`installer_version`): a warm install into
    a new environment at a path seen before imports neither installer nor the ``email``
    package installer brings (most of the imports an install of cached wheels paid for). An
    entry that does not match the manifest is made again."""
    manifest = unpacked.manifest
    names = [ep[0] for ep in entry_points(interp, manifest)]
    data_scripts = [rel for s, rel, *_ in manifest["files"] if s == "scripts"]
    key = _launchers_key(interp, unpacked)
    raw = cache.get("misc", key) if cache is not None else None
    if raw is not None:
        try:
            data = json.loads(raw)
            eps = [(str(n), str(text).encode("latin-1")) for n, text in data["entry_points"]]
            fixed = {str(rel): None if text is None else str(text).encode("latin-1")
                     for rel, text in data["scripts"].items()}
            if [n for n, _ in eps] == names and sorted(fixed) == sorted(data_scripts):
                return eps, fixed
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeError):
            pass
    eps, fixed = _made_by_installer(interp, unpacked, data_scripts)
    if cache is not None:
        text = json.dumps({
            "entry_points": [[n, d.decode("latin-1")] for n, d in eps],
            "scripts": {rel: None if d is None else d.decode("latin-1")
                        for rel, d in fixed.items()}})
        with contextlib.suppress(ConstrainError, OSError):  # a cache that cannot keep it
            cache.put("misc", key, text.encode())
    return eps, fixed


def _launchers_key(interp: Interpreter, unpacked: Unpacked) -> str:
    return "launchers-" + hashlib.sha256("\0".join(
        (_LAUNCHERS_FORMAT, installer_version(), unpacked.root.name, interp.executable)
    ).encode()).hexdigest()


def installer_version() -> str:
    """The version of the ``installer`` this process would use, which makes the launchers:
    its ``__version__`` when it is imported, else read from its ``__init__.py`` on
    ``sys.path`` without importing it (its import, and the ``email`` package it brings, is
    what keeping the launchers saves); ``""`` when it is not found."""
    imported = sys.modules.get("installer")
    if imported is not None:
        return str(getattr(imported, "__version__", ""))
    global _INSTALLER_ON_DISK
    if _INSTALLER_ON_DISK is None:
        _INSTALLER_ON_DISK = ""
        for entry in sys.path:
            try:
                with open(os.path.join(entry or os.curdir, "installer", "__init__.py"),
                          "rb") as fh:
                    text = fh.read(8192)
            except OSError:
                continue
            found = re.search(rb"""^__version__\s*=\s*["']([^"']+)["']""", text, re.MULTILINE)
            _INSTALLER_ON_DISK = found[1].decode("ascii", "replace") if found else "unknown"
            break
    return _INSTALLER_ON_DISK


_INSTALLER_ON_DISK: str | None = None


def forget_launchers(interp: Interpreter, unpacked: Unpacked, cache: Cache) -> None:
    """Drop the kept scripts of ``unpacked`` for ``interp`` (``--verify`` trusts nothing the
    cache derived: the next link makes them with installer again, and keeps them anew)."""
    with contextlib.suppress(OSError):
        os.unlink(cache.path("misc", _launchers_key(interp, unpacked)))


def _made_by_installer(interp: Interpreter, unpacked: Unpacked, data_scripts: list[str]
                       ) -> tuple[list[tuple[str, bytes]], dict[str, bytes | None]]:
    from installer.scripts import Script
    from installer.utils import fix_shebang

    eps = [Script(ep_name, module, attr, section).generate(interp.executable, "posix")
           for ep_name, module, attr, section in entry_points(interp, unpacked.manifest)]
    fixed: dict[str, bytes | None] = {}
    for rel in data_scripts:
        with open(f"{unpacked.root}/scripts/{rel}", "rb") as fh, \
                fix_shebang(fh, interp.executable) as out:
            data = out.read()
            fh.seek(0)
            fixed[rel] = None if data == fh.read() else data
    return eps, fixed


def _record_line(path: str, digest: str, size: int | str) -> str:
    """One line of RECORD as ``csv.writer`` (``lineterminator="\\n"``) writes it: the fields
    joined by commas, unless one holds a comma, a quote or a newline, which csv quotes (a
    line per file, thousands an install: the plain join is 3x cheaper than the writer)."""
    line = f"{path},{digest},{size}\n"
    if line.count(",") == 2 and '"' not in line and line.count("\n") == 1:
        return line
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow((path, digest, size))
    return buf.getvalue()


def link(interp: Interpreter, unpacked: Unpacked, name: str, *, requested: bool,
         destinations: list[str] | None = None, existing_dirs=(),
         cache: Cache | None = None) -> int:
    """Place the files of ``unpacked`` into the environment; returns how many.
    ``destinations`` is :func:`_destinations` when already known; ``existing_dirs`` are
    directories known to be there (not made again); ``cache`` keeps the scripts installer
    makes for this interpreter (:func:`launchers`)."""
    scheme = interp.scheme(name)
    manifest = unpacked.manifest
    root_scheme = manifest["root"]
    root_dir = scheme[root_scheme]
    records: list[tuple[str, str, int | str]] = []  # RECORD's rows: path, hash, size
    made: set[str] = set(existing_dirs)
    if destinations is None:
        destinations = _destinations(interp, unpacked, name)

    def rec_path(s: str, full: str) -> str:
        rel = os.path.relpath(full, root_dir)
        return rel.replace(os.sep, "/")

    tree = str(unpacked.root)
    eps: list[tuple[str, bytes]] = []
    fixed: dict[str, bytes | None] = {}
    if entry_points(interp, manifest) or any(f[0] == "scripts" for f in manifest["files"]):
        eps, fixed = launchers(interp, unpacked, cache)
    for (s, rel, digest, size, _x), dst in zip(manifest["files"], destinations, strict=True):
        parent = dst[: dst.rfind("/")]  # destinations are absolute and normalised
        if parent not in made:
            _make_dir(parent)
            made.add(parent)
        src = f"{tree}/{s}/{rel}"
        if s == "scripts":
            data = fixed.get(rel)
            if data is None:  # installer leaves it as it is
                with open(src, "rb") as fh:
                    data = fh.read()
            _create(dst, data, True)
            records.append((rec_path(s, dst), record_hash(data), len(data)))
        else:
            try:
                os.link(src, dst)  # the usual case: nothing there yet (see _place)
            except OSError:
                _place(src, dst)
            # a file of the root scheme is recorded by its path in the wheel
            records.append((rel if s == root_scheme else rec_path(s, dst), digest, size))
    scripts_dir = scheme["scripts"]
    for script_name, data in eps:
        dst = _child(os.path.abspath(scripts_dir), script_name)
        if scripts_dir not in made:
            os.makedirs(scripts_dir, exist_ok=True)
            made.add(scripts_dir)
        _create(dst, data, True)
        records.append((rec_path("scripts", dst), record_hash(data), len(data)))
    di = os.path.join(root_dir, unpacked.dist_info)
    extra = {"INSTALLER": b"constrain\n"}
    if requested:
        extra["REQUESTED"] = b""
    for fname, data in extra.items():
        dst = os.path.join(di, fname)
        if cache is None or not shared.place(cache, fname, data, dst):  # the cache's copy
            _create(dst, data, False)
        records.append((f"{unpacked.dist_info}/{fname}", record_hash(data), len(data)))
    records.append((f"{unpacked.dist_info}/RECORD", "", ""))
    _create(os.path.join(di, "RECORD"), _record_text(records).encode(), False)
    return len(records)


def _record_text(rows: list[tuple[str, str, int | str]]) -> str:
    """RECORD's text, each row as :func:`_record_line` writes it: the rows joined plainly and
    checked once (every line has two commas and one newline of its own, so the totals say
    whether any field holds a comma, a quote or a newline), else row by row."""
    text = "".join([f"{p},{d},{z}\n" for p, d, z in rows])
    if text.count(",") == 2 * len(rows) and '"' not in text and text.count("\n") == len(rows):
        return text
    return "".join([_record_line(p, d, z) for p, d, z in rows])


