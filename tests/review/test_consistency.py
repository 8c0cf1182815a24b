"""Consistency across the targets of one run (refresh and download) against a local index and a
constraints tree in Airflow's layout: a project that drops a Python (requires-python), one that
publishes no wheel for a Python, one under a marker (each explained), and a published file that
pins one Python differently (unexplained: --fail-on-inconsistency makes it an error)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from constrain.cli import main
from tests.support.builders import PackageSpec

X86 = "manylinux_2_28_x86_64"
PYTHONS = ("3.10", "3.11", "3.12")
SPECS = [
    PackageSpec("apache-airflow", "2.0.0", requires_dist=["app"]),
    PackageSpec("app", "1.0", requires_dist=["lib>=1", "native", "drift",
                                             "oldpy; python_version < '3.11'"]),
    PackageSpec("lib", "1.0", requires_python=">=3.8"),
    PackageSpec("lib", "2.0", requires_python=">=3.11"),  # drops 3.10
    PackageSpec("native", "1.0", tags=[f"cp{v}-cp{v}-{X86}" for v in ("310", "311", "312")]),
    PackageSpec("native", "2.0", tags=[f"cp{v}-cp{v}-{X86}" for v in ("311", "312")]),
    PackageSpec("oldpy", "1.0"),
    PackageSpec("drift", "1.0"),
    PackageSpec("drift", "2.0"),
]
REQ = "apache-airflow==2.0.0"


def published(server, drift_311: str) -> str:
    """Publish Airflow's constraints for the three Pythons; 3.11's pins ``drift`` to
    ``drift_311``, the others to 2.0. Returns the URL template."""
    for py in PYTHONS:
        server.static[f"/constraints-2.0.0/constraints-{py}.txt"] = (
            f"drift=={drift_311 if py == '3.11' else '2.0'}\n")
    return server.url + "/{ref}/{mode}-{python}.txt"


@pytest.fixture
def server(make_index):
    return make_index(SPECS, pep658=True)


def refresh(server, template: str, out: Path, *extra: str) -> list[str]:
    args = ["refresh", REQ, "--output-dir", str(out), "--index-url", server.index_url,
            "--airflow-constraints", "published", "--airflow-constraints-url", template,
            "--platform", X86, *extra]
    for py in PYTHONS:
        args += ["--python", py]
    return args


def row(markdown: str, package: str) -> str:
    return next(ln for ln in markdown.splitlines() if ln.startswith(f"| {package} |"))


def test_refresh_reports_each_difference_and_why(server, tmp_path, capsys):
    template = published(server, drift_311="1.0")
    out = tmp_path / "constraints"
    report = tmp_path / "report.json"
    assert main(refresh(server, template, out, "--json-report", str(report))) == 0
    md = capsys.readouterr().out
    section = md.split("### Consistency across Pythons", 1)[1]
    assert "4 packages differ across 3 targets (1 unexplained)." in section
    assert ("| `constraints-3.10.txt` | `constraints-3.11.txt` | `constraints-3.12.txt` |"
            in section)
    assert row(section, "lib") == (
        "| lib | 1.0 | 2.0 | 2.0 | constraints-3.10.txt: lib 2.0 requires Python >=3.11 |")
    assert row(section, "native").endswith(
        f"constraints-3.10.txt: native 2.0 has no file for CPython 3.10 on {X86} (wheels for "
        f"cp311, cp312 on {X86}; no sdist) |")
    assert row(section, "oldpy") == (
        "| oldpy | 1.0 | — | — | constraints-3.11.txt, constraints-3.12.txt: marker "
        "`python_version < \"3.11\"` on `app 1.0 requires oldpy; python_version < \"3.11\"` |")
    drift = row(section, "drift")
    assert drift.startswith("| drift | 2.0 | 1.0 | 2.0 | **unexplained** — constraints-3.11.txt:")
    assert f"`drift==1.0` ({server.url}/constraints-2.0.0/constraints-3.11.txt:1)" in drift
    data = json.loads(report.read_text())["consistency"]["constraints"]
    assert data["unexplained"] == ["drift"]
    lib = next(f for f in data["findings"] if f["package"] == "lib")
    assert lib["versions"] == {"constraints-3.10.txt": "1.0", "constraints-3.11.txt": "2.0",
                               "constraints-3.12.txt": "2.0"}
    assert lib["kind"] == "version" and lib["unexplained"] == []
    # reported, not an error without the flag: the files were written
    assert sorted(p.name for p in out.iterdir()) == [f"constraints-{py}.txt" for py in PYTHONS]


def test_fail_on_inconsistency_fails_on_the_planted_drift_and_writes_nothing(server, tmp_path,
                                                                            capsys):
    template = published(server, drift_311="1.0")
    out = tmp_path / "constraints"
    assert main(refresh(server, template, out, "--fail-on-inconsistency")) == 1
    captured = capsys.readouterr()
    assert ("error: --fail-on-inconsistency: 1 package differs across Pythons with no reason "
            "found; nothing was written") in captured.err
    assert "constraints: drift: 2.0 on constraints-3.10.txt, constraints-3.12.txt; 1.0 on " \
           "constraints-3.11.txt" in captured.err
    assert "constraints-3.11.txt:1" in captured.err and "hint: " in captured.err
    assert "**--fail-on-inconsistency" in captured.out
    assert not out.exists()

    # the published files agree: every remaining difference has a reason, the flag passes
    published(server, drift_311="2.0")
    assert main(refresh(server, template, out, "--fail-on-inconsistency", "--refresh")) == 0
    md = capsys.readouterr().out
    assert "3 packages differ across 3 targets (0 unexplained)." in md
    assert "unexplained**" not in md


def test_download_summary_lists_the_differences_and_the_flag_stops_before_downloading(
        server, tmp_path, capsys):
    template = published(server, drift_311="1.0")
    args = ["download", REQ, "--index-url", server.index_url,
            "--airflow-constraints-url", template, "--platform", X86,
            *[a for py in PYTHONS for a in ("--python", py)]]
    dest = tmp_path / "never"
    assert main([*args, "--dest", str(dest), "--fail-on-inconsistency"]) == 1
    err = capsys.readouterr().err
    assert ("error: --fail-on-inconsistency: 1 package differs across the targets with no "
            "reason found; nothing was downloaded") in err
    assert f"drift: 2.0 on 3.10-{X86}, 3.12-{X86}; 1.0 on 3.11-{X86}" in err
    assert not dest.exists()

    dest = tmp_path / "wh"
    assert main([*args, "--dest", str(dest)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    start = lines.index("consistency: 4 packages differ across 3 targets (1 unexplained)")
    block = lines[start + 1:start + 5]
    assert block[0].startswith(f"  UNEXPLAINED drift: 2.0 on 3.10-{X86}, 3.12-{X86}; 1.0 on")
    assert block[1] == (f"  lib: 1.0 on 3.10-{X86}; 2.0 on 3.11-{X86}, 3.12-{X86} -- "
                        f"3.10-{X86}: lib 2.0 requires Python >=3.11")
    assert block[3].startswith(f"  oldpy: 1.0 on 3.10-{X86}; absent on 3.11-{X86}, 3.12-{X86}")


def test_a_marker_on_a_requirement_and_a_newer_release_needing_what_a_target_lacks_explain(
        make_index, tmp_path, capsys):
    server = make_index([
        PackageSpec("app", "1.0", requires_dist=["dep", "dep<2; python_version < '3.12'",
                                                 "tool", "only312; python_version >= '3.12'"]),
        PackageSpec("dep", "1.0"), PackageSpec("dep", "2.0"),
        PackageSpec("lib", "1.0"), PackageSpec("lib", "2.0", requires_python=">=3.12"),
        PackageSpec("tool", "1.0", requires_dist=["lib"]),
        PackageSpec("tool", "2.0", requires_dist=["lib>=2"]),
        PackageSpec("only312", "1.0", requires_dist=["helper"]),
        PackageSpec("helper", "1.0"),
    ], pep658=True)
    report = tmp_path / "report.json"
    assert main(["refresh", "app", "--python", "3.11", "--python", "3.12",
                 "--output-dir", str(tmp_path / "c"), "--index-url", server.index_url,
                 "--json-report", str(report), "--fail-on-inconsistency"]) == 0
    capsys.readouterr()
    found = {f["package"]: f for f in
             json.loads(report.read_text())["consistency"]["constraints"]["findings"]}
    assert sorted(found) == ["dep", "helper", "lib", "only312", "tool"]

    def why(package: str) -> list[str]:
        return [r["reason"] for r in found[package]["reasons"]]

    assert why("dep") == ['app 1.0 requires dep<2; python_version < "3.12"']
    assert why("lib") == ["lib 2.0 requires Python >=3.12"]
    assert why("tool") == ["tool 2.0 requires lib>=2, and lib is pinned to 1.0 there"]
    assert why("only312") == [('marker `python_version >= "3.12"` on `app 1.0 requires '
                                'only312; python_version >= "3.12"`')]
    assert why("helper") == ["needed by only312, which is not installed there"]
    assert all(f["unexplained"] == [] for f in found.values())


def test_a_package_absent_for_one_target_and_pinned_differently_by_the_others_explains_both(
        make_index, tmp_path, capsys):
    server = make_index([
        PackageSpec("app", "1.0", requires_dist=["backport; python_version < '3.12'"]),
        PackageSpec("backport", "1.0"), PackageSpec("backport", "2.0", requires_python=">=3.11"),
    ], pep658=True)
    report = tmp_path / "report.json"
    assert main(["refresh", "app", "--python", "3.10", "--python", "3.11", "--python", "3.12",
                 "--output-dir", str(tmp_path / "c"), "--index-url", server.index_url,
                 "--json-report", str(report)]) == 0
    capsys.readouterr()
    (finding,) = json.loads(report.read_text())["consistency"]["constraints"]["findings"]
    assert finding["versions"] == {"constraints-3.10.txt": "1.0", "constraints-3.11.txt": "2.0",
                                   "constraints-3.12.txt": None}
    assert [(r["target"], r["reason"]) for r in finding["reasons"]] == [
        ("constraints-3.12.txt",
         ('marker `python_version < "3.12"` on `app 1.0 requires backport; '
          'python_version < "3.12"`')),
        ("constraints-3.10.txt", "backport 2.0 requires Python >=3.11")]
    assert finding["unexplained"] == []


def test_fail_on_inconsistency_from_the_refresh_configuration(server, tmp_path, monkeypatch,
                                                              capsys):
    template = published(server, drift_311="1.0")
    project = tmp_path / "project"
    project.mkdir()
    config = project / "pyproject.toml"
    config.write_text(f"""\
[tool.constrain.refresh]
requirements = ["{REQ}"]
python = {list(PYTHONS)!r}
platforms = ["{X86}"]
output-dir = "constraints"
airflow-constraints = "published"
fail-on-inconsistency = "yes"
""")
    monkeypatch.chdir(project)
    args = ["refresh", "--index-url", server.index_url, "--airflow-constraints-url", template]
    assert main(args) == 1
    assert "fail-on-inconsistency in [tool.constrain.refresh]" in capsys.readouterr().err
    config.write_text(config.read_text().replace('"yes"', "true"))
    assert main(args) == 1
    assert "--fail-on-inconsistency: 1 package differs" in capsys.readouterr().err
    assert not (project / "constraints").exists()


def test_a_reconstruction_move_for_one_python_explains_the_difference(index_server, tmp_path,
                                                                      capsys):
    from tests.airflow.conftest import day

    cp310 = "cp310-cp310-manylinux_2_17_x86_64"
    server = index_server([
        PackageSpec("apache-airflow", "2.0.0", requires_dist=["oldlib>=1"], upload_time=day(10)),
        # 1.0: a wheel for 3.10 only and an sdist that does not build; 1.2: for any Python
        PackageSpec("oldlib", "1.0", kinds=("wheel", "sdist"), tags=(cp310,), upload_time=day(5),
                    sdist_options={"fail_build": True, "metadata_version": "2.1"}),
        PackageSpec("oldlib", "1.2", upload_time=day(20)),
    ])
    report = tmp_path / "report.json"
    assert main(["refresh", "apache-airflow==2.0.0", "--index-url", server.index_url,
                 "--airflow-constraints", "reconstructed", "--python", "3.10", "--python",
                 "3.11", "--platform", "manylinux_2_17_x86_64", "--output-dir",
                 str(tmp_path / "c"), "--json-report", str(report),
                 "--fail-on-inconsistency"]) == 0
    capsys.readouterr()
    (finding,) = json.loads(report.read_text())["consistency"]["constraints"]["findings"]
    assert finding["versions"] == {"constraints-3.10.txt": "1.0", "constraints-3.11.txt": "1.2"}
    assert [r["reason"] for r in finding["reasons"]] == [
        "constraints-3.11.txt moved it past the release date: oldlib 1.0 -> 1.2 (released "
        "2021-01-20): no wheel for cp311 and the sdist does not build"]
