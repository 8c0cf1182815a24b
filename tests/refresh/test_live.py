"""Live: refreshing Airflow's constraints for one Python against the real default index, with a
fixed cut-off: a rerun touches nothing, a later cut-off moves pins but no policy bound is crossed
and the report says what was held back."""

from __future__ import annotations

import json

import pytest

from constrain.cli import main
from constrain.airflow.layers import load_policy_file
from constrain.policies.bounds import bounds_for
from constrain.refresh.diff import read_pins

pytestmark = pytest.mark.live

AIRFLOW = "apache-airflow[postgres,celery,cncf.kubernetes]==2.10.5"


def test_airflow_refresh_rerun_and_bounds(tmp_path, capsys):
    from pip._internal.models.index import PyPI

    out = tmp_path / "constraints"
    base = ["refresh", AIRFLOW, "--python", "3.12", "--index-url", PyPI.simple_url,
            "--output-dir", str(out)]
    assert main([*base, "--exclude-newer", "2026-06-01"]) == 0
    path = out / "constraints-3.12.txt"
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    old = read_pins(path.read_text(), str(path))
    assert old["apache-airflow"].version.public == "2.10.5" and len(old) > 100

    assert main([*base, "--exclude-newer", "2026-06-01"]) == 0
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    capsys.readouterr()

    report = tmp_path / "report.json"
    assert main([*base, "--exclude-newer", "2026-11-01", "--policies", "airflow",
                 "--json-report", str(report)]) == 0
    new = read_pins(path.read_text(), str(path))
    entry = json.loads(report.read_text())["files"][0]
    assert entry["status"] == "updated" and entry["upgraded"]
    bounds, _ = bounds_for(load_policy_file("airflow", None).policies,
                           {k: v.version for k, v in old.items()})
    for b in bounds:
        if b.policy.name in new:
            assert b.specifier.contains(new[b.policy.name].version, prereleases=True), b
    held = {h["package"]: h for h in entry["held_back"]}
    assert "SQLAlchemy" in held and held["SQLAlchemy"]["reason"]
