"""Render an install set as JSON in the shape of pip's installation report (``--report``).

Tools that read pip's report (version ``"1"``) can read this one: the same top-level keys
(``version``, ``pip_version``, ``install``, ``environment``) and the same item keys
(``download_info`` as PEP 610 direct URL data, ``is_direct``, ``is_yanked``, ``requested``,
``requested_extras``, ``metadata`` in the PEP 566 JSON form).

Decisions where pip's shape does not fit:

- ``pip_version`` is kept (readers expect the key) but holds ``"constrain <version>"``, since
  no pip produced the report; ``constrain.version`` holds the bare version.
- ``metadata`` holds the fields constrain keeps (name, version, requires_dist, requires_python,
  provides_extra, license); ``metadata_version`` is left out because it is not known.
- ``environment`` is the *target's* marker environment, not the host's.
- URLs lose their userinfo (credentials), as pip does for its report.
- A pin that knows no file (an install set reconstructed from a constraints file) gets no
  ``download_info``.
- A ``constrain`` section adds what pip has no place for: the reproducing command, target,
  inputs with their origins, exclude-newer, notes, work counters, and per pin why it is there.

Keys keep a fixed order and the text ends with a newline: the same install set gives the same
bytes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from packaging.direct_url import ArchiveInfo, DirectUrl

from .. import __version__
from ..models import InstallSet, Pin
from .constraints import sorted_pins
from .header import format_utc
from .urls import strip_userinfo

REPORT_VERSION = "1"


def _metadata(pin: Pin) -> dict[str, Any]:
    meta = pin.metadata
    out: dict[str, Any] = {"name": meta.name, "version": str(meta.version)}
    if meta.requires_dist:
        out["requires_dist"] = [str(r) for r in meta.requires_dist]
    if meta.requires_python:
        out["requires_python"] = str(meta.requires_python)
    if meta.provides_extra:
        out["provides_extra"] = sorted(meta.provides_extra)
    if meta.license:
        out["license"] = meta.license
    return out


def _item(pin: Pin) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if pin.files:
        file = pin.file
        hashes = dict(sorted(file.hashes)) or None
        direct = DirectUrl(
            url=file.url.split("#", 1)[0], archive_info=ArchiveInfo(hashes=hashes)
        )
        item["download_info"] = dict(direct.to_dict(generate_legacy_hash=hashes is not None))
    item["is_direct"] = False
    item["is_yanked"] = bool(pin.files) and pin.file.is_yanked
    item["requested"] = pin.requested
    if pin.requested and pin.extras:
        item["requested_extras"] = sorted(pin.extras)
    item["metadata"] = _metadata(pin)
    return item


def _why(pin: Pin) -> dict[str, Any]:
    file = pin.file if pin.files else None
    return {
        "required_by": list(pin.required_by),
        "constraint_origins": [str(o) for o in pin.constraint_origins],
        "extras": sorted(pin.extras),
        "metadata_source": pin.metadata.source,
        "file": file.filename if file else None,
        "index": strip_userinfo(file.index) if file and file.index else None,
        "upload_time": format_utc(file.upload_time) if file and file.upload_time else None,
    }


def build_report(install_set: InstallSet, *, notes: Sequence[str] = ()) -> dict[str, Any]:
    """The report as plain JSON-ready data."""
    pins = sorted_pins(install_set)
    return {
        "version": REPORT_VERSION,
        "pip_version": f"constrain {__version__}",
        "install": [_item(p) for p in pins],
        "environment": dict(sorted(install_set.target.markers.items())),
        "constrain": {
            "version": __version__,
            "command": install_set.command,
            "target": install_set.target.describe(),
            "requirements": [
                {"requirement": str(r), "origin": str(o)} for r, o in install_set.requirements
            ],
            "constraints": [
                {"constraint": str(r), "origin": str(o)} for r, o in install_set.constraints
            ],
            "exclude_newer": format_utc(install_set.exclude_newer)
            if install_set.exclude_newer is not None
            else None,
            "notes": [*install_set.notes, *notes],
            "host_built": [p.name for p in pins if p.host_built],
            "stats": dataclasses.asdict(install_set.stats),
            "pins": {p.name: _why(p) for p in pins},
        },
    }


def render_report(install_set: InstallSet, *, notes: Sequence[str] = ()) -> str:
    """The JSON text (two-space indent, ends with a newline)."""
    return json.dumps(build_report(install_set, notes=notes), indent=2) + "\n"
