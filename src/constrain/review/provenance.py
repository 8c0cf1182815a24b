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
from urllib.parse import urljoin

from packaging.utils import canonicalize_name

from ..errors import ConstrainError, redact_url
from ..models import DistFile
from ..output.urls import strip_userinfo

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


def _served(pending, url: str, wanted: set[str], warn: Callable[[str], None]
            ) -> list[tuple[str, str]]:
    """``(file name, provenance href)`` of the ``wanted`` files on the page ``url``."""
    try:
        response = pending.result() if pending is not None else None
        if response is None or response.status != 200 \
                or _JSON not in response.headers.get("content-type", ""):
            return []
        entries = json.loads(response.content).get("files", [])
    except (ConstrainError, ValueError, AttributeError) as exc:
        warn(f"provenance: cannot read {redact_url(url)}: {exc}")
        return []
    return [(e["filename"], e["provenance"]) for e in entries
            if isinstance(e, dict) and e.get("filename") in wanted
            and isinstance(e.get("provenance"), str)]


def _record(filename: str, url: str, pending, warn: Callable[[str], None]) -> Mapping:
    """The provenance record of ``filename`` from the answer for its object at ``url``."""
    shown = strip_userinfo(url)
    try:
        response = pending.result() if pending is not None else None
        if response is None or response.status != 200:
            status = f"HTTP {response.status}" if response is not None else "no answer"
            warn(f"provenance of {filename}: {redact_url(url)} answered {status}")
            return {"url": shown, "publishers": []}
        return {"url": shown, "publishers": _publishers(json.loads(response.content))}
    except (ConstrainError, ValueError) as exc:
        warn(f"provenance of {filename}: cannot read {redact_url(url)}: {exc}")
        return {"url": shown, "publishers": []}


def lookup(client, files: Iterable[DistFile], *, warn: Callable[[str], None]
           ) -> dict[str, Mapping | None]:
    """For each of ``files`` that could be checked (by file name): its provenance record, or
    ``None`` when the index serves none (a find-links location serves none). ``client`` is the
    command's :class:`~constrain.index.transport.client.HttpClient`; under ``--offline``
    nothing is asked and nothing is returned."""
    files = list(files)
    if getattr(client, "offline", False):
        return {}
    out: dict[str, Mapping | None] = {f.filename: None for f in files}
    pages: dict[str, list[DistFile]] = {}
    for f in files:
        url = _page_url(f)
        if url is not None:
            pages.setdefault(url, []).append(f)

    # Every request goes out at once on the client's HTTP/2 connections (no threads of our
    # own: Ctrl-C while waiting ends the command at once, and closing the client ends them).
    started = {url: client.start_get(url, headers={"Accept": _JSON}) for url in sorted(pages)}
    served: list[tuple[str, str]] = []
    for url, pending in started.items():
        wanted = {f.filename for f in pages[url]}
        served += [(name, urljoin(url, href)) for name, href in _served(pending, url, wanted, warn)]
    objects = {name: (url, client.start_get(url, headers={"Accept": "application/json"}))
               for name, url in served}
    for name, (url, pending) in objects.items():
        out[name] = _record(name, url, pending, warn)
    return out
