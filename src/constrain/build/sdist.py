"""Source distributions: run PEP 517 hooks to get their metadata or a wheel.

An sdist is unpacked safely (``archive.py``) into a fresh temporary directory; its
``[build-system]`` (default: the setuptools legacy backend) is served by a ready isolated
environment from :mod:`.envs` (cached and shared; builds never write into it), and the
backend's hooks run there through ``pyproject_hooks``. Every line pip and the backend write --
stdout, stderr and Python warnings -- is captured, never printed; a failure becomes a
:class:`BuildError` carrying the backend's last meaningful lines (tracebacks reduced to their
exception line), the build tools it ran with, and -- with a cache -- the path of the whole log
(``<cache>/build-logs/``). Over 400 lines: one build session's steps (environment, hooks,
the early hook beside ``get_requires_for_build_wheel``, the memo of that hook's answers)
share its state.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import threading
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BuildError, BuildRequirementsUnavailable
from ..processes import scratch_directory
from ..reporting import NULL_REPORTER, Reporter
from .archive import read_pkg_info, read_top_files, unpack
from .envs import READY, BuildEnv, BuildEnvs, PipFailed, _paths, hook_starting, pip_environ
from .guard import check
from .log import OURS, how_it_ended, keep_log, meaningful_tail
from .slots import SPECULATIVE, GaveWay, run_either, run_in_slot, run_speculative

__all__ = [
    "BuildEnvs",
    "build_requirements",
    "build_wheel",
    "pip_environ",
    "prepare_metadata",
    "read_build_system",
    "read_pkg_info",
    "read_top_files",
    "unpack",
]

DEFAULT_BACKEND = "setuptools.build_meta:__legacy__"
DEFAULT_REQUIRES = ("setuptools>=40.8.0",)


# ====================================================================== build session


_CACHED = re.compile(r"^(?:[0-9a-f]{64}|u[0-9a-f]{16,64})_(?=.)")


def shown_name(filename: str) -> str:
    """An sdist's file name as the user knows it: a cached copy, ``<sha256>_<name>``, loses
    its prefix."""
    return _CACHED.sub("", filename)


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


@dataclass
class _Session:
    """One sdist unpacked into a fresh directory, a ready build environment and a hook caller;
    collects every line of output of pip and of the backend."""

    what: str
    tree: Path
    work: Path
    system: _BuildSystem
    envs: BuildEnvs
    reporter: Reporter
    digest: str  # the sdist's sha256
    output: list[str] = field(default_factory=list)
    env: BuildEnv | None = None
    hooks: Any = None

    def use(self, requirements: Sequence[str], why: str) -> None:
        """Switch to the ready environment holding ``requirements``."""
        if requirements:
            self.reporter.info(f"{self.what}: {why}: {', '.join(requirements)}")
        try:
            self.env = self.envs.get(requirements, self.output, self.what)
        except BuildRequirementsUnavailable:
            raise
        except PipFailed:
            raise self.error(f"could not install the {why} of {self.what}") from None
        from pyproject_hooks import BuildBackendHookCaller

        self.hooks = BuildBackendHookCaller(
            str(self.tree),
            self.system.backend,
            backend_path=self.system.backend_path,
            runner=self.run,
            python_executable=self.env.python_executable,
        )

    def run(self, cmd: Sequence[str], cwd: str | None = None, extra_environ: Any = None) -> None:
        """The ``pyproject_hooks`` runner: stdout and stderr captured, warnings too; the hook
        waits for the process's hook slot (``slots.py``)."""
        self._run(run_in_slot, cmd, cwd, extra_environ)

    def run_speculative(self, cmd: Sequence[str], cwd: str | None = None,
                        extra_environ: Any = None) -> None:
        """:meth:`run` for a hook run early, beside the slot's: raises
        :class:`~.slots.GaveWay` when it grows too large (``slots.py``)."""
        self._run(run_speculative, cmd, cwd, extra_environ)

    def run_either(self, cmd: Sequence[str], cwd: str | None = None,
                   extra_environ: Any = None) -> None:
        """:meth:`run` in the slot, or beside it on the early lane when the slot is taken
        (``slots.run_either``)."""
        self._run(run_either, cmd, cwd, extra_environ)

    def _run(self, lane: Any, cmd: Sequence[str], cwd: str | None, extra_environ: Any) -> None:
        """Run hook ``cmd`` in the environment through ``lane`` (one of ``slots.py``'s
        runners), counted for its bytecode (:func:`~.envs.hook_starting`)."""
        assert self.env is not None
        hook_starting(self.env)
        try:
            lane(cmd, self.output, {**self.env.environ(), **(extra_environ or {})}, cwd)
        finally:
            self._take_warnings(cmd)
            # a hook that installed into the shared environment: it is retired (guard.py)
            check(self.env.path, _paths(self.env), READY, self.what, self.reporter.warning)

    def _take_warnings(self, cmd: Sequence[str]) -> None:
        """Move the warnings the backend raised into the captured output.

        ``pyproject_hooks`` records them in the hook's ``output.json`` (in the control
        directory, the last argument of the command) and re-raises them in *this* process
        with ``warnings.warn_explicit``, where they would reach the user's stderr -- and
        catching them here with ``warnings.catch_warnings`` is not thread-safe. So the runner
        takes them out of the file before ``pyproject_hooks`` reads it."""
        if not cmd:
            return
        out = Path(cmd[-1]) / "output.json"
        try:
            data = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        found = data.get("warnings") if isinstance(data, dict) else None
        if not found or not isinstance(found, list):
            return
        for w in found:
            if isinstance(w, dict):
                where = f"{w.get('filename')}:{w.get('lineno')}"
                self.output.extend(f"{where}: warning: {w.get('message')}".splitlines())
        data["warnings"] = []
        tmp = out.with_name("output.json.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, out)

    def error(self, message: str) -> BuildError:
        """A :class:`BuildError`: ``message``, the backend's last meaningful lines and the
        build tools it ran with (where the whole output is kept is added as the error leaves
        the session: an early hook's failure may yet be superseded)."""
        details = []
        tail = meaningful_tail(self.output)
        if tail:
            details += ["the backend's last lines:", *("  " + line for line in tail)]
        if self.env is not None and self.env.pins:
            tools = ", ".join(p.split(" --hash=", 1)[0] for p in self.env.pins)
            details.append(f"build tools: {tools}")
        return BuildError(
            message,
            details=details,
            hint="install what the build needs (compilers, system libraries); an old sdist "
            "may need older build tools: pin them with --build-constraint FILE (a line such as "
            "'setuptools<58' for a setup.py that uses use_2to3)",
        )

    def keep_log(self, *, drop: bool = False) -> Path | None:
        """The whole output, kept under the cache's ``build-logs/`` (``None`` without a
        cache); ``drop`` removes an old one instead."""
        if self.envs._tmp is not None:  # noqa: SLF001 -- a throwaway cache: nothing kept
            return None
        return keep_log(self.envs.cache.root, self.what, self.output, drop=drop)


@contextlib.contextmanager
def _session(
    sdist_path: Path, build_index: Any, reporter: Reporter, envs: BuildEnvs | None
) -> Iterator[_Session]:
    from ..index.files import sha256_of

    what = shown_name(Path(sdist_path).name)
    own = envs is None
    if envs is None:
        envs = BuildEnvs(None, build_index=build_index, reporter=reporter)
    try:
        # removed on leaving, or, when the command ends without waiting for this build (an
        # interrupt, a failure elsewhere), once its backend is killed (processes.py)
        with scratch_directory("constrain-build-") as work:
            (work / "src").mkdir()
            tree = unpack(Path(sdist_path), work / "src")
            system = read_build_system(tree, what)
            s = _Session(what, tree, work, system, envs, reporter, sha256_of(Path(sdist_path)))
            try:
                s.use(system.requires, "build requirements")
                yield s
            except BuildRequirementsUnavailable:
                raise
            except BuildError as exc:  # leaving the session: keep the whole output
                log = s.keep_log()
                if log is not None:
                    exc.details = (*exc.details, f"whole output: {log}")
                raise
            s.keep_log(drop=True)  # a log of an earlier failure no longer tells the truth
    finally:
        if own:
            envs.close()


def _hook(s: _Session, name: str, *args: Any, hooks: Any = None, **kwargs: Any) -> Any:
    """Call one hook (of ``hooks``, default the session's), translating every way it can fail
    into :class:`BuildError`."""
    from pyproject_hooks import BackendUnavailable, HookMissing, UnsupportedOperation

    try:
        return getattr(hooks or s.hooks, name)(*args, **kwargs)
    except subprocess.CalledProcessError as exc:
        ended = how_it_ended(exc.returncode)
        error = s.error(f"the build backend failed in {name} for {s.what}: {ended}")
        s.output.append(f"{OURS}{name} {ended}")  # in the whole log too, even when it is empty
        raise error from None
    except BackendUnavailable as exc:
        s.output.extend(exc.traceback.splitlines())
        backend = exc.backend_name or s.system.backend
        raise s.error(f"the build backend of {s.what} ({backend}) cannot be imported") from None
    except (HookMissing, UnsupportedOperation) as exc:
        raise s.error(f"the build backend of {s.what} cannot run {name}: {exc}") from None


#: what ``get_requires_for_build_wheel`` answered in this process, by sdist (its sha256),
#: backend and build environment: an sdist built twice in one command (its metadata for a
#: resolve, then its wheel for the install; on Python 3.11 a cold install of
#: ``apache-airflow[postgres]==2.3.1`` does so for 13) runs that hook once
_REQUIRES: dict[tuple, tuple[str, ...]] = {}
_REQUIRES_LOCK = threading.Lock()


def _requires_key(s: _Session) -> tuple:
    assert s.env is not None
    return (s.digest, str(s.env.path), s.system.backend, tuple(s.system.backend_path or ()))


def _requires(s: _Session) -> list[str]:
    """What ``get_requires_for_build_wheel`` answers for the session's sdist in its
    environment: asked of the backend once per process (:data:`_REQUIRES`)."""
    key = _requires_key(s)
    with _REQUIRES_LOCK:
        known = _REQUIRES.get(key)
    if known is None:
        known = tuple(str(r) for r in _hook(s, "get_requires_for_build_wheel"))
        with _REQUIRES_LOCK:
            _REQUIRES[key] = known
    return list(known)


def _prepare(s: _Session) -> None:
    """Ask the backend for more requirements; when the environment lacks some, move to the
    (cached) environment of the whole set -- a ready environment is never installed into."""
    extra = _requires(s)
    assert s.env is not None
    if extra and not s.env.satisfies(extra):
        s.use([*s.system.requires, *extra], "backend requirements")


def build_requirements(
    sdist_path: Path,
    *,
    reporter: Reporter = NULL_REPORTER,
    envs: BuildEnvs | None = None,
) -> list[str]:
    """Every build requirement of ``sdist_path`` for a wheel build on this interpreter: its
    ``[build-system] requires`` and what ``get_requires_for_build_wheel`` adds, run in the
    environment of the former (what a wheelhouse must carry to build it offline). Raises
    :class:`BuildError` as :func:`prepare_metadata` does."""
    with _session(sdist_path, None, reporter, envs) as s:
        return list(dict.fromkeys([*s.system.requires, *_requires(s)]))


def prepare_metadata(
    sdist_path: Path,
    *,
    build_index: Any = None,
    reporter: Reporter = NULL_REPORTER,
    envs: BuildEnvs | None = None,
) -> bytes:
    """The ``METADATA`` a PEP 517 build of ``sdist_path`` produces: via the backend's
    ``prepare_metadata_for_build_wheel``, or by building the wheel when the backend lacks it.
    ``envs`` supplies (cached) build environments; without it a private, temporary one is
    made for this call. Nothing is printed: the output of pip and of the backend is captured.
    Raises :class:`BuildError` naming the sdist, with the last lines of that output."""
    with _session(sdist_path, build_index, reporter, envs) as s:
        out, dist_info = _with_early(s, "prepare_metadata_for_build_wheel", s.work / "metadata",
                                     _allow_fallback=True)
        path = out / dist_info / "METADATA"
        if not path.is_file():
            raise s.error(f"the build backend of {s.what} produced no METADATA")
        return path.read_bytes()


def _on_a_copy(s: _Session, name: str, runner: Any) -> tuple[Path, Any]:
    """A directory for hook ``name``'s output and a hook caller running through ``runner`` on
    a copy of the source tree: a hook that gives way leaves the tree of its build untouched."""
    from pyproject_hooks import BuildBackendHookCaller

    out = s.work / f"{name}-early"
    out.mkdir()
    tree = s.work / "early" / s.tree.name  # the same name: backends may read it
    shutil.copytree(s.tree, tree, symlinks=True)
    return out, BuildBackendHookCaller(str(tree), s.system.backend,
                                       backend_path=s.system.backend_path, runner=runner,
                                       python_executable=s.hooks.python_executable)


class _EarlyHook:
    """One hook (``prepare_metadata_for_build_wheel`` or ``build_wheel``) started at once, on a
    copy of the source tree, while ``get_requires_for_build_wheel`` runs: each hook is a new
    interpreter importing the backend, and most backends need nothing more, so the two usually
    run side by side rather than one after the other. The result counts only if the
    environment stays the same. It runs on speculation (``slots.py``): holding
    :data:`~.slots.SPECULATIVE`, which the caller took and this gives back, and ended when it
    grows too large (:attr:`gave_way`)."""

    def __init__(self, s: _Session, name: str, **kwargs: Any) -> None:
        self.s = s
        self.env = s.env
        self.gave_way = False
        self._value: Any = None
        self._error: BaseException | None = None
        try:
            self.out, hooks = _on_a_copy(s, name, s.run_speculative)
            self._thread = threading.Thread(
                target=self._run, args=(name, hooks, kwargs), name="constrain-early-hook",
                daemon=True,
            )  # fmt: skip
            self._thread.start()
        except BaseException:
            SPECULATIVE.release()
            raise

    def _run(self, name: str, hooks: Any, kwargs: dict[str, Any]) -> None:
        try:
            self._value = _hook(self.s, name, str(self.out), hooks=hooks, **kwargs)
        except GaveWay:
            self.gave_way = True
        except BaseException as exc:  # noqa: BLE001 -- handed to whoever takes the result
            self._error = exc
        finally:
            SPECULATIVE.release()

    def join(self) -> None:
        self._thread.join()

    def result(self) -> Any:
        self.join()
        if isinstance(self._error, BuildError):  # retold now: the output of both hooks
            raise self.s.error(self._error.message) from None
        if self._error is not None:
            raise self._error
        return self._value


def _with_early(s: _Session, name: str, out: Path, *, speculate: bool = True,
                **kwargs: Any) -> tuple[Path, Any]:
    """``(directory, result)`` of hook ``name``, run beside ``get_requires_for_build_wheel``
    (:class:`_EarlyHook`, when ``speculate`` and no other build's early hook is running), and
    again, into ``out``, in the hook slot, when the backend asked for more, the early run
    gave way, or there was none. When that hook's answer is known already there is nothing
    to run beside it: see :func:`_known_early`."""
    with _REQUIRES_LOCK:
        known = _requires_key(s) in _REQUIRES
    if known:  # (``speculate`` is about running a hook twice: this one runs once)
        _prepare(s)  # the known answer: it may move the build to another environment
        done = _known_early(s, name, **kwargs)
        if done is not None:
            return done
        out.mkdir(parents=True, exist_ok=True)
        return out, _hook(s, name, str(out), **kwargs)
    early = _EarlyHook(s, name, **kwargs) if speculate and SPECULATIVE.acquire(
        blocking=False) else None
    try:
        _prepare(s)
    except BaseException:
        if early is not None:
            early.join()
        raise
    if early is not None:
        early.join()
        if early.env is s.env and not early.gave_way:  # it needed nothing more: it stands
            return early.out, early.result()
    out.mkdir(parents=True, exist_ok=True)
    return out, _hook(s, name, str(out), **kwargs)


def _known_early(s: _Session, name: str, **kwargs: Any) -> tuple[Path, Any] | None:
    """Hook ``name`` of a build whose requirements are known, run on a copy of the tree in the
    slot when it is free, else beside another build's hook on the early lane
    (``slots.run_either``): builds of one command then use two cores where each would run one
    interpreter at a time (a cold install of ``apache-airflow[postgres]==2.3.1`` on Python
    3.11 builds 13 wheels of sdists whose metadata it built before). ``None`` when it gave
    way: its build runs it again, in the slot, on the untouched tree."""
    out, hooks = _on_a_copy(s, name, s.run_either)
    try:
        return out, _hook(s, name, str(out), hooks=hooks, **kwargs)
    except GaveWay:
        return None


def build_wheel(
    sdist_path: Path,
    out_dir: Path,
    *,
    build_index: Any = None,
    reporter: Reporter = NULL_REPORTER,
    envs: BuildEnvs | None = None,
    speculate: bool = True,
) -> Path:
    """Build a wheel from ``sdist_path`` into ``out_dir`` (created if needed) and return its
    path. ``envs`` as for :func:`prepare_metadata`. ``speculate=False``: the wheel hook runs
    after ``get_requires_for_build_wheel``, never beside it (for a caller whose other work
    keeps every core busy: the early run would cost a core's worth of time and save no
    wait); when that hook's answer is known it still runs beside another build's hook
    (:func:`_known_early`: it runs once either way). Raises :class:`BuildError` naming the
    sdist, with the last lines of the output of pip and of the backend."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _session(sdist_path, build_index, reporter, envs) as s:
        built, name = _with_early(s, "build_wheel", s.work / "dist", speculate=speculate)
        # the hook's answer is the backend's word only: a name with a path in it, or one it
        # did not write, is its failure, never a file looked for elsewhere
        if not isinstance(name, str) or Path(name).name != name or not (built / name).is_file():
            raise s.error(f"the build backend of {s.what} named a wheel it did not write: "
                          f"build_wheel returned {name!r}")
        wheel = out_dir / name
        shutil.move(built / name, wheel)
        return wheel
