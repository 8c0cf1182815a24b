"""A small Airflow world on 127.0.0.1: an index with an Airflow-like release and its
dependencies, and a constraints tree in Airflow's layout (``/<ref>/<mode>-<python>.txt``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.builders import PackageSpec


def day(n: int) -> datetime:
    return datetime(2021, 1, n, 12, 0, tzinfo=UTC)


#: apache-airflow 2.0.0 was uploaded on day 10; everything later must not be in a
#: reconstruction of it.
SPECS = [
    PackageSpec("apache-airflow", "2.0.0",
                requires_dist=["SQLAlchemy>=1.3", "flask>=1.1",
                               "psycopg2-binary>=2.8; extra == 'postgres'"],
                provides_extra=["postgres"], upload_time=day(10)),
    PackageSpec("SQLAlchemy", "1.3.20", upload_time=day(1)),
    PackageSpec("SQLAlchemy", "1.3.24", upload_time=day(5)),
    PackageSpec("SQLAlchemy", "1.4.0", upload_time=day(20)),
    PackageSpec("SQLAlchemy", "2.0.0", upload_time=day(25)),
    PackageSpec("flask", "1.1.2", upload_time=day(2)),
    PackageSpec("flask", "1.1.4", upload_time=day(8)),
    PackageSpec("flask", "2.0.0", upload_time=day(15)),
    PackageSpec("psycopg2-binary", "2.8.6", upload_time=day(3)),
    PackageSpec("psycopg2-binary", "2.9.1", upload_time=day(12)),
    PackageSpec("requests", "2.25.0", upload_time=day(1)),
    PackageSpec("requests", "2.26.0", upload_time=day(2)),
]

PUBLISHED = "SQLAlchemy==1.3.20\nflask==1.1.2\npsycopg2-binary==2.8.6\nrequests==2.25.0\n"


@pytest.fixture
def airflow_world(index_server):
    """``(server, template)``: the index plus a tree publishing constraints-2.0.0 for
    Pythons 3.8 and 3.9 (the 3.9 file also pins a dev build of apache-airflow)."""
    server = index_server(SPECS, pep658=True)
    server.static.update({
        "/constraints-2.0.0/constraints-3.8.txt": PUBLISHED,
        "/constraints-2.0.0/constraints-3.9.txt": "# published\napache-airflow==2.1.0.dev0\n"
        + PUBLISHED,
        "/constraints-2.0.0/constraints-no-providers-3.8.txt": "SQLAlchemy==1.3.24\n",
    })
    return server, server.url + "/{ref}/{mode}-{python}.txt"


def pins(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            out[name.strip().lower()] = version.strip()
    return out
