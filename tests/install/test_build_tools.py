"""Builds that travel in time and work air-gapped, against a local index.

``app`` 1.0 is only an sdist (uploaded 2020-03-01) whose dependencies only a build can tell. Its
backend comes from the build requirement ``oldtool``: 1.0 (2020-01-01) builds it; 2.0
(2020-06-01) refuses, the way setuptools 58 refused old sdists (``use_2to3 is invalid``). So a
resolve as of 2020-03-01 must build with oldtool 1.0, a resolve as of today fails with 2.0, and
a wheelhouse downloaded as of 2020-03-01 must carry oldtool 1.0 and build ``app`` with no
network at all.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from constrain.cli import main
from tests.support.builders import PackageSpec

SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"

#: oldtool 1.0's backend: the sdist's own stdlib backend, found in the source tree
WORKS = ("import os, sys\n"
         "sys.path.insert(0, os.path.join(os.getcwd(), '_backend'))\n"
         "from inline_backend import *  # noqa\n")
#: oldtool 2.0's backend: refuses every old sdist, as setuptools 58 did
REFUSES = ("import sys\n"
           "def _refuse(*args, **kwargs):\n"
           "    sys.stderr.write('error in app setup command: use_2to3 is invalid.\\n')\n"
           "    raise SystemExit(1)\n"
           "get_requires_for_build_wheel = prepare_metadata_for_build_wheel = _refuse\n"
           "build_wheel = _refuse\n")


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


SPECS = [
    PackageSpec("app", "1.0", kinds=("sdist",), requires_dist=["dep>=1"],
                upload_time=_day("2020-03-01T12:00:00"),
                sdist_options={"dynamic": ["Requires-Dist"],
                               "build_system": {"requires": ["oldtool"],
                                                "build-backend": "oldtool_backend"}}),
    PackageSpec("dep", "1.0", upload_time=_day("2020-01-01T00:00:00")),
    PackageSpec("oldtool", "1.0", upload_time=_day("2020-01-01T00:00:00"),
                wheel_options={"files": {"oldtool_backend.py": WORKS,
                                         # a module only Python 2 could compile, as old
                                         # build tools still ship
                                         "oldtool_py2.py": "print 'built by Python 2'\n"}}),
    PackageSpec("oldtool", "2.0", upload_time=_day("2020-06-01T00:00:00"),
                wheel_options={"files": {"oldtool_backend.py": REFUSES}}),
]
CUTOFF = "2020-03-01"


@pytest.fixture
def server(make_index):
    return make_index(SPECS)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def envs_holding(cache: Path) -> dict[str, Path]:
    """Ready build environments by the oldtool version they hold."""
    out = {}
    for env in (cache / "build-envs-v3" / "envs").iterdir():
        for info in env.glob(f"{SITE}/oldtool-*.dist-info"):
            if (env / ".ready").is_file():
                out[info.name.removesuffix(".dist-info").split("-")[1]] = env
    return out


def test_a_cut_off_applies_to_build_tools_and_environments_of_two_dates_never_mix(
        server, tmp_path, capsys):
    cache = tmp_path / "cache"
    common = ["--index-url", server.index_url, "--cache-dir", str(cache),
              "--airflow-constraints", "off"]
    code, out, err = run(capsys, "resolve", "app", "--exclude-newer", CUTOFF, *common)
    assert code == 0, err
    assert "dep==1.0" in out  # known only from the build
    assert set(envs_holding(cache)) == {"1.0"}

    # as of today the build gets oldtool 2.0, which refuses: the backend's own words come
    # first, not a traceback, with the build tools and the way out
    code, out, err = run(capsys, "resolve", "app", *common, "--refresh")
    assert code == 1
    assert "use_2to3 is invalid" in err and "Traceback" not in err
    assert "build tools: oldtool==2.0" in err
    assert "needed by command line -> app==1.0" in err
    assert "hint:" in err and "--build-constraint" in err
    log = cache / "build-logs" / "app-1.0.tar.gz.log"
    assert f"whole output: {log}" in err and "use_2to3" in log.read_text()
    assert set(envs_holding(cache)) == {"1.0", "2.0"}  # one environment per set of pins


def _bytecode(module: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(module)))


def test_a_build_environment_in_use_gets_its_bytecode_and_a_one_off_build_pays_none(
        server, tmp_path, capsys):
    """Builds run with PYTHONDONTWRITEBYTECODE: without bytecode every hook compiles its
    backend again as it imports it. A one-off build (two hooks) is cheaper without compiling
    the whole environment; an environment starting its third hook in a command gets its
    bytecode written, once, by its own interpreter."""
    cache = tmp_path / "cache"
    common = ["--exclude-newer", CUTOFF, "--index-url", server.index_url, "--cache-dir",
              str(cache), "--airflow-constraints", "off"]
    # the resolve builds app's metadata: get_requires_for_build_wheel, then
    # prepare_metadata_for_build_wheel
    code, out, err = run(capsys, "resolve", "app", *common)
    assert code == 0, err
    assert "dep==1.0" in out  # the build ran, with oldtool 1.0's backend
    env = envs_holding(cache)["1.0"]
    backend = env / SITE / "oldtool_backend.py"
    assert not _bytecode(backend).exists()
    assert not (env / ".compiled").exists()

    # the install (in this process, as the resolve was) builds app's wheel: build_wheel is
    # the environment's third hook, and its bytecode is written beside it
    code, _out, err = run(capsys, "install", "app", "--venv", str(tmp_path / "v"), *common)
    assert code == 0, err
    assert (tmp_path / "v" / SITE / "app").is_dir()
    marker = env / ".compiled"
    for _ in range(600):  # a process of its own, in a thread the command does not wait for
        if marker.is_file():
            break
        time.sleep(0.1)
    assert marker.is_file()
    # written for this interpreter (the environment's), which reads it instead of the source
    assert _bytecode(backend).read_bytes()[:4] == importlib.util.MAGIC_NUMBER
    # a module that does not compile is left as it is
    assert not _bytecode(env / SITE / "oldtool_py2.py").exists()
    assert (env / ".ready").is_file()


def test_an_exempt_build_tool_is_taken_newer_than_the_cut_off(server, tmp_path, capsys):
    code, _out, err = run(capsys, "resolve", "app", "--exclude-newer", CUTOFF,
                          "--build-exclude-newer-exempt", "oldtool", "--index-url",
                         server.index_url, "--airflow-constraints", "off")
    assert code == 1
    assert "build tools: oldtool==2.0" in err


def test_a_build_constraint_wins_over_the_cut_off_and_over_today(server, tmp_path, capsys):
    pins = tmp_path / "build.txt"
    pins.write_text("oldtool==1.0\n")
    code, out, err = run(capsys, "resolve", "app", "--build-constraint", str(pins),
                         "--index-url", server.index_url, "--airflow-constraints", "off")
    assert code == 0, err
    assert "dep==1.0" in out


def test_a_build_constraint_nothing_fits_is_named_as_the_cause(server, tmp_path, capsys):
    # Before: the cut-off (which does not apply to a project a build constraint names) was
    # given as a reason, and the hint offered the exemption instead of the constraint.
    pins = tmp_path / "build.txt"
    pins.write_text("oldtool<0.5\n")
    code, _out, err = run(capsys, "resolve", "app", "--exclude-newer", CUTOFF,
                          "--build-constraint", str(pins), "--index-url", server.index_url,
                          "--airflow-constraints", "off")
    assert code == 1
    assert "the build requirements of app-1.0.tar.gz (oldtool)" in err, err
    assert "the resolve's cut-off" not in err and "--build-exclude-newer-exempt" not in err
    assert f"hint: loosen the build constraint on oldtool ({pins}:1)" in err, err


def test_a_build_tool_with_only_an_sdist_is_not_blamed_on_only_binary(make_index, capsys):
    # Before: "oldtool 1.0 has only an sdist for this target and --only-binary is set", a flag
    # the user never gave (build requirements come from wheels only, whatever the command).
    server = make_index([SPECS[0], SPECS[1], PackageSpec("oldtool", "1.0", kinds=("sdist",))])
    code, _out, err = run(capsys, "resolve", "app", "--index-url", server.index_url,
                          "--airflow-constraints", "off")
    assert code == 1
    assert "oldtool 1.0 has only an sdist for this target and build requirements are " \
           "installed from wheels only" in err, err
    assert "--only-binary is set" not in err


def test_no_build_tool_by_the_cut_off_names_it_the_sdist_and_the_exemption(
        make_index, tmp_path, capsys):
    late = [s for s in SPECS if not (s.name == "oldtool" and s.version == "1.0")]
    server = make_index(late)
    code, _out, err = run(capsys, "resolve", "app", "--exclude-newer", CUTOFF, "--index-url",
                         server.index_url, "--airflow-constraints", "off")
    assert code == 1
    assert "the build requirements of app-1.0.tar.gz (oldtool)" in err
    assert "--build-exclude-newer-exempt oldtool" in err


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.parametrize("source", ["--wheelhouse", "--no-index --find-links"])
def test_a_wheelhouse_carries_the_build_tools_of_its_date_and_builds_with_no_network(
        server, tmp_path, capsys, source):
    house = tmp_path / "W"
    code, _out, err = run(capsys, "download", "app", "--dest", str(house), "--exclude-newer",
                         CUTOFF, "--index-url", server.index_url, "--airflow-constraints", "off")
    assert code == 0, err
    names = {p.name for p in house.iterdir()}
    assert "oldtool-1.0-py3-none-any.whl" in names and "app-1.0.tar.gz" in names
    assert not any(n.startswith("oldtool-2.0") for n in names)
    manifest = json.loads((house / "manifest.json").read_text())
    tool = next(f for f in manifest["files"] if f["project"] == "oldtool")
    assert tool["for_build"] is True and tool["builds"] == ["app-1.0.tar.gz"]
    assert manifest["build_exclude_newer"].startswith("2020-03-02")  # the whole day, as uv
    server.close()  # the index is gone: only the wheelhouse remains

    venv, cache = tmp_path / "V", tmp_path / "empty-cache"
    cmd = [sys.executable, "-m", "constrain", "install", "app", *source.split(), str(house),
           "--offline", "--venv", str(venv), "--cache-dir", str(cache)]
    if _unshare_works():  # no network route at all
        cmd = ["unshare", "-n", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    check = subprocess.run([str(venv / "bin/python"), "-c",
                            "import app, dep; print(app.__version__)"],
                           capture_output=True, text=True, check=False)
    assert check.stdout.strip() == "1.0", check.stderr


def test_a_build_tool_missing_from_an_offline_wheelhouse_is_named_with_its_sdist(
        server, tmp_path, capsys):
    house = tmp_path / "W"
    code, _out, err = run(capsys, "download", "app", "--dest", str(house), "--exclude-newer",
                          CUTOFF, "--index-url", server.index_url, "--airflow-constraints", "off")
    assert code == 0, err
    (house / "oldtool-1.0-py3-none-any.whl").unlink()
    code, _out, err = run(capsys, "install", "app", "--wheelhouse", str(house), "--offline",
                          "--venv", str(tmp_path / "V"), "--cache-dir", str(tmp_path / "c2"))
    assert code == 1
    assert "oldtool" in err and "app-1.0.tar.gz" in err
    assert f"add a wheel of oldtool for this Python to the wheelhouse ({house.resolve()})" in err
    assert not (tmp_path / "V" / SITE / "app").exists()


def test_a_wheelhouse_for_another_python_also_carries_the_build_tools_of_this_one(
        make_index, tmp_path, capsys):
    """pip on the far side builds with the target's Python; constrain there builds with the
    Python it runs on (taken to be this one): each needs its own build tools."""
    old_python = PackageSpec("oldtool", "0.9", upload_time=_day("2019-12-01T00:00:00"),
                             requires_python="<3.10",
                             wheel_options={"files": {"oldtool_backend.py": WORKS}})
    new_python = PackageSpec("oldtool", "1.0", upload_time=_day("2020-01-01T00:00:00"),
                             requires_python=">=3.10",
                             wheel_options={"files": {"oldtool_backend.py": WORKS}})
    server = make_index([*SPECS[:2], old_python, new_python, SPECS[3]])
    house = tmp_path / "W"
    code, _out, err = run(capsys, "download", "app", "--dest", str(house), "--python", "3.9",
                         "--exclude-newer", CUTOFF, "--index-url", server.index_url,
                         "--airflow-constraints", "off")
    assert code == 0, err
    manifest = json.loads((house / "manifest.json").read_text())
    assert manifest["targets"][0]["build_files"] == ["oldtool-0.9-py3-none-any.whl",
                                                     "oldtool-1.0-py3-none-any.whl"]
    assert not any(p.name.startswith("oldtool-2.0") for p in house.iterdir())


def test_a_wheel_built_under_other_build_rules_is_not_reused(server, tmp_path, capsys):
    """The built wheel is the work of the build tools the rules chose: under a changed
    ``--build-constraint`` (or cut-off) the install builds again with the tools those rules
    choose, instead of installing the wheel older rules' tools made."""
    cache = tmp_path / "cache"
    common = ["--index-url", server.index_url, "--cache-dir", str(cache),
              "--airflow-constraints", "off"]
    code, _out, err = run(capsys, "install", "app", "--exclude-newer", CUTOFF,
                          "--venv", str(tmp_path / "V1"), *common)
    assert code == 0, err
    assert (tmp_path / "V1" / SITE / "app").is_dir()

    refuse = tmp_path / "build.txt"
    refuse.write_text("oldtool==2.0\n")
    code, _out, err = run(capsys, "install", "app", "--exclude-newer", CUTOFF,
                          "--build-constraint", str(refuse), "--venv", str(tmp_path / "V2"),
                          *common)
    assert code == 1, err  # built again with oldtool 2.0, which refuses
    assert "use_2to3 is invalid" in err and "build tools: oldtool==2.0" in err
    assert not (tmp_path / "V2" / SITE / "app").exists()

    # the first rules again: their wheel serves, no build (oldtool 2.0's refusal is not met)
    code, _out, err = run(capsys, "install", "app", "--exclude-newer", CUTOFF,
                          "--venv", str(tmp_path / "V3"), *common)
    assert code == 0, err
    assert (tmp_path / "V3" / SITE / "app").is_dir()
