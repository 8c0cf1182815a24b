"""The wheelhouse manifest (``manifest.json``): what every file is, where it came from, who needs it.

``constrain download`` writes it; ``constrain install --wheelhouse`` and ``--vetted`` read it,
and a find-links directory holding it offers only the files it lists (:func:`vetted_files`).
Schema (format ``constrain-wheelhouse/1``; keys sorted, two-space indent, UTF-8, final newline)::

    {
      "format": "constrain-wheelhouse/1",
      "constrain_version": "0.1.0",                 # the constrain that wrote it
      "created": "2026-11-01T23:59:59Z",            # the resolve's cut-off when one applied
      "created_from": "cut-off",                    # (reruns are then byte-identical), else
                                                    # "clock": the first run that wrote this
                                                    # content (a rerun changing nothing keeps it)
      "indexes": ["https://.../simple/"],           # index, extra indexes, find-links used
                                                    # (credentials and queries removed)
      "command": "constrain download ...",          # the reproducing command (credentials out)
      "requirements": ["apache-airflow[postgres]==2.10.5"],
      "build_exclude_newer": "2021-05-25T12:34:56Z",  # build tools uploaded by then (the
                                                    # resolve's cut-off); null: none applied
      "targets": [                                  # one per (python, platform)
        {
          "id": "3.11-manylinux_2_28_x86_64",       # "<python>" alone when one platform
          "python": "3.11",
          "platforms": ["manylinux_2_28_x86_64"],   # [] = the host's platform
          "description": "CPython 3.11 on manylinux_2_28_x86_64",
          "constraints": "constraints-3.11-manylinux_2_28_x86_64.txt",
          "requirements": "requirements-3.11-manylinux_2_28_x86_64.txt",
          "pylock": "pylock.cp311-manylinux_2_28_x86_64.toml",
          "files": ["apache_airflow-2.10.5-py3-none-any.whl", ...], # what this target installs
          "build_files": ["setuptools-75.8.0-py3-none-any.whl"]  # what building its sdists needs
        }
      ],
      "sources": [                                  # constraint files the resolve used, copied
        {"origin": "https://.../constraints-3.11.txt", "path": "sources/constraints-3.11.txt",
         "sha256": "...", "kind": "fetched", "basis": null, "targets": ["3.11", ...]},
        {"origin": "reconstructed apache-airflow==2.10.5 as of 2025-02-10T10:11:12Z",
         "path": "sources/reconstructed-apache-airflow-2.10.5-3.11.txt", "sha256": "...",
         "kind": "reconstructed",                   # Airflow's set rebuilt as of its release
         "basis": "2025-02-10T10:11:12Z",           # the date it was reconstructed as of
         "targets": ["3.11"]}                       # (one per target: they differ)
      ],
      "licences_unknown": ["x-1.0-py3-none-any.whl"], # files whose licence is null
      "sbom": "sbom.cdx.json",                      # the CycloneDX SBOM beside it
      "files": [                                    # sorted by filename; each file once
        {
          "filename": "apache_airflow-2.10.5-py3-none-any.whl",   # its name in the wheelhouse
          "name": "apache-airflow",                 # the project's display name
          "project": "apache-airflow",              # canonical name
          "version": "2.10.5",
          "kind": "wheel",                          # or "sdist"
          "sha256": "<hex>",
          "size": 13702612,                         # bytes
          "upload_time": "2025-02-10T10:11:12Z",    # null when the index gave none
          "url": "https://.../apache_airflow-...whl", # origin, credentials removed
          "license": "Apache-2.0",                  # SPDX expression; null when unknown
          "license_source": "classifier",           # License-Expression, classifier, License,
                                                    # License text, licence file; null: unknown
          "license_declared": "Apache Software License", # first line of what the metadata
                                                    # declared (100 chars at most), or null
          "why": ["apache-airflow[postgres]==2.10.5 (command line)",
                  "apache-airflow-providers-postgres==6.0.0", "psycopg2-binary==2.9.10"],
                                                    # a requirement chain from a root, or
                                                    # ["build tool for x-1.0.tar.gz", ...]
          "provenance": {"url": "https://.../provenance", "publishers": [
              {"kind": "GitHub", "repository": "org/repo", "workflow": "release.yml"}]},
                                                    # PEP 740 attestations the index serves;
                                                    # null: none served, or not asked:
          "provenance_checked": true,               # false when not asked (--offline); the
                                                    # next run with the network asks
          "requires_python": ">=3.8",               # null when none
          "yanked": null,                           # PEP 592: null, or the reason ("" = none
                                                    # given) when the index marks it yanked
          "targets": ["3.11-manylinux_2_28_x86_64", ...],
          "needs_build": false,                     # an sdist: a PEP 517 build on the far side
          "for_build": false,                       # only a build requirement of an sdist
                                                    # (not in any constraints file)
          "builds": [],                             # the sdists it is a build requirement of
                                                    # (their build tools, as of the cut-off)
          "vetted": true                            # listed in the --vetted manifest
        }
      ]
    }

A reader must check each file's sha256 before trusting it (a rerun of download re-hashes what is
there; install --wheelhouse checks each file it takes against it). Unknown
keys are ignored so later versions can add fields; a different ``format`` is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConstrainError, InputError, SourceLocation

FORMAT = "constrain-wheelhouse/1"
MANIFEST_NAME = "manifest.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    """One file of the wheelhouse (see the module docstring for each field)."""

    filename: str
    name: str
    project: str
    version: str
    kind: str
    sha256: str
    size: int
    upload_time: str | None = None
    url: str = ""
    license: str | None = None
    license_source: str | None = None
    license_declared: str | None = None
    why: tuple[str, ...] = ()
    provenance: Mapping | None = None
    provenance_checked: bool = True
    requires_python: str | None = None
    yanked: str | None = None
    targets: tuple[str, ...] = ()
    needs_build: bool = False
    for_build: bool = False
    builds: tuple[str, ...] = ()
    vetted: bool = False

    def to_json(self) -> dict:
        data = asdict(self)
        data["targets"] = list(self.targets)
        data["builds"] = list(self.builds)
        data["why"] = list(self.why)
        data["provenance"] = dict(self.provenance) if self.provenance is not None else None
        return data

    @classmethod
    def from_json(cls, data: Mapping) -> FileEntry:
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in data.items() if k in known}
        kw["targets"] = tuple(kw.get("targets", ()))
        kw["builds"] = tuple(kw.get("builds", ()))
        kw["why"] = tuple(kw.get("why", ()))
        # written before provenance was recorded: not checked yet
        kw.setdefault("provenance_checked", "provenance" in data)
        return cls(**kw)


@dataclass(frozen=True)
class TargetEntry:
    """One target of the wheelhouse and the files it names."""

    id: str
    python: str
    platforms: tuple[str, ...]
    description: str
    constraints: str
    requirements: str
    pylock: str
    files: tuple[str, ...] = ()
    build_files: tuple[str, ...] = ()

    def to_json(self) -> dict:
        data = asdict(self)
        data["platforms"] = list(self.platforms)
        data["files"] = list(self.files)
        data["build_files"] = list(self.build_files)
        return data

    @classmethod
    def from_json(cls, data: Mapping) -> TargetEntry:
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in data.items() if k in known}
        kw["platforms"] = tuple(kw.get("platforms", ()))
        kw["files"] = tuple(kw.get("files", ()))
        kw["build_files"] = tuple(kw.get("build_files", ()))
        return cls(**kw)


@dataclass(frozen=True)
class SourceEntry:
    """A constraint file the resolve read, copied into the wheelhouse at ``path``; or, with
    ``kind`` ``reconstructed``, Airflow's constraints rebuilt as of ``basis`` for ``targets``."""

    origin: str
    path: str
    sha256: str
    kind: str = "fetched"
    basis: str | None = None
    targets: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {**asdict(self), "targets": list(self.targets)}

    @classmethod
    def from_json(cls, data: Mapping) -> SourceEntry:
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in data.items() if k in known}
        kw["targets"] = tuple(kw.get("targets", ()))
        return cls(**kw)


@dataclass(frozen=True)
class Manifest:
    """The whole manifest; ``files`` sorted by filename."""

    files: tuple[FileEntry, ...] = ()
    targets: tuple[TargetEntry, ...] = ()
    sources: tuple[SourceEntry, ...] = ()
    requirements: tuple[str, ...] = ()
    command: str = ""
    build_exclude_newer: str | None = None
    constrain_version: str = ""
    created: str | None = None
    created_from: str | None = None
    indexes: tuple[str, ...] = ()
    sbom: str | None = None
    format: str = FORMAT
    _by_name: dict = field(default_factory=dict, compare=False, repr=False)

    def file(self, filename: str) -> FileEntry | None:
        if not self._by_name:
            self._by_name.update({f.filename: f for f in self.files})
        return self._by_name.get(filename)

    @property
    def digests(self) -> frozenset[str]:
        """Every sha256 listed (what ``--vetted`` compares against)."""
        return frozenset(f.sha256.lower() for f in self.files)

    @property
    def licences_unknown(self) -> list[str]:
        """The files whose licence could not be told (``license`` null), sorted."""
        return sorted(f.filename for f in self.files if f.license is None)

    def to_text(self) -> str:
        data = {
            "format": self.format,
            "constrain_version": self.constrain_version,
            "created": self.created,
            "created_from": self.created_from,
            "indexes": list(self.indexes),
            "licences_unknown": self.licences_unknown,
            "sbom": self.sbom,
            "command": self.command,
            "requirements": list(self.requirements),
            "build_exclude_newer": self.build_exclude_newer,
            "targets": [t.to_json() for t in self.targets],
            "sources": [s.to_json() for s in self.sources],
            "files": [f.to_json() for f in sorted(self.files, key=lambda f: f.filename)],
        }
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_text(cls, text: str, *, source: str = MANIFEST_NAME) -> Manifest:
        """Parse a manifest; :class:`InputError` (naming ``source``) when it is not one."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InputError(
                f"{source} is not a constrain wheelhouse manifest",
                locations=[SourceLocation(source, getattr(exc, "lineno", None),
                                          message=str(exc))],
                hint="give the manifest.json written by 'constrain download'",
            ) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise InputError(
                f"{source} has format {found!r}, not {FORMAT!r}",
                locations=[SourceLocation(source)],
                hint="give the manifest.json written by 'constrain download'",
            )
        try:
            return cls(
                files=tuple(FileEntry.from_json(f) for f in data.get("files", ())),
                targets=tuple(TargetEntry.from_json(t) for t in data.get("targets", ())),
                sources=tuple(SourceEntry.from_json(s) for s in data.get("sources", ())),
                requirements=tuple(data.get("requirements", ())),
                command=data.get("command", ""),
                build_exclude_newer=data.get("build_exclude_newer"),
                constrain_version=data.get("constrain_version", ""),
                created=data.get("created"),
                created_from=data.get("created_from"),
                indexes=tuple(data.get("indexes", ())),
                sbom=data.get("sbom"),
            )
        except (TypeError, KeyError, AttributeError) as exc:
            raise InputError(
                f"{source} is damaged: {exc}",
                locations=[SourceLocation(source)],
                hint="write it again with 'constrain download'",
            ) from None


def read_manifest(path: str | Path) -> Manifest:
    """Read ``path`` (a manifest file, or a wheelhouse directory holding ``manifest.json``)."""
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST_NAME
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConstrainError(
            f"no manifest at {p}",
            hint="give a directory written by 'constrain download', or its manifest.json",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConstrainError(f"cannot read {p}: {exc}") from None
    return Manifest.from_text(text, source=str(p))


def sha256_file(path: Path) -> str:
    """The hex sha256 of ``path``, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def missing_project(directory: Path, project: str,
                    details: Iterable[str] = ()) -> ConstrainError:
    """The error for a wheelhouse ``directory`` with no file of ``project`` (canonical name):
    it names the wheelhouse, the files its manifest lists for the project that are not there
    (copied in part, or deleted), and how to get them. ``details`` (who asked) are kept."""
    from packaging.utils import canonicalize_name

    try:
        listed = [f.filename for f in read_manifest(directory).files
                  if canonicalize_name(f.project) == project]
    except ConstrainError:
        listed = []
    gone = [name for name in listed if not (Path(directory) / name).is_file()]
    if gone:
        return ConstrainError(
            f"the wheelhouse {directory} has no file of {project!r}: its manifest lists "
            f"{', '.join(gone)}, missing from the directory",
            details=tuple(details),
            hint=f"copy {' and '.join(gone)} into {directory} from the wheelhouse it came from "
            "(or copy the whole wheelhouse again)",
        )
    return ConstrainError(
        f"the wheelhouse {directory} has no file of {project!r}",
        details=tuple(details),
        hint=f"download a wheelhouse that includes {project} where the index is reachable "
        f"('constrain download ... --dest DIR', the same requirements plus {project})",
    )


def vetted_digests(manifests: Iterable[Manifest]) -> frozenset[str]:
    """The union of the sha256 of every file in ``manifests``."""
    out: set[str] = set()
    for m in manifests:
        out |= m.digests
    return frozenset(out)


def vetted_files(wheelhouses: Iterable[str]) -> dict[str, dict[str, tuple[str, str | None]]]:
    """Each of the ``wheelhouses`` (``file:`` URLs of find-links directories holding the
    ``manifest.json`` ``constrain download`` writes) -> the files its manifest lists, by
    name, with their sha256 and upload time (as the index gave it, or ``None``): the only
    files used there. A manifest that cannot be read is an error: its files could not be told
    vetted or not."""
    from ..index.transport.client import file_url_to_path

    return {location: {f.filename: (f.sha256.removeprefix("sha256:").lower(), f.upload_time)
                       for f in read_manifest(file_url_to_path(location)).files}
            for location in wheelhouses}
