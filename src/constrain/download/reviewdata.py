"""What a reviewer of a wheelhouse reads beside its files: why each is there, its licence,
its provenance, the SBOM and the reconstructed constraint sets, derived from the resolves.

``download`` calls these after the files are fetched; each takes the install sets (one per
target id) and plain data, and returns manifest fields or file texts. Nothing here prints.
"""

from __future__ import annotations

import dataclasses
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..models import InstallSet, Pin, required_by_project
from ..review.licences import normalise, read_declared
from ..review.sbom import SbomFile, sbom_text
from .manifest import FileEntry, Manifest

#: the origin a reconstruction gives its pins (``reconstruction.reconstruct``)
_RECONSTRUCTED = re.compile(r"^reconstructed (?P<req>.+) as of (?P<basis>\S+)$")


def _children(install_set: InstallSet) -> dict[str, list[Pin]]:
    out: dict[str, list[Pin]] = {}
    for pin in install_set.pins:
        for via in pin.required_by:
            parent = required_by_project(via)
            if parent is not None and parent != pin.name:
                out.setdefault(parent, []).append(pin)
    return out


def why_chains(install_set: InstallSet) -> dict[str, list[str]]:
    """For each file of ``install_set`` (by file name): the shortest requirement chain from a
    top-level requirement to it, root first (``"apache-airflow[postgres]==2.10.5 (command
    line)"``, then ``name==version`` down to the file's own project)."""
    children = _children(install_set)
    asked = {canonicalize_name(r.name): f"{r} ({o})" for r, o in reversed(
        install_set.requirements)}
    chains: dict[str, list[str]] = {}
    queue: deque[Pin] = deque()
    for pin in install_set.pins:
        if pin.requested:
            chains[pin.name] = [asked.get(pin.name, f"{pin.display_name}=={pin.version}")]
            queue.append(pin)
    while queue:
        pin = queue.popleft()
        for child in sorted(children.get(pin.name, ()), key=lambda p: p.name):
            if child.name not in chains:
                chains[child.name] = [*chains[pin.name], f"{child.display_name}=={child.version}"]
                queue.append(child)
    return {p.file.filename: chains.get(p.name, [f"{p.display_name}=={p.version}"])
            for p in install_set.pins}


def dependency_graph(sets: Iterable[InstallSet], builds: Mapping[str, Iterable[str]]
                     ) -> tuple[dict[str, set[str]], set[str]]:
    """``(depends, roots)`` over file names: a file depends on the files of the projects that
    required it in the same target, an sdist on its build tools (``builds``: tool file ->
    sdists); roots are the files of the top-level requirements."""
    depends: dict[str, set[str]] = {}
    roots: set[str] = set()
    for install_set in sets:
        files: dict[str, str] = {p.name: p.file.filename for p in install_set.pins}
        for pin in install_set.pins:
            if pin.requested:
                roots.add(pin.file.filename)
            for via in pin.required_by:
                parent = required_by_project(via)
                if parent is not None and parent in files and parent != pin.name:
                    depends.setdefault(files[parent], set()).add(pin.file.filename)
    for tool, sdists in builds.items():
        for sdist in sdists:
            depends.setdefault(sdist, set()).add(tool)
    return depends, roots


def with_why_and_licence(entry: FileEntry, why: Sequence[str], path: Path | None,
                         fallback_license: str | None) -> FileEntry:
    """``entry`` with ``why`` and its licence, read from the file at ``path`` (the metadata
    the resolve used, ``fallback_license``, when the file cannot be read)."""
    from ..review.licences import Declared

    declared = read_declared(path) if path is not None else None
    licence = normalise(declared or Declared(license=fallback_license))
    return dataclasses.replace(entry, why=tuple(why), license=licence.spdx,
                               license_source=licence.source,
                               license_declared=licence.declared)


def reconstructed_sources(sets: Mapping[str, InstallSet]
                          ) -> list[tuple[str, str, str, str, str]]:
    """Reconstructed Airflow constraint sets among the constraints the resolves used, one per
    target: ``(target id, origin, basis, file name, text)``; the text is a pip constraints
    file, headed by the reconstruction's note."""
    out = []
    for tid, install_set in sets.items():
        lines: dict[str, list[tuple[int, str]]] = {}
        for req, origin in install_set.constraints:
            if _RECONSTRUCTED.match(origin.source):
                lines.setdefault(origin.source, []).append((origin.line or 0, str(req)))
        for source, pins in lines.items():
            m = _RECONSTRUCTED.match(source)
            assert m is not None
            try:
                root = Requirement(m["req"])
                spec = next(iter(root.specifier), None)
                slug = root.name + (f"-{spec.version}" if spec is not None else "")
            except InvalidRequirement:
                slug = re.sub(r"[^A-Za-z0-9._-]+", "-", m["req"]).strip("-")
            notes = [n for n in install_set.notes if n.startswith("Airflow constraints")]
            head = "".join(f"# {n}\n" for n in [source, *notes])
            text = head + "".join(f"{line}\n" for _n, line in sorted(pins))
            out.append((tid, source, m["basis"], f"reconstructed-{slug}-{tid}.txt", text))
    return out


def created_time(cutoff: datetime | None, previous: Manifest | None, unchanged: bool
                 ) -> tuple[str, str]:
    """``(created, created_from)``: the resolve's cut-off when one applied (reruns are then
    byte-identical), else the previous manifest's time when nothing else changed, else now."""
    from ..output.header import format_utc

    if cutoff is not None:
        return format_utc(cutoff), "cut-off"
    if unchanged and previous is not None and previous.created:
        return previous.created, "clock"
    return format_utc(datetime.now(UTC)), "clock"


def sbom_of(manifest: Manifest, depends: Mapping[str, Iterable[str]], roots: Iterable[str]
            ) -> str:
    """The CycloneDX SBOM text of ``manifest``'s files (see :mod:`constrain.review.sbom`)."""
    from .. import __version__

    created = (datetime.strptime(manifest.created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
               if manifest.created else None)
    files = [SbomFile(f.filename, f.name, f.version, f.sha256, f.license, f.license_declared,
                      f.url, f.kind) for f in manifest.files]
    name = ", ".join(manifest.requirements) or "wheelhouse"
    return sbom_text(files, depends, roots, name=name, version=__version__, created=created)
