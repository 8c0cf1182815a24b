"""``constrain refresh`` against a local index: files per (mode, Python), byte-identical reruns, a
moved --exclude-newer reported, policy bounds relative to the committed file, --check, forbidden
downgrades, configuration-driven runs and the CI step summary."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from constrain.cli import main
from constrain.refresh.diff import diff_pins, matches_any, read_pins
from constrain.refresh.settings import config_modes, parse_mode
from tests.support.builders import PackageSpec


def day(n: int) -> datetime:
    return datetime(2024, 1, n, 12, tzinfo=UTC)


SPECS = [
    PackageSpec("app", "1.0", requires_dist=["lib>=1", "SQLAlchemy>=1.4"], upload_time=day(1)),
    PackageSpec("lib", "1.0", upload_time=day(1)),
    PackageSpec("SQLAlchemy", "1.4.0", upload_time=day(1)),
    # released between the two cut-offs
    PackageSpec("lib", "1.1", upload_time=day(10)),
    PackageSpec("SQLAlchemy", "1.4.5", upload_time=day(10)),
    PackageSpec("SQLAlchemy", "2.0.0", upload_time=day(11)),
    PackageSpec("extra-dep", "3.0", upload_time=day(10)),
    PackageSpec("lib", "2.0", upload_time=day(11)),
    PackageSpec("app", "1.1", requires_dist=["lib>=1,<2", "SQLAlchemy>=1.4", "extra-dep"],
                upload_time=day(12)),
]
POLICY = """\
[SQLAlchemy]
bound = "minor"
reason = "the ORM breaks between minors"
remove-when = "tests pass on the next minor"

[lib]
bound = "major"
reason = "lib 2 renames everything"
remove-when = "app supports lib 2"
"""
EARLY, LATE = "2024-01-05", "2024-01-20"


@pytest.fixture
def server(make_index):
    return make_index(SPECS, pep658=True)


@pytest.fixture
def policy(tmp_path):
    path = tmp_path / "policies.toml"
    path.write_text(POLICY)
    return path


def refresh(server, out: Path, *extra: str) -> int:
    return main(["refresh", "app", "--python", "3.11", "--python", "3.12",
                 "--index-url", server.index_url, "--output-dir", str(out), *extra])


def pins(path: Path) -> dict[str, str]:
    return {k: str(v.version) for k, v in read_pins(path.read_text(), str(path)).items()}


def test_refresh_writes_reruns_untouched_and_reports_what_moved(server, policy, tmp_path,
                                                                capsys):
    out = tmp_path / "constraints"
    assert refresh(server, out, "--exclude-newer", EARLY, "--policies", str(policy)) == 0
    first = capsys.readouterr().out
    files = sorted(p.name for p in out.iterdir())
    assert files == ["constraints-3.11.txt", "constraints-3.12.txt"]
    text = (out / "constraints-3.11.txt").read_text()
    assert pins(out / "constraints-3.11.txt") == {"app": "1.0", "lib": "1.0",
                                                   "sqlalchemy": "1.4.0"}
    # the header: how (the command for this one file), for which Python and mode, as of when
    assert "#   constrain refresh app --python 3.11 --output-dir" in text
    assert f"--exclude-newer {EARLY}" in text and "mode 'constraints', Python 3.11" in text
    assert "# Note: Pins as of 2024-01-06T00:00:00Z (the --exclude-newer cut-off)" in text
    assert "`constraints-3.11.txt` — created" in first

    # rerun with the same inputs: nothing rewritten, same bytes, same mtime
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    assert refresh(server, out, "--exclude-newer", EARLY, "--policies", str(policy)) == 0
    assert "`constraints-3.12.txt` — unchanged" in capsys.readouterr().out
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before

    # a later cut-off: lib and app move, extra-dep arrives, SQLAlchemy stops at the minor bound
    report = tmp_path / "report.json"
    assert refresh(server, out, "--exclude-newer", LATE, "--policies", str(policy),
                   "--json-report", str(report)) == 0
    md = capsys.readouterr().out
    assert pins(out / "constraints-3.12.txt") == {
        "app": "1.1", "lib": "1.1", "sqlalchemy": "1.4.5", "extra-dep": "3.0"}
    assert "| lib | upgraded | 1.0 | 1.1 |" in md
    assert "| extra-dep | added |  | 3.0 |" in md
    assert "| SQLAlchemy | 1.4.5 | <1.5 (minor of 1.4.0) | 2.0.0 | the ORM breaks between " \
           "minors | " in md
    # lib is held below 2 by the policy and by app's own requirement: the report says both
    assert "| lib | 1.1 | <2 (major of 1.0) | 2.0 | lib 2 renames everything | " in md
    assert "| app 1.1 requires lib<2,>=1 |" in md
    assert "policies.toml:1 | the policy |" in md
    data = json.loads(report.read_text())
    entry = data["files"][0]
    assert entry["file"] == "constraints-3.11.txt" and entry["status"] == "updated"
    assert {"name": "SQLAlchemy", "from": "1.4.0", "to": "1.4.5"} in entry["upgraded"]
    assert entry["added"] == [{"name": "extra-dep", "from": None, "to": "3.0"}]
    held = entry["held_back"][1]
    assert entry["held_back"][0]["also_limited_by"] == ["app 1.1 requires lib<2,>=1"]
    assert held["also_limited_by"] == []
    assert (held["package"], held["pinned"], held["newest"]) == ("SQLAlchemy", "1.4.5", "2.0.0")
    assert held["reason"] == "the ORM breaks between minors"
    assert held["policy"].endswith("policies.toml:1")
    assert "Held back" in (out / "constraints-3.11.txt").read_text() or \
        "held back: SQLAlchemy" in (out / "constraints-3.11.txt").read_text()


def test_refresh_leaves_the_garbage_collector_as_it_found_it(server, tmp_path, capsys):
    # the resolves collect garbage less often while they run (resolver/collection.py), three
    # at once here: a program that calls the command in-process gets its own thresholds back,
    # after a failure too
    before = gc.get_threshold()
    try:
        gc.set_threshold(1234, 7, 9)
        assert refresh(server, tmp_path / "a", "--exclude-newer", EARLY) == 0
        assert gc.get_threshold() == (1234, 7, 9)
        assert main(["refresh", "no-such-project", "--python", "3.11", "--index-url",
                     server.index_url, "--output-dir", str(tmp_path / "b")]) != 0
        assert "no-such-project" in capsys.readouterr().err
        assert gc.get_threshold() == (1234, 7, 9)
    finally:
        gc.set_threshold(*before)


def test_work_counters_say_which_targets_were_resolved_and_which_remembered(
        server, tmp_path, monkeypatch):
    stats_file = tmp_path / "stats.json"
    monkeypatch.setenv("CONSTRAIN_STATS_FILE", str(stats_file))
    assert refresh(server, tmp_path / "a", "--exclude-newer", EARLY) == 0
    first = json.loads(stats_file.read_text())
    assert first["targets"] == 2 and first["remembered_resolutions"] == 0
    assert first["rounds"] >= 2 * 3  # app, lib, SQLAlchemy pinned for each Python
    assert refresh(server, tmp_path / "b", "--exclude-newer", EARLY) == 0
    again = json.loads(stats_file.read_text())
    assert again["remembered_resolutions"] == 2
    assert again["rounds"] == first["rounds"]  # what the remembered resolves took
    monkeypatch.setenv("CONSTRAIN_NO_REMEMBER", "1")
    assert refresh(server, tmp_path / "c", "--exclude-newer", EARLY) == 0
    assert json.loads(stats_file.read_text())["remembered_resolutions"] == 0


def test_no_remember_stores_no_target_s_answer(server, tmp_path, monkeypatch):
    stats_file = tmp_path / "stats.json"
    monkeypatch.setenv("CONSTRAIN_STATS_FILE", str(stats_file))
    monkeypatch.setenv("CONSTRAIN_NO_REMEMBER", "1")
    assert refresh(server, tmp_path / "a", "--exclude-newer", EARLY) == 0
    monkeypatch.delenv("CONSTRAIN_NO_REMEMBER")
    assert refresh(server, tmp_path / "b", "--exclude-newer", EARLY) == 0
    second = json.loads(stats_file.read_text())
    assert second["targets"] == 2 and second["remembered_resolutions"] == 0


def test_check_exits_nonzero_only_when_pins_differ_and_writes_nothing(server, tmp_path, capsys):
    out = tmp_path / "c"
    assert refresh(server, out, "--exclude-newer", EARLY) == 0
    # a comment-only edit is no difference
    path = out / "constraints-3.11.txt"
    path.write_text("# edited by hand\n" + path.read_text())
    assert refresh(server, out, "--exclude-newer", EARLY, "--check") == 0
    edited = path.read_bytes()
    capsys.readouterr()
    assert refresh(server, out, "--exclude-newer", LATE, "--check") == 1
    captured = capsys.readouterr()
    assert "--check: 2 of 2 constraint files are out of date" in captured.err
    assert "would update" in captured.out
    assert path.read_bytes() == edited
    assert pins(out / "constraints-3.12.txt")["lib"] == "1.0"


def test_forbidden_downgrade_is_an_error_and_nothing_is_written(server, tmp_path, capsys):
    out = tmp_path / "c"
    out.mkdir()
    (out / "constraints-3.11.txt").write_text("app==1.0\nlib==1.1\nSQLAlchemy==1.4.0\n")
    args = ["--python", "3.11", "--exclude-newer", EARLY]
    assert main(["refresh", "app", "--index-url", server.index_url, "--output-dir", str(out),
                 *args, "--fail-on-downgrade", "lib*"]) == 1
    captured = capsys.readouterr()
    assert "constraints-3.11.txt: lib 1.1 -> 1.0" in captured.err
    assert "| lib | downgraded | 1.1 | 1.0 |" in captured.out
    assert pins(out / "constraints-3.11.txt")["lib"] == "1.1"
    # not listed: the downgrade is reported and written
    assert main(["refresh", "app", "--index-url", server.index_url, "--output-dir", str(out),
                 *args, "--fail-on-downgrade", "other-*"]) == 0
    assert pins(out / "constraints-3.11.txt")["lib"] == "1.0"


def test_configuration_driven_run_modes_and_one_python(server, tmp_path, monkeypatch, capsys):
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(f"""\
[project]
name = "p"
[tool.constrain.refresh]
requirements = ["app"]
python = ["3.11", "3.12"]
output-dir = "constraints"
exclude-newer = "{EARLY}"
index-url-is-not-a-key = 1
""")
    monkeypatch.chdir(project)
    assert main(["refresh", "--index-url", server.index_url]) == 1
    assert "unknown key index-url-is-not-a-key" in capsys.readouterr().err
    # a misspelt key is named with the one meant, as in the rest of the configuration
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text().replace(
        "index-url-is-not-a-key = 1\n", "outputdir = 'x'\n"))
    assert main(["refresh", "--index-url", server.index_url]) == 1
    assert "unknown key outputdir (did you mean output-dir?)" in capsys.readouterr().err
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text().replace(
        "outputdir = 'x'\n", "index-url-is-not-a-key = 1\n"))

    text = (project / "pyproject.toml").read_text().replace("index-url-is-not-a-key = 1\n", "")
    text += '[tool.constrain.refresh.modes]\nlib-only = ["lib"]\n'
    (project / "pyproject.toml").write_text(text)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["refresh", "--index-url", server.index_url]) == 0
    names = sorted(p.name for p in (project / "constraints").iterdir())
    assert names == ["constraints-3.11.txt", "constraints-3.12.txt", "lib-only-3.11.txt",
                     "lib-only-3.12.txt"]
    assert pins(project / "constraints" / "lib-only-3.12.txt") == {"lib": "1.0"}
    lib_only = (project / "constraints" / "lib-only-3.12.txt").read_text()
    assert "constrain refresh --mode lib-only=lib --python 3.12" in lib_only
    assert "## constrain refresh" in summary.read_text()

    # a CI matrix job: one Python on the command line, the rest from the configuration
    capsys.readouterr()
    assert main(["refresh", "--index-url", server.index_url, "--python", "3.12",
                 "--exclude-newer", LATE]) == 0
    md = capsys.readouterr().out
    assert "`constraints-3.12.txt` — updated" in md and "3.11" not in md
    assert pins(project / "constraints" / "constraints-3.11.txt")["lib"] == "1.0"
    assert pins(project / "constraints" / "constraints-3.12.txt")["lib"] == "1.1"
    assert summary.read_text().count("## constrain refresh") == 2


def test_diff_and_modes_units():
    old = read_pins("# header\nFoo==1.0\nbar==2.0\nbaz==1\n", "old.txt")
    new = read_pins("foo==1.0.0\nbar==1.5\nqux==3\n", "new.txt")
    d = diff_pins(old, new)
    assert [(c.name, c.kind) for c in d.changes] == [
        ("bar", "downgraded"), ("baz", "removed"), ("qux", "added")]
    assert matches_any("apache_airflow_providers_celery", ["Apache-Airflow-Providers-*"])
    assert not matches_any("apache-airflow", ["apache-airflow-providers-*"])
    mode = parse_mode("core=apache-airflow==2.10.5 'x; python_version < \"3.11\"' -r more.txt")
    assert mode.requirements == ("apache-airflow==2.10.5", 'x; python_version < "3.11"')
    assert mode.requirement_files == ("more.txt",)
    assert parse_mode(mode.spec()) == mode
    # a list element holding the flag and its file (was read as the file " more.txt")
    for element in ("-r more.txt", "-rmore.txt", "--requirement more.txt",
                    "--requirement=more.txt"):
        (listed,) = config_modes({"modes": {"core": ["x", element]}}, "pyproject.toml")
        assert listed.requirement_files == ("more.txt",), element


def test_airflow_published_constraints_are_off_unless_refresh_asks(make_index, tmp_path,
                                                                   monkeypatch):
    server = make_index([
        PackageSpec("apache-airflow", "2.0.0", requires_dist=["lib>=1"], upload_time=day(1)),
        PackageSpec("lib", "1.0", upload_time=day(1)),
        PackageSpec("lib", "1.1", upload_time=day(10)),
    ], pep658=True)
    published = tmp_path / "published" / "constraints-2.0.0"
    published.mkdir(parents=True)
    (published / "constraints-3.12.txt").write_text("lib==1.0\n")
    template = (tmp_path / "published").as_uri() + "/{ref}/{mode}-{python}.txt"
    # a resolve setting in the environment: refresh must not let it pin everything to the old file
    monkeypatch.setenv("CONSTRAIN_AIRFLOW_CONSTRAINTS", "published")
    monkeypatch.setenv("CONSTRAIN_AIRFLOW_CONSTRAINTS_URL", template)
    out = tmp_path / "out"
    args = ["refresh", "apache-airflow==2.0.0", "--python", "3.12", "--index-url",
            server.index_url, "--output-dir", str(out), "--exclude-newer", LATE]
    assert main(args) == 0
    assert pins(out / "constraints-3.12.txt")["lib"] == "1.1"
    assert main([*args, "--airflow-constraints", "published", "--check"]) == 1
    assert main([*args, "--airflow-constraints", "published"]) == 0
    text = (out / "constraints-3.12.txt").read_text()
    assert pins(out / "constraints-3.12.txt")["lib"] == "1.0"
    assert "--airflow-constraints published" in text and "constraints-3.12.txt" in text


def test_without_a_cut_off_the_header_dates_the_newest_pinned_upload(server, tmp_path):
    out = tmp_path / "out"
    assert main(["refresh", "app", "--python", "3.12", "--index-url", server.index_url,
                 "--output-dir", str(out)]) == 0
    text = (out / "constraints-3.12.txt").read_text()
    assert "# Note: Pins as of 2024-01-12T12:00:00Z (the newest upload among the pinned " \
           "files)" in text
    assert "Excluding files uploaded after" not in text and "--exclude-newer" not in text
