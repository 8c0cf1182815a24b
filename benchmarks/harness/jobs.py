"""The workloads beyond one resolve: install into a fresh venv, download a wheelhouse, and
refresh constraints files for several Pythons."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from .base import (
    AIRFLOW,
    COLD,
    DOWNLOAD_PLATFORMS,
    DOWNLOAD_PYTHONS,
    EXCLUDE_NEWER,
    FULL_RESOLVE_OF,
    NO_REMEMBER,
    REFRESH_PYTHONS,
    WARM,
    WARM_OFFLINE,
    WARM_OFFLINE_FULL,
    Command,
    Context,
    Workload,
    pins_from_requirements_text,
)
from .tools import is_constrain
from .trash import set_aside


class Refresh(Workload):
    """``constrain refresh`` for three Pythons against three ``uv pip compile`` in a row."""

    name = "refresh"
    title = (f"6. refresh apache-airflow[postgres]==2.10.5 for Python "
             f"{', '.join(REFRESH_PYTHONS)}")
    description = ("One `constrain refresh` writing a constraints file per Python, against "
                   "one `uv pip compile` per Python run in sequence (times summed).")
    modes = (COLD, WARM_OFFLINE, WARM_OFFLINE_FULL)
    tools = ("constrain", "uv")
    needs_constrain_command = "refresh"

    def command(self, ctx: Context, tool: str, mode: str, run_dir: Path) -> Command | None:
        t, cache, index = ctx.tools, str(ctx.cache(tool)), ctx.index_url
        if mode in FULL_RESOLVE_OF:
            if not is_constrain(tool):
                return None
            command = self.command(ctx, tool, FULL_RESOLVE_OF[mode], run_dir)
            assert command is not None
            command.env.update(NO_REMEMBER)
            return command
        offline = ["--offline"] if mode == WARM_OFFLINE else []
        out = run_dir / "out"
        if is_constrain(tool):
            argv = [*t.argv(tool), "refresh", AIRFLOW, "--output-dir", str(out),
                    "--exclude-newer", EXCLUDE_NEWER, "--index-url", index, "--cache-dir",
                    cache, "--airflow-constraints", "off", *offline]
            for python in REFRESH_PYTHONS:
                argv += ["--python", python]
            return Command([argv], prepare=[lambda: out.mkdir(parents=True, exist_ok=True)])
        if tool == "uv":
            argvs = [[*t.uv, "pip", "compile", "-", "--python-version", python,
                      "--exclude-newer", EXCLUDE_NEWER, "--index-url", index, "--cache-dir",
                      cache, "--quiet", "-o", str(out / f"constraints-{python}.txt"), *offline]
                     for python in REFRESH_PYTHONS]
            return Command(argvs, stdin_text=AIRFLOW + "\n",
                           prepare=[lambda: out.mkdir(parents=True, exist_ok=True)])
        return None

    def read_pins(self, tool: str, run_dir: Path) -> dict[str, str] | None:
        pins: dict[str, str] = {}
        for python in REFRESH_PYTHONS:
            path = run_dir / "out" / f"constraints-{python}.txt"
            if not path.exists():
                return None
            for name, version in pins_from_requirements_text(path.read_text()).items():
                pins[f"{python}:{name}"] = version
        return pins



def workload1_pins(ctx: Context) -> Path:
    """Workload 1's install set as a pins file (uv's resolve of it, made once, untimed)."""
    path = ctx.work / "pins" / "airflow-postgres-3.11.txt"
    if "w1-pins" in ctx.shared:
        return ctx.shared["w1-pins"]
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [*ctx.tools.uv, "pip", "compile", "-", "--python-version", "3.11",
             "--exclude-newer", EXCLUDE_NEWER, "--index-url", ctx.index_url,
             "--cache-dir", str(ctx.work / "cache" / "pins"), "--quiet", "--no-header",
             "--no-annotate", "-o", str(path)],
            input=AIRFLOW + "\n", text=True, env=ctx.env, check=True, cwd=ctx.work,
        )
    ctx.shared["w1-pins"] = path
    return path


def _fresh_venv(ctx: Context, path: Path) -> Callable[[], None]:
    def make() -> None:
        set_aside(path, ctx.work)  # not deleted now: see set_aside
        subprocess.run([str(ctx.tools.peers_python), "-m", "venv", "--without-pip",
                        str(path)], check=True, env=ctx.env)
    return make


class Install(Workload):
    """Install workload 1's set into a fresh venv (created untimed before each run)."""

    name = "install"
    title = "4. install airflow[postgres] set into a fresh venv"
    description = ("Install the pins of workload 1 (made by uv, untimed) into a new Python 3.11 "
                   "venv; cold = empty cache (downloads), warm = cached wheels.")
    needs_constrain_command = "install"
    modes = (COLD, WARM, WARM_OFFLINE)

    def __init__(self) -> None:
        self._venvs: dict[str, Path] = {}  # tool -> the venv its last command installs into

    def skip_reason(self, ctx: Context, force: bool) -> str | None:
        if "install" not in ctx.tools.constrain_commands and not force:
            return "`constrain install --help` fails: constrain install is not built yet"
        return None

    def command(self, ctx: Context, tool: str, mode: str, run_dir: Path) -> Command | None:
        t = ctx.tools
        pins, cache = str(workload1_pins(ctx)), str(ctx.cache(tool))
        venv = ctx.work / "venvs" / tool
        python = str(venv / "bin" / "python")
        prepare = [_fresh_venv(ctx, venv)]
        self._venvs[tool] = venv
        offline = ["--offline"] if mode == WARM_OFFLINE else []
        if is_constrain(tool):
            return Command([[*t.argv(tool), "install", "-r", pins, "--python-executable",
                             python, "--index-url", ctx.index_url, "--cache-dir", cache,
                             "--airflow-constraints", "off", *offline]], None, prepare)
        if tool == "uv":
            return Command([[*t.uv, "pip", "install", "--quiet", "-r", pins, "--python", python,
                             "--index-url", ctx.index_url, "--cache-dir", cache, *offline]],
                           None, prepare)
        if tool == "pip":
            if offline:
                return None  # pip has no offline mode that still reads its cache
            return Command([[*t.pip, "--python", python, "install", "--quiet", "-r", pins,
                             "--index-url", ctx.index_url, "--cache-dir", cache]], None, prepare)
        return None

    def read_pins(self, tool: str, run_dir: Path) -> dict[str, str] | None:
        venv = self._venvs.get(tool)
        return installed_pins(venv) if venv else None


def installed_pins(venv: Path) -> dict[str, str]:
    """``{canonical name: version}`` of what is installed in ``venv``."""
    from importlib.metadata import distributions

    paths = [str(p) for p in venv.glob("lib/python*/site-packages")]
    return {canonicalize_name(d.metadata["Name"]): d.version for d in distributions(path=paths)}


def downloaded_pins(directory: Path) -> dict[str, str]:
    """``{canonical name: version}`` of the wheels under ``directory`` (newest if several)."""
    pins: dict[str, Version] = {}
    for wheel in directory.rglob("*.whl"):
        name, version, _, _ = parse_wheel_filename(wheel.name)
        if name not in pins or version > pins[name]:
            pins[name] = version
    return {name: str(version) for name, version in pins.items()}


class Download(Workload):
    """Download wheels of workload 1's requirement for 2 Pythons x 2 platforms."""

    name = "download"
    title = "5. download airflow[postgres] for 2 Pythons x 2 platforms"
    description = ("Wheels only, for Python " + " and ".join(DOWNLOAD_PYTHONS) + " on "
                   + " and ".join(p for p, _ in DOWNLOAD_PLATFORMS)
                   + "; constrain in one command, pip in 4 `pip download` runs (times summed). "
                   "uv has no download command.")
    tools = ("constrain", "pip")
    needs_constrain_command = "download"

    def skip_reason(self, ctx: Context, force: bool) -> str | None:
        if "download" not in ctx.tools.constrain_commands and not force:
            return "`constrain download --help` fails: constrain download is not built yet"
        return None

    def command(self, ctx: Context, tool: str, mode: str, run_dir: Path) -> Command | None:
        t = ctx.tools
        cache, dest = str(ctx.cache(tool)), run_dir / "wheels"
        if is_constrain(tool):
            argv = [*t.argv(tool), "download", AIRFLOW, "--exclude-newer", EXCLUDE_NEWER,
                    "--index-url", ctx.index_url, "--cache-dir", cache, "--dest", str(dest),
                    "--airflow-constraints", "off"]  # the same plain resolve pip does
            for python in DOWNLOAD_PYTHONS:
                argv += ["--python", python]
            for platform, _ in DOWNLOAD_PLATFORMS:
                argv += ["--platform", platform]
            return Command([argv])
        if tool == "pip":
            argvs = []
            for python in DOWNLOAD_PYTHONS:
                for _, platform in DOWNLOAD_PLATFORMS:
                    argv = [*t.pip, "download", "--quiet", "--only-binary=:all:",
                            "--platform", platform, "--python-version", python,
                            "-d", str(dest / f"{python}-{platform}"),
                            "--index-url", ctx.index_url, "--cache-dir", cache]
                    if t.pip_has_uploaded_prior_to:
                        argv += ["--uploaded-prior-to", EXCLUDE_NEWER]
                    argvs.append([*argv, AIRFLOW])
            return Command(argvs)
        return None

    def read_pins(self, tool: str, run_dir: Path) -> dict[str, str] | None:
        return downloaded_pins(run_dir / "wheels")


