"""Build environments made without pip: a build requirement met by one wheel with no
dependencies is installed straight from the index's wheel (the common ``setuptools>=40.8.0``
case); anything more is left to pip. Through the CLI, against a local index."""

from __future__ import annotations

from pathlib import Path

from constrain.cli import main
from tests.support.builders import PackageSpec


#: ``app`` has only an sdist whose backend asks for ``helperlib>=1``; its dependency ``dep`` is
#: known only from the built metadata (PKG-INFO marks Requires-Dist dynamic).
APP = [
    PackageSpec("app", "1.0", kinds=("sdist",), requires_dist=["dep>=1"],
                sdist_options={"dynamic": ["Requires-Dist"], "build_requires": ["helperlib>=1"]}),
    PackageSpec("dep", "1.0"),
]


def _envs(cache: Path) -> list[Path]:
    """The ready environments holding something (the build system's own ``requires = []``
    gets an empty one)."""
    return [p for p in (cache / "build-envs-v1" / "envs").iterdir()
            if (p / ".ready").is_file() and any(p.glob("lib/python*/site-packages/*"))]


def _site_names(env: Path) -> set[str]:
    return {p.name for p in env.glob("lib/python*/site-packages/*")}


def _resolve(server, cache: Path, capsys) -> tuple[int, str, str]:
    code = main(["resolve", "--index-url", server.index_url, "--cache-dir", str(cache),
                 "--airflow-constraints", "off", "app"])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_build_requirement_without_dependencies_is_installed_without_pip(
    index_server, tmp_path, capsys
) -> None:
    server = index_server([
        *APP,
        PackageSpec("helperlib", "1.0"),
        PackageSpec("helperlib", "1.5", requires_dist=["tests-only; extra == 'test'"],
                    provides_extra=["test"]),
    ])
    code, out, err = _resolve(server, tmp_path / "cache", capsys)
    assert code == 0, err
    assert "dep==1.0" in out  # read from the built metadata, not from PKG-INFO
    [env] = _envs(tmp_path / "cache")
    assert "helperlib-1.5.dist-info" in _site_names(env)
    assert not (env / "build-report.json").exists()  # pip writes one; the direct path none
    installer = (next(env.glob("lib/python*/site-packages/helperlib-1.5.dist-info")) /
                 "INSTALLER").read_text()
    assert installer.strip() == "constrain"


def test_a_build_requirement_with_dependencies_is_left_to_pip(
    index_server, tmp_path, capsys
) -> None:
    server = index_server([
        *APP,
        PackageSpec("helperlib", "1.0", requires_dist=["otherlib"]),
        PackageSpec("otherlib", "2.0"),
    ])
    code, out, err = _resolve(server, tmp_path / "cache", capsys)
    assert code == 0, err
    assert "dep==1.0" in out
    [env] = _envs(tmp_path / "cache")
    assert {"helperlib-1.0.dist-info", "otherlib-2.0.dist-info"} <= _site_names(env)
    assert (env / "build-report.json").exists()  # pip resolved the dependency
