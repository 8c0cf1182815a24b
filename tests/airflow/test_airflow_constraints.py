"""Airflow constraints found on their own, from a local tree in Airflow's layout, through the CLI."""

from __future__ import annotations

import pytest

from constrain.cli import main
from tests.airflow.conftest import PUBLISHED, pins

REQ = "apache-airflow[postgres]==2.0.0"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def base(server, template: str) -> list[str]:
    return ["resolve", "--index-url", server.index_url, "--airflow-constraints-url", template]


def test_picks_the_release_file_for_the_target_python_and_honours_it(airflow_world, capsys):
    server, template = airflow_world
    code, out, err = run(capsys, *base(server, template), "--python", "3.8", REQ)
    assert code == 0, err
    # Newer versions exist (SQLAlchemy 2.0.0, flask 2.0.0): every published pin was obeyed.
    expected = {k: v for k, v in pins(PUBLISHED).items() if k != "requests"}
    assert pins(out) == {**expected, "apache-airflow": "2.0.0"}  # requests: never added
    assert f"{server.url}/constraints-2.0.0/constraints-3.8.txt  (4 constraints)" in out
    assert [r.path for r in server.requests if r.path.startswith("/constraints-")] == [
        "/constraints-2.0.0/constraints-3.8.txt"]


def test_a_python_the_tree_lacks_fails_listing_the_pythons_it_has(airflow_world, capsys):
    server, template = airflow_world
    args = [*base(server, template), "--python", "3.11", REQ]
    code, out, err = run(capsys, *args, "--airflow-constraints", "published")
    assert code == 1 and out == ""
    assert "no constraints file for Python 3.11 at constraints-2.0.0" in err
    assert "it has Python 3.8, 3.9" in err
    assert "--python 3.9" in err and "--airflow-constraints reconstructed" in err
    # Both ways out of the hint work.
    code, out, err = run(capsys, *base(server, template), "--python", "3.9", REQ)
    assert code == 0, err
    code, out, err = run(capsys, *args, "--airflow-constraints", "reconstructed")
    assert code == 0, err
    assert pins(out)["sqlalchemy"] == "1.3.24"


def test_auto_reconstructs_for_a_python_the_release_predates(airflow_world, capsys):
    # The command as typed works: auto rebuilds the set for the target, saying why.
    server, template = airflow_world
    code, out, err = run(capsys, *base(server, template), "--python", "3.11", REQ)
    assert code == 0, err
    assert "no constraints file for Python 3.11 at constraints-2.0.0" in err
    assert "reconstructing constraints for Python 3.11" in err
    assert pins(out) == {"apache-airflow": "2.0.0", "sqlalchemy": "1.3.24", "flask": "1.1.4",
                         "psycopg2-binary": "2.8.6"}
    assert "# Note: Airflow constraints reconstructed, not published" in out


def test_dev_build_pin_of_airflow_is_reported_and_ignored(airflow_world, capsys):
    server, template = airflow_world
    code, out, err = run(capsys, *base(server, template), "--python", "3.9", REQ)
    assert code == 0, err
    assert pins(out)["apache-airflow"] == "2.0.0"
    url = f"{server.url}/constraints-2.0.0/constraints-3.9.txt:2"
    assert f"ignored the constraint apache-airflow==2.1.0.dev0 from {url}" in err
    assert "# Note: ignored the constraint apache-airflow==2.1.0.dev0" in out


def test_mode_and_template_from_environment_and_config(airflow_world, capsys, monkeypatch,
                                                       tmp_path):
    server, template = airflow_world
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.constrain]\nairflow-constraints-mode = "constraints-no-providers"\n')
    monkeypatch.setenv("CONSTRAIN_AIRFLOW_CONSTRAINTS_URL", template)
    code, out, err = run(capsys, "resolve", "--index-url", server.index_url, "--python", "3.8",
                         "apache-airflow==2.0.0")
    assert code == 0, err
    assert "constraints-2.0.0/constraints-no-providers-3.8.txt  (1 constraint)" in out
    assert pins(out)["sqlalchemy"] == "1.3.24"
    # A flag beats the configuration; a bad value names where it came from.
    code, out, err = run(capsys, "resolve", "--index-url", server.index_url,
                         "--airflow-constraints-mode", "nonsense", "apache-airflow==2.0.0")
    assert code == 2 and "--airflow-constraints-mode: unknown mode 'nonsense'" in err


def test_offline_uses_the_cached_file(airflow_world, capsys):
    server, template = airflow_world
    args = [*base(server, template), "--python", "3.8", REQ]
    code, first, err = run(capsys, *args)
    assert code == 0, err
    server.static.clear()  # the published file is gone from the network
    code, again, err = run(capsys, *args, "--offline")
    assert code == 0, err
    assert again == first


def test_unreachable_auto_falls_back_to_reconstruction_with_a_warning(airflow_world, capsys):
    server, _ = airflow_world
    dead = "http://127.0.0.1:9/{ref}/{mode}-{python}.txt"  # discard port: nothing listens
    code, out, err = run(capsys, *base(server, dead), "--python", "3.8", REQ)
    assert code == 0, err
    assert ("unreachable and not cached; using constraints reconstructed as of "
            "2021-01-10T12:00:00Z (the release's upload time) instead") in err
    assert "# Note: Airflow constraints reconstructed, not published" in out


def test_the_fallback_warning_is_said_once_per_reconstruction(airflow_world, capsys):
    server, _ = airflow_world
    dead = "http://127.0.0.1:9/{ref}/{mode}-{python}.txt"
    args = [*base(server, dead), "--python", "3.8", REQ]
    code, first, err = run(capsys, *args)
    assert code == 0 and "unreachable and not cached" in err
    code, again, err = run(capsys, *args)
    assert code == 0, err
    assert "unreachable" not in err  # the same reconstruction, reused: not said again
    assert again == first  # the header still says the constraints are reconstructed
    code, _, err = run(capsys, *args, "-v")
    assert code == 0 and "unreachable and not cached" in err  # -v still shows it
    code, _, err = run(capsys, *base(server, dead), "--python", "3.9", REQ)
    assert code == 0 and "unreachable and not cached" in err  # another target: said once more


def test_reconstruction_excludes_everything_after_the_release(airflow_world, capsys):
    server, template = airflow_world
    code, out, err = run(capsys, *base(server, template), "--python", "3.8",
                         "--airflow-constraints", "reconstructed", REQ)
    assert code == 0, err
    # Newest as of the release's upload (day 10): not SQLAlchemy 1.4.0 (day 20), flask 2.0.0
    # (day 15) nor psycopg2-binary 2.9.1 (day 12).
    assert pins(out) == {"apache-airflow": "2.0.0", "sqlalchemy": "1.3.24", "flask": "1.1.4",
                         "psycopg2-binary": "2.8.6"}
    assert ("#   reconstructed apache-airflow[postgres]==2.0.0 as of 2021-01-10T12:00:00Z"
            "  (3 constraints)") in out
    assert "(the release's upload time) excluded" in out
    assert not [r for r in server.requests if r.path.startswith("/constraints-")]


def test_two_sources_pinning_differently_name_both_unless_overridden(airflow_world, capsys,
                                                                     tmp_path):
    server, template = airflow_world
    team = tmp_path / "team.txt"
    team.write_text("# team pins\nflask==1.1.4\n")
    args = [*base(server, template), "--python", "3.8", "--airflow-constraints", "published",
            "-c", str(team), REQ]
    code, out, err = run(capsys, *args)
    assert code == 2
    assert "conflicting pins for flask" in err
    assert f"{team}:2" in err and f"{server.url}/constraints-2.0.0/constraints-3.8.txt:2" in err
    code, out, err = run(capsys, *args, "--override", f"flask={team}")
    assert code == 0, err
    assert pins(out)["flask"] == "1.1.4" and pins(out)["sqlalchemy"] == "1.3.20"
    assert f"override: flask==1.1.4 from {team}:2 wins over ==1.1.2 from" in err
    assert "# Note: override: flask==1.1.4" in out


def test_a_package_added_on_top_of_airflow_names_the_pin_it_would_move(airflow_world, capsys):
    server, template = airflow_world
    code, out, err = run(capsys, *base(server, template), "--python", "3.8", REQ,
                         "requests>=2.26")
    assert code == 1
    assert "requests" in err and "==2.25.0" in err
    assert f"{server.url}/constraints-2.0.0/constraints-3.8.txt:4" in err
    # Packages Airflow's file does not pin are free; the pins stay in force.
    code, out, err = run(capsys, *base(server, template), "--python", "3.8", REQ, "requests")
    assert code == 0, err
    assert pins(out)["requests"] == "2.25.0" and pins(out)["flask"] == "1.1.2"


def test_bad_lines_of_a_published_file_are_reported_together(airflow_world, capsys):
    server, template = airflow_world
    server.static["/constraints-2.0.0/constraints-3.8.txt"] = "flask==1.1.2\nfoo=>1\nbar[x]==1\n"
    code, out, err = run(capsys, *base(server, template), "--python", "3.8", REQ)
    assert code == 2 and out == ""
    assert "constraints-3.8.txt:2" in err and "constraints-3.8.txt:3" in err


@pytest.mark.parametrize("given", ["off", "auto"])
def test_off_or_user_constraints_leave_airflow_alone(airflow_world, capsys, tmp_path, given):
    server, template = airflow_world
    extra = ["--airflow-constraints", "off"] if given == "off" else [
        "-c", str(tmp_path / "c.txt")]
    (tmp_path / "c.txt").write_text("flask<2\n")
    code, out, err = run(capsys, *base(server, template), "--python", "3.8", *extra, REQ)
    assert code == 0, err
    assert pins(out)["sqlalchemy"] == "2.0.0"
    assert not [r for r in server.requests if r.path.startswith("/constraints-")]


def test_a_release_that_does_not_exist_lists_the_nearest_ones(airflow_world, capsys):
    server, template = airflow_world
    code, out, err = run(capsys, *base(server, template), "--python", "3.8",
                         "--airflow-constraints", "reconstructed", "apache-airflow==2.0.1")
    assert code == 1 and out == ""
    assert "apache-airflow 2.0.1 is not on any configured index" in err
    assert "hint: the nearest release is 2.0.0; check the version" in err


@pytest.mark.parametrize(
    ("wanted", "nearest"),
    [("2.10.99", "2.10.2 2.10.3 2.10.4 2.10.5 2.11.0"),
     ("1.0", "2.9.0 2.9.3 2.10.0 2.10.1 2.10.2"),
     ("9.0", "2.10.4 2.10.5 2.11.0 3.0.0 3.0.1"),
     ("3.1.0rc2", "2.10.5 2.11.0 3.0.0 3.0.1 3.1.0rc1")],
)
def test_nearest_releases_surround_the_version_asked_for(wanted, nearest):
    from packaging.version import Version

    from constrain.airflow.probes import nearest_versions

    known = {Version(v) for v in ("2.9.0", "2.9.3", "2.10.0", "2.10.1", "2.10.2", "2.10.3",
                                  "2.10.4", "2.10.5", "2.11.0", "3.0.0", "3.0.1", "3.1.0rc1")}
    assert " ".join(map(str, nearest_versions(known, Version(wanted)))) == nearest


def test_the_summary_says_which_cut_off_the_reconstruction_is_as_of(airflow_world, capsys,
                                                                    tmp_path):
    server, template = airflow_world
    out = tmp_path / "pins.txt"
    code, _, err = run(capsys, *base(server, template), "--python", "3.8", "-o", str(out),
                       "--airflow-constraints", "reconstructed", "--exclude-newer", "2021-01-30",
                       REQ)
    assert code == 0, err
    assert (f"wrote 4 pins to {out} for CPython 3.8 on this host's platform") in err
    assert ("Airflow's constraints: reconstructed apache-airflow[postgres]==2.0.0 as of "
            "2021-01-10T12:00:00Z (the release's upload time; --exclude-newer "
            "2021-01-31T00:00:00Z limits only the packages moved past it)") in err
    code, _, err = run(capsys, *base(server, template), "--python", "3.8", "-o", str(out), REQ)
    assert code == 0, err
    assert (f"Airflow's constraints: published {server.url}/constraints-2.0.0/constraints-3.8.txt"
            in err)


def test_a_mirror_on_disk_given_as_a_path_is_read_and_an_unreachable_one_says_the_way_out(
        airflow_world, tmp_path, capsys, monkeypatch):
    # Before: a template without file:// was "unreachable" (the scheme (none) is not
    # supported): auto reconstructed in its place, published failed with a hint naming only
    # the index options.
    server, _ = airflow_world
    mirror = tmp_path / "mirror" / "constraints-2.0.0"
    mirror.mkdir(parents=True)
    (mirror / "constraints-3.8.txt").write_text(PUBLISHED)
    monkeypatch.chdir(tmp_path)
    for template in (str(tmp_path / "mirror") + "/{ref}/{mode}-{python}.txt",
                     "mirror/{ref}/{mode}-{python}.txt"):
        code, out, err = run(capsys, *base(server, template), "--python", "3.8", REQ)
        assert code == 0, err
        assert "reconstructed" not in err and pins(out)["sqlalchemy"] == "1.3.20", err
    dead = "http://127.0.0.1:9/{ref}/{mode}-{python}.txt"
    code, _, err = run(capsys, *base(server, dead), "--python", "3.8", REQ,
                       "--airflow-constraints", "published")
    assert code == 1 and "--airflow-constraints-url" in err.split("hint:", 1)[1], err
    assert "--airflow-constraints reconstructed" in err
