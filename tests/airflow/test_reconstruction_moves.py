"""A reconstruction for a Python newer than the release: pins that cannot be had for the target
move to their earliest release that installs on it, only what those moves need moves too, the
rest stays as of the release, and every move is listed (header and summary). User constraints
apply inside the reconstruction, and every way out an error suggests is run here."""

from __future__ import annotations

import pytest

from constrain.cli import main
from tests.airflow.conftest import day, pins
from tests.support.builders import PackageSpec

CP310 = "cp310-cp310-manylinux_2_17_x86_64"  # a wheel the 3.11 target cannot use
RECON = ["--airflow-constraints", "reconstructed"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def resolve(server, *more: str) -> list[str]:
    return ["resolve", "--index-url", server.index_url, *more]


def airflow(requires: list[str], **kw) -> PackageSpec:
    return PackageSpec("apache-airflow", "2.0.0", requires_dist=requires, upload_time=day(10),
                       **kw)


def old_only_for_310(name: str, version: str, when: int, **sdist) -> PackageSpec:
    """A release with a wheel for CPython 3.10 only and an sdist that does not build."""
    return PackageSpec(name, version, kinds=("wheel", "sdist"), tags=(CP310,),
                       upload_time=day(when),
                       sdist_options={"fail_build": True, "metadata_version": "2.1", **sdist})


def test_a_pin_with_no_wheel_for_the_target_moves_to_its_first_release_that_installs(
        index_server, capsys):
    server = index_server([
        airflow(["oldlib>=1", "steady>=1"]),
        old_only_for_310("oldlib", "1.0", 5),
        # later releases: an sdist that does not build either, then the first wheel for 3.11
        PackageSpec("oldlib", "1.1", kinds=("sdist",), upload_time=day(15),
                    sdist_options={"fail_build": True, "metadata_version": "2.1"}),
        PackageSpec("oldlib", "1.2", upload_time=day(20)),
        PackageSpec("oldlib", "1.3", upload_time=day(28)),
        PackageSpec("steady", "1.0", upload_time=day(2)),
        PackageSpec("steady", "2.0", upload_time=day(25)),
    ])
    argv = resolve(server, *RECON, "--python", "3.11", "apache-airflow==2.0.0")
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    # the earliest release that installs, not the newest; everything else as of the release
    assert pins(out) == {"apache-airflow": "2.0.0", "oldlib": "1.2", "steady": "1.0"}
    move = ("oldlib 1.0 -> 1.2 (released 2021-01-20): no wheel for cp311 and the sdist does "
            "not build")
    assert f"# Note: moved past the release date for Python 3.11: {move}" in out
    assert "1 moved past the release date" in out
    assert "1 package moved past the release date" in err and f"  {move}" in err
    # A rerun knows what does not build: the same answer, the same moves.
    code, again, err = run(capsys, *argv)
    assert code == 0, err
    assert again == out and move in err


def test_an_sdist_that_does_not_build_moves_though_its_metadata_is_static(index_server, capsys):
    # Static PKG-INFO: resolving needs no build, so only building the wheel shows that the
    # pin cannot be installed here; the host is the target, so the reconstruction builds it.
    server = index_server([
        airflow(["oldlib>=1"]),
        PackageSpec("oldlib", "1.0", kinds=("sdist",), upload_time=day(5),
                    sdist_options={"fail_build": True}),
        # the next release is an sdist that does not build either: skipped in turn
        PackageSpec("oldlib", "1.0.1", kinds=("sdist",), upload_time=day(12),
                    sdist_options={"fail_build": True}),
        PackageSpec("oldlib", "1.1", upload_time=day(20)),
    ])
    code, out, err = run(capsys, *resolve(server, *RECON, "apache-airflow==2.0.0"))
    assert code == 0, err
    assert pins(out)["oldlib"] == "1.1"
    assert "oldlib 1.0 -> 1.1 (released 2021-01-20): no wheel for cp311 and the sdist" in out
    # Builds here cannot speak for another Python: the header says which pins went untested.
    code, out, err = run(capsys, *resolve(server, *RECON, "--python", "3.12",
                                          "apache-airflow==2.0.0"))
    assert code == 0, err
    assert pins(out)["oldlib"] == "1.0"
    assert ("not test-built (no wheel for this target, and builds here are for another Python "
            "or platform): oldlib==1.0") in out


def test_a_compiled_release_for_older_pythons_moves_to_a_wheel_without_a_build(
        index_server, capsys, tmp_path, monkeypatch):
    # Its sdist would build here, but the answer must not depend on this machine's compilers:
    # a later release with a wheel for the target is taken, and nothing is built.
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("INLINE_BACKEND_LOG", str(log))
    server = index_server([
        airflow(["fastlib>=1"]),
        PackageSpec("fastlib", "1.0", kinds=("wheel", "sdist"), tags=(CP310,),
                    upload_time=day(5)),
        PackageSpec("fastlib", "1.1", upload_time=day(20)),
    ])
    code, out, err = run(capsys, *resolve(server, *RECON, "apache-airflow==2.0.0"))
    assert code == 0, err
    assert pins(out)["fastlib"] == "1.1"
    assert ("fastlib 1.0 -> 1.1 (released 2021-01-20): no wheel for cp311 (its wheels are for "
            "cp310), and a compiled release is not built from source when a later one has a "
            "wheel") in out
    assert not log.exists() or "build_wheel" not in log.read_text()


def test_a_release_with_wheels_for_the_python_but_not_the_platform_says_so(
        index_server, capsys):
    # Before: "no wheel for cp312 (its wheels are for cp311, cp312)": cp312 was in the list;
    # what it lacked was a wheel for the platform asked for.
    server = index_server([
        airflow(["fastlib>=1"]),
        PackageSpec("fastlib", "1.0", kinds=("wheel", "sdist"),
                    tags=("cp312-cp312-macosx_10_9_x86_64", "cp311-cp311-macosx_10_9_x86_64"),
                    upload_time=day(5)),
        PackageSpec("fastlib", "1.1", upload_time=day(20)),
    ])
    code, out, err = run(capsys, *resolve(server, *RECON, "--python", "3.12", "--platform",
                                          "macosx_11_0_arm64", "apache-airflow==2.0.0"))
    assert code == 0, err
    assert pins(out)["fastlib"] == "1.1"
    assert ("fastlib 1.0 -> 1.1 (released 2021-01-20): no cp312 wheel for macosx_11_0_arm64 "
            "(its cp312 wheels are for macosx_10_9_x86_64), and a compiled release") in out, out


def test_a_compiled_release_is_built_when_no_later_wheel_fits_its_requirement(
        index_server, capsys):
    # Airflow caps it below the release with a wheel for the target: the cap holds, and the
    # capped release is built here instead (its sdist builds).
    server = index_server([
        airflow(["fastlib>=1,<1.1"]),
        PackageSpec("fastlib", "1.0", kinds=("wheel", "sdist"), tags=(CP310,),
                    upload_time=day(5)),
        PackageSpec("fastlib", "1.1", upload_time=day(20)),
    ])
    code, out, err = run(capsys, *resolve(server, *RECON, "apache-airflow==2.0.0"))
    assert code == 0, err
    assert pins(out)["fastlib"] == "1.0"
    assert "moved past the release date" not in out


def test_a_compiled_release_is_not_moved_to_a_new_major_version_unbuilt(index_server, capsys):
    # Only a compatible successor replaces a build: fastlib 2.0 may break the release at run
    # time (as pendulum 3 broke Airflow 2.3), so fastlib 1.0 is built here instead.
    server = index_server([
        airflow(["fastlib>=1"]),
        PackageSpec("fastlib", "1.0", kinds=("wheel", "sdist"), tags=(CP310,),
                    upload_time=day(5)),
        PackageSpec("fastlib", "2.0", upload_time=day(20)),
    ])
    code, out, err = run(capsys, *resolve(server, *RECON, "apache-airflow==2.0.0"))
    assert code == 0, err
    assert pins(out)["fastlib"] == "1.0"
    assert "moved past the release date" not in out


def test_a_move_stays_within_what_the_release_requires(index_server, capsys):
    # The first release with a wheel (1.2) is beyond Airflow's cap: the move goes to the
    # first release under the cap that installs, an sdist that builds here.
    server = index_server([
        airflow(["oldlib>=1,<1.2"]),
        old_only_for_310("oldlib", "1.0", 5),
        PackageSpec("oldlib", "1.1", kinds=("sdist",), upload_time=day(15)),
        PackageSpec("oldlib", "1.2", upload_time=day(20)),
    ])
    code, out, err = run(capsys, *resolve(server, *RECON, "apache-airflow==2.0.0"))
    assert code == 0, err
    assert pins(out)["oldlib"] == "1.1"
    assert "oldlib 1.0 -> 1.1 (released 2021-01-15): no wheel for cp311 and the sdist" in out


def test_a_move_moves_only_what_it_requires(index_server, capsys):
    server = index_server([
        airflow(["pin-a>=1", "dep-b>=1", "dep-c", "steady"]),
        old_only_for_310("pin-a", "1.0", 5),
        PackageSpec("pin-a", "2.0", requires_dist=["dep-b>=2", "dep-c>=2.2"],
                    upload_time=day(20)),
        PackageSpec("dep-b", "1.0", upload_time=day(3)),
        PackageSpec("dep-b", "2.0", upload_time=day(18)),
        PackageSpec("dep-b", "2.1", upload_time=day(22)),
        # 2.2 is compiled for 3.10 only; 2.3 is the wheel a move of it would take
        PackageSpec("dep-c", "1.0", upload_time=day(3)),
        PackageSpec("dep-c", "2.2", kinds=("wheel", "sdist"), tags=(CP310,),
                    upload_time=day(19)),
        PackageSpec("dep-c", "2.3", upload_time=day(23)),
        PackageSpec("steady", "1.0", upload_time=day(2)),
        PackageSpec("steady", "1.1", upload_time=day(21)),
    ])
    code, out, err = run(capsys, *resolve(server, *RECON, "--python", "3.11",
                                          "apache-airflow==2.0.0"))
    assert code == 0, err
    assert pins(out) == {"apache-airflow": "2.0.0", "pin-a": "2.0", "dep-b": "2.0",
                         "dep-c": "2.3", "steady": "1.0"}
    assert "pin-a 1.0 -> 2.0 (released 2021-01-20): no wheel for cp311" in out
    assert ("dep-b 1.0 -> 2.0 (released 2021-01-18): needed by pin-a==2.0, itself moved: "
            "dep-b>=2") in out
    # dep-c moved for pin-a, then on from its compiled 2.2 to 2.3: both reasons are given
    assert ("dep-c 1.0 -> 2.3 (released 2021-01-23): needed by pin-a==2.0, itself moved: "
            "dep-c>=2.2; then dep-c 2.2: no wheel for cp311 (its wheels are for cp310)") in out
    assert "3 packages moved past the release date" in err


def test_moves_stay_within_the_users_exclude_newer(index_server, capsys):
    server = index_server([
        airflow(["oldlib>=1"]),
        old_only_for_310("oldlib", "1.0", 5),
        PackageSpec("oldlib", "1.1", upload_time=day(20)),
    ])
    argv = resolve(server, *RECON, "--python", "3.11", "apache-airflow==2.0.0")
    code, out, err = run(capsys, *argv, "--exclude-newer", "2021-01-15")
    assert code == 1 and out == ""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert lines == ["error: apache-airflow==2.0.0 cannot be reconstructed for Python 3.11: "
                     "oldlib 1.0 has no wheel for cp311, its sdist does not build, and no later "
                     "release up to 2021-01-16T00:00:00Z installs on it"]
    assert "hint: " in err and "add --python X.Y to the command" in err
    # a later limit lets it move; the reconstruction is still as of the release, and says so
    code, out, err = run(capsys, *argv, "--exclude-newer", "2021-01-30")
    assert code == 0, err
    assert pins(out)["oldlib"] == "1.1"
    assert ("files uploaded after 2021-01-10T12:00:00Z (the release's upload time) excluded; "
            "the --exclude-newer cut-off 2021-01-31T00:00:00Z is later than the release and "
            "limits only the packages moved past it") in out


def test_a_later_exclude_newer_does_not_move_the_basis(airflow_world, capsys):
    # issue 18: with --exclude-newer later than the release, the release date is the basis
    server, _ = airflow_world
    code, out, err = run(capsys, *resolve(server, *RECON, "--python", "3.8",
                                          "--exclude-newer", "2021-01-30",
                                          "apache-airflow[postgres]==2.0.0"))
    assert code == 0, err
    assert pins(out) == {"apache-airflow": "2.0.0", "sqlalchemy": "1.3.24", "flask": "1.1.4",
                         "psycopg2-binary": "2.8.6"}
    assert "#   reconstructed apache-airflow[postgres]==2.0.0 as of 2021-01-10T12:00:00Z" in out
    # an earlier one would be the basis, but it excludes the release itself: said plainly
    code, out, err = run(capsys, *resolve(server, *RECON, "--python", "3.8",
                                          "--exclude-newer", "2021-01-06",
                                          "apache-airflow[postgres]==2.0.0"))
    assert code == 1 and out == ""
    assert "apache-airflow 2.0.0 was uploaded after the --exclude-newer cut-off" in err
    assert "hint: move the --exclude-newer cut-off later" in err


@pytest.mark.parametrize("how", ["constraint file", "requirement"])
def test_user_constraints_apply_inside_the_reconstruction(airflow_world, capsys, tmp_path, how):
    server, _template = airflow_world
    if how == "constraint file":
        (tmp_path / "c.txt").write_text("SQLAlchemy!=1.3.24\n")
        more = [*RECON, "-c", str(tmp_path / "c.txt")]
    else:  # auto, the published file unreachable
        more = ["--airflow-constraints-url", "http://127.0.0.1:9/{ref}/{mode}-{python}.txt",
                "SQLAlchemy!=1.3.24"]
    code, out, err = run(capsys, *resolve(server, "--python", "3.8", *more,
                                          "apache-airflow[postgres]==2.0.0"))
    assert code == 0, err
    assert pins(out)["sqlalchemy"] == "1.3.20" and pins(out)["flask"] == "1.1.4"
    assert "your constraints applied (SQLAlchemy!=1.3.24)" in out


def test_the_exclusion_a_metadata_error_suggests_works_inside_a_reconstruction(
        index_server, capsys, tmp_path):
    server = index_server([
        airflow(["badlib>=1"]),
        PackageSpec("badlib", "1.0", upload_time=day(4)),
        PackageSpec("badlib", "1.1", upload_time=day(8),
                    wheel_options={"metadata_override": "Metadata-Version: 2.1\nName: badlib\n"
                                   "Version: 1.1\nRequires-Dist: six (>=>1!)\n\n"}),
    ], pep658=False)
    argv = resolve(server, *RECON, "apache-airflow==2.0.0")
    code, out, err = run(capsys, *argv)
    assert code != 0 and out == ""
    assert "badlib!=1.1" in err
    assert "as -c FILE together with --airflow-constraints reconstructed" in err
    (tmp_path / "c.txt").write_text("badlib!=1.1\n")
    for more in (["-c", str(tmp_path / "c.txt")], ["badlib!=1.1"]):
        code, out, err = run(capsys, *argv, *more)
        assert code == 0, err
        assert pins(out)["badlib"] == "1.0"


def test_a_release_that_excludes_the_target_is_refused_in_one_line_with_the_way_out(
        index_server, capsys):
    server = index_server([
        airflow(["steady"], requires_python=">=3.8,<3.11"),
        PackageSpec("steady", "1.0", upload_time=day(2)),
    ])
    server.static.update({
        "/constraints-2.0.0/constraints-3.9.txt": "steady==1.0\n",
        "/constraints-2.0.0/constraints-3.10.txt": "steady==1.0\n",
    })
    template = server.url + "/{ref}/{mode}-{python}.txt"
    argv = resolve(server, "--airflow-constraints-url", template, "apache-airflow==2.0.0")
    code, out, err = run(capsys, *argv, "--python", "3.11")
    assert code == 1 and out == ""
    assert err.splitlines()[-2:] == [
        "error: apache-airflow==2.0.0 cannot be reconstructed for Python 3.11: the release "
        "requires Python >=3.8,<3.11",
        "hint: Airflow publishes constraints for the Pythons a release supports; "
        "2.0.0 has them for Python 3.9, 3.10; resolve for one of them: "
        "add --python 3.10 to the command"]
    code, out, err = run(capsys, *argv, "--python", "3.10")
    assert code == 0, err
    assert pins(out) == {"apache-airflow": "2.0.0", "steady": "1.0"}


def test_unreachable_published_files_the_refusal_names_the_releases_pythons(index_server,
                                                                            capsys):
    metadata = ("Metadata-Version: 2.1\nName: apache-airflow\nVersion: 2.0.0\n"
                "Classifier: Programming Language :: Python :: 3\n"
                "Classifier: Programming Language :: Python :: 3.8\n"
                "Classifier: Programming Language :: Python :: 3.9\n"
                "Requires-Python: >=3.8,<3.10\n\n")
    server = index_server([airflow([], requires_python=">=3.8,<3.10",
                                   wheel_options={"metadata_override": metadata})], pep658=True)
    dead = "http://127.0.0.1:9/{ref}/{mode}-{python}.txt"
    code, out, err = run(capsys, *resolve(server, "--airflow-constraints-url", dead,
                                          "--python", "3.11", "apache-airflow==2.0.0"))
    assert code == 1 and out == ""
    assert ("2.0.0 has them for Python 3.8, 3.9; resolve for one of them: add --python 3.9 "
            "to the command") in err
    code, out, err = run(capsys, *resolve(server, "--airflow-constraints-url", dead,
                                          "--python", "3.9", "apache-airflow==2.0.0"))
    assert code == 0, err


def test_install_refusal_names_an_environment_of_a_supported_python(index_server, capsys,
                                                                     tmp_path):
    import sys

    here = f"{sys.version_info.major}.{sys.version_info.minor}"  # install targets this Python
    older = f"{sys.version_info.major}.{sys.version_info.minor - 1}"
    server = index_server([airflow([], requires_python=f">=3.6,<{here}")])
    server.static[f"/constraints-2.0.0/constraints-{older}.txt"] = "\n"
    template = server.url + "/{ref}/{mode}-{python}.txt"
    code, _out, err = run(capsys, "install", "--index-url", server.index_url,
                         "--airflow-constraints-url", template, "--venv", str(tmp_path / "V"),
                         "--dry-run", "apache-airflow==2.0.0")
    assert code == 1 and "Traceback" not in err
    assert f"cannot be reconstructed for Python {here}: the release requires Python" in err
    assert (f"install into an environment of Python {older}: make one with python{older} -m "
            "venv DIR and give --venv DIR instead") in err
    assert not (tmp_path / "V").exists()


@pytest.mark.parametrize("command", ["download", "refresh"])
def test_download_and_refresh_summaries_list_the_moves(index_server, capsys, tmp_path, command):
    server = index_server([
        airflow(["oldlib>=1"]),
        old_only_for_310("oldlib", "1.0", 5),
        PackageSpec("oldlib", "1.2", upload_time=day(20)),
    ])
    where = ["--dest", str(tmp_path / "W")] if command == "download" else [
        "--output-dir", str(tmp_path / "C")]
    code, _out, err = run(capsys, command, "--index-url", server.index_url, *RECON,
                         "--python", "3.11", *where, "apache-airflow==2.0.0")
    assert code == 0, err
    move = ("oldlib 1.0 -> 1.2 (released 2021-01-20): no wheel for cp311 and the sdist does "
            "not build")
    assert "reconstruction for Python 3.11: 1 package moved past the release date" in err
    assert f"  {move}" in err
    written = (tmp_path / "W" / "constraints-3.11.txt" if command == "download"
               else tmp_path / "C" / "constraints-3.11.txt").read_text()
    assert "oldlib==1.2" in written and move in written


def test_the_users_pins_past_the_release_date_move_at_once_however_many(
        index_server, capsys, tmp_path):
    # a pins file from a newer resolve (here 45 pins, each released after Airflow 2.0.0): the
    # reconstruction moved one pin per failed resolve, and gave up after 40 rounds
    # (one of them a pre-release, which its exact pin allows)
    names = [f"lib{n:02d}" for n in range(45)]
    server = index_server([
        airflow([*(f"{n}>=1" for n in names), "otel>=0.9"]),
        *(PackageSpec(n, "1.0", upload_time=day(1)) for n in names),
        *(PackageSpec(n, "2.0", upload_time=day(20)) for n in names),
        PackageSpec("lib00", "3.0", upload_time=day(25)),
        PackageSpec("otel", "0.9", upload_time=day(1)),
        PackageSpec("otel", "0.10b2", upload_time=day(20)),
    ])
    (tmp_path / "pins.txt").write_text("apache-airflow==2.0.0\n"
                                       + "".join(f"{n}==2.0\n" for n in names)
                                       + "otel==0.10b2\n")
    code, out, err = run(capsys, *resolve(server, *RECON, "--python", "3.11",
                                          "-r", str(tmp_path / "pins.txt")))
    assert code == 0, err
    assert pins(out) == {"apache-airflow": "2.0.0", **{n: "2.0" for n in names},
                         "otel": "0.10b2"}
    assert "46 packages moved past the release date" in err
    assert (f"lib00 1.0 -> 2.0 (released 2021-01-20): yours: lib00==2.0 ({tmp_path / 'pins.txt'}"
            ":2) has no release as of the date") in out
