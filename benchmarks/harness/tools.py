"""The three tools compared (constrain, uv, pip): where they are, their isolated environment.

Every tool runs with the same single index, given explicitly on its command line, and with the
settings that would add other sources removed from its environment: pip's configuration files
and ``PIP_*`` index variables, uv's configuration files and index variables, and constrain's
``CONSTRAIN_*`` variables. The index URL is taken from pip at run time, never written here.

``PYTHONDONTWRITEBYTECODE`` is removed too: an installed tool runs from compiled bytecode (pip
and uv compile at install time), while with that variable set an editable checkout of constrain
would compile every one of its modules again on every run (about 0.1 s per run here).
:func:`precompile` compiles constrain's modules once, unmeasured, before the runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = ("constrain", "uv", "pip")
#: a constrain built from another commit (``--baseline REF``) is named ``constrain@REF``
BASELINE_PREFIX = "constrain@"


def is_constrain(tool: str) -> bool:
    """Is ``tool`` constrain, this checkout's or a baseline's (same commands, same counters)?"""
    return tool == "constrain" or tool.startswith(BASELINE_PREFIX)

# Settings that would make a tool look somewhere other than the one index we give it, or use a
# cache other than the one we give it.
_DROPPED_VARIABLES = {
    "PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_NO_INDEX", "PIP_CACHE_DIR",
    "PIP_NO_CACHE_DIR", "PIP_CONSTRAINT", "PIP_REQUIREMENT", "PIP_UPLOADED_PRIOR_TO",
    "UV_INDEX", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS",
    "UV_NO_INDEX", "UV_CACHE_DIR", "UV_NO_CACHE", "UV_OFFLINE", "UV_EXCLUDE_NEWER",
    "UV_CONSTRAINT", "UV_OVERRIDE", "UV_CONFIG_FILE", "UV_INDEX_STRATEGY", "UV_PYTHON",
    "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX",
}


def default_index_url() -> str:
    """The index pip uses when nobody configured one (its PEP 503 "simple" URL)."""
    from pip._internal.models.index import PyPI

    return PyPI.simple_url


def isolated_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of ``base`` (default: os.environ) with no configured index, cache or config file."""
    base = dict(os.environ if base is None else base)
    env = {
        key: value
        for key, value in base.items()
        if key not in _DROPPED_VARIABLES and not key.startswith("CONSTRAIN_")
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["UV_NO_CONFIG"] = "1"
    env["UV_NO_PROGRESS"] = "1"
    return env


@dataclass
class Toolset:
    """Command prefixes of the tools, and what each can do."""

    constrain: list[str]
    uv: list[str]
    pip: list[str]
    peers_python: Path
    versions: dict[str, str] = field(default_factory=dict)
    # tool -> reason it cannot run at all (missing, broken)
    unavailable: dict[str, str] = field(default_factory=dict)
    # constrain subcommands that answer --help
    constrain_commands: set[str] = field(default_factory=set)
    pip_has_uploaded_prior_to: bool = False
    #: ``constrain@REF`` -> the command prefix of constrain built from REF (``--baseline``)
    baselines: dict[str, list[str]] = field(default_factory=dict)

    def argv(self, tool: str) -> list[str]:
        if tool in self.baselines:
            return list(self.baselines[tool])
        return list(getattr(self, tool))

    @property
    def names(self) -> tuple[str, ...]:
        """Every tool, baselines right after this checkout's constrain."""
        return ("constrain", *self.baselines, "uv", "pip")


def constrain_command() -> list[str]:
    """The ``constrain`` console script of the running interpreter's env, else ``-m``."""
    script = Path(sys.executable).parent / "constrain"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "constrain"]


def precompile(env: dict[str, str]) -> None:
    """Compile the constrain package the harness runs to bytecode, as an install would."""
    import importlib.util

    spec = importlib.util.find_spec("constrain")
    if spec is None or not spec.submodule_search_locations:
        return
    for location in spec.submodule_search_locations:
        subprocess.run([sys.executable, "-m", "compileall", "-q", location], env=env,
                       stdout=subprocess.DEVNULL, check=False)


def _python311() -> str:
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if not found:
        raise SystemExit("benchmarks need a Python 3.11 interpreter for the peers venv (pip)")
    return found


def ensure_peers(work: Path, env: dict[str, str], index_url: str, refresh: bool) -> Path:
    """Create (once) work/peers, a Python 3.11 venv with a recent pip and uv from the index."""
    peers = work / "peers"
    python = peers / "bin" / "python"
    marker = peers / ".installed"
    if refresh or not marker.exists():
        shutil.rmtree(peers, ignore_errors=True)  # never build on a half-made venv
    if not marker.exists():
        subprocess.run([_python311(), "-m", "venv", str(peers)], check=True, env=env)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "--index-url",
             index_url, "pip", "uv"],
            check=True, env=env,
        )
        marker.write_text("pip and uv installed\n")
    return python


def _probe(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(argv, 127, "", str(exc))


def discover(work: Path, env: dict[str, str], peers_python: Path,
             constrain: list[str] | None = None) -> Toolset:
    """Find the tools, their versions, and which constrain subcommands exist yet."""
    bindir = peers_python.parent
    tools = Toolset(
        constrain=constrain or constrain_command(),
        uv=[str(bindir / "uv")],
        pip=[str(peers_python), "-m", "pip"],
        peers_python=peers_python,
    )
    for tool in TOOLS:
        proc = _probe([*tools.argv(tool), "--version"], env, work)
        if proc.returncode == 0:
            tools.versions[tool] = (proc.stdout or proc.stderr).strip().splitlines()[0]
        else:
            tools.unavailable[tool] = _last_line(proc.stderr) or f"exit {proc.returncode}"
    for command in ("resolve", "install", "download", "refresh"):
        if "constrain" in tools.unavailable:
            break
        if _probe([*tools.constrain, command, "--help"], env, work).returncode == 0:
            tools.constrain_commands.add(command)
    if "pip" not in tools.unavailable:
        helptext = _probe([*tools.pip, "install", "--help"], env, work).stdout
        tools.pip_has_uploaded_prior_to = bool(re.search(r"--uploaded-prior-to\b", helptext))
    return tools


def build_baseline(root: Path, work: Path, ref: str, env: dict[str, str], index_url: str
                   ) -> tuple[str, list[str]]:
    """``(name, argv)`` of constrain as of git ``ref``: the tree of that commit extracted
    (``git archive``, so the shared repository gets no worktree entry) into
    ``work/baseline/<commit>`` and installed, not editable, into a venv of its own there, made
    once per commit. Its runs get a cache of their own like every tool."""
    repo = root.parent
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify",
                                 f"{ref}^{{commit}}"], capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"--baseline {ref}: not a commit of {repo} ({exc})") from None
    home = work / "baseline" / commit[:12]
    venv, marker = home / "venv", home / ".installed"
    if not marker.exists():
        shutil.rmtree(home, ignore_errors=True)  # never build on a half-made tree
        (home / "tree").mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(home / "tree")], input=archive, check=True)
        subprocess.run([_python311(), "-m", "venv", str(venv)], check=True, env=env)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--index-url", index_url, str(home / "tree")], check=True, env=env)
        marker.write_text(f"constrain at {commit} installed\n")
    return f"{BASELINE_PREFIX}{ref}", [str(venv / "bin" / "constrain")]


def _last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""
