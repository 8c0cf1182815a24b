"""Declarative resolver scenarios: every tests/resolver/scenarios/*.toml resolves as expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from constrain.errors import ConstrainError
from constrain.reporting import CollectingReporter
from constrain.resolver import resolve
from tests.resolver.scenario import Scenario

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.toml"))


def _run(scenario: Scenario):
    reporter = CollectingReporter()
    index = scenario.index()
    try:
        result = resolve(
            scenario.requirements,
            scenario.constraints,
            index,
            scenario.target,
            scenario.options,
            reporter,
        )
    except ConstrainError as exc:
        return None, exc, reporter, index
    return result, None, reporter, index


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path) -> None:
    scenario = Scenario.load(path)
    expect = scenario.expect
    result, error, reporter, index = _run(scenario)

    if "error_contains" in expect:
        assert error is not None, f"expected an error, got pins {result and result.pins}"
        text = "\n".join(error.render())
        for needle in expect["error_contains"]:
            assert needle in text, f"{needle!r} not in:\n{text}"
        assert "resolvelib" not in text and "Criterion" not in text
    else:
        assert error is None, "\n".join(error.render())
        got = {p.name: str(p.version) for p in result.pins}
        assert got == expect["pins"]
        for name, via in expect.get("required_by", {}).items():
            assert list(result.pin(name).required_by) == via
        for name, extras in expect.get("extras", {}).items():
            assert sorted(result.pin(name).extras) == sorted(extras)
        for name, origins in expect.get("constraint_origins", {}).items():
            assert [str(o) for o in result.pin(name).constraint_origins] == origins
        for name, filename in expect.get("files", {}).items():
            assert result.pin(name).file.filename == filename
        for name in expect.get("requested", []):
            assert result.pin(name).requested
        # Metadata is read at most once per file.
        assert len(index.metadata_calls) == len(set(index.metadata_calls))

    for needle in expect.get("warnings_contain", []):
        assert any(needle in w for w in reporter.warnings), (needle, reporter.warnings)

    # Determinism: a second run gives the same pins (or the same error).
    again, error2, _, _ = _run(scenario)
    if error is None:
        assert [(p.name, p.version, p.required_by) for p in again.pins] == [
            (p.name, p.version, p.required_by) for p in result.pins
        ]
    else:
        assert error2 is not None and error2.render() == error.render()
