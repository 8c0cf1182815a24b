"""Build real wheels, sdists and whole test repositories on disk, with no network and no setuptools.

Everything here is deterministic: the same arguments give byte-identical files (fixed zip and tar
timestamps, seeded padding), so hashes are stable across runs.

- :func:`make_wheel` writes a PEP 427 wheel whose RECORD hashes are correct; knobs produce the
  odd cases index and install code must survive (malformed METADATA, path-traversal entries,
  METADATA far from the start of the zip).
- :func:`make_sdist` writes a ``.tar.gz`` sdist with a PKG-INFO (static per PEP 643 unless told
  otherwise) and an *in-tree* stdlib-only PEP 517 backend, so building it needs no network.
- :class:`PackageSpec` + :func:`build_repository` turn a list of package descriptions into the
  files of a repository (:class:`FileRecord`), ready for ``IndexServer`` or a find-links dir.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import random
import tarfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from packaging.tags import parse_tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

__all__ = [
    "BASE_UPLOAD_TIME",
    "FileRecord",
    "PackageSpec",
    "build_repository",
    "dist_name",
    "make_sdist",
    "make_wheel",
    "metadata_text",
    "sdist_filename",
    "wheel_filename",
]

# Deterministic timestamps: zip entries (the zip epoch) and tar members.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_TAR_MTIME = 315532800  # 1980-01-01T00:00:00Z
# Default upload times: the n-th version (in version order) of a project is BASE + n days.
BASE_UPLOAD_TIME = datetime(2020, 1, 1, tzinfo=UTC)


def dist_name(name: str) -> str:
    """The distribution name as it appears in file names: normalised, ``-`` -> ``_``."""
    return canonicalize_name(name).replace("-", "_")


def _version_str(version: str | Version) -> str:
    return str(Version(str(version)))


def wheel_filename(name: str, version: str | Version, tag: str = "py3-none-any") -> str:
    """``foo_bar-1.0-py3-none-any.whl`` for ``Foo.Bar`` ``1.0`` (PEP 427 / binary dist spec)."""
    return f"{dist_name(name)}-{_version_str(version)}-{tag}.whl"


def sdist_filename(name: str, version: str | Version) -> str:
    """``foo_bar-1.0.tar.gz`` (PEP 625)."""
    return f"{dist_name(name)}-{_version_str(version)}.tar.gz"


def metadata_text(
    name: str,
    version: str | Version,
    *,
    requires_dist: Iterable[str] = (),
    requires_python: str | None = None,
    provides_extra: Iterable[str] = (),
    metadata_version: str = "2.1",
    license: str | None = None,
    dynamic: Iterable[str] = (),
) -> str:
    """Core metadata (METADATA / PKG-INFO) in the email-header format, fields in spec order."""
    lines = [
        f"Metadata-Version: {metadata_version}",
        f"Name: {name}",
        f"Version: {_version_str(version)}",
    ]
    lines += [f"Dynamic: {d}" for d in dynamic]
    if license is not None:
        lines.append(f"License: {license}")
    if requires_python is not None:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Provides-Extra: {e}" for e in provides_extra]
    lines += [f"Requires-Dist: {r}" for r in requires_dist]
    return "\n".join(lines) + "\n\n"


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


def _entry_points_text(entry_points: Mapping[str, Mapping[str, str]] | str) -> str:
    if isinstance(entry_points, str):
        return entry_points
    out = []
    for group, entries in entry_points.items():
        out.append(f"[{group}]")
        out += [f"{k} = {v}" for k, v in entries.items()]
        out.append("")
    return "\n".join(out)


def _zip_write(zf: zipfile.ZipFile, arcname: str, data: bytes, *, stored: bool = False) -> None:
    info = zipfile.ZipInfo(arcname, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def make_wheel(
    directory: str | Path,
    name: str,
    version: str | Version,
    *,
    requires_dist: Iterable[str] = (),
    requires_python: str | None = None,
    provides_extra: Iterable[str] = (),
    tag: str = "py3-none-any",
    files: Mapping[str, bytes | str] | None = None,
    entry_points: Mapping[str, Mapping[str, str]] | str | None = None,
    metadata_version: str = "2.1",
    license: str | None = None,
    extra_entries: Mapping[str, bytes | str] | None = None,
    metadata_override: bytes | str | None = None,
    pad_bytes: int = 0,
) -> Path:
    """Write a valid wheel for ``name`` ``version`` into ``directory``; return its path.

    Contents, in archive order: ``files`` (default: ``<pkg>/__init__.py`` setting
    ``__version__``; when given, exactly these files), ``extra_entries`` (raw archive paths such
    as ``../evil.py``; listed in RECORD too, so only a path check rejects them), a
    ``pad_bytes``-long incompressible ``<pkg>/_padding.bin`` (so METADATA sits far from the
    start of the archive), then the ``.dist-info`` directory last, as real wheels do: METADATA
    (``metadata_override`` replaces it verbatim), WHEEL, ``entry_points.txt`` when given, and
    RECORD with correct sha256 hashes and sizes. ``tag`` may be a compressed tag set
    (``py2.py3-none-any``); WHEEL gets one ``Tag:`` line per expanded tag.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    dist = dist_name(name)
    ver = _version_str(version)
    pkg = dist.lower()
    dist_info = f"{dist}-{ver}.dist-info"

    entries: list[tuple[str, bytes]] = []
    if files is None:
        files = {f"{pkg}/__init__.py": f'__version__ = "{ver}"\n'}
    entries += [(path, _as_bytes(data)) for path, data in files.items()]
    if extra_entries:
        entries += [(path, _as_bytes(data)) for path, data in extra_entries.items()]
    padding = None
    if pad_bytes:
        padding = (f"{pkg}/_padding.bin", random.Random(f"{dist}-{ver}").randbytes(pad_bytes))
        entries.append(padding)

    if metadata_override is not None:
        metadata = _as_bytes(metadata_override)
    else:
        metadata = metadata_text(
            name,
            ver,
            requires_dist=requires_dist,
            requires_python=requires_python,
            provides_extra=provides_extra,
            metadata_version=metadata_version,
            license=license,
        ).encode("utf-8")
    entries.append((f"{dist_info}/METADATA", metadata))
    wheel_lines = ["Wheel-Version: 1.0", "Generator: constrain-tests", "Root-Is-Purelib: true"]
    wheel_lines += [f"Tag: {t}" for t in sorted(str(t) for t in parse_tag(tag))]
    entries.append((f"{dist_info}/WHEEL", ("\n".join(wheel_lines) + "\n").encode()))
    if entry_points is not None:
        entries.append(
            (f"{dist_info}/entry_points.txt", _entry_points_text(entry_points).encode("utf-8"))
        )

    record_path = f"{dist_info}/RECORD"
    record = "".join(f"{p},{_record_hash(d)},{len(d)}\n" for p, d in entries)
    record += f"{record_path},,\n"

    path = directory / wheel_filename(name, ver, tag)
    with zipfile.ZipFile(path, "w") as zf:
        for arcname, data in entries:
            _zip_write(zf, arcname, data, stored=padding is not None and arcname == padding[0])
        _zip_write(zf, record_path, record.encode("utf-8"))
    return path


# The in-tree PEP 517 backend shipped inside every generated sdist. Stdlib only. It reads
# _backend/config.json (name, version, requires_python, provides_extra, fail_build,
# build_requires, metadata_version) and _backend/requires.txt (one Requires-Dist per line), so
# the metadata a build produces is what the test asked for, whatever PKG-INFO says. With
# INLINE_BACKEND_LOG set, each hook appends its name to that file (tests count builds); with
# INLINE_BACKEND_STALL set, build_wheel then sleeps that many seconds (a build under way); with
# INLINE_BACKEND_WHEEL_ALSO_REQUIRES, the built wheel's METADATA has that Requires-Dist too;
# with INLINE_BACKEND_POLLUTE=<name>, that project's hooks write polluted.py into the build
# environment and any other project's hooks fail when they find it there.
_BACKEND_SOURCE = r'''"""A stdlib-only PEP 517 backend for constrain's test sdists (generated)."""

import base64
import gzip
import hashlib
import json
import os
import sys
import tarfile
import zipfile

_HERE = os.path.dirname(os.path.abspath(__file__))


def _config():
    with open(os.path.join(_HERE, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    with open(os.path.join(_HERE, "requires.txt"), encoding="utf-8") as f:
        config["requires_dist"] = [line.strip() for line in f if line.strip()]
    return config


def _check(config, hook):
    log = os.environ.get("INLINE_BACKEND_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(hook + "\n")
    if os.environ.get("INLINE_BACKEND_POLLUTE"):  # an old setup.py installing into sys.prefix
        import sysconfig

        polluted = os.path.join(sysconfig.get_paths()["purelib"], "polluted.py")
        if config["name"] == os.environ["INLINE_BACKEND_POLLUTE"]:
            open(polluted, "w").close()
        elif os.path.exists(polluted):
            sys.stderr.write("inline_backend: polluted by another build: %s\n" % polluted)
            raise SystemExit(1)
    if config.get("fail_build"):
        sys.stderr.write(
            "inline_backend: %s failed on purpose for %s %s (fail_build=True)\n"
            % (hook, config["name"], config["version"])
        )
        sys.stderr.flush()
        raise SystemExit(1)


def _metadata(config):
    lines = [
        "Metadata-Version: %s" % config["metadata_version"],
        "Name: %s" % config["name"],
        "Version: %s" % config["version"],
    ]
    if config.get("license") is not None:
        lines.append("License: %s" % config["license"])
    if config.get("requires_python") is not None:
        lines.append("Requires-Python: %s" % config["requires_python"])
    lines += ["Provides-Extra: %s" % e for e in config["provides_extra"]]
    lines += ["Requires-Dist: %s" % r for r in config["requires_dist"]]
    return "\n".join(lines) + "\n\n"


def _dist_info(config):
    return "%s-%s.dist-info" % (config["dist"], config["version"])


def get_requires_for_build_wheel(config_settings=None):
    return list(_config().get("build_requires", []))


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    config = _config()
    _check(config, "prepare_metadata_for_build_wheel")
    name = _dist_info(config)
    os.makedirs(os.path.join(metadata_directory, name), exist_ok=True)
    with open(os.path.join(metadata_directory, name, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata(config))
    return name


def _hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    config = _config()
    _check(config, "build_wheel")
    if os.environ.get("INLINE_BACKEND_STALL"):
        import time

        time.sleep(float(os.environ["INLINE_BACKEND_STALL"]))
    root = os.path.dirname(_HERE)
    entries = []
    pkg_dir = os.path.join(root, config["package"])
    for dirpath, dirnames, filenames in os.walk(pkg_dir):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            with open(full, "rb") as f:
                entries.append((os.path.relpath(full, root).replace(os.sep, "/"), f.read()))
    info = _dist_info(config)
    metadata = _metadata(config)
    if os.environ.get("INLINE_BACKEND_WHEEL_ALSO_REQUIRES"):  # a backend breaking PEP 517
        metadata = metadata.replace("\n\n", "\nRequires-Dist: %s\n\n"
                                    % os.environ["INLINE_BACKEND_WHEEL_ALSO_REQUIRES"])
    entries.append((info + "/METADATA", metadata.encode("utf-8")))
    wheel = (
        "Wheel-Version: 1.0\nGenerator: inline_backend\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    entries.append((info + "/WHEEL", wheel.encode("utf-8")))
    record = "".join("%s,%s,%d\n" % (p, _hash(d), len(d)) for p, d in entries)
    record += info + "/RECORD,,\n"
    entries.append((info + "/RECORD", record.encode("utf-8")))
    filename = "%s-%s-py3-none-any.whl" % (config["dist"], config["version"])
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in entries:
            zf.writestr(zipfile.ZipInfo(arcname, (1980, 1, 1, 0, 0, 0)), data)
    return filename


def build_sdist(sdist_directory, config_settings=None):
    config = _config()
    root = os.path.dirname(_HERE)
    base = "%s-%s" % (config["dist"], config["version"])
    filename = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as tf:
        for entry in sorted(os.listdir(root)):
            tf.add(os.path.join(root, entry), arcname=base + "/" + entry)
    return filename
'''


def write_tar(path: str | Path, members: Mapping[str, str]) -> Path:
    """A ``.tar.gz`` at ``path`` holding ``members`` (archive name -> text), nothing else (no
    directory entries): for hand-made sdists the tests shape themselves."""
    path = Path(path)
    with tarfile.open(path, "w:gz") as tf:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def make_sdist(
    directory: str | Path,
    name: str,
    version: str | Version,
    *,
    requires_dist: Iterable[str] = (),
    requires_python: str | None = None,
    provides_extra: Iterable[str] = (),
    metadata_version: str = "2.2",
    dynamic: Iterable[str] = (),
    backend: str = "inline",
    fail_build: bool = False,
    build_requires: Iterable[str] = (),
    pkg_info_requires_dist: Iterable[str] | None = None,
    license: str | None = None,
    build_system: Mapping[str, Any] | None = None,
    project_table: str | None = None,
) -> Path:
    """Write ``<dist>-<version>.tar.gz`` into ``directory``; return its path.

    The archive holds ``<dist>-<version>/`` with PKG-INFO, ``pyproject.toml``,
    ``<pkg>/__init__.py`` and the in-tree backend ``_backend/inline_backend.py``
    (``[build-system] requires = []``, ``backend-path = ["_backend"]``), which implements
    ``get_requires_for_build_wheel`` (returns ``build_requires``),
    ``prepare_metadata_for_build_wheel``, ``build_wheel`` and ``build_sdist`` with the stdlib.
    The backend's metadata is always exactly what was asked for (Requires-Dist is read from
    ``_backend/requires.txt``).

    PKG-INFO lists ``dynamic`` as ``Dynamic:`` fields. Per PEP 643 it is static (trustworthy)
    when ``metadata_version >= 2.2`` and the field is not dynamic. When ``"Requires-Dist"`` is
    dynamic, PKG-INFO lists ``pkg_info_requires_dist`` (default: none) instead of the real
    requirements, so a test can tell whether a consumer read PKG-INFO or ran the build.
    ``fail_build=True`` makes the metadata and wheel hooks exit 1 with a message on stderr.
    ``build_system`` (``{"requires": [...], "build-backend": "mod"}``) replaces the
    ``[build-system]`` table (no ``backend-path``): the backend then comes from a build
    requirement, which may import the in-tree one from ``_backend`` (the hooks' working
    directory is the source tree).
    ``project_table`` (TOML text, ``[project]`` and its sub-tables) is appended to
    ``pyproject.toml`` verbatim, whatever the backend's own metadata says.
    """
    if backend != "inline":
        raise ValueError(f"unknown backend {backend!r}: only 'inline' is supported")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    dist = dist_name(name)
    ver = _version_str(version)
    pkg = dist.lower()
    requires_dist = list(requires_dist)
    provides_extra = list(provides_extra)
    dynamic = list(dynamic)
    dynamic_lower = {d.lower() for d in dynamic}

    pkg_info_requires = requires_dist
    if "requires-dist" in dynamic_lower:
        pkg_info_requires = list(pkg_info_requires_dist or ())
    pkg_info = metadata_text(
        name,
        ver,
        requires_dist=pkg_info_requires,
        requires_python=requires_python,
        provides_extra=provides_extra,
        metadata_version=metadata_version,
        license=license,
        dynamic=dynamic,
    )
    config = {
        "name": name,
        "dist": dist,
        "version": ver,
        "package": pkg,
        "requires_python": requires_python,
        "provides_extra": provides_extra,
        "metadata_version": max(metadata_version, "2.1", key=Version),
        "license": license,
        "fail_build": fail_build,
        "build_requires": list(build_requires),
    }
    pyproject = (
        "[build-system]\n"
        "requires = []\n"
        'build-backend = "inline_backend"\n'
        'backend-path = ["_backend"]\n'
    )
    if build_system is not None:
        pyproject = "[build-system]\n" + "".join(
            f"{key} = {json.dumps(value)}\n" for key, value in build_system.items())
    if project_table is not None:
        pyproject += "\n" + project_table
    members = {
        "PKG-INFO": pkg_info,
        "pyproject.toml": pyproject,
        f"{pkg}/__init__.py": f'__version__ = "{ver}"\n',
        "_backend/inline_backend.py": _BACKEND_SOURCE,
        "_backend/config.json": json.dumps(config, indent=2, sort_keys=True) + "\n",
        "_backend/requires.txt": "".join(r + "\n" for r in requires_dist),
    }
    base = f"{dist}-{ver}"
    path = directory / sdist_filename(name, ver)
    raw = io.BytesIO()
    # gzip header mtime fixed too, so the archive is byte-for-byte reproducible.
    with (gzip.GzipFile(fileobj=raw, mode="wb", mtime=_TAR_MTIME) as gz,
          tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf):
        for dirname in sorted({base, f"{base}/{pkg}", f"{base}/_backend"}):
            info = tarfile.TarInfo(dirname)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = _TAR_MTIME
            tf.addfile(info)
        for member, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"{base}/{member}")
            info.size = len(data)
            info.mode = 0o644
            info.mtime = _TAR_MTIME
            tf.addfile(info, io.BytesIO(data))
    path.write_bytes(raw.getvalue())
    return path


@dataclass(frozen=True)
class PackageSpec:
    """One version of one project in a test repository, and which files to build for it.

    ``kinds``: ``("wheel",)``, ``("wheel", "sdist")`` or ``("sdist",)``; one wheel per entry of
    ``tags``. ``yanked``: ``None`` or the reason (``""`` = yanked without reason).
    ``upload_time``: ``None`` means :data:`BASE_UPLOAD_TIME` plus one day per version below this
    one among the specs of the project built together. ``wheel_options`` / ``sdist_options`` are
    passed through to :func:`make_wheel` / :func:`make_sdist`.
    """

    name: str
    version: str
    requires_dist: Sequence[str] = ()
    requires_python: str | None = None
    provides_extra: Sequence[str] = ()
    kinds: Sequence[str] = ("wheel",)
    tags: Sequence[str] = ("py3-none-any",)
    yanked: str | None = None
    upload_time: datetime | None = None
    wheel_options: Mapping[str, Any] = field(default_factory=dict)
    sdist_options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def project(self) -> NormalizedName:
        return canonicalize_name(self.name)


@dataclass(frozen=True)
class FileRecord:
    """One built file of a repository and the facts an index serves about it.

    ``metadata`` is the wheel's METADATA bytes (what a PEP 658 ``.metadata`` file serves);
    ``None`` for sdists.
    """

    filename: str
    path: Path
    sha256: str
    size: int
    project: NormalizedName
    name: str  # the project name as written in the spec (display name)
    version: Version
    kind: str  # "wheel" | "sdist"
    yanked: str | None = None
    upload_time: datetime | None = None
    requires_python: str | None = None
    metadata: bytes | None = None

    @property
    def metadata_sha256(self) -> str | None:
        return hashlib.sha256(self.metadata).hexdigest() if self.metadata is not None else None


def _wheel_metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            parts = info.filename.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                return zf.read(info)
    raise ValueError(f"{path.name}: no .dist-info/METADATA")


def _default_times(specs: Sequence[PackageSpec]) -> dict[tuple[str, Version], datetime]:
    by_project: dict[str, set[Version]] = {}
    for spec in specs:
        by_project.setdefault(spec.project, set()).add(Version(spec.version))
    times = {}
    for project, versions in by_project.items():
        for rank, v in enumerate(sorted(versions)):
            times[(project, v)] = BASE_UPLOAD_TIME + timedelta(days=rank)
    return times


def build_repository(
    directory: str | Path,
    specs: Iterable[PackageSpec],
    *,
    time_context: Iterable[PackageSpec] = (),
) -> dict[NormalizedName, list[FileRecord]]:
    """Build every file of ``specs`` into ``directory`` (flat) once; return the records by
    canonical project name, each list sorted by version then filename.

    Default upload times rank each version among the specs of its project (plus
    ``time_context``, specs built earlier that should count in the ranking).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    specs = list(specs)
    times = _default_times([*time_context, *specs])
    repo: dict[NormalizedName, list[FileRecord]] = {}
    for spec in specs:
        version = Version(spec.version)
        upload = spec.upload_time or times[(spec.project, version)]
        common = dict(
            requires_dist=spec.requires_dist,
            requires_python=spec.requires_python,
            provides_extra=spec.provides_extra,
        )
        paths: list[tuple[Path, str]] = []
        for kind in spec.kinds:
            if kind == "wheel":
                for tag in spec.tags:
                    paths.append(
                        (make_wheel(directory, spec.name, version, tag=tag, **common,
                                    **spec.wheel_options), "wheel")
                    )
            elif kind == "sdist":
                paths.append(
                    (make_sdist(directory, spec.name, version, **common, **spec.sdist_options),
                     "sdist")
                )
            else:
                raise ValueError(f"{spec.name} {spec.version}: unknown kind {kind!r}")
        for path, kind in paths:
            data = path.read_bytes()
            repo.setdefault(spec.project, []).append(
                FileRecord(
                    filename=path.name,
                    path=path,
                    sha256=hashlib.sha256(data).hexdigest(),
                    size=len(data),
                    project=spec.project,
                    name=spec.name,
                    version=version,
                    kind=kind,
                    yanked=spec.yanked,
                    upload_time=upload,
                    requires_python=spec.requires_python,
                    metadata=_wheel_metadata(path) if kind == "wheel" else None,
                )
            )
    for records in repo.values():
        records.sort(key=lambda r: (r.version, r.filename))
    return repo
