"""``constrain audit`` and ``download --audit``: a wheelhouse downloaded from a local index and
constraints files, against a small OSV dump the tests write (a directory and a zip)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from constrain.cli import main
from tests.support.builders import PackageSpec

SPECS = [
    PackageSpec("webapp", "1.0", requires_dist=["Flaky-Lib>=1", "safe", "old"]),
    PackageSpec("flaky-lib", "1.4.2"),
    PackageSpec("safe", "2.0"),
    PackageSpec("old", "0.9"),
]


def record(rid: str, package: str, *, events=(), versions=(), aliases=(), **extra) -> dict:
    """One OSV record of the PyPI ecosystem, as OSV publishes them."""
    affected: dict = {"package": {"ecosystem": "PyPI", "name": package,
                                  "purl": f"pkg:pypi/{package}"}}
    if events:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": [dict([e]) for e in events]}]
    if versions:
        affected["versions"] = list(versions)
    return {"schema_version": "1.6.0", "id": rid, "aliases": list(aliases),
            "modified": "2026-11-20T08:00:00Z", "published": "2026-11-01T00:00:00Z",
            "summary": f"summary of {rid}", "affected": [affected], **extra}


#: The planted advisory (flaky-lib below 1.5.0), one fixed at the wheelhouse's version (safe),
#: one for old with no fix (last_affected), a withdrawn one, and another ecosystem's record.
RECORDS = [
    record("PYSEC-2026-101", "flaky_lib", aliases=["CVE-2026-0101"],
           events=[("introduced", "0"), ("fixed", "1.2.9"), ("introduced", "1.3.0"),
                   ("fixed", "1.5.0")]),
    record("GHSA-ffff-llll-aaaa", "Flaky.Lib", aliases=["CVE-2026-0101", "PYSEC-2026-101"],
           events=[("introduced", "1.0"), ("fixed", "1.5.0")]),
    record("PYSEC-2026-102", "safe", events=[("introduced", "0"), ("fixed", "2.0")],
           severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"},
                     {"type": 7}]),
    record("PYSEC-2026-103", "old", events=[("introduced", "0.5"), ("last_affected", "0.9")]),
    record("PYSEC-2026-104", "safe", events=[("introduced", "0")],
           withdrawn="2026-11-02T00:00:00Z"),
    {"id": "GO-2026-1", "modified": "2026-11-21T00:00:00Z",
     "affected": [{"package": {"ecosystem": "Go", "name": "safe"},
                   "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]},
]


def write_db(directory: Path, records=RECORDS) -> tuple[Path, Path]:
    """The records as a directory of ``<id>.json`` and as ``all.zip``."""
    db = directory / "osv"
    db.mkdir()
    for r in records:
        (db / f"{r['id']}.json").write_text(json.dumps(r), encoding="utf-8")
    zipped = directory / "all.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for r in records:
            zf.writestr(f"{r['id']}.json", json.dumps(r))
    return db, zipped


def run_cli(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "constrain", *args],
                          check=False, capture_output=True, text=True, timeout=120)


@pytest.fixture
def wheelhouse(make_index, tmp_path) -> Path:
    server = make_index(SPECS, pep658=True)
    dest = tmp_path / "wh"
    assert main(["download", "webapp", "--index-url", server.index_url, "--dest", str(dest),
                 "-q"]) == 0
    return dest


def test_the_planted_advisory_is_found_in_a_wheelhouse_from_a_dir_and_a_zip(
        wheelhouse, tmp_path):
    db, zipped = write_db(tmp_path)
    for source in (db, zipped):
        proc = run_cli("audit", "--db", str(source), str(wheelhouse))
        assert proc.returncode == 3, proc.stderr
        lines = proc.stdout.splitlines()
        # the PYSEC and GHSA records of one vulnerability are one finding; the fix of the
        # branch below 1.3 (1.2.9) is no way out for 1.4.2 and is not offered
        assert lines[0] == ("GHSA-ffff-llll-aaaa (CVE-2026-0101, PYSEC-2026-101) flaky-lib "
                            "1.4.2 fixed in: 1.5.0 [flaky_lib-1.4.2-py3-none-any.whl]")
        assert lines[1].startswith("PYSEC-2026-103 old 0.9 fixed in: none known "
                                   "(last affected 0.9)")
        assert len(lines) == 2  # safe 2.0 is the fixed version; the withdrawn one is skipped
        assert "audit: 2 known vulnerabilities in 2 of 4 releases" in proc.stderr
        assert "4 PyPI records, newest modified 2026-11-20" in proc.stderr

    assert run_cli("audit", "--db", str(zipped), str(wheelhouse), "--report-only").returncode == 0


def test_json_report_and_a_constraints_file(wheelhouse, tmp_path, capsys):
    _, zipped = write_db(tmp_path)
    pins = tmp_path / "constraints.txt"
    pins.write_text("# pinned\nold==0.8\nsafe==1.9 ; python_version >= '3'\nflaky-lib>=1\n"
                    "old===0.4\n", encoding="utf-8")
    assert main(["audit", "--db", str(zipped), "-c", str(pins), "--json"]) == 3
    out = capsys.readouterr()
    report = json.loads(out.out)
    found = {(f["id"], f["version"]): f for f in report["findings"]}
    # 0.8 is inside [0.5, 0.9]; 0.4 is before the range was introduced; safe 1.9 < 2.0
    assert set(found) == {("PYSEC-2026-103", "0.8"), ("PYSEC-2026-102", "1.9")}
    assert found[("PYSEC-2026-102", "1.9")]["fixed"] == ["2.0"]
    assert found[("PYSEC-2026-102", "1.9")]["severity"] == [
        "CVSS_V3 CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"]  # the malformed score left out
    assert found[("PYSEC-2026-103", "0.8")]["where"] == [f"{pins}:2"]
    assert report["checked"] == 3
    assert report["not_pinned"] == [f"{pins}:4: flaky-lib>=1"]
    assert report["database"]["withdrawn"] == 1 and report["database"]["records"] == 4
    assert "not checked (not a name==version pin)" in out.err

    assert main(["audit", "--db", str(zipped), str(wheelhouse / "manifest.json")]) == 3
    capsys.readouterr()
    lock = next(wheelhouse.glob("pylock.*.toml"))  # a PEP 751 lock: every package with a version
    assert main(["audit", "--db", str(zipped), str(lock), "--json"]) == 3
    from_lock = json.loads(capsys.readouterr().out)
    assert [(f["package"], f["version"]) for f in from_lock["findings"]] == [
        ("flaky-lib", "1.4.2"), ("old", "0.9")]
    assert from_lock["checked"] == 4
    clean = tmp_path / "clean.txt"
    clean.write_text("safe==2.0\nold==0.9.1\n", encoding="utf-8")
    assert main(["audit", "--db", str(zipped), str(clean)]) == 0
    assert "no known vulnerability in 2 releases" in capsys.readouterr().err


def test_a_malformed_record_is_an_error_naming_the_file(tmp_path, capsys):
    bad = [*RECORDS, {"id": "PYSEC-2026-900", "affected": [{"package": {
        "ecosystem": "PyPI", "name": "x"}, "ranges": [{"type": "ECOSYSTEM",
                                                       "events": [{"fixed": 1}]}]}]}]
    db, zipped = write_db(tmp_path, bad)
    (db / "broken.json").write_text('{"id": "PYSEC-2026-901",\n "affected": [', encoding="utf-8")
    pins = tmp_path / "c.txt"
    pins.write_text("old==0.9\n", encoding="utf-8")

    assert main(["audit", "--db", str(db), str(pins)]) == 2
    err = capsys.readouterr().err
    assert "error: 2 malformed OSV records in" in err
    assert f"{db / 'PYSEC-2026-900.json'}: PYSEC-2026-900: event fixed holds 1" in err
    assert f"{db / 'broken.json'}:2: not JSON" in err
    assert "hint: " in err

    assert main(["audit", "--db", str(zipped), str(pins)]) == 2
    assert f"{zipped}:PYSEC-2026-900.json: PYSEC-2026-900" in capsys.readouterr().err

    assert main(["audit", "--db", str(tmp_path / "nope.zip"), str(pins)]) == 2
    err = capsys.readouterr().err
    assert "no OSV database at" in err and "PyPI/all.zip" in err
    assert main(["audit", str(pins)]) == 2
    assert "--db PATH" in capsys.readouterr().err
    (tmp_path / "good").mkdir()
    _, good = write_db(tmp_path / "good")
    assert main(["audit", "--db", str(good), "https://example.invalid/c.txt"]) == 2
    assert "audit reads only local files" in capsys.readouterr().err


def test_download_audit_checks_the_new_wheelhouse(make_index, tmp_path, capsys):
    server = make_index(SPECS, pep658=True)
    _, zipped = write_db(tmp_path)
    dest = tmp_path / "wh"
    args = ["download", "webapp", "--index-url", server.index_url, "--dest", str(dest),
            "--audit", str(zipped)]
    assert main(args) == 3
    out = capsys.readouterr()
    assert (dest / "manifest.json").is_file()
    assert "GHSA-ffff-llll-aaaa (CVE-2026-0101, PYSEC-2026-101) flaky-lib 1.4.2" in out.out
    assert "audit: 2 known vulnerabilities" in out.err
    assert main([*args, "--audit-report-only"]) == 0

    # a damaged database is refused before anything is downloaded
    other = tmp_path / "other"
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    assert main(["download", "webapp", "--index-url", server.index_url, "--dest", str(other),
                 "--audit", str(tmp_path / "bad.zip")]) == 2
    assert not other.exists()


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_audit_runs_with_no_network_at_all(wheelhouse, tmp_path):
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True,
                      check=False).returncode != 0:
        pytest.skip("user namespaces are not available here")
    _, zipped = write_db(tmp_path)
    proc = run_cli("audit", "--db", str(zipped), str(wheelhouse), prefix=("unshare", "-rn"))
    assert proc.returncode == 3, proc.stderr
    assert "flaky-lib 1.4.2 fixed in: 1.5.0" in proc.stdout


def test_a_database_with_no_pypi_advisory_is_refused_not_passed(wheelhouse, tmp_path, capsys):
    # Before: OSV's all.zip saved into a folder, or an empty folder, or another ecosystem's
    # dump, gave "no known vulnerability ... (0 PyPI records)" and exit 0.
    _, zipped = write_db(tmp_path)
    holder = tmp_path / "dbparent"
    holder.mkdir()
    shutil.copy(zipped, holder / "all.zip")
    assert main(["audit", "--db", str(holder), str(wheelhouse)]) == 2
    err = capsys.readouterr().err
    assert f"{holder} holds no PyPI advisory" in err and "all.zip" in err
    assert "give the zip itself" in err
    go = tmp_path / "go"
    go.mkdir()
    (go / "GO-2026-1.json").write_text(json.dumps(RECORDS[-1]), encoding="utf-8")
    assert main(["audit", "--db", str(go), str(wheelhouse)]) == 2
    assert "holds no PyPI advisory (1 records of other ecosystems)" in capsys.readouterr().err


def test_a_requirements_file_with_extras_is_audited_and_unread_ranges_are_said(
        tmp_path, capsys):
    # Before: "constraints cannot have extras" (exit 2) for apache-airflow[postgres]==2.10.5;
    # and a range whose version packaging cannot read was dropped without a word.
    odd = record("PYSEC-2026-200", "safe", events=[("introduced", "0"), ("fixed", "3.x-final")])
    db, _ = write_db(tmp_path, [*RECORDS, odd])
    reqs = tmp_path / "r.txt"
    reqs.write_text("flaky-lib[extra]==1.4.2\nsafe==2.0\n", encoding="utf-8")
    assert main(["audit", "--db", str(db), str(reqs)]) == 3
    out, err = capsys.readouterr()
    assert out.startswith("GHSA-ffff-llll-aaaa (CVE-2026-0101, PYSEC-2026-101) flaky-lib 1.4.2")
    assert "1 affected range not read" in err, err
    assert main(["audit", "--db", str(db), str(tmp_path / "missing.txt")]) == 2
    assert "no such file" in capsys.readouterr().err
