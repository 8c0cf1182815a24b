"""Write a PEP 503 static index tree over a wheelhouse, so any static web server can serve it.

Layout, under ``<wheelhouse>/simple/``: ``index.html`` lists every project; ``<project>/index.html``
links each of its files as ``../../<filename>#sha256=<digest>`` (the files stay where they are,
in the wheelhouse root) with ``data-requires-python`` when known and ``data-yanked`` (PEP 592,
which mirrors must keep: a yanked file is then only taken when pinned exactly, as on the index it
came from). Each wheel's core metadata is written beside it as ``<filename>.metadata`` and
announced with ``data-core-metadata`` / ``data-dist-info-metadata`` (PEP 658/714), so a
resolver reading the mirror fetches a few KiB per candidate instead of whole wheels. Serve the
wheelhouse directory and point pip at ``<url>/simple/``. Pages and metadata files are only
rewritten when their content changes.
"""

from __future__ import annotations

import hashlib
import html
import shutil
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from ..output.write import write_atomic
from .manifest import FileEntry

SIMPLE_DIR = "simple"


def _page(title: str, links: Iterable[str]) -> str:
    body = "\n".join(links)
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.0">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"{body}\n  </body>\n</html>\n"
    )


def _link(entry: FileEntry, metadata_sha256: str | None = None) -> str:
    href = f"../../{quote(entry.filename)}#sha256={entry.sha256}"
    attrs = f'href="{html.escape(href)}"'
    if metadata_sha256 is not None:
        attrs += (f' data-core-metadata="sha256={metadata_sha256}"'
                  f' data-dist-info-metadata="sha256={metadata_sha256}"')
    if entry.requires_python:
        attrs += f' data-requires-python="{html.escape(entry.requires_python)}"'
    if entry.yanked is not None:
        attrs += f' data-yanked="{html.escape(entry.yanked)}"'
    return f"    <a {attrs}>{html.escape(entry.filename)}</a><br/>"


def _write_if_changed(path: Path, text: str) -> bool:
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return True


def write_simple_index(root: Path, files: Iterable[FileEntry]) -> list[Path]:
    """Write (or bring up to date) ``root/simple/`` for ``files``; returns the pages that
    changed. Project directories no longer needed are removed."""
    by_project: dict[str, list[FileEntry]] = {}
    for entry in files:
        by_project.setdefault(entry.project, []).append(entry)
    simple = Path(root) / SIMPLE_DIR
    changed: list[Path] = []
    root_links = [
        f'    <a href="{quote(name)}/">{html.escape(name)}</a><br/>' for name in sorted(by_project)
    ]
    if _write_if_changed(simple / "index.html", _page("Simple index", root_links)):
        changed.append(simple / "index.html")
    for name, entries in sorted(by_project.items()):
        links = []
        for e in sorted(entries, key=lambda e: e.filename):
            links.append(_link(e, _metadata_file(Path(root), e, changed)))
        page = _page(f"Links for {name}", links)
        path = simple / name / "index.html"
        if _write_if_changed(path, page):
            changed.append(path)
    for child in simple.iterdir():
        if child.is_dir() and child.name not in by_project:
            shutil.rmtree(child, ignore_errors=True)
    return changed


def _metadata_file(root: Path, entry: FileEntry, changed: list[Path]) -> str | None:
    """Write ``root/<wheel>.metadata`` (the wheel's METADATA, byte for byte) when it differs;
    its sha256, or ``None`` for an sdist or a wheel whose METADATA cannot be read (the page
    then announces none, and tools read the wheel itself)."""
    if entry.kind != "wheel":
        return None
    from ..errors import MetadataError
    from ..index.metadata.wheel import wheel_metadata_from_zip

    try:
        data = wheel_metadata_from_zip(root / entry.filename, entry.project, entry.filename)
        text = data.decode("utf-8")  # core metadata is UTF-8; it is written back byte for byte
    except (MetadataError, UnicodeDecodeError):
        return None
    path = root / f"{entry.filename}.metadata"
    try:
        same = path.read_bytes() == data
    except OSError:
        same = False
    if not same:
        write_atomic(path, text)
        changed.append(path)
    return hashlib.sha256(data).hexdigest()
