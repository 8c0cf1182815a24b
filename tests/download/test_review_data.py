"""What a reviewer finds in a wheelhouse: the manifest's top-level record, why each file is
there, licences as SPDX (unknowns listed), the CycloneDX SBOM (schema-valid, offline) and PEP
740 provenance where the index serves it -- against a local index, byte-identical on a rerun."""

from __future__ import annotations

import json

import pytest

import constrain
from constrain.cli import main
from constrain.review.sbom import validation_errors
from tests.support.builders import PackageSpec, metadata_text

ARM, X86 = "macosx_11_0_arm64", "manylinux_2_17_x86_64"


def _meta(name: str, extra: str) -> str:
    return metadata_text(name, "1.0").rstrip("\n") + "\n" + extra + "\n\n"


SPECS = [
    PackageSpec("app", "1.0", requires_dist=["lib", "odd", "tool"], wheel_options={
        "metadata_override": _meta("app", "Requires-Dist: lib\nRequires-Dist: odd\n"
                                   "Requires-Dist: tool\n"
                                   "Classifier: License :: OSI Approved :: MIT License")}),
    PackageSpec("lib", "1.0", requires_dist=["native"], wheel_options={
        "metadata_override": _meta("lib", "License-Expression: apache-2.0 OR mit\n"
                                   "Requires-Dist: native")}),
    PackageSpec("native", "1.0", tags=[f"cp311-cp311-{X86}", f"cp311-cp311-{ARM}",
                                       f"cp312-cp312-{X86}", f"cp312-cp312-{ARM}"],
                wheel_options={"license": "Apache License, Version 2.0"}),
    # a whole proprietary text in License: null, and only its first line kept
    PackageSpec("odd", "1.0", wheel_options={
        "license": "Proprietary licence of Example Corp\n        " + "All rights. " * 200}),
    PackageSpec("helper", "1.0", wheel_options={"license": "BSD 3-Clause"}),
    # an sdist only: building it needs helper
    PackageSpec("tool", "1.0", kinds=("sdist",), sdist_options={"build_requires": ["helper"]}),
]
PROVENANCE = {"version": 1, "attestation_bundles": [{
    "publisher": {"kind": "GitHub", "repository": "example/lib", "workflow": "release.yml",
                  "environment": "pypi"},
    "attestations": [{"version": 1, "verification_material": {}, "envelope": {}}],
}]}


@pytest.fixture
def server(make_index):
    srv = make_index(SPECS, pep658=True, require_auth=("user", "s3cret"))
    path = "/integrity/lib/1.0/lib-1.0-py3-none-any.whl/provenance"
    srv.provenance["lib-1.0-py3-none-any.whl"] = path
    srv.static[path] = json.dumps(PROVENANCE)
    return srv


def test_manifest_record_licences_sbom_and_provenance(server, tmp_path, capsys):
    dest = tmp_path / "wh"
    args = ["download", "app", "--index-url", server.url_with_auth(), "--dest", str(dest),
            "--exclude-newer", "2030-01-01",
            "--python", "3.11", "--python", "3.12", "--platform", X86, "--platform", ARM,
            "--cache-dir", str(tmp_path / "cache")]
    assert main(args) == 0
    out = capsys.readouterr().out
    text = (dest / "manifest.json").read_text()
    manifest = json.loads(text)

    # the top-level record: who wrote it, when (the cut-off: reruns are identical), from where
    assert manifest["constrain_version"] == constrain.__version__
    assert (manifest["created"], manifest["created_from"]) == ("2030-01-02T00:00:00Z",
                                                               "cut-off")
    assert manifest["indexes"] == [server.index_url]
    assert "s3cret" not in text
    assert manifest["sbom"] == "sbom.cdx.json"

    files = {f["filename"]: f for f in manifest["files"]}
    # why each file is there: a chain from the command line, or the sdist it builds
    assert files["app-1.0-py3-none-any.whl"]["why"] == ["app (command line)"]
    assert files[f"native-1.0-cp312-cp312-{ARM}.whl"]["why"] == [
        "app (command line)", "lib==1.0", "native==1.0"]
    assert files["helper-1.0-py3-none-any.whl"]["why"] == ["build tool for tool-1.0.tar.gz"]

    # licences: SPDX from each source in turn; the proprietary text is null and listed
    got = {n: (f["license"], f["license_source"]) for n, f in files.items()}
    assert got["app-1.0-py3-none-any.whl"] == ("MIT", "classifier")
    assert got["lib-1.0-py3-none-any.whl"] == ("Apache-2.0 OR MIT", "License-Expression")
    assert got[f"native-1.0-cp311-cp311-{X86}.whl"] == ("Apache-2.0", "License")
    assert got["helper-1.0-py3-none-any.whl"] == ("BSD-3-Clause", "License")
    assert got["odd-1.0-py3-none-any.whl"] == (None, None)
    assert files["odd-1.0-py3-none-any.whl"]["license_declared"] == \
        "Proprietary licence of Example Corp"
    assert manifest["licences_unknown"] == ["odd-1.0-py3-none-any.whl", "tool-1.0.tar.gz"]
    assert "licences: 7 of 9 files as SPDX, 2 unknown:" in out
    assert "  odd-1.0-py3-none-any.whl  (Proprietary licence of Example Corp)" in out

    # provenance: recorded for the one file the index serves it for, null elsewhere
    assert files["lib-1.0-py3-none-any.whl"]["provenance"] == {
        "url": f"{server.url}/integrity/lib/1.0/lib-1.0-py3-none-any.whl/provenance",
        "publishers": [{"kind": "GitHub", "repository": "example/lib",
                        "workflow": "release.yml", "environment": "pypi"}]}
    assert all(f["provenance"] is None for n, f in files.items()
               if n != "lib-1.0-py3-none-any.whl")
    assert "provenance: 1 of 9 files with PEP 740 attestations" in out

    # the SBOM: schema-valid, one component per file, the resolve's graph
    sbom_text = (dest / "sbom.cdx.json").read_text()
    assert validation_errors(sbom_text) is None
    sbom = json.loads(sbom_text)
    comps = {c["bom-ref"]: c for c in sbom["components"]}
    assert set(comps) == set(files)
    lib = comps["lib-1.0-py3-none-any.whl"]
    assert lib["purl"] == "pkg:pypi/lib@1.0?file_name=lib-1.0-py3-none-any.whl"
    assert lib["hashes"] == [{"alg": "SHA-256",
                              "content": files["lib-1.0-py3-none-any.whl"]["sha256"]}]
    assert lib["licenses"] == [{"expression": "Apache-2.0 OR MIT"}]
    deps = {d["ref"]: set(d.get("dependsOn", ())) for d in sbom["dependencies"]}
    assert deps["wheelhouse"] == {"app-1.0-py3-none-any.whl"}
    assert deps["lib-1.0-py3-none-any.whl"] == {
        f"native-1.0-{py}-{py}-{plat}.whl" for py in ("cp311", "cp312") for plat in (X86, ARM)}
    assert deps["tool-1.0.tar.gz"] == {"helper-1.0-py3-none-any.whl"}
    assert "s3cret" not in sbom_text

    # a rerun writes nothing and asks nothing about provenance again
    asked = len(server.requests_to("/integrity/"))
    assert main(args) == 0
    assert "no output file changed" in capsys.readouterr().out
    assert (dest / "manifest.json").read_text() == text
    assert (dest / "sbom.cdx.json").read_text() == sbom_text
    assert len(server.requests_to("/integrity/")) == asked == 1


def test_without_a_cut_off_a_rerun_keeps_the_first_creation_time(server, tmp_path, capsys):
    dest = tmp_path / "wh"
    opts = ["--index-url", server.url_with_auth(), "--dest", str(dest),
            "--cache-dir", str(tmp_path / "cache")]
    args = ["download", "lib", *opts]
    assert main(args) == 0
    first = json.loads((dest / "manifest.json").read_text())
    assert first["created_from"] == "clock" and first["created"].endswith("Z")
    assert main(args) == 0
    assert json.loads((dest / "manifest.json").read_text())["created"] == first["created"]
    # something changed (a file more): a new creation time may be written
    assert main(["download", "lib", "odd", *opts]) == 0
    capsys.readouterr()
    again = json.loads((dest / "manifest.json").read_text())
    assert again["created"] >= first["created"] and len(again["files"]) > len(first["files"])


def test_offline_records_no_provenance_and_does_not_fail(server, tmp_path, capsys):
    """--offline over a wheelhouse whose manifest was lost: the provenance is not asked (null),
    the rest of the review data is there."""
    dest = tmp_path / "wh"
    args = ["download", "lib", "--index-url", server.url_with_auth(), "--dest", str(dest),
            "--cache-dir", str(tmp_path / "cache"), "--python", "3.11", "--platform", X86]
    assert main(args) == 0
    (dest / "manifest.json").unlink()
    capsys.readouterr()
    asked = len(server.requests)
    assert main([*args, "--offline"]) == 0
    assert len(server.requests) == asked
    manifest = json.loads((dest / "manifest.json").read_text())
    files = {f["filename"]: f for f in manifest["files"]}
    assert files["lib-1.0-py3-none-any.whl"]["provenance"] is None
    assert files["lib-1.0-py3-none-any.whl"]["provenance_checked"] is False
    assert files["lib-1.0-py3-none-any.whl"]["license"] == "Apache-2.0 OR MIT"
    assert "provenance: 0 of 2 files" in capsys.readouterr().out
    # the next run with the network asks what --offline could not
    assert main(args) == 0
    files = {f["filename"]: f for f in
             json.loads((dest / "manifest.json").read_text())["files"]}
    assert files["lib-1.0-py3-none-any.whl"]["provenance"]["publishers"][0]["repository"] \
        == "example/lib"
    assert files["lib-1.0-py3-none-any.whl"]["provenance_checked"] is True


def test_a_provenance_the_index_cannot_serve_is_a_warning_not_an_error(make_index, tmp_path,
                                                                        capsys):
    srv = make_index(SPECS[1:3], pep658=True)
    srv.provenance["lib-1.0-py3-none-any.whl"] = "/integrity/lib/gone"  # answers 404
    srv.provenance[f"native-1.0-cp311-cp311-{X86}.whl"] = "/integrity/native/garbled"
    srv.static["/integrity/native/garbled"] = "{not json"
    dest = tmp_path / "wh"
    assert main(["download", "lib", "--index-url", srv.index_url, "--dest", str(dest),
                 "--cache-dir", str(tmp_path / "cache"), "--python", "3.11",
                 "--platform", X86]) == 0
    err = capsys.readouterr().err
    assert "provenance of lib-1.0-py3-none-any.whl:" in err and "HTTP 404" in err
    assert f"provenance of native-1.0-cp311-cp311-{X86}.whl: cannot read" in err
    files = {f["filename"]: f for f in
             json.loads((dest / "manifest.json").read_text())["files"]}
    assert files["lib-1.0-py3-none-any.whl"]["provenance"] == {
        "url": f"{srv.url}/integrity/lib/gone", "publishers": []}
