"""Write a PEP 503 static index tree over a wheelhouse, so any static web server can serve it.

Layout, under ``<wheelhouse>/simple/``: ``index.html`` lists every project; ``<project>/index.html``
links each of its files as ``../../<filename>#sha256=<digest>`` (the files stay where they are,
in the wheelhouse root) with ``data-requires-python`` when known and ``data-yanked`` (PEP 592,
which mirrors must keep: a yanked file is then only taken when pinned exactly, as on the index it
came from). Serve the wheelhouse directory and point pip at ``<url>/simple/``. Pages are only
rewritten when their content changes.
"""

from __future__ import annotations

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


def _link(entry: FileEntry) -> str:
    href = f"../../{quote(entry.filename)}#sha256={entry.sha256}"
    attrs = f'href="{html.escape(href)}"'
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
        page = _page(
            f"Links for {name}", [_link(e) for e in sorted(entries, key=lambda e: e.filename)]
        )
        path = simple / name / "index.html"
        if _write_if_changed(path, page):
            changed.append(path)
    for child in simple.iterdir():
        if child.is_dir() and child.name not in by_project:
            shutil.rmtree(child, ignore_errors=True)
    return changed
