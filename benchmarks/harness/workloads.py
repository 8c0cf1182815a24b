"""The benchmark workloads: for each, the exact command every tool runs in every mode.

A workload answers four questions for the runner: may it run now (``skip_reason``), which modes
it has, what command a tool runs in a mode (``command``; None when the tool has no equivalent),
and what the tool produced (``read_pins``), so that results can be compared as well as timed.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

# One date for every workload so that results stay comparable as the index grows.
EXCLUDE_NEWER = "2026-11-01T00:00:00Z"

COLD, WARM, WARM_OFFLINE = "cold", "warm", "warm-offline"

AIRFLOW = "apache-airflow[postgres]==2.10.5"
PROVIDER_EXTRAS = (
    "amazon", "apache-kafka", "apache-spark", "celery", "cncf-kubernetes", "common-sql",
    "databricks", "docker", "elasticsearch", "google", "http", "microsoft-azure", "trino",
    "openlineage", "postgres", "redis", "sftp", "slack", "snowflake", "ssh",
)
AIRFLOW_PROVIDERS = f"apache-airflow[{','.join(PROVIDER_EXTRAS)}]==2.10.5"

# Workload 2 needs a constraint file as Airflow publishes them (one `name==version` per line for
# every package of `apache-airflow[all]`, generated at release time). Airflow publishes
# `constraints-3.7.txt` under the git tag `constraints-2.6.3` of its repository; that host is
# not reachable from the machines this was written on, so the file is not in the repo.
# TODO(recorded constraint file): record it as benchmarks/data/<OLD_CONSTRAINTS_FILE> (see
# benchmarks/README.md) and workload 2 runs; until then it is skipped.
OLD_AIRFLOW = "apache-airflow[postgres]==2.6.3"
OLD_CONSTRAINTS_FILE = "airflow-2.6.3-constraints-3.7.txt"

DOWNLOAD_PYTHONS = ("3.11", "3.12")
# (constrain's tag, pip's spelling of the same platform)
DOWNLOAD_PLATFORMS = (
    ("manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    ("macosx_11_0_arm64", "macosx_11_0_arm64"),
)


@dataclass
class Command:
    """What one measured run executes: one or more argvs in a row (times are summed)."""

    argvs: list[list[str]]
    stdin_text: str | None = None
    # untimed work before each run (a fresh venv to install into, an emptied directory)
    prepare: list[Callable[[], None]] = field(default_factory=list)
    stdout_name: str = "stdout.txt"


@dataclass
class Context:
    """Everything a workload needs to build commands."""

    root: Path  # the benchmarks/ directory
    work: Path  # benchmarks/.work
    index_url: str
    tools: object  # harness.tools.Toolset
    env: dict[str, str]
    # products of earlier workloads (e.g. the pins of workload 1 for the install workload)
    shared: dict = field(default_factory=dict)

    def cache(self, tool: str) -> Path:
        return self.work / "cache" / tool


class Workload:
    name = ""
    title = ""
    description = ""
    modes: tuple[str, ...] = (COLD, WARM)
    tools: tuple[str, ...] = ("constrain", "uv", "pip")
    needs_constrain_command = "resolve"

    def skip_reason(self, ctx: Context, force: bool) -> str | None:
        return None

    def command(self, ctx: Context, tool: str, mode: str, run_dir: Path) -> Command | None:
        raise NotImplementedError

    def read_pins(self, tool: str, run_dir: Path) -> dict[str, str] | None:
        return None


def pins_from_requirements_text(text: str) -> dict[str, str]:
    """``{canonical name: version}`` of the ``name==version`` lines of a pip requirements text."""
    pins: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line[0] in "# \t-":
            continue  # comments, annotations, hash continuation lines, options
        try:
            req = Requirement(line.split(" #")[0].rstrip(" \\"))
        except InvalidRequirement:
            continue
        specs = list(req.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "==="):
            pins[canonicalize_name(req.name)] = specs[0].version
    return pins


def pins_from_pip_report(text: str) -> dict[str, str]:
    """``{canonical name: version}`` of a ``pip install --report`` JSON document."""
    report = json.loads(text)
    return {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in report.get("install", [])
    }


class Resolve(Workload):
    """Resolve one requirement for one Python version; the three tools side by side."""

    def __init__(self, name: str, title: str, requirement: str, python: str,
                 modes: tuple[str, ...], description: str) -> None:
        self.name, self.title, self.requirement, self.python = name, title, requirement, python
        self.modes, self.description = modes, description

    def constraint_file(self, ctx: Context) -> Path | None:
        return None

    def command(self, ctx: Context, tool: str, mode: str, run_dir: Path) -> Command | None:
        t = ctx.tools
        cache, index = str(ctx.cache(tool)), ctx.index_url
        constraints = self.constraint_file(ctx)
        offline = mode == WARM_OFFLINE
        if tool == "constrain":
            argv = [*t.constrain, "resolve", self.requirement, "--python", self.python,
                    "--exclude-newer", EXCLUDE_NEWER, "--index-url", index, "--cache-dir", cache,
                    "--airflow-constraints", "off",  # the same plain resolve uv and pip do
                    "-o", str(run_dir / "out.txt")]
            if constraints:
                argv += ["-c", str(constraints)]
            return Command([argv + (["--offline"] if offline else [])])
        if tool == "uv":
            argv = [*t.uv, "pip", "compile", "-", "--python-version", self.python,
                    "--exclude-newer", EXCLUDE_NEWER, "--index-url", index, "--cache-dir", cache,
                    "--quiet", "-o", str(run_dir / "out.txt")]
            if constraints:
                argv += ["-c", str(constraints)]
            return Command([argv + (["--offline"] if offline else [])],
                           stdin_text=self.requirement + "\n")
        if tool == "pip":
            if offline:
                return None  # pip has no offline mode that still reads its cache
            argv = [*t.pip, "install", "--dry-run", "--ignore-installed", "--quiet",
                    "--report", str(run_dir / "out.json"), "--index-url", index,
                    "--cache-dir", cache]
            if t.pip_has_uploaded_prior_to:
                argv += ["--uploaded-prior-to", EXCLUDE_NEWER]
            if self.python != "3.11":  # the peers venv runs 3.11; others need wheels only
                argv += ["--python-version", self.python, "--only-binary=:all:"]
            if constraints:
                argv += ["-c", str(constraints)]
            return Command([argv + [self.requirement]])
        return None

    def read_pins(self, tool: str, run_dir: Path) -> dict[str, str] | None:
        if tool == "pip":
            path = run_dir / "out.json"
            return pins_from_pip_report(path.read_text()) if path.exists() else None
        path = run_dir / "out.txt"
        return pins_from_requirements_text(path.read_text()) if path.exists() else None


class ResolveWithConstraints(Resolve):
    """Resolve with ``-c`` a recorded, published constraint file (skipped while none is)."""

    def constraint_file(self, ctx: Context) -> Path | None:
        return ctx.root / "data" / OLD_CONSTRAINTS_FILE

    def skip_reason(self, ctx: Context, force: bool) -> str | None:
        path = self.constraint_file(ctx)
        if not path.exists():
            return (f"TODO(recorded constraint file): benchmarks/data/{OLD_CONSTRAINTS_FILE} "
                    "is missing; see benchmarks/README.md to record it")
        return None


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
        subprocess.run([str(ctx.tools.peers_python), "-m", "venv", "--clear", "--without-pip",
                        str(path)], check=True, env=ctx.env)
    return make


class Install(Workload):
    """Install workload 1's set into a fresh venv (created untimed before each run)."""

    name = "install"
    title = "4. install airflow[postgres] set into a fresh venv"
    description = ("Install the pins of workload 1 (made by uv, untimed) into a new Python 3.11 "
                   "venv; cold = empty cache (downloads), warm = cached wheels.")
    needs_constrain_command = "install"

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
        if tool == "constrain":
            return Command([[*t.constrain, "install", "-r", pins, "--python-executable", python,
                             "--index-url", ctx.index_url, "--cache-dir", cache,
                             "--airflow-constraints", "off"]], None, prepare)
        if tool == "uv":
            return Command([[*t.uv, "pip", "install", "--quiet", "-r", pins, "--python", python,
                             "--index-url", ctx.index_url, "--cache-dir", cache]], None, prepare)
        if tool == "pip":
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
        if tool == "constrain":
            # TODO(constrain download): adjust to the flags `constrain download` ends up with.
            argv = [*t.constrain, "download", AIRFLOW, "--exclude-newer", EXCLUDE_NEWER,
                    "--index-url", ctx.index_url, "--cache-dir", cache, "-d", str(dest)]
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
                    argvs.append(argv + [AIRFLOW])
            return Command(argvs)
        return None

    def read_pins(self, tool: str, run_dir: Path) -> dict[str, str] | None:
        return downloaded_pins(run_dir / "wheels")


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Resolve(
            "airflow", "1. resolve apache-airflow[postgres]==2.10.5 for Python 3.11", AIRFLOW,
            "3.11", (COLD, WARM, WARM_OFFLINE),
            "The everyday job: one Airflow release with one extra. cold = empty cache, warm = "
            "cache of an identical run, warm-offline = the same with no network (pip: n/a)."),
        ResolveWithConstraints(
            "airflow-py37-constraints",
            "2. resolve apache-airflow[postgres]==2.6.3 for Python 3.7 with -c constraints",
            OLD_AIRFLOW, "3.7", (COLD, WARM),
            "An old release for an old Python, held by Airflow's published constraint file "
            "(hundreds of pins, most of them for packages the requirement never needs)."),
        Resolve(
            "airflow-providers",
            f"3. resolve apache-airflow with {len(PROVIDER_EXTRAS)} provider extras (3.11)",
            AIRFLOW_PROVIDERS, "3.11", (COLD, WARM),
            "A large resolve: several hundred packages, many with long release histories."),
        Install(),
        Download(),
    )
}
