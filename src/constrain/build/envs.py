"""Isolated PEP 517 build environments, filled under the command's rules and kept for reuse.

A build environment is a ``venv`` without pip (``venv.EnvBuilder(with_pip=False)``: no
ensurepip). Its build requirements are chosen by a :class:`BuildRequirementSource` -- the
command's own resolver (``constrain.build.requirements``): the resolve's cut-off, first index,
find-links, wheelhouse and ``--offline``, for this interpreter -- and its wheels installed with
pypa/installer; its bytecode is written by its own interpreter once it is in use
(:func:`hook_starting`: at its third hook in a process). Without a source (a library call with
only ``build_index``) the host's pip installs them through ``pip --python ENV install
--report`` (pip >= 22.3).
:class:`BuildEnvs` keeps the environments, under ``<cache root>/build-envs-v3/``:

- ``envs/<random>/`` -- an environment, immutable once its ``.ready`` marker exists (written
  atomically, last) but for its bytecode, written later (then the ``.compiled`` marker). It
  is made at its final path because console-script shebangs and ``pyvenv.cfg`` hold absolute
  paths (a venv cannot be renamed into place); an interrupted creation leaves a directory
  without the marker, which nothing ever uses.
- ``pins/<digest>`` -- which environment holds an exact set of pins (``setuptools==56.0.0``
  and, when known, the sha256 of each wheel) for this Python: the identity of an environment
  is what is in it, so environments of different dates never mix.
- the cache's ``misc`` bucket maps a set of build requirements (``setuptools>=40.8.0``), under
  one set of rules (the source's :meth:`~BuildRequirementSource.identity`: cut-off,
  exemptions, build constraints, sources), to the pins chosen for it. Pins chosen as of a
  cut-off are kept for good (nothing uploaded later can change them); others are trusted for
  ``resolution_ttl`` seconds (a day): a new release of a backend is picked up the next day,
  not within a run. After that the requirements are resolved afresh; when the pins come out
  the same, the existing environment is used.

Creation for one set of requirements happens under ``Cache.lock``, so concurrent builds in
threads or processes wait for one creator and then share its result. Builds never install
into a ready environment: requirements a backend adds (``get_requires_for_build_wheel``) that
it does not satisfy select the environment of the whole set instead. Builds run with
``PYTHONDONTWRITEBYTECODE``, so a build writes nothing into an environment (nor ``__pycache__``
into the sdist's tree, where a ``MANIFEST.in`` could carry it into the wheel); they read the
bytecode :func:`_compile` writes.

Without a cache the environments live in a temporary directory removed by :meth:`close`.
All pip output is captured into the caller's output list (for :class:`BuildError` tails);
nothing is printed. One module past 400 lines: the cache layout above (markers, pins, remembered
resolutions) is one contract, kept where it is written and read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..cache.store import Cache
from ..errors import BuildError
from ..reporting import NULL_REPORTER, Reporter
from .guard import record

ENVS_DIR = "build-envs-v3"  # bump when the layout or the way envs are made changes
READY = ".ready"
COMPILED = ".compiled"  # its bytecode is written (:func:`_compile`)
RESOLUTION_TTL = 24 * 3600.0
_BIN = "Scripts" if os.name == "nt" else "bin"
_EXE = "python.exe" if os.name == "nt" else "python"


class PipFailed(Exception):
    """pip exited non-zero; its output is already in the caller's output list."""


@dataclass(frozen=True)
class BuildWheel:
    """One wheel chosen for a build environment: the pin, and a local copy of the file."""

    name: str  # canonical project name
    version: str
    path: Path
    filename: str
    sha256: str | None = None

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"


class BuildRequirementSource(Protocol):
    """Chooses and fetches the wheels that satisfy an sdist's build requirements."""

    def identity(self) -> Any:
        """JSON-able: everything besides the requirements that decides the choice (cut-off,
        exemptions, build constraints, sources). Part of the key of a remembered choice."""
        ...

    def stable(self) -> bool:
        """Whether a choice, once made, holds for good (made as of a past cut-off)."""
        ...

    def resolve(self, requirements: Sequence[str], needed_by: str) -> list[BuildWheel]:
        """The wheels (with their dependencies) to install for ``requirements``, the build
        requirements of ``needed_by`` (an sdist's file name, for messages); each path local.
        Raises :class:`~constrain.errors.BuildRequirementsUnavailable` naming what is
        missing and ``needed_by``."""
        ...


def pip_environ(build_index: Any) -> dict[str, str]:
    """Environment variables that point pip at ``build_index`` (``index_url``,
    ``extra_index_urls``, ``find_links``, ``no_index`` attributes); empty for ``None``."""
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


def python_identity() -> str:
    """The interpreter build environments are made from: environments are only shared between
    runs of the same one."""
    base = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    return f"{sys.implementation.cache_tag}|{sys.version}|{sysconfig.get_platform()}|{base}"


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def run_captured(cmd: Sequence[str], output: list[str], env: dict[str, str],
                 cwd: str | None = None) -> None:  # fmt: skip
    """Run ``cmd`` with stdout and stderr captured into ``output``; raise
    :class:`subprocess.CalledProcessError` when it fails."""
    proc = subprocess.run(
        list(cmd), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    output.extend(proc.stdout.decode("utf-8", "replace").splitlines())
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, list(cmd), proc.stdout)


class BuildEnv:
    """One ready environment: its directory, interpreter and the exact pins installed."""

    def __init__(self, path: Path, pins: tuple[str, ...]) -> None:
        self.path = path
        self.pins = pins
        self.python_executable = str(path / _BIN / _EXE)

    def environ(self) -> dict[str, str]:
        """The process environment for running a backend in this environment."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env["PATH"] = str(self.path / _BIN) + os.pathsep + env.get("PATH", "")
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # the environment stays as it was installed
        env["PYTHONNOUSERSITE"] = "1"
        return env

    def satisfies(self, requirements: Iterable[str]) -> bool:
        """Whether every requirement (markers evaluated for this Python) is met by a pin."""
        pinned = {}
        for pin in self.pins:
            with contextlib.suppress(InvalidRequirement):
                req = Requirement(pin.split(" --hash=", 1)[0])
                versions = [s.version for s in req.specifier if s.operator == "=="]
                if versions and req.url is None:
                    pinned[canonicalize_name(req.name)] = versions[0]
        for text in requirements:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                return False  # pip will say what is wrong with it
            if req.marker is not None and not req.marker.evaluate():
                continue
            have = pinned.get(canonicalize_name(req.name))
            if have is None or req.url or req.extras:
                return False
            if not req.specifier.contains(have, prereleases=True):
                return False
        return True


class BuildEnvs:
    """Build environments for one process, shared by its builds (thread-safe) and, through the
    cache, by later runs and concurrent processes. See the module docstring."""

    def __init__(
        self,
        cache: Cache | None,
        *,
        build_index: Any = None,
        reporter: Reporter = NULL_REPORTER,
        resolution_ttl: float = RESOLUTION_TTL,
        source: BuildRequirementSource | None = None,
    ) -> None:
        self.source = source
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if cache is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="constrain-envs-",
                                                    ignore_cleanup_errors=True)
            cache = Cache(self._tmp.name)
        self.cache = cache
        self.root = cache.root / ENVS_DIR
        self.pip_env = pip_environ(build_index)
        self.reporter = reporter
        self.resolution_ttl = resolution_ttl
        self._python = python_identity()
        self._resolved: dict[str, tuple[str, ...]] = {}
        self._memo: dict[str, BuildEnv] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def close(self) -> None:
        """Remove the environments of a cache-less instance (a no-op with a cache)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # ------------------------------------------------------------------ public
    def get(self, requirements: Sequence[str], output: list[str], needed_by: str = "") -> BuildEnv:
        """A ready environment holding ``requirements`` (the build requirements of
        ``needed_by``, an sdist's name), created -- and the requirements resolved -- when there
        is none yet. Output of pip goes to ``output``; raises :class:`PipFailed` when pip
        fails, :class:`BuildRequirementsUnavailable` when the source cannot satisfy them,
        :class:`BuildError` when no venv can be made."""
        reqs = sorted({r.strip() for r in requirements if r.strip()})
        rules = self.source.identity() if self.source is not None else None
        key = _digest("requires", self._python, self.pip_env, rules, reqs)[:32]
        with self._lock_for(key):
            env = self._memo.get(key)
            if env is not None:
                return env
            env = self._lookup(self._cached_resolution(key))
            if env is None:
                with self.cache.lock(f"build-env-{key}"):
                    # another process may have made it while we waited
                    env = self._lookup(self._cached_resolution(key))
                    if env is None:
                        env = self._create(reqs, output, needed_by)
                        self._remember_resolution(key, reqs, env.pins)
            self._memo[key] = env
            return env

    # ------------------------------------------------------------------ internals
    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _pins_file(self, pins: Sequence[str]) -> Path:
        return self.root / "pins" / _digest("pins", self._python, sorted(pins))

    def _lookup(self, pins: tuple[str, ...] | None) -> BuildEnv | None:
        """The ready environment of exactly ``pins``, if there is one."""
        if pins is None:
            return None
        try:
            name = self._pins_file(pins).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        path = self.root / "envs" / name
        if not name or "/" in name or not (path / READY).is_file():
            return None
        return BuildEnv(path, pins)

    def _cached_resolution(self, key: str) -> tuple[str, ...] | None:
        if key in self._resolved:
            return self._resolved[key]
        entry = f"build-requires-{key}"
        age = self.cache.age("misc", entry)
        stable = self.source is not None and self.source.stable()
        if age is None or (age > self.resolution_ttl and not stable):
            return None
        try:
            pins = json.loads(self.cache.get("misc", entry) or b"")["pins"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(pins, list) or not all(isinstance(p, str) for p in pins):
            return None
        return tuple(pins)

    def _remember_resolution(self, key: str, reqs: list[str], pins: tuple[str, ...]) -> None:
        self._resolved[key] = pins
        data = json.dumps({"requires": reqs, "pins": list(pins)}).encode()
        self.cache.put("misc", f"build-requires-{key}", data, meta={"fetched": time.time()})

    def _pip(self, args: Sequence[str], output: list[str], python: str | None = None) -> None:
        cmd = [sys.executable, "-m", "pip"]
        if python is not None:
            cmd += ["--python", python]
        cmd += [*args, "--disable-pip-version-check", "--no-input"]
        environ = {**os.environ, **self.pip_env, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        try:
            run_captured(cmd, output, environ)
        except subprocess.CalledProcessError:
            raise PipFailed() from None

    def _create(self, reqs: list[str], output: list[str], needed_by: str) -> BuildEnv:
        """Make a new environment holding ``reqs`` under ``envs/<random>`` and publish it
        under its pins -- or, when an environment of the same pins appeared meanwhile (the
        same set written another way, or a re-resolution after the TTL that changed nothing),
        discard the new one and return that."""
        import venv  # here: most commands that import this module create no environment

        envs_dir = self.root / "envs"
        envs_dir.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="env-", dir=envs_dir))
        self.reporter.info(
            "creating a build environment" + (f" for {', '.join(reqs)}" if reqs else "")
        )
        try:
            env = BuildEnv(path, ())
            try:
                venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt", clear=True).create(path)
            except (OSError, subprocess.CalledProcessError) as exc:
                raise BuildError(f"cannot create a build environment in {path}: {exc}") from None
            if reqs:
                env.pins = self._install(env, reqs, output, needed_by)
            with self.cache.lock(f"build-pins-{self._pins_file(env.pins).name[:32]}"):
                existing = self._lookup(env.pins)
                if existing is not None:
                    shutil.rmtree(path, ignore_errors=True)
                    return existing
                record(path, _paths(env))  # what it holds, for guard.check after each hook
                marker = path / READY
                marker.with_name(READY + ".tmp").write_text(
                    json.dumps({"pins": list(env.pins), "python": self._python}) + "\n"
                )
                os.replace(marker.with_name(READY + ".tmp"), marker)
                pointer = self._pins_file(env.pins)
                pointer.parent.mkdir(parents=True, exist_ok=True)
                tmp = pointer.with_name(pointer.name + ".tmp")
                tmp.write_text(path.name + "\n", encoding="utf-8")
                os.replace(tmp, pointer)
            return env
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise

    def _install(self, env: BuildEnv, reqs: list[str], output: list[str],
                 needed_by: str) -> tuple[str, ...]:
        """Install ``reqs`` into ``env``; return the pins chosen (with each wheel's sha256
        when known: the environment's identity). By the source when there is one, else by
        pip. The source's wheels are installed without bytecode (:func:`hook_starting` writes
        it for an environment in use); pip compiles what it installs, so its environments are
        marked :data:`COMPILED` at once."""
        if self.source is not None:
            wheels = self.source.resolve(reqs, needed_by)
            for wheel in wheels:
                _install_wheel(wheel.path, wheel.filename, env)
            return tuple(sorted(w.pin + (f" --hash=sha256:{w.sha256}" if w.sha256 else "")
                                for w in wheels))
        req_file = env.path / "build-requirements.txt"
        req_file.write_text("\n".join(reqs) + "\n", encoding="utf-8")
        report = env.path / "build-report.json"
        self._pip(["install", "--ignore-installed", "--no-warn-script-location",
                   "--report", str(report), "-r", str(req_file)],
                  output, python=env.python_executable)  # fmt: skip
        (env.path / COMPILED).touch()  # pip wrote the bytecode as it installed
        try:
            items = json.loads(report.read_text(encoding="utf-8"))["install"]
            pins = []
            for item in items:
                name = canonicalize_name(item["metadata"]["name"])
                if item.get("is_direct"):
                    pins.append(f"{name} @ {item['download_info']['url']}")
                else:
                    pins.append(f"{name}=={item['metadata']['version']}")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            output.append(f"unreadable pip report: {exc}")
            raise PipFailed() from None
        return tuple(sorted(pins))


@contextlib.contextmanager
def _wheel(path: Path, filename: str):
    """``installer``'s view of the wheel at ``path`` (a cache file whose own name differs),
    named ``filename``; refuses member names that would leave the environment."""
    import zipfile

    from installer.sources import WheelFile

    with zipfile.ZipFile(path) as zf:
        zf.filename = filename  # installer reads name and version from the file's name
        for member in zf.namelist():
            parts = member.replace("\\", "/").split("/")
            if member.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
                raise BuildError(f"{filename} has an unsafe member name {member!r}")
        yield WheelFile(zf)


def _paths(env: BuildEnv) -> dict[str, str]:
    """The install scheme's directories of the environment ``env``."""
    names = sysconfig.get_scheme_names()
    scheme = "venv" if "venv" in names else ("nt" if os.name == "nt" else "posix_prefix")
    # installed_base too: the include (headers) path is made from it, and without it a wheel
    # with headers (greenlet) wrote them into the running interpreter's own include directory
    base = str(env.path)
    return sysconfig.get_paths(scheme, vars={"base": base, "platbase": base,
                                             "installed_base": base,
                                             "installed_platbase": base})


#: an environment's bytecode is written when it starts its third hook in one process
COMPILE_AT_HOOK = 3
_HOOKS: dict[str, int] = {}  # environment path -> hooks started in it by this process
_HOOKS_LOCK = threading.Lock()
#: compileall at a lower priority (``nice`` 10): the hooks running meanwhile come first
_NICE_COMPILEALL = ("import compileall, os, sys\n"
                    "if hasattr(os, 'nice'):\n"
                    "    os.nice(10)\n"
                    "sys.exit(int(not compileall.main()))\n")


def hook_starting(env: BuildEnv) -> None:
    """A hook is about to run in ``env``. At its third in this process an environment without
    its bytecode starts writing it, beside the hook (:func:`_compile`, in a thread)."""
    with _HOOKS_LOCK:
        started = _HOOKS[str(env.path)] = _HOOKS.get(str(env.path), 0) + 1
    if started == COMPILE_AT_HOOK and not (env.path / COMPILED).exists():
        threading.Thread(target=_compile, args=(env,), name="constrain-compile",
                         daemon=True).start()


def _compile(env: BuildEnv) -> None:
    """Write the bytecode of everything installed in ``env`` with its own interpreter (in a
    process of its own: the command's GIL stays free), then its :data:`COMPILED` marker.

    Builds run with ``PYTHONDONTWRITEBYTECODE`` (see the module docstring), so without it each
    hook compiles its backend again as it imports it: with setuptools 62, 0.25-0.3 s of each
    hook's 0.9-1.3 s, and a cold install of ``apache-airflow[postgres]==2.3.1`` on Python 3.11
    runs about 75 hooks (benchmarks/README.md). Compiling all of setuptools costs about 0.4 s
    of CPU, more than the two hooks of a one-off build save: so it waits for a third hook
    (:func:`hook_starting`). ``.pyc`` files are written atomically, so hooks reading them
    meanwhile see whole files or none; a compile ended early (the command ends, or is
    interrupted: ``processes.kill_descendants``) writes no marker, and the next command's
    third hook finishes it. A module that does not compile (a Python 2 file a package still
    ships) is left without bytecode, as pip leaves it. ``-I``: the user's
    ``PYTHONPYCACHEPREFIX`` would put the bytecode elsewhere."""
    paths = _paths(env)
    dirs = sorted({os.path.realpath(paths[key]) for key in ("purelib", "platlib")})
    try:
        done = subprocess.run([env.python_executable, "-I", "-c", _NICE_COMPILEALL, "-q", *dirs],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, check=False)
    except OSError:
        return
    if done.returncode in (0, 1):  # 1: some module did not compile; killed: below 0
        with contextlib.suppress(OSError):
            (env.path / COMPILED).touch()


def _install_wheel(path: Path, filename: str, env: BuildEnv) -> None:
    """Install the wheel at ``path`` into the environment ``env`` with ``installer``."""
    from installer import install
    from installer.destinations import SchemeDictionaryDestination

    paths = _paths(env)
    destination = SchemeDictionaryDestination(
        {key: paths[key] for key in ("purelib", "platlib", "scripts", "data")}
        | {"headers": paths.get("include", str(env.path / "include"))},
        interpreter=env.python_executable,
        script_kind="win-amd64" if os.name == "nt" else "posix",
    )
    with _wheel(path, filename) as source:
        install(source, destination, {"INSTALLER": b"constrain\n"})

