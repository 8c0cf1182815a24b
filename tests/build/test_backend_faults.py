"""Backends that misbehave are build failures, said as every build failure is: what the backend
did, the package chain that needed the build, where the whole output is kept, the way out --
never an internal error.

Each sdist here carries its own stdlib backend (``backend-path``), whose metadata hook works and
whose wheel hook does one wrong thing; it is installed from a find-links directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from constrain.cli import main
from tests.support.builders import make_wheel, write_tar

#: a backend: ``{meta}`` and ``{wheel}`` are the first lines of its metadata and wheel hooks
_BACKEND = '''import os, signal
META = "Metadata-Version: 2.1\\nName: {name}\\nVersion: 1.0\\n"
def get_requires_for_build_wheel(config_settings=None):
    return []
def prepare_metadata_for_build_wheel(directory, config_settings=None):
    {meta}
    os.makedirs(os.path.join(directory, "{name}-1.0.dist-info"))
    with open(os.path.join(directory, "{name}-1.0.dist-info", "METADATA"), "w") as f:
        f.write(META)
    return "{name}-1.0.dist-info"
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    {wheel}
'''
_PYPROJECT = '[build-system]\nrequires = []\nbuild-backend = "be"\nbackend-path = ["backend"]\n'


def _sdist(directory: Path, name: str, wheel_hook: str, meta_hook: str = "pass") -> Path:
    """``<name>-1.0.tar.gz`` in ``directory``, its ``build_wheel`` doing ``wheel_hook``, its
    metadata hook doing ``meta_hook`` first."""
    directory.mkdir(parents=True, exist_ok=True)
    members = {
        "PKG-INFO": f"Metadata-Version: 1.0\nName: {name}\nVersion: 1.0\n",
        "pyproject.toml": _PYPROJECT,
        "backend/be.py": _BACKEND.format(name=name, wheel=wheel_hook, meta=meta_hook),
    }
    return write_tar(directory / f"{name}-1.0.tar.gz",
                     {f"{name}-1.0/{member}": text for member, text in members.items()})


def _install(capsys, tmp_path: Path, requirement: str) -> tuple[int, str]:
    code = main(["install", requirement, "--no-index", "--find-links", str(tmp_path / "fl"),
                 "--venv", str(tmp_path / "venv"), "--without-pip",
                 "--airflow-constraints", "off", "--cache-dir", str(tmp_path / "cache")])
    return code, capsys.readouterr().err


def test_a_backend_naming_a_wheel_it_did_not_write_is_a_build_failure(tmp_path, capsys):
    _sdist(tmp_path / "fl", "liar", 'return "doesnotexist-1.0-py3-none-any.whl"')
    code, err = _install(capsys, tmp_path, "liar")
    assert code == 1, err
    assert "internal error" not in err and "Traceback" not in err
    assert "the build backend of liar-1.0.tar.gz named a wheel it did not write" in err
    assert "'doesnotexist-1.0-py3-none-any.whl'" in err
    assert "hint:" in err
    assert not list(tmp_path.glob("venv/lib/*/site-packages/liar*"))


@pytest.mark.parametrize("hook", ["prepare_metadata_for_build_wheel", "build_wheel"])
@pytest.mark.parametrize(("does", "said"), [
    ("os.kill(os.getpid(), signal.SIGKILL)", "killed by SIGKILL (out of memory?)"),
    ("os._exit(3)", "exited with status 3"),
])
def test_a_backend_killed_or_leaving_without_a_word_says_how_it_ended_and_who_needed_it(
        tmp_path, capsys, hook, does, said):
    """The process prints nothing: how it ended is all there is to tell, and the build is
    still named with the chain that needed it and its log (where the ending is written)."""
    make_wheel(tmp_path / "fl", "app", "1.0", requires_dist=["victim"])
    if hook == "build_wheel":
        _sdist(tmp_path / "fl", "victim", does)
    else:
        _sdist(tmp_path / "fl", "victim", "return None", meta_hook=does)
    code, err = _install(capsys, tmp_path, "app")
    assert code == 1, err
    assert f"the build backend failed in {hook} for victim-1.0.tar.gz: {said}" in err
    assert "needed by command line -> app==1.0 -> victim==1.0" in err
    log = tmp_path / "cache" / "build-logs" / "victim-1.0.tar.gz.log"
    assert f"whole output: {log}" in err
    assert f"{hook} {said}" in log.read_text()
    assert "the backend's last lines" not in err  # it said nothing; constrain's line is no tail
