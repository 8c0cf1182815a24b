"""Live: constrain's pins for Airflow equal uv's for the same input, cut-off and target.

These talk to the real default index (taken from pip at run time), with a fixed
``--exclude-newer`` so the answer does not move. Each tool gets its own cache under the test
session's temporary directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.live

CUTOFF = "2026-11-01"
AIRFLOW = "apache-airflow[postgres]==2.10.5"


def _default_index() -> str:
    from pip._internal.models.index import PyPI

    return PyPI.simple_url


def _clean_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["CONSTRAIN_CACHE_DIR"] = str(cache / "constrain")
    env["UV_CACHE_DIR"] = str(cache / "uv")
    return env


def _pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name.strip())] = version.strip().split(" ")[0].rstrip("\\ ")
    return pins


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not found:
        pytest.skip("uv is not installed")
    return found


@pytest.fixture(scope="module")
def live_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("live-cache")


@pytest.mark.parametrize(
    ("constrain_target", "uv_target"),
    [
        (["--python", "3.11"], ["--python-version", "3.11"]),
        (["--python", "3.9"], ["--python-version", "3.9"]),
        (
            ["--python", "3.11", "--platform", "manylinux_2_28_aarch64"],
            ["--python-version", "3.11", "--python-platform", "aarch64-manylinux_2_28"],
        ),
    ],
    ids=["py311", "py39", "aarch64"],
)
def test_airflow_pins_match_uv(live_cache: Path, tmp_path: Path, constrain_target, uv_target):
    index = _default_index()
    env = _clean_env(live_cache)
    ours = subprocess.run(
        [sys.executable, "-m", "constrain", "resolve", AIRFLOW, *constrain_target,
         "--exclude-newer", CUTOFF, "--index-url", index, "--airflow-constraints", "off"],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert ours.returncode == 0, ours.stderr
    req = tmp_path / "req.in"
    req.write_text(AIRFLOW + "\n")
    theirs = subprocess.run(
        [_uv(), "pip", "compile", str(req), *uv_target, "--exclude-newer", CUTOFF,
         "--index-url", index, "--quiet", "--no-header", "--no-annotate"],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert theirs.returncode == 0, theirs.stderr
    our_pins, uv_pins = _pins(ours.stdout), _pins(theirs.stdout)
    assert len(our_pins) > 50
    differ = {
        name: (our_pins.get(name), uv_pins.get(name))
        for name in sorted(set(our_pins) | set(uv_pins))
        if our_pins.get(name) != uv_pins.get(name)
    }
    assert not differ, f"constrain vs uv: {differ}"
