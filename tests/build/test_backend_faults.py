"""Backends that misbehave are build failures, said as every build failure is: what the backend
did, the package chain that needed the build, where the whole output is kept, the way out --
never an internal error.

Each sdist here carries its own stdlib backend (``backend-path``), whose metadata hook works and
whose wheel hook does one wrong thing; it is installed from a find-links directory.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from constrain.cli import main

#: a backend whose metadata hook works; ``{wheel}`` is the body of its ``build_wheel``
_BACKEND = '''import os
META = "Metadata-Version: 2.1\\nName: {name}\\nVersion: 1.0\\n"
def get_requires_for_build_wheel(config_settings=None):
    return []
def prepare_metadata_for_build_wheel(directory, config_settings=None):
    os.makedirs(os.path.join(directory, "{name}-1.0.dist-info"))
    with open(os.path.join(directory, "{name}-1.0.dist-info", "METADATA"), "w") as f:
        f.write(META)
    return "{name}-1.0.dist-info"
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    {wheel}
'''
_PYPROJECT = '[build-system]\nrequires = []\nbuild-backend = "be"\nbackend-path = ["backend"]\n'


def _sdist(directory: Path, name: str, wheel_hook: str) -> Path:
    """``<name>-1.0.tar.gz`` in ``directory``, its ``build_wheel`` doing ``wheel_hook``."""
    directory.mkdir(parents=True, exist_ok=True)
    members = {
        "PKG-INFO": f"Metadata-Version: 1.0\nName: {name}\nVersion: 1.0\n",
        "pyproject.toml": _PYPROJECT,
        "backend/be.py": _BACKEND.format(name=name, wheel=wheel_hook),
    }
    path = directory / f"{name}-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}-1.0/{member}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


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
