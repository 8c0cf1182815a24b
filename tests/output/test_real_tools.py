"""The real pip and uv read what constrain writes and install exactly the pins.

Every subprocess is hermetic: no index (``--no-index`` / ``--offline``), the wheels come from a
local find-links directory or the lock's file:// URLs, pip ignores the machine's configuration
(``PIP_CONFIG_FILE=os.devnull``, ``--isolated``) and uv gets a private cache and no config.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from constrain.output import render, write_atomic
from constrain.target import TargetEnvironment

PINS = {"alpha": "1.0", "beta": "1.0"}


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV", "PYTHONPATH"))
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_CACHE_DIR=str(tmp_path / "uv-cache"),
        UV_NO_CONFIG="1",
        UV_PYTHON_DOWNLOADS="never",
    )
    return env


def uv_command() -> list[str]:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def run(cmd: list[str], tmp_path: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        cmd, env=clean_env(tmp_path), capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    if check:
        assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


def pip_dry_run(tmp_path: Path, wheelhouse: Path, *args: str, check: bool = True):
    cmd = [sys.executable, "-m", "pip", "--isolated", "install", "--dry-run",
           "--ignore-installed", "--no-index", "--find-links", str(wheelhouse),
           "--quiet", "--report", "-", *args]
    return run(cmd, tmp_path, check=check)


def pip_would_install(proc: subprocess.CompletedProcess) -> dict[str, str]:
    report = json.loads(proc.stdout)
    return {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in report["install"]}


def test_without_our_file_the_tools_would_pick_newer_versions(tmp_path, wheelhouse):
    """Guards the other tests: the pins differ from what pip picks unconstrained."""
    proc = pip_dry_run(tmp_path, wheelhouse, "Alpha")
    assert pip_would_install(proc) == {"alpha": "2.0", "beta": "2.0"}


def test_pip_obeys_our_constraints_file(tmp_path, wheelhouse, real_set):
    path = tmp_path / "constraints.txt"
    write_atomic(path, render(real_set, "constraints", annotate=True, notes=["a note"]))
    proc = pip_dry_run(tmp_path, wheelhouse, "-c", str(path), "Alpha")
    assert pip_would_install(proc) == PINS


def test_pip_hash_checking_accepts_our_hashes_and_rejects_a_tampered_one(
    tmp_path, wheelhouse, real_set
):
    path = tmp_path / "requirements.txt"
    text = render(real_set, "requirements", annotate=True)
    write_atomic(path, text)
    proc = pip_dry_run(tmp_path, wheelhouse, "--require-hashes", "-r", str(path))
    assert pip_would_install(proc) == PINS

    good = real_set.pin("alpha").file.sha256
    tampered = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    write_atomic(path, text.replace(good, tampered))
    proc = pip_dry_run(tmp_path, wheelhouse, "--require-hashes", "-r", str(path), check=False)
    assert proc.returncode != 0
    assert "DO NOT MATCH THE HASHES" in proc.stderr
    assert tampered in proc.stderr


def test_uv_obeys_our_constraints_file(tmp_path, wheelhouse, real_set):
    path = tmp_path / "constraints.txt"
    write_atomic(path, render(real_set, "constraints", annotate=True))
    venv = tmp_path / "venv"
    run([*uv_command(), "venv", "--offline", "--python", sys.executable, str(venv)], tmp_path)
    proc = run([*uv_command(), "pip", "install", "--dry-run", "--offline", "--no-index",
                "--find-links", str(wheelhouse), "--python", str(venv / "bin" / "python"),
                "-c", str(path), "Alpha"], tmp_path)
    would = {
        line.split("==")[0].strip(" +").lower(): line.split("==")[1]
        for line in proc.stderr.splitlines() if line.startswith(" + ")
    }
    assert would == PINS


def _uv_install_lock(tmp_path: Path, lock_text: str, venv: Path):
    lock = tmp_path / "pylock.toml"
    write_atomic(lock, lock_text)
    run([*uv_command(), "venv", "--offline", "--python", sys.executable, str(venv)], tmp_path)
    return run([*uv_command(), "pip", "install", "--preview-features", "pylock", "--offline",
                "--no-index", "--python", str(venv / "bin" / "python"), "-r", str(lock)],
               tmp_path, check=False)


def test_uv_installs_exactly_our_pins_from_pylock(tmp_path, real_set):
    venv = tmp_path / "venv"
    proc = _uv_install_lock(tmp_path, render(real_set, "pylock"), venv)
    assert proc.returncode == 0, proc.stderr
    freeze = run([*uv_command(), "pip", "freeze", "--python", str(venv / "bin" / "python")],
                 tmp_path)
    installed = dict(line.lower().split("==") for line in freeze.stdout.split())
    assert installed == PINS


def test_uv_refuses_a_lock_made_for_another_target(tmp_path, real_set):
    windows = TargetEnvironment(
        python_version=real_set.target.python_version, platforms=("win_amd64",)
    )
    venv = tmp_path / "venv"
    proc = _uv_install_lock(
        tmp_path, render(dataclasses.replace(real_set, target=windows), "pylock"), venv
    )
    assert proc.returncode != 0
    assert "not supported by the lockfile" in proc.stderr


@pytest.mark.parametrize("fmt", ["constraints", "requirements"])
def test_pip_reads_files_that_name_host_built_pins_and_notes(tmp_path, wheelhouse, real_set, fmt):
    """The longest header (every optional block) is still a file pip accepts."""
    other = TargetEnvironment(python_version=real_set.target.python_version,
                              platforms=("manylinux_2_17_x86_64",))
    pins = tuple(
        dataclasses.replace(p, metadata=dataclasses.replace(p.metadata, source="built"))
        for p in real_set.pins
    )
    odd = dataclasses.replace(real_set, target=other, pins=pins)
    path = tmp_path / f"{fmt}.txt"
    write_atomic(path, render(odd, fmt, annotate=True, notes=["n1", "n2"]))
    assert "built on this host" in path.read_text()
    args = ["-c", str(path), "Alpha"] if fmt == "constraints" else ["-r", str(path)]
    proc = pip_dry_run(tmp_path, wheelhouse, *args)
    assert pip_would_install(proc) == PINS
