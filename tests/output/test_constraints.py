"""The constraints format: header, sorted pins, annotations, byte-identical output."""

from __future__ import annotations

import dataclasses

import pytest
from packaging.requirements import Requirement

from constrain import __version__
from constrain.errors import UsageError
from constrain.models import Origin
from constrain.output import FORMATS, render
from constrain.target import TargetEnvironment


def body(text: str) -> list[str]:
    """The non-comment, non-blank lines."""
    return [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def test_pins_sorted_by_canonical_name_with_display_names(synthetic_set):
    text = render(synthetic_set, "constraints")
    assert body(text) == ["apache-airflow==2.10.5", "greenlet==3.0.3", "SQLAlchemy==1.4.52"]


def test_every_pin_line_is_a_plain_pinned_requirement(synthetic_set):
    """pip and uv refuse extras and hashes in constraint files."""
    for line in body(render(synthetic_set, "constraints")):
        req = Requirement(line)
        assert not req.extras and req.marker is None and req.url is None
        assert str(req.specifier).startswith("==")
        assert "--hash" not in line


def test_header_says_what_produced_it_for_what_and_from_what(synthetic_set):
    text = render(synthetic_set, "constraints", notes=["reconstructed from an old file"])
    header = [line for line in text.splitlines() if line.startswith("#")]
    joined = "\n".join(header)
    assert f"constrain {__version__}" in header[0]
    assert "#   " + synthetic_set.command in header
    assert "# Target: CPython 3.11.0 on manylinux_2_28_x86_64" in header
    assert "#   apache-airflow[postgres]==2.10.5  (from command line)" in header
    assert "#   constraints-3.11.txt  (2 constraints)" in header
    assert "# Excluding files uploaded after: 2024-05-01T00:00:00Z" in header
    assert "# Note: reconstructed from an old file" in header
    # the host-built pin is named, since the target is not this host
    assert "built on this host" in joined
    assert "#   SQLAlchemy==1.4.52" in header
    # the header comes first: every line before the first pin is a comment or blank
    first_pin = text.splitlines().index("apache-airflow==2.10.5")
    assert all(not ln or ln.startswith("#") for ln in text.splitlines()[:first_pin])


def test_no_host_built_block_when_the_target_is_the_host(synthetic_set):
    host_set = dataclasses.replace(synthetic_set, target=TargetEnvironment.current())
    assert host_set.target.host
    assert "built on this host" not in render(host_set, "constraints")


def test_same_install_set_renders_byte_identical(synthetic_set):
    for fmt in FORMATS:
        first = render(synthetic_set, fmt, annotate=True)
        second = render(dataclasses.replace(synthetic_set), fmt, annotate=True)
        assert first.encode() == second.encode(), fmt
        assert first.endswith("\n")


def test_annotate_adds_via_and_constraint_lines_under_each_pin(synthetic_set):
    lines = render(synthetic_set, "constraints", annotate=True).splitlines()
    i = lines.index("SQLAlchemy==1.4.52")
    assert lines[i + 1 : i + 3] == [
        "    # via apache-airflow==2.10.5",
        "    # constraint: constraints-3.11.txt:12",
    ]
    g = lines.index("greenlet==3.0.3")
    assert lines[g + 1 : g + 4] == [
        "    # via",
        "    #   apache-airflow==2.10.5",
        "    #   sqlalchemy==1.4.52",
    ]
    # without annotate, no reasons
    assert "# via" not in render(synthetic_set, "constraints")


def test_credentials_in_origins_never_reach_the_file(synthetic_set):
    url = "https://user:hunter2@files.internal.test/constraints.txt"
    with_url = dataclasses.replace(
        synthetic_set,
        constraints=((Requirement("greenlet==3.0.3"), Origin(url, 4)),),
        pins=tuple(
            dataclasses.replace(p, constraint_origins=(Origin(url, 4),)) for p in synthetic_set.pins
        ),
    )
    for fmt in FORMATS:
        text = render(with_url, fmt, annotate=True)
        assert "hunter2" not in text, fmt


def test_a_newline_in_a_note_cannot_break_out_of_the_comment(synthetic_set):
    text = render(synthetic_set, "constraints", notes=["first\nevil==6.6.6"])
    assert "evil==6.6.6" not in body(text)


def test_unknown_format_is_a_usage_error_with_a_hint(synthetic_set):
    with pytest.raises(UsageError) as info:
        render(synthetic_set, "poetry.lock")
    assert "constraints" in info.value.hint
