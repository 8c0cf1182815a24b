"""A build environment a build changed (an old ``setup.py`` installing into ``sys.prefix``) is
retired: later builds that would share it get a new one (``build/guard.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from constrain.cli import main
from tests.support.builders import PackageSpec


def test_a_build_that_installs_into_its_environment_does_not_reach_later_builds(
        make_index, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: polluted.py stayed in the shared environment, and every later build that used
    # it failed, whatever --refresh or --verify.
    server = make_index([PackageSpec("mutator", "1.0", kinds=("sdist",)),
                         PackageSpec("victim", "1.0", kinds=("sdist",))])
    monkeypatch.setenv("INLINE_BACKEND_POLLUTE", "mutator")
    cache = str(tmp_path / "cache")
    for name in ("mutator", "victim"):
        code = main(["install", name, "--venv", str(tmp_path / name), "--cache-dir", cache,
                     "--index-url", server.index_url, "--airflow-constraints", "off"])
        err = capsys.readouterr().err
        assert code == 0, err
        if name == "mutator":
            assert ("the build of mutator-1.0.tar.gz changed its build environment "
                    "(+polluted.py): later builds get a new one") in err, err
    envs = [p for p in (tmp_path / "cache").glob("build-envs-*/envs/*") if p.is_dir()]
    assert len(envs) == 2  # the retired one, and the new one victim was built in
    assert sum((p / ".ready").is_file() for p in envs) == 1
