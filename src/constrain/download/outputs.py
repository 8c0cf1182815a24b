"""What a download writes into the wheelhouse besides the files: per-target outputs, ``sources/``, manifest entries.

Each output is rewritten only when its text changed, atomically, so a rerun with nothing new
touches nothing and an interrupted run leaves no half-written file.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from ..errors import ConstrainError
from ..models import DistFile, InstallSet, Pin
from ..output import render, write_atomic
from ..output.header import format_utc
from ..output.urls import strip_userinfo
from ..reporting import Reporter
from .manifest import MANIFEST_NAME, FileEntry, Manifest, SourceEntry, TargetEntry, read_manifest
from .reviewdata import reconstructed_sources

SOURCES_DIR = "sources"


def file_entry(f: DistFile, pin: Pin, sha256: str, size: int, targets: list[str],
               vetted: frozenset[str]) -> FileEntry:
    """The manifest entry of ``f``, the file ``pin`` installs, for ``targets``."""
    return FileEntry(
        filename=f.filename,
        name=pin.display_name or pin.metadata.name,
        project=str(pin.name),
        version=str(f.version),
        kind=f.kind,
        sha256=sha256,
        size=size,
        upload_time=format_utc(f.upload_time) if f.upload_time else None,
        url=strip_userinfo(f.url),
        license=pin.metadata.license,
        requires_python=f.requires_python,
        yanked=f.yanked,
        targets=tuple(targets),
        needs_build=not f.is_wheel,
        vetted=sha256.lower() in vetted,
    )


def write_target_outputs(dest: Path, entry: TargetEntry, install_set: InstallSet) -> list[str]:
    """Write one target's constraints file, requirements with hashes and pylock file into
    ``dest`` (each only when its text changed); the names written."""
    written = []
    note = [f"install offline: pip install --no-index --find-links . "
            f"-c {entry.constraints} REQUIREMENT"]
    for name, fmt in ((entry.constraints, "constraints"),
                      (entry.requirements, "requirements"),
                      (entry.pylock, "pylock")):
        text = render(install_set, fmt, notes=note if fmt != "pylock" else ())
        if write_if_changed(dest / name, text):
            written.append(name)
    return written


def source_name(origin: str, taken: set[str]) -> str:
    """A file name under ``sources/`` for ``origin`` not in ``taken`` (then taken)."""
    path = urlsplit(origin).path if "://" in origin else origin
    base = re.sub(r"[^A-Za-z0-9._-]", "_", PurePosixPath(path.replace(os.sep, "/")).name
                  or "constraints.txt")
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{n}-{base}"
    taken.add(name)
    return name


def write_sources(dest: Path, sets: Mapping[str, InstallSet], fetched: Mapping[str, str],
                  written: list[str]) -> tuple[SourceEntry, ...]:
    """Copy every constraint file the resolves used (``sets``: target id -> install set; the
    texts as read, by location, in ``fetched``) into ``sources/``, and the reconstructed
    Airflow constraints: the far side then has them byte for byte. Names written are
    appended to ``written``."""
    used = list(dict.fromkeys(o.source for s in sets.values() for _r, o in s.constraints))
    taken: set[str] = set()
    out = []
    for origin in used:
        text = fetched.get(origin)
        if text is None:
            continue
        name = source_name(origin, taken)
        rel = f"{SOURCES_DIR}/{name}"
        (dest / SOURCES_DIR).mkdir(parents=True, exist_ok=True)
        if write_if_changed(dest / rel, text):
            written.append(rel)
        shown = strip_userinfo(origin) if "://" in origin else origin
        users = tuple(tid for tid, s in sets.items()
                      if any(o.source == origin for _r, o in s.constraints))
        out.append(SourceEntry(origin=shown, path=rel,
                               sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                               targets=users))
    for tid, origin, basis, name, text in reconstructed_sources(sets):
        rel = f"{SOURCES_DIR}/{source_name(name, taken)}"
        (dest / SOURCES_DIR).mkdir(parents=True, exist_ok=True)
        if write_if_changed(dest / rel, text):
            written.append(rel)
        out.append(SourceEntry(origin=origin, path=rel, kind="reconstructed", basis=basis,
                               sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                               targets=(tid,)))
    return tuple(out)


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` atomically unless it is there already; whether it wrote."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    write_atomic(path, text)
    return True


def previous_manifest(dest: Path, reporter: Reporter) -> Manifest | None:
    """The wheelhouse's manifest as a previous run left it; ``None`` (with a warning when it
    cannot be read) when there is none."""
    if not (dest / MANIFEST_NAME).is_file():
        return None
    try:
        return read_manifest(dest)
    except ConstrainError as exc:
        reporter.warning(f"ignoring the existing {dest / MANIFEST_NAME}: {exc.message}")
        return None


def stale_files(dest: Path, needed: set[str]) -> list[str]:
    """Distribution files in the wheelhouse that this run does not list."""
    out = []
    for p in dest.iterdir():
        if p.is_file() and p.name not in needed and p.name.endswith((".whl", ".tar.gz", ".zip")):
            out.append(p.name)
    return sorted(out)
