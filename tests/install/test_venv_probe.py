"""The target interpreter is asked once: a new venv of an interpreter seen before only for its paths."""

from __future__ import annotations

import os
import subprocess
import sys

from constrain.cache.store import Cache
from constrain.install import venv as venv_mod


def _venv(path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True,
                   capture_output=True)
    return path / "bin" / "python"


def test_a_new_venv_of_a_known_interpreter_gets_its_own_paths_without_a_full_probe(
        tmp_path, monkeypatch):
    cache = Cache(tmp_path / "cache")
    first = venv_mod.inspect(_venv(tmp_path / "a"), cache)
    # a full probe would now fail: the second venv must be asked only for its own paths
    monkeypatch.setattr(venv_mod, "_PROBE", "raise SystemExit(3)")
    second = venv_mod.inspect(_venv(tmp_path / "b"), cache)
    assert os.path.realpath(second.prefix) == os.path.realpath(tmp_path / "b")
    assert second.paths["purelib"].startswith(second.prefix)
    assert first.paths["purelib"] != second.paths["purelib"]
    assert (second.version, second.markers, second.platform_tags) == (
        first.version, first.markers, first.platform_tags)
    assert second.target() == first.target()


def test_a_damaged_record_of_the_binary_is_asked_again_in_full(tmp_path):
    cache = Cache(tmp_path / "cache")
    python = _venv(tmp_path / "a")
    st = python.stat()
    key = venv_mod._key(os.path.realpath(python), st)
    cache.put("misc", f"interp-binary-{key}", b'{"version": [3, 11, 0]}')  # no markers, no tags
    found = venv_mod.inspect(python, cache)
    assert found.markers["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert found.platform_tags
