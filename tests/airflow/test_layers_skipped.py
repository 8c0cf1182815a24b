"""A resolve whose constraint layers would change nothing (Airflow's constraints off by flag, no
policy, override or constraint) skips them and imports no more of ``constrain.airflow``; any
setting that would be checked or layered keeps them, errors included."""

from __future__ import annotations

import pytest

from constrain.airflow.settings import layers_change_nothing
from constrain.app.requests import ResolveRequest
from constrain.cli import main
from tests.airflow.conftest import pins

REQ = "apache-airflow[postgres]==2.0.0"
OFF = ResolveRequest(requirements=(REQ,), airflow_constraints="off")


@pytest.mark.parametrize(("request_", "environ", "config", "constraints"), [
    (ResolveRequest(requirements=(REQ,)), {}, {}, False),  # auto
    (ResolveRequest(requirements=(REQ,), airflow_constraints="published"), {}, {}, False),
    (OFF, {}, {}, True),  # each constraint is checked against the requirements
    (ResolveRequest(requirements=(REQ,), airflow_constraints="off",
                    airflow_constraints_mode="bogus"), {}, {}, False),
    (ResolveRequest(requirements=(REQ,), airflow_constraints="off",
                    airflow_constraints_url="https://example.invalid/{python}"), {}, {}, False),
    (OFF, {"CONSTRAIN_AIRFLOW_CONSTRAINTS_MODE": "bogus"}, {}, False),
    (OFF, {}, {"airflow-constraints-ref": "constraints-2.0.0"}, False),
    (OFF, {}, {"policies": "airflow"}, False),
    (ResolveRequest(requirements=(REQ,), airflow_constraints="off", policies=("p.toml",)),
     {}, {}, False),
    (ResolveRequest(requirements=(REQ,), airflow_constraints="off", policy_reference="r.txt"),
     {}, {}, False),
    (ResolveRequest(requirements=(REQ,), airflow_constraints="off", overrides=("flask=x",)),
     {}, {}, False),
])
def test_layers_are_kept_for_anything_they_would_check_or_layer(request_, environ, config,
                                                                constraints):
    assert layers_change_nothing(request_, environ, config, constraints) is False


def test_off_alone_changes_nothing_whatever_the_environment_says_of_use():
    # the flag wins for use: neither the environment nor the configuration is read for it
    assert layers_change_nothing(OFF, {}, {}, False) is True
    assert layers_change_nothing(OFF, {"CONSTRAIN_AIRFLOW_CONSTRAINTS": "bogus",
                                       "CONSTRAIN_AIRFLOW_CONSTRAINTS_MODE": ""},
                                 {"airflow-constraints": "published"}, False) is True


def test_skipped_layers_give_the_same_answer_and_a_bad_setting_still_fails(
        airflow_world, capsys, monkeypatch):
    server, _template = airflow_world
    argv = ["resolve", "--index-url", server.index_url, "--python", "3.8",
            "--airflow-constraints", "off", REQ]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert pins(out)["sqlalchemy"] == "2.0.0"  # Airflow's file not layered
    assert not [r for r in server.requests if r.path.startswith("/constraints-")]

    monkeypatch.setenv("CONSTRAIN_AIRFLOW_CONSTRAINTS_MODE", "bogus")
    assert main(argv) != 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "CONSTRAIN_AIRFLOW_CONSTRAINTS_MODE" in err and "bogus" in err
