"""Find-links locations: every distribution file a directory, a file or an HTML page offers;
of a wheelhouse, only the files its manifest lists (:func:`only_vetted`); and what names a
local location's state for remembered resolutions (:func:`location_stamp`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from ...errors import redact_url
from ...models import DistFile
from ..transport.client import file_url_to_path
from .pagecache import NOT_HERE, PageCache
from .parse import dist_file, parse_find_links_page


def find_links_files(location: str, pages: PageCache, warn: Callable[[str], None]
                     ) -> list[DistFile]:
    """Every distribution file at one find-links ``location`` (of any project): a local
    directory's files, one local file, or the links of a local or remote page (remote pages
    through ``pages``). A location that does not exist is warned about and gives nothing."""
    shown = redact_url(location)
    if location.startswith("file:"):
        path = file_url_to_path(location)
        if path.is_dir():
            return [
                f
                for child in sorted(path.iterdir())
                if child.is_file()
                and (f := dist_file(child.name, child.as_uri(), index=location)) is not None
            ]
        if path.is_file() and path.suffix.lower() not in (".html", ".htm"):
            f = dist_file(path.name, location, index=location)
            return [f] if f is not None else []
        if not path.exists():
            warn(f"find-links location {shown} does not exist; skipped")
            return []
        page = pages.read_local(location)
    else:
        page = pages.get(location, f"the find-links page {shown}")
    if page.status in NOT_HERE:
        warn(f"find-links location {shown} does not exist (HTTP {page.status}); skipped")
        return []
    return parse_find_links_page(page.body, page.content_type, page.url, location)


def only_vetted(files: list[DistFile], listed: Mapping[str, tuple[str, str | None]],
                location: str, warn: Callable[[str], None]) -> list[DistFile]:
    """The ``files`` of a wheelhouse at ``location`` that its manifest lists (``listed``:
    file name -> sha256 and upload time), each carrying that sha256 so it is checked when
    used, and the upload time the index gave (so ``--exclude-newer`` applies as it did to the
    download); the others (left by an earlier download, or copied in) are warned about and
    never used."""
    kept, strays = [], []
    for f in files:
        entry = listed.get(f.filename)
        if entry is None:
            strays.append(f.filename)
            continue
        digest, uploaded = entry
        if not f.sha256:
            f = replace(f, hashes=(*f.hashes, ("sha256", digest)))
        if f.upload_time is None and uploaded:
            with contextlib.suppress(ValueError):  # a time it cannot read: none, as before
                f = replace(f, upload_time=datetime.fromisoformat(uploaded))
        kept.append(f)
    if strays:
        shown = ", ".join(sorted(strays)[:5]) + (
            f" and {len(strays) - 5} more" if len(strays) > 5 else "")
        warn(f"{redact_url(location)} holds files its manifest.json does not list (not "
             f"vetted), which are not used: {shown}")
    return kept


def location_stamp(path) -> list | None:
    """What names the state of a local find-links location (a directory or one file): its
    mtime, and for a directory each file's name, size and mtime in a digest. A file replaced
    under the same name leaves the directory's mtime as it was; a remembered resolution must
    not outlive it. ``None`` when it cannot be read."""
    import hashlib
    import os

    try:
        top = os.stat(path)
        if not os.path.isdir(path):
            return [top.st_mtime_ns, top.st_size]
        h = hashlib.sha256()
        with os.scandir(path) as entries:
            for e in sorted(entries, key=lambda e: e.name):
                st = e.stat(follow_symlinks=True)
                h.update(f"{e.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    except OSError:
        return None
    return [top.st_mtime_ns, h.hexdigest()[:32]]
