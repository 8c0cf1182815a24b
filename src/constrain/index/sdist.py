"""Source distributions: read their PKG-INFO, and run PEP 517 hooks to get metadata or a wheel.

An sdist is unpacked safely (tar with the ``data`` filter, zip with path checks) into a
temporary directory; its ``[build-system]`` (default: the setuptools legacy backend) is
installed into a fresh isolated environment (``build.env.DefaultIsolatedEnv``, pip run by us so
the index settings reach it and its output is captured), and the backend's hooks run through
``pyproject_hooks``. Any failure becomes a :class:`BuildError` carrying the last lines of output.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import BuildError
from ..reporting import NULL_REPORTER, Reporter

DEFAULT_BACKEND = "setuptools.build_meta:__legacy__"
DEFAULT_REQUIRES = ("setuptools>=40.8.0",)
TAIL_LINES = 20


# ====================================================================== reading archives


def read_pkg_info(sdist_path: Path) -> bytes | None:
    """The top-level ``<dir>/PKG-INFO`` of an sdist (tar or zip), or ``None`` when absent or
    the archive is unreadable (the build path then reports the real problem)."""
    try:
        if zipfile.is_zipfile(sdist_path):
            with zipfile.ZipFile(sdist_path) as zf:
                name = _pkg_info_name(zf.namelist())
                return zf.read(name) if name else None
        with tarfile.open(sdist_path) as tf:
            for member in tf:
                if member.isfile() and _pkg_info_name([member.name]):
                    fh = tf.extractfile(member)
                    return fh.read() if fh else None
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError):
        return None
    return None


def _pkg_info_name(names: list[str]) -> str | None:
    for name in names:
        parts = PurePosixPath(name).parts
        if len(parts) == 2 and parts[1] == "PKG-INFO" and parts[0] not in ("..", "/"):
            return name
    return None


def unpack(sdist_path: Path, dest: Path) -> Path:
    """Extract ``sdist_path`` into ``dest`` and return the source tree (the single top-level
    directory, or ``dest`` itself). Members that would land outside ``dest`` (absolute paths,
    ``..``, links pointing out, devices) raise :class:`BuildError`."""
    what = Path(sdist_path).name
    try:
        if zipfile.is_zipfile(sdist_path):
            with zipfile.ZipFile(sdist_path) as zf:
                for name in zf.namelist():
                    p = PurePosixPath(name.replace("\\", "/"))
                    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
                        raise BuildError(f"{what} contains an unsafe path {name!r}")
                zf.extractall(dest)
        else:
            with tarfile.open(sdist_path) as tf:
                tf.extractall(dest, filter="data")
    except BuildError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise BuildError(
            f"cannot unpack {what}: {exc}",
            hint="the file is damaged or not an sdist; try --refresh, or use a wheel",
        ) from None
    entries = list(dest.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest


# ====================================================================== build session


@dataclass
class _BuildSystem:
    requires: list[str]
    backend: str
    backend_path: list[str] | None


def read_build_system(tree: Path, what: str) -> _BuildSystem:
    """``[build-system]`` of ``tree/pyproject.toml`` with PEP 517/518 defaults."""
    pyproject = tree / "pyproject.toml"
    if not pyproject.is_file():
        return _BuildSystem(list(DEFAULT_REQUIRES), DEFAULT_BACKEND, None)
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BuildError(f"the pyproject.toml of {what} is invalid: {exc}") from None
    bs = data.get("build-system")
    if bs is None:
        return _BuildSystem(list(DEFAULT_REQUIRES), DEFAULT_BACKEND, None)
    requires = bs.get("requires")
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise BuildError(
            f"the [build-system] of {what} has no valid 'requires' list",
            hint="the sdist is broken; use a wheel or another version",
        )
    backend_path = bs.get("backend-path")
    return _BuildSystem(requires, bs.get("build-backend") or DEFAULT_BACKEND, backend_path)


def pip_environ(build_index: Any) -> dict[str, str]:
    """Environment variables that point pip at ``build_index`` (``index_url``,
    ``extra_index_urls``, ``find_links`` attributes); empty for ``None``."""
    if build_index is None:
        return {}
    env: dict[str, str] = {}
    index_url = getattr(build_index, "index_url", None)
    if index_url:
        env["PIP_INDEX_URL"] = str(index_url)
    extra = [str(u) for u in getattr(build_index, "extra_index_urls", None) or ()]
    if extra:
        env["PIP_EXTRA_INDEX_URL"] = " ".join(extra)
    links = [str(u) for u in getattr(build_index, "find_links", None) or ()]
    if links:
        env["PIP_FIND_LINKS"] = " ".join(links)
    if getattr(build_index, "no_index", False):
        env["PIP_NO_INDEX"] = "1"
    return env


@dataclass
class _Session:
    """One sdist unpacked, with an isolated environment and a hook caller; collects output."""

    what: str
    tree: Path
    work: Path
    env: Any
    pip_env: dict[str, str]
    reporter: Reporter
    output: list[str] = field(default_factory=list)
    hooks: Any = None

    def run(self, cmd: Sequence[str], cwd: str | None = None, extra_environ: Any = None) -> None:
        """A ``pyproject_hooks`` runner: capture stdout+stderr, raise on failure."""
        environ = {**os.environ, **self.env.make_extra_environ(), **(extra_environ or {})}
        proc = subprocess.run(
            list(cmd), cwd=cwd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.output.extend(proc.stdout.decode("utf-8", "replace").splitlines())
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, list(cmd), proc.stdout)

    def install(self, requirements: Sequence[str], why: str) -> None:
        """Install ``requirements`` into the build environment with pip."""
        if not requirements:
            return
        self.reporter.info(f"{self.what}: installing {why}: {', '.join(requirements)}")
        req_file = self.work / f"{why.replace(' ', '-')}.txt"
        req_file.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        cmd = [
            sys.executable, "-m", "pip", "--python", self.env.python_executable, "install",
            "--disable-pip-version-check", "--no-input", "--no-warn-script-location",
            "--no-compile", "-r", str(req_file),
        ]  # fmt: skip
        try:
            self.run(cmd, extra_environ={**self.pip_env, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        except subprocess.CalledProcessError:
            raise self.error(f"could not install the {why} of {self.what}") from None

    def error(self, message: str) -> BuildError:
        tail = [line for line in self.output if line.strip()][-TAIL_LINES:]
        return BuildError(
            message,
            details=["output (last lines):", *("  " + line for line in tail)] if tail else (),
            hint="fix the build environment (compilers, system libraries, index settings), "
            "or choose a version that has a wheel for this target",
        )


@contextlib.contextmanager
def _session(sdist_path: Path, build_index: Any, reporter: Reporter) -> Iterator[_Session]:
    from build import BuildException
    from build.env import DefaultIsolatedEnv
    from pyproject_hooks import BuildBackendHookCaller

    what = Path(sdist_path).name
    with tempfile.TemporaryDirectory(prefix="constrain-build-") as tmp:
        work = Path(tmp)
        (work / "src").mkdir()
        tree = unpack(Path(sdist_path), work / "src")
        system = read_build_system(tree, what)
        try:
            env_cm = DefaultIsolatedEnv(path=str(work / "env"))
            env = env_cm.__enter__()
        except (BuildException, subprocess.CalledProcessError, OSError) as exc:
            raise BuildError(f"cannot create a build environment for {what}: {exc}") from None
        try:
            s = _Session(what, tree, work, env, pip_environ(build_index), reporter)
            s.install(system.requires, "build requirements")
            s.hooks = BuildBackendHookCaller(
                str(tree),
                system.backend,
                backend_path=system.backend_path,
                runner=s.run,
                python_executable=env.python_executable,
            )
            yield s
        finally:
            env_cm.__exit__(None, None, None)


def _hook(s: _Session, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call one hook, translating every way it can fail into :class:`BuildError`."""
    from pyproject_hooks import BackendUnavailable, HookMissing, UnsupportedOperation

    try:
        return getattr(s.hooks, name)(*args, **kwargs)
    except subprocess.CalledProcessError:
        raise s.error(f"the build backend failed in {name} for {s.what}") from None
    except BackendUnavailable as exc:
        s.output.extend(exc.traceback.splitlines())
        raise s.error(f"the build backend of {s.what} cannot be imported: {exc}") from None
    except (HookMissing, UnsupportedOperation) as exc:
        raise s.error(f"the build backend of {s.what} cannot run {name}: {exc}") from None


def _prepare(s: _Session) -> None:
    extra = _hook(s, "get_requires_for_build_wheel")
    s.install(list(extra), "backend requirements")


def prepare_metadata(
    sdist_path: Path, *, build_index: Any = None, reporter: Reporter = NULL_REPORTER
) -> bytes:
    """The ``METADATA`` a PEP 517 build of ``sdist_path`` produces: via the backend's
    ``prepare_metadata_for_build_wheel``, or by building the wheel when the backend lacks it.
    Raises :class:`BuildError` naming the sdist, with the backend's last lines of output."""
    with _session(sdist_path, build_index, reporter) as s:
        _prepare(s)
        out = s.work / "metadata"
        out.mkdir()
        dist_info = _hook(s, "prepare_metadata_for_build_wheel", str(out), _allow_fallback=True)
        path = out / dist_info / "METADATA"
        if not path.is_file():
            raise s.error(f"the build backend of {s.what} produced no METADATA")
        return path.read_bytes()


def build_wheel(
    sdist_path: Path, out_dir: Path, *, build_index: Any = None, reporter: Reporter = NULL_REPORTER
) -> Path:
    """Build a wheel from ``sdist_path`` into ``out_dir`` (created if needed) and return its
    path. Raises :class:`BuildError` naming the sdist, with the backend's last lines of output."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _session(sdist_path, build_index, reporter) as s:
        _prepare(s)
        name = _hook(s, "build_wheel", str(out_dir.resolve()))
        return out_dir / name
