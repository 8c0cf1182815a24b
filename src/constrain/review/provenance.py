"""PEP 740 provenance of a wheelhouse's files: which ones the index serves attestations for.

An index that has them says so on its PEP 691 JSON project page: a file's ``provenance`` key is
the URL of its provenance object (``null`` or absent: none). The object lists attestation
bundles, each with the Trusted Publisher that made it (``kind``, ``repository``,
``workflow``, ``environment``). For each file this records ``{"url": ..., "publishers":
[...]}``, or ``None`` when the index serves none. Nothing here is an error: a page or object
that cannot be had, or reads wrongly, leaves that file at ``None`` and a warning says why. The
attestations themselves are not verified here (that needs Sigstore's trust root): what is
recorded tells a reviewer which files can be verified and against which publisher.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

from packaging.utils import canonicalize_name

from ..errors import ConstrainError, redact_url
from ..models import DistFile
from ..output.pylock import strip_userinfo

_JSON = "application/vnd.pypi.simple.v1+json"
_PUBLISHER_KEYS = ("kind", "repository", "workflow", "environment")


def _page_url(f: DistFile) -> str | None:
    """The JSON project page of ``f`` on the index that listed it (``None``: a find-links
    location, which has no project pages)."""
    if not f.index.startswith(("http://", "https://")) or f.index.endswith((".html", ".htm")):
        return None
    return f.index.rstrip("/") + f"/{canonicalize_name(f.project)}/"


def _publishers(obj: object) -> list[dict]:
    out: list[dict] = []
    bundles = obj.get("attestation_bundles") if isinstance(obj, dict) else None
    for bundle in bundles if isinstance(bundles, list) else ():
        pub = bundle.get("publisher") if isinstance(bundle, dict) else None
        if isinstance(pub, dict):
            entry = {k: pub[k] for k in _PUBLISHER_KEYS if isinstance(pub.get(k), str)}
            if entry and entry not in out:
                out.append(entry)
    return out


def lookup(client, files: Iterable[DistFile], *, warn: Callable[[str], None],
           workers: int = 8) -> dict[str, Mapping | None]:
    """For each of ``files`` (by file name): its provenance record, or ``None``. ``client``
    is the command's :class:`~constrain.index.transport.client.HttpClient`; under ``--offline`` nothing
    is asked and every file is ``None``."""
    files = list(files)
    out: dict[str, Mapping | None] = {f.filename: None for f in files}
    if getattr(client, "offline", False):
        return out
    pages: dict[str, list[DistFile]] = {}
    for f in files:
        url = _page_url(f)
        if url is not None:
            pages.setdefault(url, []).append(f)

    def one_page(url: str) -> list[tuple[str, str]]:
        try:
            response = client.get(url, headers={"Accept": _JSON})
            if response.status != 200 or _JSON not in response.headers.get("content-type", ""):
                return []
            entries = json.loads(response.content).get("files", [])
        except (ConstrainError, ValueError, AttributeError) as exc:
            warn(f"provenance: cannot read {redact_url(url)}: {exc}")
            return []
        wanted = {f.filename for f in pages[url]}
        return [(e["filename"], urljoin(url, e["provenance"])) for e in entries
                if isinstance(e, dict) and e.get("filename") in wanted
                and isinstance(e.get("provenance"), str)]

    def one_object(item: tuple[str, str]) -> tuple[str, Mapping | None]:
        filename, url = item
        try:
            response = client.get(url, headers={"Accept": "application/json"})
            if response.status != 200:
                warn(f"provenance of {filename}: {redact_url(url)} answered HTTP "
                     f"{response.status}")
                return filename, {"url": strip_userinfo(url), "publishers": []}
            publishers = _publishers(json.loads(response.content))
        except (ConstrainError, ValueError) as exc:
            warn(f"provenance of {filename}: cannot read {redact_url(url)}: {exc}")
            return filename, {"url": strip_userinfo(url), "publishers": []}
        return filename, {"url": strip_userinfo(url), "publishers": publishers}

    with ThreadPoolExecutor(max_workers=workers) as pool:
        served = [item for found in pool.map(one_page, sorted(pages)) for item in found]
        for filename, record in pool.map(one_object, served):
            out[filename] = record
    return out
