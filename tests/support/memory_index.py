"""An in-memory MetadataProvider loaded from a scenario's ``[[packages]]`` tables.

Each package table describes one version of one project::

    [[packages]]
    name = "foo"
    version = "1.0"
    requires = ["bar>=1; python_version < '3.12'"]
    requires_python = ">=3.9"          # in the metadata, and (by default) on the index
    index_requires_python = ""         # optional: what the index says instead ("" = nothing)
    extras = { postgres = ["psycopg2"], all = ["foo[postgres]"] }
    files = ["cp311-cp311-manylinux_2_17_x86_64", "sdist"]   # default ["py3-none-any"]
    yanked = "broken build"            # every file of the version is yanked with this reason
    upload_time = "2024-01-01T00:00:00Z"   # every file; or per file: { tag = ..., upload_time = ... }
    raw_requires = ["pytz (>dev)"]     # Requires-Dist lines as written in a METADATA file

With ``raw_requires`` the version's metadata is a METADATA text (every requirement, the
extras' lines, then these lines) read by constrain's own parser, as the index client reads
it: legacy forms, unreadable lines kept under their marker, or a ``MetadataError`` raised when
the resolver asks for it.

It records every call so tests can check that metadata is read once per version and that
prefetch picked the expected file. ``prefetch`` runs ``choose`` at once (no threads).
"""

from __future__ import annotations

import hashlib

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import parse_tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from constrain.errors import MetadataError, ProjectNotFound
from constrain.index.metadata.parse import parse_core_metadata
from constrain.models import CoreMetadata, DistFile
from tests.support.builders import metadata_text

INDEX_URL = "memory://scenario/simple/"


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _with_extra(req: str, extra: str) -> Requirement:
    """``req`` guarded by ``extra == "<extra>"`` (and its own marker, if any)."""
    parsed = Requirement(req)
    marker = f'extra == "{extra}"'
    if parsed.marker is not None:
        marker = f"({parsed.marker}) and {marker}"
    parsed.marker = None
    return Requirement(f"{parsed}; {marker}")


class MemoryIndex:
    """A :class:`~constrain.ports.MetadataProvider` over scenario package tables."""

    def __init__(self, packages: Iterable[Mapping[str, Any]]) -> None:
        self._files: dict[str, list[DistFile]] = {}
        self._metadata: dict[str, CoreMetadata | MetadataError] = {}
        self.metadata_calls: list[str] = []
        self.files_calls: list[str] = []
        self.prefetched: list[tuple[str, tuple[str, ...]]] = []
        #: every call in order: ("files", project), ("metadata", filename), ("prefetch", project)
        self.log: list[tuple[str, str]] = []
        for pkg in packages:
            self._add(pkg)

    def _add(self, pkg: Mapping[str, Any]) -> None:
        display = str(pkg["name"])
        name = canonicalize_name(display)
        version = Version(str(pkg["version"]))
        rp = pkg.get("requires_python")
        index_rp = pkg.get("index_requires_python", rp)
        requires = [Requirement(r) for r in pkg.get("requires", [])]
        extras: Mapping[str, list[str]] = pkg.get("extras", {})
        for extra, reqs in extras.items():
            requires.extend(_with_extra(r, extra) for r in reqs)
        stem = f"{name.replace('-', '_')}-{version}"
        metadata: CoreMetadata | MetadataError
        if "raw_requires" in pkg:
            text = metadata_text(
                display, version, requires_python=rp, provides_extra=list(extras),
                requires_dist=[str(r) for r in requires] + list(pkg["raw_requires"]),
            )
            try:
                metadata = parse_core_metadata(
                    text, source="pep658", where=f"{stem}.dist-info/METADATA"
                )
            except MetadataError as exc:
                metadata = exc
        else:
            metadata = CoreMetadata(
                name=display,
                version=version,
                requires_dist=tuple(requires),
                requires_python=SpecifierSet(rp) if rp else None,
                provides_extra=frozenset(canonicalize_name(e) for e in extras),
                source="pep658",
            )
        for entry in pkg.get("files", ["py3-none-any"]):
            spec = entry if isinstance(entry, Mapping) else {"tag": entry}
            tag = spec["tag"]
            if tag == "sdist":
                filename, kind, tags = f"{stem}.tar.gz", "sdist", frozenset()
            else:
                filename, kind, tags = f"{stem}-{tag}.whl", "wheel", frozenset(parse_tag(tag))
            file = DistFile(
                project=name,
                filename=filename,
                url=f"memory://scenario/files/{filename}",
                version=version,
                kind=kind,
                hashes=(("sha256", hashlib.sha256(filename.encode()).hexdigest()),),
                requires_python=spec.get("requires_python", index_rp) or None,
                yanked=spec.get("yanked", pkg.get("yanked")),
                upload_time=_time(spec.get("upload_time", pkg.get("upload_time"))),
                core_metadata=(),
                tags=tags,
                index=INDEX_URL,
            )
            self._files.setdefault(name, []).append(file)
            self._metadata[filename] = metadata

    # -------------------------------------------------------------- MetadataProvider
    def files(self, project: NormalizedName) -> Sequence[DistFile]:
        self.files_calls.append(project)
        self.log.append(("files", project))
        if project not in self._files:
            raise ProjectNotFound(project)
        return tuple(self._files[project])

    def metadata(self, file: DistFile) -> CoreMetadata:
        self.metadata_calls.append(file.filename)
        self.log.append(("metadata", file.filename))
        found = self._metadata[file.filename]
        if isinstance(found, MetadataError):
            raise found
        return found

    def prefetch_files(self, files) -> None:
        self.log.append(("prefetch_files", tuple(f.filename for f in files)))

    def prefetch(
        self,
        project: NormalizedName,
        choose: Callable[[Sequence[DistFile]], Iterable[DistFile]] | None = None,
        then=None,
    ) -> None:
        self.log.append(("prefetch", project))
        chosen: tuple[str, ...] = ()
        if choose is not None and project in self._files:
            chosen = tuple(f.filename for f in choose(tuple(self._files[project])))
        self.prefetched.append((project, chosen))
