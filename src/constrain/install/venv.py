"""The environment installed into: find or create it, learn its interpreter once, lock it.

The target of an install is an interpreter, never the one constrain runs on. It is run once (with
``packaging`` lent to it) to learn its version, install scheme, marker values and platform tags;
the answer is cached by the interpreter's path and mtime, so later runs start no process. What
depends on the interpreter's binary alone (version, marker values, platform tags: two thirds of
the probe's time, importing ``packaging``) is cached by the binary's real path too, so a new
venv of an interpreter seen before is asked only for its own paths (:data:`_ENV_PROBE`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from ..cache.store import Cache
from ..errors import ConstrainError, UsageError
from ..locks import wait_exclusive
from ..records import record
from ..target import TargetEnvironment

#: Bump when the probes below report more or different facts.
_PROBE_VERSION = 2  # 2: externally_managed
#: the facts of the environment rather than of the binary (asked of every new venv)
_ENV_KEYS = ("executable", "prefix", "base_prefix", "paths")
_ENV_FACTS = r"""
import json, sys, sysconfig
paths = sysconfig.get_paths()
facts = {
    "executable": sys.executable,
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "paths": {k: paths[k] for k in ("purelib", "platlib", "scripts", "data", "include")},
}
"""
_ENV_PROBE = _ENV_FACTS + "print(json.dumps(facts))\n"
_PROBE = _ENV_FACTS + r"""
import os
sys.path.insert(0, sys.argv[1])
from packaging import markers, tags
sys.path.pop(0)
try:
    import ensurepip
    bundled = os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")
    ensure = [os.path.join(bundled, n) for n in sorted(os.listdir(bundled)) if n.endswith(".whl")]
except Exception:
    ensure = []
facts.update({
    "version": list(sys.version_info[:3]),
    "implementation": sys.implementation.name,
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "markers": markers.default_environment(),
    "platform_tags": list(tags.platform_tags()),
    "bundled_wheels": ensure,
    "externally_managed": os.path.isfile(os.path.join(sysconfig.get_path("stdlib"),
                                                      "EXTERNALLY-MANAGED")),
})
print(json.dumps(facts))
"""


class EnvironmentError_(ConstrainError):  # trailing _: avoids the builtin's name
    """The environment to install into cannot be found, created, used or locked."""


@record
class Interpreter:
    """What the target interpreter told us about itself."""

    executable: str
    version: tuple[int, int, int]
    implementation: str
    free_threaded: bool
    prefix: str
    base_prefix: str
    paths: dict[str, str]
    markers: dict[str, str]
    platform_tags: tuple[str, ...]
    bundled_wheels: tuple[str, ...] = ()
    #: its standard library holds PEP 668's ``EXTERNALLY-MANAGED``: its distribution (Debian,
    #: Homebrew...) manages its packages
    externally_managed: bool = False

    @property
    def is_venv(self) -> bool:
        return os.path.realpath(self.prefix) != os.path.realpath(self.base_prefix)

    @property
    def state_dir(self) -> Path:
        """constrain's own state for this environment (the install lock, the journals of
        replacements under way): ``<venv>/.constrain`` in a venv; for a system interpreter
        ``.constrain`` in its site-packages, where its installs write (Debian's prefix is
        ``/usr``, its site-packages ``/usr/local/lib/python3.X/dist-packages``)."""
        return Path(self.prefix if self.is_venv else self.paths["purelib"]) / ".constrain"

    @property
    def python_short(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    def scheme(self, dist_name: str) -> dict[str, str]:
        """The install scheme (``installer``'s names) for one distribution."""
        headers = os.path.join(
            self.paths["data"], "include", "site", f"python{self.python_short}", dist_name
        )
        return {
            "purelib": self.paths["purelib"],
            "platlib": self.paths["platlib"],
            "scripts": self.paths["scripts"],
            "data": self.paths["data"],
            "headers": headers,
        }

    @property
    def site_dirs(self) -> tuple[str, ...]:
        dirs = [self.paths["purelib"]]
        if self.paths["platlib"] != self.paths["purelib"]:
            dirs.append(self.paths["platlib"])
        return tuple(dirs)

    def target(self) -> TargetEnvironment:
        """The resolve target this interpreter is: its own tags and marker values."""
        here = sys.version_info
        return TargetEnvironment(
            python_version=self.version,
            free_threaded=self.free_threaded,
            host=tuple(self.version) == (here.major, here.minor, here.micro),
            host_platforms=self.platform_tags,
            host_markers=tuple(sorted(self.markers.items())),
        )

    def to_json(self) -> str:
        data = dict(self.__dict__)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> Interpreter:
        return cls(
            executable=data["executable"],
            version=tuple(data["version"]),
            implementation=data["implementation"],
            free_threaded=bool(data.get("free_threaded")),
            prefix=data["prefix"],
            base_prefix=data["base_prefix"],
            paths=dict(data["paths"]),
            markers=dict(data["markers"]),
            platform_tags=tuple(data["platform_tags"]),
            bundled_wheels=tuple(data.get("bundled_wheels") or ()),
            externally_managed=bool(data.get("externally_managed")),
        )


def inspect(executable: str | os.PathLike[str], cache: Cache | None = None) -> Interpreter:
    """Run ``executable`` once to learn its facts; cached by path and mtime (and what comes
    from the binary alone by its real path: see the module docstring)."""
    path = Path(executable)
    if not path.exists():
        raise EnvironmentError_(f"no interpreter at {path}",
                                hint="give the path of a python executable")
    st = path.stat()  # of the binary itself: a venv's python is a link to it
    key = f"interp-{_key(os.path.abspath(path), st)}"
    if cache is not None:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            return Interpreter.from_dict(json.loads(cache.get("misc", key) or b"null"))
    binary_key = f"interp-binary-{_key(os.path.realpath(path), st)}"
    interp = None
    if cache is not None and (binary := cache.get("misc", binary_key)) is not None:
        with contextlib.suppress(ValueError, KeyError, TypeError):  # else damaged: ask in full
            data = {**json.loads(binary), **_ask(path, _ENV_PROBE)}
            interp = Interpreter.from_dict(data)
    fresh = interp is None
    if interp is None:
        import packaging

        data = _ask(path, _PROBE, str(Path(packaging.__file__).resolve().parent.parent))
        interp = Interpreter.from_dict(data)
    if interp.implementation != "cpython":
        raise EnvironmentError_(
            f"{path} is {interp.implementation}; constrain installs into CPython only")
    if cache is not None:
        with contextlib.suppress(ConstrainError):
            cache.put("misc", key, json.dumps(data).encode())
            if fresh:
                cache.put("misc", binary_key, json.dumps(
                    {k: v for k, v in data.items() if k not in _ENV_KEYS}).encode())
    return interp


def _key(where: str, st: os.stat_result) -> str:
    return hashlib.sha256(
        f"{_PROBE_VERSION}|{where}|{st.st_mtime_ns}|{st.st_size}".encode()).hexdigest()


def _ask(path: Path, script: str, *args: str) -> dict:
    """What the interpreter at ``path`` prints, as JSON, running ``script`` (isolated mode)."""
    try:
        proc = subprocess.run(
            [str(path), "-I", "-c", script, *args],
            capture_output=True, text=True, timeout=120, check=False,
        )
    except OSError as exc:
        raise EnvironmentError_(f"cannot run {path}: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        raise EnvironmentError_(f"{path} did not answer as a Python interpreter",
                                details=tail, hint="give the path of a CPython 3.8+ executable")
    return json.loads(proc.stdout)


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


#: Written into a venv constrain creates, before it is created, and removed once its first
#: install is complete: a venv holding it is constrain's and not yet whole (``{"seed": bool}``:
#: whether pip is still to be put in).
INCOMPLETE = Path(".constrain") / "incomplete"


def create_venv(venv: Path, base_python: str | None, *, seed: bool = True) -> None:
    """Create a virtual environment at ``venv`` (without pip: the caller seeds it), marked
    incomplete (:data:`INCOMPLETE`) until :func:`mark_complete`. A failed creation removes
    what it made."""
    python = base_python or getattr(sys, "_base_executable", None) or sys.executable
    existed = venv.exists()
    try:
        (venv / INCOMPLETE).parent.mkdir(parents=True, exist_ok=True)
        # the marker names its maker and is made once: a second install starting now finds
        # it and waits for this one's venv (choose) instead of making another over it
        fd = os.open(venv / INCOMPLETE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise BeingMade(str(venv)) from None
    except OSError as exc:
        raise EnvironmentError_(
            f"could not create a virtual environment at {venv}: {exc.strerror or exc}",
            hint="check the directory's permissions and free space") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"seed": seed, "pid": os.getpid()}))
        proc = subprocess.run(
            [python, "-m", "venv", "--without-pip", str(venv)],
            capture_output=True, text=True, check=False,
        )
    except BaseException as exc:
        remove_venv(venv, keep_dir=existed)
        if isinstance(exc, OSError):
            raise EnvironmentError_(
                f"could not create a virtual environment at {venv}: {exc.strerror or exc}",
                hint="check the directory's permissions and free space") from None
        raise
    if proc.returncode != 0:
        remove_venv(venv, keep_dir=existed)
        raise EnvironmentError_(f"could not create a virtual environment at {venv}",
                                details=proc.stderr.strip().splitlines()[-3:],
                                hint="check the directory's permissions and free space")


class BeingMade(Exception):
    """Another install created the venv's marker first: it is making the venv now."""


def incomplete(venv: Path) -> dict | None:
    """The marker of a venv constrain created whose first install has not completed, or
    ``None`` (a complete venv, or one constrain did not create)."""
    try:
        data = json.loads((venv / INCOMPLETE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"seed": True}
    return data if isinstance(data, dict) else {"seed": True}


def mark_complete(venv: Path) -> None:
    """The venv's first install is done: it is the user's now, never removed by constrain."""
    with contextlib.suppress(FileNotFoundError):
        (venv / INCOMPLETE).unlink()


def remove_venv(venv: Path, *, keep_dir: bool = False) -> None:
    """Remove a venv constrain created and never completed (``keep_dir``: empty it instead,
    for a directory that was there, empty, before)."""
    import shutil

    if keep_dir:
        for entry in list(venv.iterdir()) if venv.is_dir() else []:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()
    else:
        import glob

        # renamed aside first: one cut short leaves no half venv at the path (swept below)
        with contextlib.suppress(OSError):
            os.rename(venv, venv.with_name(f".{venv.name}.constrain-removed-{os.getpid()}"))
        shutil.rmtree(venv, ignore_errors=True)  # when it could not be renamed
        for left in venv.parent.glob(f".{glob.escape(venv.name)}.constrain-removed-*"):
            shutil.rmtree(left, ignore_errors=True)


@record
class Chosen:
    """The interpreter chosen for an install and whether constrain just created its venv."""

    python: Path
    created: bool
    #: ``--venv`` names a missing environment that a dry run did not create: ``python`` is the
    #: interpreter it would be made from, and nothing counts as installed.
    missing: bool = False
    #: The venv constrain created (now or in an earlier, interrupted run) whose first install
    #: has not completed: its :func:`incomplete` marker, else ``None``.
    pending: dict | None = None
    venv: Path | None = None


def choose(
    *,
    venv: str | None,
    python_executable: str | None,
    system: bool,
    environ: dict[str, str],
    cwd: Path,
    create: bool = True,
    seed: bool = True,
) -> Chosen:
    """Pick the target interpreter: ``--venv`` (created when missing), ``--python-executable``,
    the active virtual environment (``VIRTUAL_ENV``) or ``./.venv``. A ``--venv`` constrain
    created but left incomplete (killed) is used as it is when its interpreter is there, and
    made again when it is not."""
    if venv and python_executable:
        raise UsageError("give --venv or --python-executable, not both")
    if venv:
        path = Path(venv)
        py = venv_python(path)
        pending = incomplete(path)
        if py.exists() and not (path / "pyvenv.cfg").is_file():  # (else: a system Python)
            raise EnvironmentError_(
                f"{path} is not a virtual environment: it has {py.relative_to(path)} but no "
                "pyvenv.cfg (a venv whose creation was cut short, or a Python installation)",
                hint=f"remove {path} and run the same command (a missing --venv is created), "
                "or give another environment")
        if py.exists():
            return Chosen(py, False, pending=pending, venv=path)
        if pending is not None and create and _made_now(path, py, pending):
            return Chosen(py, False, pending=incomplete(path), venv=path)
        if pending is not None and create:  # ours, killed while it was being made
            remove_venv(path)
        elif (path / "pyvenv.cfg").is_file():  # a venv whose interpreter moved or was removed
            target = os.path.realpath(py) if os.path.islink(py) else None
            raise EnvironmentError_(
                f"the virtual environment {path} has lost its interpreter"
                + (f" ({py.relative_to(path)} points to {target}, which no longer exists)"
                   if target else f" (no {py.relative_to(path)})"),
                hint=f"make it again: remove {path} and run the same command (a missing "
                "--venv is created), or give another environment")
        elif path.exists() and any(path.iterdir()):
            raise EnvironmentError_(
                f"{path} exists but is not a virtual environment (no {py.relative_to(path)})",
                hint="give an empty or missing directory, or an existing virtual environment",
            )
        if not create:
            base = getattr(sys, "_base_executable", None) or sys.executable
            return Chosen(Path(base), False, missing=True)
        try:
            create_venv(path, None, seed=seed)
        except BeingMade:  # another install started making it a moment ago: use its venv
            if _made_now(path, py, incomplete(path) or {}):
                return Chosen(py, False, pending=incomplete(path), venv=path)
            raise EnvironmentError_(f"another install was making a virtual environment at "
                                    f"{path}, and it did not finish",
                                    hint="run the command again") from None
        return Chosen(py, True, pending={"seed": seed}, venv=path)
    if python_executable:
        return Chosen(Path(python_executable), False)
    active = environ.get("VIRTUAL_ENV")
    if active:
        py = venv_python(Path(active))
        if not py.exists():  # a deleted or moved environment still "active" in this shell
            raise EnvironmentError_(
                f"VIRTUAL_ENV={active} names no virtual environment (no {py})",
                hint="run 'deactivate' (or unset VIRTUAL_ENV) and activate an existing "
                "environment, or give --venv PATH (created if missing)",
            )
        return Chosen(py, False)
    local = cwd / ".venv"
    if venv_python(local).exists():
        return Chosen(venv_python(local), False)
    if system:
        return Chosen(Path(sys.executable), False)
    raise EnvironmentError_(
        "no virtual environment to install into",
        hint="activate one, give --venv PATH (created if missing), or "
        "--python-executable PATH (with --system to install into a system interpreter)",
    )


def _made_now(venv: Path, py: Path, pending: dict, wait: float = 120.0) -> bool:
    """Is another install creating ``venv`` right now (its marker names a live process
    other than this one)? Then wait, up to ``wait`` seconds, for its interpreter to appear:
    ``True`` once it has. ``False`` when no one is making it (a creation that was killed) or
    it did not appear: the caller makes the venv anew."""
    import time

    pid = pending.get("pid")
    if not isinstance(pid, int) or pid == os.getpid() or not _alive(pid):
        return False
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and _alive(pid):
        if py.exists():
            return True
        time.sleep(0.05)
    return py.exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def remove_unfinished(venv: Path) -> None:
    """Remove ``venv``, which this command created, when its first install did not complete,
    under its install lock and without waiting for it: another install into it that holds
    the lock (it found the venv and joined) will complete it, and it stays."""
    if str(venv) in _REMOVING:  # a removal this call cut short (the command ending at once)
        remove_venv(venv)  # had the lock and had begun: what it left goes now
        return
    try:
        fh = open(venv / ".constrain" / "install.lock", "a+b")  # noqa: SIM115 -- closed below
    except OSError:  # no state directory: nothing installed yet, no one else in it
        fh = None
    try:
        if (fh is None or wait_exclusive(fh, 0, "", lambda _message: None)) and incomplete(
                venv) is not None:
            _REMOVING.add(str(venv))
            remove_venv(venv)
    finally:
        _REMOVING.discard(str(venv))
        if fh is not None:
            fh.close()


_REMOVING: set[str] = set()  # the venvs remove_unfinished is removing


def refuse_system(interp: Interpreter, system: bool, break_system: bool = False) -> None:
    """A system interpreter only with ``--system``; one its distribution manages (PEP 668)
    only with ``--break-system-packages`` too, as pip and uv require."""
    if not interp.is_venv and not system:
        raise EnvironmentError_(
            f"{interp.executable} is a system interpreter, not a virtual environment",
            hint="install into a virtual environment with --venv PATH, or pass --system if "
            "you really mean to change this interpreter's packages",
        )
    if not interp.is_venv and interp.externally_managed and not break_system:
        raise EnvironmentError_(
            f"{interp.executable} is externally managed (PEP 668: its EXTERNALLY-MANAGED "
            "file says its distribution's package manager owns its packages)",
            hint="install into a virtual environment with --venv PATH, or pass "
            "--break-system-packages as well if you really mean to change them",
        )


@contextlib.contextmanager
def locked(interp: Interpreter, *, timeout: float | None = None,
           on_wait=lambda message: None) -> Iterator[None]:
    """Hold the environment's install lock: a second install into the same environment waits
    (up to ``timeout`` seconds, default ``$CONSTRAIN_INSTALL_LOCK_TIMEOUT`` or 600) and then
    fails with an error naming the environment."""
    if timeout is None:
        timeout = float(os.environ.get("CONSTRAIN_INSTALL_LOCK_TIMEOUT", "600"))
    state = interp.state_dir
    try:
        state.mkdir(exist_ok=True)
        fh = open(state / "install.lock", "a+b")  # noqa: SIM115 -- held for the block
    except OSError as exc:
        raise EnvironmentError_(f"cannot write to {interp.prefix}: {exc.strerror or exc}",
                                hint="check the permissions of the environment") from None
    try:
        if not wait_exclusive(fh, timeout,
                              f"waiting for another install into {interp.prefix} to finish",
                              on_wait):
            raise EnvironmentError_(
                f"another constrain install into {interp.prefix} is running",
                hint="wait for it to finish, then run this command again",
            )
        yield
    finally:
        fh.close()
