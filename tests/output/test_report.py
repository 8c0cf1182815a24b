"""The JSON format: pip's installation report shape plus a constrain section."""

from __future__ import annotations

import dataclasses
import json

import pytest
from packaging.direct_url import DirectUrl

from constrain import __version__
from constrain.errors import OutputError
from constrain.output import render


def test_top_level_shape_matches_pips_report(synthetic_set):
    report = json.loads(render(synthetic_set, "json"))
    assert report["version"] == "1"
    assert list(report)[:4] == ["version", "pip_version", "install", "environment"]
    assert report["environment"] == synthetic_set.target.markers
    assert report["constrain"]["version"] == __version__


def test_install_items(synthetic_set):
    report = json.loads(render(synthetic_set, "json"))
    items = {i["metadata"]["name"]: i for i in report["install"]}
    assert list(items) == ["apache-airflow", "greenlet", "SQLAlchemy"]
    airflow = items["apache-airflow"]
    assert airflow["requested"] is True and airflow["requested_extras"] == ["postgres"]
    assert airflow["is_direct"] is False and airflow["is_yanked"] is False
    assert airflow["metadata"] == {
        "name": "apache-airflow", "version": "2.10.5",
        "requires_dist": ["SQLAlchemy<2", "greenlet"], "requires_python": ">=3.9",
    }
    assert "requested_extras" not in items["greenlet"] and items["greenlet"]["requested"] is False
    info = items["SQLAlchemy"]["download_info"]
    DirectUrl.from_dict(info)  # valid PEP 610 data
    best = synthetic_set.pin("sqlalchemy").file
    assert info["archive_info"]["hashes"] == {"sha256": best.sha256}
    assert info["archive_info"]["hash"] == f"sha256={best.sha256}"
    assert info["url"] == "https://pkgs.internal.test/files/" + best.filename


def test_no_credentials_anywhere(synthetic_set):
    text = render(synthetic_set, "json")
    assert "s3cr3t" not in text


def test_constrain_section_explains_each_pin(synthetic_set):
    section = json.loads(render(synthetic_set, "json", notes=["n1"]))["constrain"]
    assert section["command"] == synthetic_set.command
    assert section["exclude_newer"] == "2024-05-01T00:00:00Z"
    assert section["notes"] == ["n1"]
    assert section["host_built"] == ["sqlalchemy"]
    assert section["requirements"] == [
        {"requirement": "apache-airflow[postgres]==2.10.5", "origin": "command line"}]
    assert section["constraints"][0] == {
        "constraint": "SQLAlchemy==1.4.52", "origin": "constraints-3.11.txt:12"}
    sqla = section["pins"]["sqlalchemy"]
    assert sqla["required_by"] == ["apache-airflow==2.10.5"]
    assert sqla["constraint_origins"] == ["constraints-3.11.txt:12"]
    assert sqla["metadata_source"] == "built"
    assert sqla["upload_time"] == "2024-03-01T12:30:00Z"
    assert set(section["stats"]) >= {"rounds", "metadata_fetched"}


def test_a_pin_without_files_renders_in_every_text_format(synthetic_set):
    """Reconstructed install sets know versions but no files."""
    bare = dataclasses.replace(synthetic_set.pins[1], files=())
    reconstructed = dataclasses.replace(synthetic_set, pins=(bare,))
    assert "apache-airflow==2.10.5" in render(reconstructed, "constraints").splitlines()
    assert "--hash" not in render(reconstructed, "requirements")
    item = json.loads(render(reconstructed, "json"))["install"][0]
    assert "download_info" not in item and item["metadata"]["version"] == "2.10.5"
    with pytest.raises(OutputError):
        render(reconstructed, "pylock")
