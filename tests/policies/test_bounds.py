"""Upper-bound policies: the file format, bounds relative to a reference, held-back reporting,
and ``constrain policy check``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from constrain.cli import main
from constrain.errors import InputError
from constrain.policies.bounds import bounds_for, default_policy_text, parse_policies
from tests.support.builders import PackageSpec


def test_packaged_default_holds_airflows_documented_bounds() -> None:
    pf = parse_policies(*reversed(default_policy_text()))
    assert {p.display_name: p.bound for p in pf.policies} == {
        "SQLAlchemy": "minor", "alembic": "minor", "Flask": "major", "werkzeug": "major",
        "celery": "major", "kubernetes": "major"}
    assert pf.lint() == []
    refs = {"sqlalchemy": Version("1.4.36"), "celery": Version("5.3.4"),
            "kubernetes": Version("29.0.0")}
    bounds, unused = bounds_for(pf.policies, refs)
    assert {b.policy.name: str(b.specifier) for b in bounds} == {
        "sqlalchemy": "<1.5", "celery": "<6", "kubernetes": "<30"}
    assert {p.name for p in unused} == {"alembic", "flask", "werkzeug"}


@given(st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50)))
def test_a_bound_always_admits_its_reference_and_excludes_the_next_step(release) -> None:
    pf = parse_policies('[a]\nbound = "minor"\n[b]\nbound = "major"\n', "p.toml")
    ref = Version(".".join(map(str, release)))
    minor, major = (p.specifier(ref) for p in pf.policies)
    assert ref in minor and ref in major
    assert Version(f"{release[0]}.{release[1] + 1}") not in minor
    assert Version(f"{release[0] + 1}") not in major


def test_every_bad_line_is_reported_at_once_with_carets() -> None:
    text = ('[SQLAlchemy]\nbound = "mnor"\nreason = 1\n\n[Flask]\nbound = "major"\n'
            'colour = "red"\n[werkzeug]\nbound = ">2"\n[celery]\nreason = "r"\n')
    with pytest.raises(InputError) as info:
        parse_policies(text, "team-policies.toml")
    where = [(loc.line, loc.column) for loc in info.value.locations]
    assert where == [(2, 8), (3, 9), (7, 0), (9, 8), (10, 1)]
    rendered = "\n".join(info.value.render())
    assert "team-policies.toml:2:9: bound 'mnor' is neither" in rendered
    assert "team-policies.toml:10:2: celery: no bound" in rendered
    assert "nothing was applied" in rendered


def test_toml_syntax_errors_on_several_lines_are_all_reported() -> None:
    with pytest.raises(InputError) as info:
        parse_policies('[a]\nbound = minor\nreason = "ok"\n[b\n', "p.toml")
    assert [loc.line for loc in info.value.locations] == [2, 4]


NEWER = [
    PackageSpec("app", "1.0", requires_dist=["SQLAlchemy", "flask"]),
    PackageSpec("SQLAlchemy", "1.3.20"),
    PackageSpec("SQLAlchemy", "1.3.24"),
    PackageSpec("SQLAlchemy", "1.4.0"),
    PackageSpec("SQLAlchemy", "2.0.0"),
    PackageSpec("SQLAlchemy", "2.1.0b1"),
    PackageSpec("flask", "1.1.2"),
    PackageSpec("flask", "2.0.0"),
]


def test_eager_upgrade_stops_at_a_minor_bound_and_lists_what_was_held_back(
        index_server, tmp_path, capsys) -> None:
    server = index_server(NEWER, pep658=True)
    current = tmp_path / "constraints-3.11.txt"  # the committed file: the reference
    current.write_text("SQLAlchemy==1.3.20\nflask==1.1.2\n")
    code = main(["resolve", "--index-url", server.index_url, "--python", "3.11",
                 "--policies", "airflow", "--policy-reference", str(current), "app"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "SQLAlchemy==1.3.24" in out.splitlines()  # upgraded, but not across the minor
    assert "flask==1.1.2" in out.splitlines()  # major bound
    held = sorted(line for line in out.splitlines() if "held back" in line)
    assert len(held) == 2
    assert held[0].startswith("# Note: held back: Flask at 1.1.2 by bound <2 (major of 1.1.2)")
    assert "newest release 2.0.0" in held[0]
    assert held[1].startswith(
        "# Note: held back: SQLAlchemy at 1.3.24 by bound <1.4 (minor of 1.3.20) from "
        "<packaged airflow-policies.toml>:")
    assert "newest release 2.0.0; reason: SQLAlchemy removes deprecated APIs" in held[1]


def test_bounds_default_to_the_pins_in_force_and_explicit_bounds_need_none(
        index_server, tmp_path, capsys) -> None:
    server = index_server(NEWER, pep658=True)
    policy = tmp_path / "p.toml"
    policy.write_text('[flask]\nbound = "<1.2"\nreason = "r"\nremove-when = "w"\n')
    code = main(["resolve", "--index-url", server.index_url, "--python", "3.11",
                 "--policies", str(policy), "app"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "flask==1.1.2" in out.splitlines() and "SQLAlchemy==2.0.0" in out.splitlines()
    assert f"by bound <1.2 from {policy}:1; newest release 2.0.0; reason: r" in out


def test_policy_check_fails_on_a_missing_reason_with_file_and_line(index_server, tmp_path,
                                                                   capsys) -> None:
    server = index_server(NEWER, pep658=True)
    policy = tmp_path / "team.toml"
    policy.write_text('[flask]\nbound = "major"\nreason = "UI"\nremove-when = "tested"\n\n'
                      '[SQLAlchemy]\nbound = "minor"\nremove-when = "tested"\n\n'
                      '[no-such-package]\nbound = "<2"\nreason = "r"\nremove-when = "w"\n')
    code = main(["policy", "check", str(policy), "--index-url", server.index_url])
    _out, err = capsys.readouterr()
    assert code == 2
    assert f"{policy}:6: SQLAlchemy: no reason" in err
    assert f"{policy}:10: unknown package no-such-package" in err


def test_policy_check_reports_what_bounds_hold_back_and_stale_bounds(index_server, tmp_path,
                                                                     capsys) -> None:
    server = index_server(NEWER, pep658=True)
    reference = tmp_path / "current.txt"
    reference.write_text("SQLAlchemy==1.3.20\nflask==2.0.0\n")
    policy = tmp_path / "p.toml"
    policy.write_text('[flask]\nbound = "major"\nreason = "UI"\nremove-when = "tested"\n'
                      '[SQLAlchemy]\nbound = "minor"\nreason = "db"\nremove-when = "tested"\n')
    code = main(["policy", "check", str(policy), "--index-url", server.index_url,
                 "--reference", str(reference)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "flask (major of 2.0.0): bound <3 no longer holds anything back" in out
    assert "SQLAlchemy (minor of 1.3.20): bound <1.4 holds back 2.0.0" in out


def test_policy_check_says_a_reference_outside_a_bound_a_missing_file_and_offline_way_out(
        index_server, tmp_path, capsys) -> None:
    # Before: a reference pin the bound excludes read like any held-back release; a missing
    # policy file exited 1 (a missing -r/-c exits 2); --offline with an empty cache offered
    # only "run once without --offline".
    server = index_server(NEWER, pep658=True)
    reference = tmp_path / "current.txt"
    reference.write_text("SQLAlchemy==2.0.0\n")
    policy = tmp_path / "p.toml"
    policy.write_text('[SQLAlchemy]\nbound = "<1.4"\nreason = "db"\nremove-when = "tested"\n')
    code = main(["policy", "check", str(policy), "--index-url", server.index_url,
                 "--reference", str(reference)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert ("SQLAlchemy (<1.4 of 2.0.0): bound <1.4 holds back 2.0.0; the reference pin 2.0.0 "
            "is outside it too") in out
    assert main(["policy", "check", str(tmp_path / "missing.toml")]) == 2
    assert "no such file" in capsys.readouterr().err
    code = main(["policy", "check", str(policy), "--index-url", server.index_url, "--offline",
                 "--cache-dir", str(tmp_path / "empty")])
    assert code == 1 and "--no-lookup" in capsys.readouterr().err


def test_packaged_policies_pass_their_own_check(capsys) -> None:
    assert main(["policy", "check", "--no-lookup"]) == 0


def test_held_back_asks_only_about_resolved_packages() -> None:
    from constrain.policies.bounds import held_back

    pf = parse_policies('[a]\nbound = "minor"\nreason = "r"\nremove-when = "w"\n', "p.toml")
    bounds, _ = bounds_for(pf.policies, {"a": Version("1.2.3")})
    newest = {"a": Version("1.3.0")}.get
    assert [h.newest for h in held_back(bounds, {"a": Version("1.2.9")}, newest)] == [
        Version("1.3.0")]
    assert held_back(bounds, {}, newest) == []
