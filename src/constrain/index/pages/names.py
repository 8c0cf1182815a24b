"""Did you mean: project names close to one no location has, from the indexes' root listings."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

from packaging.utils import NormalizedName, canonicalize_name

from ...cache.keys import url_key
from ..transport.client import file_url_to_path
from .pagecache import PageCache
from .parse import ACCEPT, parse_root_index

ROOT_NAMES_TTL = 24 * 3600.0  # the root listing only feeds "did you mean": a day is fresh enough


def close_names(project: NormalizedName, names: Iterable[str]) -> tuple[str, ...]:
    """Up to three of ``names`` close to ``project`` (not ``project`` itself)."""
    import difflib  # here: only a project no index has needs it

    spread = max(2, len(project) // 3)
    near = [n for n in set(names) if n != project and abs(len(n) - len(project)) <= spread]
    # 0.75: a slip of a letter or two ('reqeusts' -> 'requests' is 0.875); at difflib's 0.6 a
    # shared tail is enough ('nosuchpkg-xyz-123' -> 'cc-package-xyz-123')
    return tuple(difflib.get_close_matches(project, near, n=3, cutoff=0.75))


def root_names(index: str, pages: PageCache) -> list[str]:
    """Canonical project names on ``index``'s root listing, cached for a day (the cache's
    ``misc`` bucket); under ``--offline`` a cached listing of any age, else none."""
    if index.startswith("file:"):
        root = file_url_to_path(index)
        return [canonicalize_name(p.name) for p in root.iterdir() if p.is_dir()]
    key = url_key(index.rstrip("/") + "/", "project-names")
    if pages.cache is not None:
        age = pages.cache.age("misc", key)
        data = pages.cache.get("misc", key)
        if data is not None and age is not None and (pages.offline or age < ROOT_NAMES_TTL):
            return json.loads(data)
    if pages.offline:
        return []
    response = pages.client.get(index.rstrip("/") + "/", {"Accept": ACCEPT})
    if not response.ok:
        return []
    ctype = response.headers.get("content-type", "")
    names: list[str] = sorted(
        {canonicalize_name(n) for n in parse_root_index(response.content, ctype)})
    listing = json.dumps(names).encode()
    pages.write(lambda c: c.put("misc", key, listing, {"fetched": time.time()}))
    return names
