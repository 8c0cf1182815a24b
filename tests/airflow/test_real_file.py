"""Live: Airflow's real constraints-main file of 2022-01-16 (Python 3.7) against the real index.

Figures (see the engineer's note of issue 3): with ``-c`` every pin of the file is honoured for
a set of Airflow's core libraries; a reconstruction of apache-airflow==2.2.3 as of the file's
generation time pins 84 of the 99 shared packages identically (84.8%); the rest follow from
2.2.3's own upper bounds differing from main's (croniter, httpx, httpcore, cattrs, flask and
with it jinja2/click) or from providers and development extras only the full file installs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from constrain.cli import main
from tests.airflow.conftest import pins

# Airflow's published file is not part of this repository (it is Airflow's text, and GitHub is
# unreachable here): point CONSTRAIN_REAL_AIRFLOW_CONSTRAINTS at a copy of
# constraints-main/constraints-3.7.txt as generated on 2022-01-16 to run these.
FILE = Path(os.environ.get("CONSTRAIN_REAL_AIRFLOW_CONSTRAINTS", "/nonexistent"))
TARGET = ["--python", "3.7", "--platform", "manylinux_2_17_x86_64"]
pytestmark = pytest.mark.skipif(
    not FILE.is_file(), reason="set CONSTRAIN_REAL_AIRFLOW_CONSTRAINTS to a real Airflow file"
)


@pytest.mark.live
def test_real_file_for_python_37_is_honoured_from_a_newer_host(capsys) -> None:
    code = main(["resolve", *TARGET, "-c", str(FILE), "celery[redis]", "flask-appbuilder",
                 "SQLAlchemy", "alembic", "kubernetes", "psycopg2-binary"])
    out, err = capsys.readouterr()
    assert code == 0, err
    published, got = pins(FILE.read_text()), pins(out)
    assert len(got) > 50
    assert {k: v for k, v in got.items() if k in published and published[k] != v} == {}


@pytest.mark.live
def test_reconstruction_agrees_with_the_published_file(capsys) -> None:
    code = main(["resolve", *TARGET, "apache-airflow==2.2.3", "--airflow-constraints",
                 "reconstructed", "--exclude-newer", "2022-01-16T17:08:34Z"])
    out, err = capsys.readouterr()
    assert code == 0, err
    published, got = pins(FILE.read_text()), pins(out)
    shared = [k for k in got if k in published]
    same = [k for k in shared if got[k] == published[k]]
    assert len(shared) > 90
    assert len(same) / len(shared) >= 0.8, sorted(set(shared) - set(same))
