"""A build environment's wheels install into it, headers included (never into the running
interpreter's own include directory)."""

from __future__ import annotations

import sysconfig
from pathlib import Path

from constrain.build.envs import BuildEnv, _install_wheel
from tests.support.builders import make_wheel


def test_a_build_requirements_headers_go_into_the_build_environment(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "wheels", "hdrpkg", "1.0", files={
        "hdrpkg/__init__.py": "", "hdrpkg-1.0.data/headers/hdrpkg_perf_test.h": "/* x */\n"})
    env = BuildEnv(tmp_path / "env", ())
    # greenlet's headers once landed in the interpreter's own include directory
    stray = Path(sysconfig.get_paths()["include"]) / "hdrpkg_perf_test.h"
    try:
        _install_wheel(wheel, wheel.name, env)
        assert not stray.exists()
    finally:
        stray.unlink(missing_ok=True)  # a regression must not leave it there
    placed = list((tmp_path / "env").rglob("hdrpkg_perf_test.h"))
    assert len(placed) == 1 and placed[0].read_text() == "/* x */\n"
