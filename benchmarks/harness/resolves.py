"""The resolve workloads: one requirement, several, one added after another resolve, and
a resolve held by a published Airflow constraint file."""

from __future__ import annotations

from pathlib import Path

from .base import (
    EXCLUDE_NEWER,
    FULL_RESOLVE_OF,
    NO_REMEMBER,
    OLD_CONSTRAINTS_ENV,
    WARM,
    WARM_OFFLINE,
    Command,
    Context,
    Workload,
    pins_from_pip_report,
    pins_from_requirements_text,
)
from .tools import is_constrain


class Resolve(Workload):
    """Resolve one requirement for one Python version; the three tools side by side."""

    def __init__(self, name: str, title: str, requirement: str, python: str,
                 modes: tuple[str, ...], description: str) -> None:
        self.name, self.title, self.requirement, self.python = name, title, requirement, python
        self.modes, self.description = modes, description

    def constraint_file(self, ctx: Context) -> Path | None:
        return None

    def build_constraint_file(self, ctx: Context) -> Path | None:
        return None

    #: (constrain's --platform tag, uv's --python-platform) or None: the host's platform
    platform: tuple[str, str] | None = None

    def requirements(self, ctx: Context) -> list[str]:
        return [self.requirement]

    def command(self, ctx: Context, tool: str, mode: str, run_dir: Path) -> Command | None:
        t = ctx.tools
        cache, index = str(ctx.cache(tool)), ctx.index_url
        constraints = self.constraint_file(ctx)
        build_constraints = self.build_constraint_file(ctx)
        requirements = self.requirements(ctx)
        if mode in FULL_RESOLVE_OF:
            if not is_constrain(tool):
                return None  # uv and pip have no remembered answers: their row is the base mode
            command = self.command(ctx, tool, FULL_RESOLVE_OF[mode], run_dir)
            assert command is not None
            command.env.update(NO_REMEMBER)
            return command
        offline = mode == WARM_OFFLINE
        if is_constrain(tool):
            argv = [*t.argv(tool), "resolve", *requirements, "--python", self.python,
                    "--exclude-newer", EXCLUDE_NEWER, "--index-url", index, "--cache-dir", cache,
                    "--airflow-constraints", "off",  # the same plain resolve uv and pip do
                    "-o", str(run_dir / "out.txt")]
            if constraints:
                argv += ["-c", str(constraints)]
            if build_constraints:
                argv += ["--build-constraint", str(build_constraints)]
            if self.platform:
                argv += ["--platform", self.platform[0]]
            return Command([argv + (["--offline"] if offline else [])])
        if tool == "uv":
            argv = [*t.uv, "pip", "compile", "-", "--python-version", self.python,
                    "--exclude-newer", EXCLUDE_NEWER, "--index-url", index, "--cache-dir", cache,
                    "--quiet", "-o", str(run_dir / "out.txt")]
            if constraints:
                argv += ["-c", str(constraints)]
            if build_constraints:
                argv += ["--build-constraints", str(build_constraints)]
            if self.platform:
                argv += ["--python-platform", self.platform[1]]
            return Command([argv + (["--offline"] if offline else [])],
                           stdin_text="".join(r + "\n" for r in requirements))
        if tool == "pip":
            if offline:
                return None  # pip has no offline mode that still reads its cache
            argv = [*t.pip, "install", "--dry-run", "--ignore-installed", "--quiet",
                    "--report", str(run_dir / "out.json"), "--index-url", index,
                    "--cache-dir", cache]
            if t.pip_has_uploaded_prior_to:
                argv += ["--uploaded-prior-to", EXCLUDE_NEWER]
            # the peers venv runs 3.11; for another Python pip can use wheels only
            if not self.python.startswith("3.11"):
                argv += ["--python-version", self.python, "--only-binary=:all:"]
            if constraints:
                argv += ["-c", str(constraints)]
            return Command([argv + requirements])
        return None

    def read_pins(self, tool: str, run_dir: Path) -> dict[str, str] | None:
        if tool == "pip":
            path = run_dir / "out.json"
            return pins_from_pip_report(path.read_text()) if path.exists() else None
        path = run_dir / "out.txt"
        return pins_from_requirements_text(path.read_text()) if path.exists() else None


class ResolveMany(Resolve):
    """Resolve several requirements at once (uv's Airflow benchmark); constrain and uv only:
    pip needs minutes and builds for it."""

    tools = ("constrain", "uv")

    def __init__(self, name: str, title: str, requirements: tuple[str, ...], python: str,
                 modes: tuple[str, ...], description: str,
                 build_constraints: tuple[str, ...] = (),
                 platform: tuple[str, str] | None = None) -> None:
        super().__init__(name, title, requirements[0], python, modes, description)
        self._requirements = list(requirements)
        self._build_constraints = build_constraints
        self.platform = platform

    def requirements(self, ctx: Context) -> list[str]:
        return list(self._requirements)

    def build_constraint_file(self, ctx: Context) -> Path | None:
        """A file of ``build_constraints`` for both tools' sdist builds (None without)."""
        if not self._build_constraints:
            return None
        path = ctx.work / "inputs" / f"{self.name}-build-constraints.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in self._build_constraints))
        return path


def _resolution_entries(cache: Path) -> set[Path]:
    """The remembered resolutions in a constrain cache (``resolutions-v*/xx/key``)."""
    return {p for p in cache.glob("resolutions-v*/*/*") if p.is_file()}


class ResolveChanged(ResolveMany):
    """Workload 1 with one requirement added, measured after workload 1 is warm: what a
    resolve that cannot be answered from memory still reuses from the one before it.

    Priming resolves workload 1 and then this request, online (so every page and metadata
    file is cached, as for uv), and records constrain's remembered resolutions then. Before
    each measured constrain run, the resolution remembered for this request itself is
    removed (``prepare``): each run starts where a user adding the requirement starts."""

    def __init__(self, first: Resolve, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.first = first  # the request resolved before: workload 1
        self._kept: dict[str, set[Path]] = {}  # tool -> remembered resolutions after priming

    def primers(self, ctx: Context, tool: str, base: Path) -> list[tuple[Path, Command]]:
        first = self.first.command(ctx, tool, WARM, base / "prime-workload-1")
        own = self.command(ctx, tool, WARM, base / "prime")
        assert first is not None and own is not None
        cache = ctx.cache(tool)
        # workload 1's answer is remembered by now: keep it, forget only this request's own
        own.prepare = [lambda: self._keep(tool, cache)] if is_constrain(tool) else []
        return [(base / "prime-workload-1", first), (base / "prime", own)]

    def _keep(self, tool: str, cache: Path) -> None:
        self._kept[tool] = _resolution_entries(cache)

    def command(self, ctx: Context, tool: str, mode: str, run_dir: Path) -> Command | None:
        command = super().command(ctx, tool, mode, run_dir)
        if command is not None and is_constrain(tool):
            cache = ctx.cache(tool)

            def forget() -> None:
                kept = self._kept.get(tool)
                if kept is None:
                    return  # still priming
                for entry in _resolution_entries(cache) - kept:
                    entry.unlink()
            command.prepare.append(forget)
        return command



class ResolveWithConstraints(Resolve):
    """Resolve with ``-c`` a published constraint file given at run time (skipped without one)."""

    def constraint_file(self, ctx: Context) -> Path | None:
        return ctx.old_constraints

    def requirements(self, ctx: Context) -> list[str]:
        return ctx.old_requirement.split()  # one or more, separated by white space

    def skip_reason(self, ctx: Context, force: bool) -> str | None:
        path = self.constraint_file(ctx)
        if path is None:
            minor = ".".join(self.python.split(".")[:2])
            return (f"no constraint file given: set {OLD_CONSTRAINTS_ENV}=/path/to/"
                    f"constraints-{minor}.txt (a constraint file Airflow published for "
                    f"Python {minor}; see benchmarks/README.md) or pass --old-constraints")
        if not path.is_file():
            return f"{OLD_CONSTRAINTS_ENV} / --old-constraints: {path} is not a file"
        return None


