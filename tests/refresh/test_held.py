"""What a refresh report says holds a package back: the requirement chain when the newest release
could not be had anyway (alembic's newest needs SQLAlchemy 2, which the application excludes),
"the policy" only when the policy keeps back a release the set could take."""

from __future__ import annotations

import json

from constrain.cli import main
from tests.support.builders import PackageSpec

POLICY = """\
[alembic]
bound = "minor"
reason = "migrations change between minors"
remove-when = "never"
"""
COMMON = [
    PackageSpec("app", "1.0", requires_dist=["alembic>=1.0", "SQLAlchemy>=1.4,<2"]),
    PackageSpec("alembic", "1.0.0", requires_dist=["SQLAlchemy>=1.4"]),
    PackageSpec("alembic", "1.2.0", requires_dist=["SQLAlchemy>=2"]),
    PackageSpec("SQLAlchemy", "1.4.0"),
    PackageSpec("SQLAlchemy", "2.0.0"),
]


def refresh(make_index, tmp_path, alembic_11_needs: str) -> tuple[int, str, dict]:
    server = make_index([*COMMON, PackageSpec("alembic", "1.1.0",
                                              requires_dist=[f"SQLAlchemy{alembic_11_needs}"])],
                        pep658=True)
    out = tmp_path / "constraints"
    out.mkdir()
    (out / "constraints-3.12.txt").write_text("alembic==1.0.0\napp==1.0\nSQLAlchemy==1.4.0\n")
    policy = tmp_path / "policies.toml"
    policy.write_text(POLICY)
    report = tmp_path / "report.json"
    code = main(["refresh", "app", "--python", "3.12", "--index-url", server.index_url,
                 "--output-dir", str(out), "--policies", str(policy),
                 "--json-report", str(report)])
    return code, report.read_text(), json.loads(report.read_text())


def held_row(markdown: str) -> str:
    return next(ln for ln in markdown.splitlines() if ln.startswith("| alembic | 1.0.0 |"))


def test_a_newest_release_the_set_cannot_take_names_the_chain_not_the_policy(
        make_index, tmp_path, capsys):
    code, _text, data = refresh(make_index, tmp_path, alembic_11_needs=">=2")
    assert code == 0
    row = held_row(capsys.readouterr().out)
    chain = "alembic 1.2.0 requires SQLAlchemy>=2; app 1.0 requires SQLAlchemy<2,>=1.4"
    assert row.endswith(f"| {chain} |"), row
    assert "the policy" not in row
    (held,) = data["files"][0]["held_back"]
    assert (held["package"], held["pinned"], held["newest"]) == ("alembic", "1.0.0", "1.2.0")
    assert held["also_limited_by"] == [chain]


def test_the_policy_is_named_when_it_keeps_back_a_release_the_set_could_take(
        make_index, tmp_path, capsys):
    # alembic 1.1.0 would fit (SQLAlchemy 1.4 is fine): the bound <1.1 is what holds it back
    code, _text, data = refresh(make_index, tmp_path, alembic_11_needs=">=1.4")
    assert code == 0
    assert held_row(capsys.readouterr().out).endswith("| the policy |")
    assert data["files"][0]["held_back"][0]["also_limited_by"] == []
