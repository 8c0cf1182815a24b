"""What a command imports before its real work: a remembered ``resolve --offline`` and
``--help`` load no HTTP stack, no progress display, no resolver and no metadata parser.

Each of these is a fixed cost paid on every run (imports are most of a remembered resolve's
time); a module-level import added in the wrong place fails here, not in a benchmark. The
process is the real command (``python -X importtime -m constrain``), so what it reports is
every module that process loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.builders import PackageSpec

#: never needed by a remembered resolve read offline, nor by --help
HEAVY = (
    "httpx", "httpcore", "h2", "anyio", "rich", "resolvelib", "email", "zipfile",
    "packaging.metadata", "packaging.pylock", "installer", "platformdirs", "pickle", "secrets",
    "tomllib",  # no constrain.toml or pyproject.toml where the command runs
    "shutil", "bz2", "lzma",  # argparse's terminal width is found without shutil
    "constrain.resolver.provider", "constrain.index.metadata", "constrain.output.pylock",
    "constrain.policies.bounds", "constrain.airflow.files", "constrain.airflow.reconstruction",
    # --airflow-constraints off, no policy, override or constraint: no layers at all
    "constrain.airflow.layers", "constrain.airflow.plan", "constrain.airflow.published",
    "constrain.constraints.parser",  # requirements on the command line: no file grammar
    "constrain.constraints.sets",  # no constraint to layer
    "constrain.install", "constrain.download", "constrain.build", "constrain.review",
    "constrain.refresh",
    "concurrent.futures",  # nothing is computed once for several threads: all is remembered
)


def _imported(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[set[str], str]:
    """The modules ``constrain argv`` imported, and its stderr without the import lines."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "constrain", *argv],
                       capture_output=True, text=True, timeout=120, cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    modules, rest = set(), []
    for line in r.stderr.splitlines():
        if line.startswith("import time:"):
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                modules.add(name)
        else:
            rest.append(line)
    return modules, "\n".join(rest)


def _other_commands(command: str, modules: set[str]) -> list[str]:
    """The modules of ``cli`` commands other than ``command`` in ``modules``: a command named
    on the command line builds its own parser only."""
    from constrain.cli import COMMANDS

    return sorted({f"constrain.cli.{c}" for c in COMMANDS if c != command} & modules)


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules
                  if any(m == h or m.startswith(h + ".") for h in HEAVY))


def _resolve_app(index_server, tmp_path, *, remember: bool = True
                 ) -> tuple[Path, Path, dict[str, str], list[str]]:
    """An index with ``app`` needing ``lib``; a working directory, the stats file, the
    environment (``remember=False``: ``CONSTRAIN_NO_REMEMBER=1``) and the resolve command
    line, whose pins go to ``tmp_path/pins.txt``."""
    server = index_server([PackageSpec("app", "1.0", requires_dist=["lib>=1"]),
                           PackageSpec("lib", "1.0")])
    work = tmp_path / "work"
    work.mkdir()
    stats = tmp_path / "stats.json"
    env = {**os.environ, "CONSTRAIN_STATS_FILE": str(stats)}
    if not remember:
        env["CONSTRAIN_NO_REMEMBER"] = "1"
    argv = ["resolve", "app", "--index-url", server.index_url, "--python", "3.11",
            "--platform", "manylinux_2_28_x86_64", "--airflow-constraints", "off",
            "-o", str(tmp_path / "pins.txt"), "--quiet"]
    return work, stats, env, argv


def test_a_remembered_offline_resolve_imports_nothing_heavy(index_server, tmp_path):
    work, stats, env, argv = _resolve_app(index_server, tmp_path)
    first, _ = _imported(argv, work, env)  # fills the cache and remembers the answer
    assert json.loads(stats.read_text())["remembered_resolutions"] == 0
    assert "resolvelib" in first  # the check below can tell a heavy module when it sees one

    modules, _ = _imported([*argv, "--offline"], work, env)
    assert json.loads(stats.read_text())["remembered_resolutions"] == 1
    assert (tmp_path / "pins.txt").read_text().count("==1.0") == 2
    assert _heavy(modules) == []
    assert _other_commands("resolve", modules) == []


#: never needed by a full resolve whose pages and metadata are all in the cache, offline
HEAVY_FULL = (
    "httpx", "httpcore", "h2", "anyio", "rich", "email", "zipfile", "packaging.metadata",
    "packaging.pylock", "installer", "pickle", "secrets", "tomllib", "constrain.output.pylock",
    "shutil", "tempfile",
    "constrain.policies.bounds", "constrain.airflow.files", "constrain.build",
    "constrain.airflow.layers", "constrain.airflow.plan", "constrain.airflow.published",
    "constrain.constraints.parser", "constrain.constraints.sets",
    "constrain.install", "constrain.download", "constrain.review", "constrain.refresh",
    # read only when explaining a failure; the resolver's Protocol: for type checkers only
    "constrain.resolver.explain", "constrain.resolver.chains", "constrain.ports",
)


def test_a_full_offline_resolve_from_the_cache_imports_no_fetching_or_building(index_server,
                                                                                tmp_path):
    work, stats, env, argv = _resolve_app(index_server, tmp_path, remember=False)
    first, _ = _imported(argv, work, env)  # reads the metadata from the files: fills the cache
    assert "packaging.metadata" in first

    modules, _ = _imported([*argv, "--offline"], work, env)
    assert json.loads(stats.read_text())["remembered_resolutions"] == 0
    assert "resolvelib" in modules  # it did resolve
    assert sorted(m for m in modules
                  if any(m == h or m.startswith(h + ".") for h in HEAVY_FULL)) == []


def test_help_imports_no_pipeline(tmp_path):
    for argv in (["--help"], ["resolve", "--help"], ["install", "--help"]):
        modules, _ = _imported(argv, tmp_path, dict(os.environ))
        assert _heavy(modules) == [], argv
        if argv[0] != "--help":
            assert _other_commands(argv[0], modules) == [], argv
        assert not {"packaging", "constrain.app", "constrain.models", "json", "typing"} & modules, argv


#: never needed by an install of wheels already unpacked in the cache, into a new environment
#: at a path installed into before (its scripts were made then), with nothing else in it
HEAVY_INSTALL = (
    "httpx", "httpcore", "h2", "anyio", "email", "installer", "zipfile", "packaging.metadata",
    "resolvelib", "constrain.build", "constrain.download", "constrain.review",
    "constrain.airflow.layers", "constrain.airflow.plan", "constrain.airflow.published",
    "constrain.constraints.parser", "constrain.constraints.sets",
    "shutil", "tempfile", "bz2", "lzma",  # for making trees, copies and backups only
)


def test_a_warm_install_into_a_new_environment_imports_no_installer_or_email(index_server,
                                                                             tmp_path):
    import shutil

    server = index_server([
        PackageSpec("app", "1.0", requires_dist=["lib>=1"], wheel_options={
            "entry_points": {"console_scripts": {"app-cli": "app:main"}},
            "files": {"app/__init__.py": "def main():\n    print('app says hi')\n"}}),
        PackageSpec("lib", "1.0")])
    work = tmp_path / "work"
    work.mkdir()
    venv = tmp_path / "env"
    argv = ["install", "app", "--index-url", server.index_url, "--venv", str(venv),
            "--without-pip", "--airflow-constraints", "off", "--quiet"]
    first, _ = _imported(argv, work, dict(os.environ))  # downloads, unpacks, makes the script
    assert "installer" in first  # the check below can tell a heavy module when it sees one
    made = (venv / "bin" / "app-cli").read_bytes()
    shutil.rmtree(venv)

    modules, _ = _imported([*argv, "--offline"], work, dict(os.environ))
    assert sorted(m for m in modules
                  if any(m == h or m.startswith(h + ".") for h in HEAVY_INSTALL)) == []
    assert _other_commands("install", modules) == []
    # the same launcher as installer made, and it runs
    assert (venv / "bin" / "app-cli").read_bytes() == made
    assert made.startswith(f"#!{venv}/bin/python".encode())
    run = subprocess.run([str(venv / "bin" / "app-cli")], capture_output=True, text=True)
    assert run.stdout.strip() == "app says hi"
    record = next((venv / "lib").glob("python*/site-packages/app-1.0.dist-info/RECORD"))
    assert "bin/app-cli,sha256=" in record.read_text()


def test_an_online_full_resolve_that_needs_no_request_imports_no_http_stack(index_server,
                                                                            tmp_path):
    """Pages fresh in the cache and metadata cached: the run asks the network nothing, so it
    pays for no HTTP client (httpx, TLS, its event loop) -- about a tenth of a second here."""
    work, stats, env, argv = _resolve_app(index_server, tmp_path, remember=False)
    first, _ = _imported(argv, work, env)
    assert json.loads(stats.read_text())["requests"] > 0
    assert "httpx" in first  # the check below can tell the HTTP stack when it sees it

    modules, _ = _imported(argv, work, env)  # online again, within the pages' freshness
    counters = json.loads(stats.read_text())
    assert counters["requests"] == 0 and counters["remembered_resolutions"] == 0
    assert (tmp_path / "pins.txt").read_text().count("==1.0") == 2
    assert sorted(m for m in modules
                  if any(m == h or m.startswith(h + ".") for h in ("httpx", "httpcore", "h2",
                                                                   "anyio", "ssl"))) == []


def test_an_install_from_fresh_pages_starts_no_http_client(index_server, tmp_path):
    """A first install (no page cached) brings its HTTP client up ahead, while it asks the
    interpreter for its facts; the same install into a new environment once the pages and
    wheels are cached asks the network nothing, and so imports no HTTP stack."""
    import shutil

    server = index_server([PackageSpec("app", "1.0", requires_dist=["lib>=1"]),
                           PackageSpec("lib", "1.0")])
    work = tmp_path / "work"
    work.mkdir()
    venv = tmp_path / "env"
    stats = tmp_path / "stats.json"
    env = {**os.environ, "CONSTRAIN_STATS_FILE": str(stats)}
    argv = ["install", "app", "--index-url", server.index_url, "--venv", str(venv),
            "--without-pip", "--airflow-constraints", "off", "--quiet"]
    first, _ = _imported(argv, work, env)
    assert json.loads(stats.read_text())["requests"] > 0
    assert "httpx" in first  # the check below can tell the HTTP stack when it sees it
    shutil.rmtree(venv)

    modules, _ = _imported(argv, work, env)  # online again, within the pages' freshness
    counters = json.loads(stats.read_text())
    assert counters["requests"] == 0 and counters["installed"] == 2
    assert sorted(m for m in modules
                  if any(m == h or m.startswith(h + ".") for h in ("httpx", "httpcore", "h2",
                                                                   "anyio", "ssl"))) == []
