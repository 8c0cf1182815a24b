"""Live: a constraint file Airflow published for a release, against the real index.

Airflow's published files are not part of this repository (they are Airflow's text, and GitHub
is unreachable here). To run these, point ``CONSTRAIN_REAL_AIRFLOW_CONSTRAINTS`` at a copy of
one, named as Airflow names them (``...constraints-3.7.txt``: the Python is read from the
name), and ``CONSTRAIN_REAL_AIRFLOW_RELEASE`` at the release it was published for.

Figures with ``constraints-2.6.1/constraints-3.7.txt`` (generated 2023-05-15 on the v2-6-test
branch; see the note of issue 2): with ``-c`` it, ``apache-airflow[postgres,google,amazon,
celery,cncf.kubernetes,ssh,http,slack]==2.6.1`` for Python 3.7 resolves to 252 pins, 250 of
them listed in the file and every one of those at the file's version. A reconstruction of
2.6.1 (no published file) agrees with it on 115 of the 122 shared packages; the other seven are
held lower in the published file by providers and development tools only the full file
installs (urllib3, packaging, charset-normalizer, dill, httpx, httpcore) or were released
between the file's generation and the release's upload (alembic 1.11.0).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from constrain.cli import main

FILE = Path(os.environ.get("CONSTRAIN_REAL_AIRFLOW_CONSTRAINTS", "/nonexistent"))
RELEASE = os.environ.get("CONSTRAIN_REAL_AIRFLOW_RELEASE", "")
EXTRAS = "postgres,google,amazon,celery,cncf.kubernetes,ssh,http,slack"
#: The last patch of each Python the published files of that era were made for: pandas and
#: others of that time require e.g. ">=3.7.1", which an unpatched --python 3.7 (read as 3.7.0,
#: as uv reads it) does not admit.
LAST_PATCH = {"3.6": "15", "3.7": "17", "3.8": "20", "3.9": "25", "3.10": "19", "3.11": "14"}

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not FILE.is_file() or not RELEASE,
                       reason="set CONSTRAIN_REAL_AIRFLOW_CONSTRAINTS and "
                              "CONSTRAIN_REAL_AIRFLOW_RELEASE to a published Airflow file"),
]


def _target() -> list[str]:
    found = re.search(r"(3\.\d+)\.txt$", FILE.name)
    assert found, f"{FILE.name}: the name must end in -<python>.txt, as Airflow's do"
    python = found.group(1)
    return ["--python", f"{python}.{LAST_PATCH[python]}", "--platform", "manylinux_2_17_x86_64"]


def _pins(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            out[canonicalize_name(name)] = version.strip()
    return out


def test_published_file_resolves_its_release_with_every_pin_honoured(capsys) -> None:
    code = main(["resolve", *_target(), "--airflow-constraints", "off", "-c", str(FILE),
                 f"apache-airflow[{EXTRAS}]=={RELEASE}"])
    out, err = capsys.readouterr()
    assert code == 0, err
    published, got = _pins(FILE.read_text()), _pins(out)
    assert got["apache-airflow"] == RELEASE
    listed = [name for name in got if name in published]
    assert len(listed) > 100
    assert {n: (got[n], published[n]) for n in listed if got[n] != published[n]} == {}


def test_reconstruction_agrees_with_the_published_file(capsys) -> None:
    code = main(["resolve", *_target(), "--airflow-constraints", "reconstructed",
                 f"apache-airflow=={RELEASE}"])
    out, err = capsys.readouterr()
    assert code == 0, err
    published, got = _pins(FILE.read_text()), _pins(out)
    shared = [name for name in got if name in published]
    same = [name for name in shared if got[name] == published[name]]
    assert len(shared) > 90
    assert len(same) / len(shared) >= 0.9, sorted(set(shared) - set(same))
