"""An install that will build an exactly pinned sdist begins the build environment most sdists
use (setuptools' default backend) while that sdist downloads. The build takes it when its
requirements are those; an sdist asking for other tools is built with them as before, and the
environment made ahead is kept for another build -- or, when it cannot be made, leaves nothing
behind and says nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from constrain.cli import main
from tests.support.builders import PackageSpec

SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"

#: the build tool's backend: the sdist's own stdlib backend, found in the source tree
BACKEND = ("import os, sys\n"
           "sys.path.insert(0, os.path.join(os.getcwd(), '_backend'))\n"
           "from inline_backend import *  # noqa\n")

APP = PackageSpec("app", "1.0", kinds=("sdist",), requires_dist=["dep>=1"],
                  sdist_options={"dynamic": ["Requires-Dist"],
                                 "build_system": {"requires": ["othertool"],
                                                  "build-backend": "othertool_backend"}})
DEP = PackageSpec("dep", "1.0")
OTHERTOOL = PackageSpec("othertool", "1.0",
                        wheel_options={"files": {"othertool_backend.py": BACKEND}})
SETUPTOOLS = PackageSpec("setuptools", "70.0",
                         wheel_options={"files": {"setuptools/__init__.py": "",
                                                  "setuptools/build_meta.py": BACKEND}})


def _envs(cache: Path) -> tuple[dict[str, Path], list[Path]]:
    """Ready build environments by the build tool they hold, and directories of environments
    never finished."""
    ready, unfinished = {}, []
    root = cache / "build-envs-v3" / "envs"
    for env in root.iterdir() if root.is_dir() else ():
        if not (env / ".ready").is_file():
            unfinished.append(env)
            continue
        for info in env.glob(f"{SITE}/*.dist-info"):
            ready[info.name.split("-")[0]] = env
    return ready, unfinished


def _install(capsys, server, tmp_path: Path) -> tuple[int, str]:
    code = main(["install", "app==1.0", "--venv", str(tmp_path / "venv"),
                 "--index-url", server.index_url, "--cache-dir", str(tmp_path / "cache"),
                 "--airflow-constraints", "off"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("with_setuptools", [True, False], ids=["setuptools", "none"])
def test_an_sdist_built_with_other_tools_installs_beside_the_environment_made_ahead(
        make_index, tmp_path, capsys, with_setuptools):
    specs = [APP, DEP, OTHERTOOL] + ([SETUPTOOLS] if with_setuptools else [])
    code, err = _install(capsys, make_index(specs), tmp_path)
    assert code == 0, err
    assert (tmp_path / "venv" / SITE / "app").is_dir()
    assert (tmp_path / "venv" / SITE / "dep").is_dir()  # known only from the build
    ready, unfinished = _envs(tmp_path / "cache")
    assert not unfinished
    assert "setuptools" not in err
    if with_setuptools:  # made ahead, while the sdist downloaded, and kept
        assert set(ready) == {"othertool", "setuptools"}
    else:  # setuptools cannot be had: nothing made ahead, nothing said
        assert set(ready) == {"othertool"}
