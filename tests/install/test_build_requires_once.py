"""An sdist built twice in one command -- its metadata for the resolve, then its wheel for the
install -- asks its backend for its build requirements (``get_requires_for_build_wheel``, a
new interpreter importing the backend each time) once: the answer for the same sdist, backend
and build environment is the same. A different sdist asks its own."""

from __future__ import annotations

import sys
from pathlib import Path

from constrain.cli import main
from tests.support.builders import PackageSpec

SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"

#: the build tool's backend: the sdist's own stdlib backend, each hook it runs logged
COUNTING = (
    "import os, sys\n"
    "sys.path.insert(0, os.path.join(os.getcwd(), '_backend'))\n"
    "import inline_backend as _inline\n"
    "def _logged(name):\n"
    "    def hook(*args, **kwargs):\n"
    "        with open(os.environ['HOOK_LOG'], 'a') as log:\n"
    "            log.write(name + ' ' + os.path.basename(os.getcwd()) + '\\n')\n"
    "        return getattr(_inline, name)(*args, **kwargs)\n"
    "    return hook\n"
    "get_requires_for_build_wheel = _logged('get_requires_for_build_wheel')\n"
    "prepare_metadata_for_build_wheel = _logged('prepare_metadata_for_build_wheel')\n"
    "build_wheel = _logged('build_wheel')\n"
)

SPECS = [
    PackageSpec(name, "1.0", kinds=("sdist",), requires_dist=["dep>=1"],
                sdist_options={"dynamic": ["Requires-Dist"],
                               "build_system": {"requires": ["counttool"],
                                                "build-backend": "counttool_backend"}})
    for name in ("app", "other")
] + [
    PackageSpec("dep", "1.0"),
    PackageSpec("counttool", "1.0", wheel_options={"files": {"counttool_backend.py": COUNTING}}),
]


def test_each_sdist_asks_for_its_build_requirements_once_per_command(
        make_index, tmp_path: Path, capsys, monkeypatch):
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("HOOK_LOG", str(log))
    server = make_index(SPECS)
    # unpinned: the resolve needs their metadata (a build), the install their wheels (another)
    code = main(["install", "app", "other", "--venv", str(tmp_path / "venv"),
                 "--index-url", server.index_url, "--cache-dir", str(tmp_path / "cache"),
                 "--airflow-constraints", "off"])
    err = capsys.readouterr().err
    assert code == 0, err
    for name in ("app", "other", "dep"):
        assert (tmp_path / "venv" / SITE / name).is_dir()
    calls = log.read_text().split("\n")
    for sdist in ("app-1.0", "other-1.0"):
        ran = [line.split()[0] for line in calls if line.endswith(" " + sdist)]
        assert "build_wheel" in ran  # its wheel was built in this command ...
        assert ran.count("get_requires_for_build_wheel") == 1, ran  # ... asking once
