"""``constrain download`` against a local index: targets, manifest, reruns, kill and resume,
tampering, vetting, and real pip reading the wheelhouse (flat and as a static PEP 503 index)."""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from constrain.cli import main
from tests.support.builders import PackageSpec, metadata_text, write_tar
from tests.support.killpoint import KILLED, size_of, wait_until

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
X86, ARM = "manylinux_2_28_x86_64", "manylinux_2_28_aarch64"
PAD = {"pad_bytes": 300_000}  # big enough that a download can be stopped inside a file

SPECS = [
    PackageSpec("app", "1.0", requires_dist=["lib>=1", "native", "tool; python_version < '3.12'"],
                wheel_options=PAD, sdist_options={"license": "MIT"}),
    PackageSpec("lib", "1.0", wheel_options={**PAD, "license": "BSD-3-Clause"}),
    PackageSpec("native", "1.0", tags=[f"cp311-cp311-{X86}", f"cp311-cp311-{ARM}",
                                       f"cp312-cp312-{X86}", f"cp312-cp312-{ARM}"],
                wheel_options=PAD),
    PackageSpec("helper", "1.0"),
]


def sdist_with_build_requires(directory: Path, name: str, version: str, requires: list[str]
                              ) -> Path:
    """A minimal sdist (static PKG-INFO) whose pyproject.toml asks for ``requires``."""
    members = {
        "PKG-INFO": metadata_text(name, version, metadata_version="2.2"),
        "pyproject.toml": "[build-system]\nrequires = [{}]\n".format(", ".join(
            f'"{r}"' for r in requires)),
    }
    return write_tar(directory / f"{name}-{version}.tar.gz",
                     {f"{name}-{version}/{member}": text for member, text in members.items()})


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dist_files(dest: Path) -> set[str]:
    return {p.name for p in dest.iterdir() if p.name.endswith((".whl", ".tar.gz"))}


def run_cli(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "constrain", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def server(make_index):
    return make_index(SPECS, pep658=True)


def test_four_targets_one_wheelhouse_and_a_rerun_that_touches_nothing(server, tmp_path, capsys):
    dest = tmp_path / "wh"
    links = tmp_path / "links"  # tool: an sdist only, with no sha256 known before download
    links.mkdir()
    sdist_with_build_requires(links, "tool", "1.0", ["helper"])
    args = ["download", "app", "--index-url", server.index_url, "--dest", str(dest),
            "--find-links", str(links),
            "--python", "3.11", "--python", "3.12", "--platform", X86, "--platform", ARM]
    assert main(args) == 0
    out = capsys.readouterr().out

    # each file once: 4 native wheels, app, lib, tool's sdist (3.11 only) and what building
    # it needs
    assert dist_files(dest) == {
        "app-1.0-py3-none-any.whl", "lib-1.0-py3-none-any.whl", "tool-1.0.tar.gz",
        "helper-1.0-py3-none-any.whl",
        *(f"native-1.0-{py}-{py}-{plat}.whl" for py in ("cp311", "cp312") for plat in (X86, ARM)),
    }
    assert all(len(server.full_downloads(f"/files/{n}")) == 1
               for n in dist_files(dest) - {"tool-1.0.tar.gz"})
    assert not (dest / ".partial").exists()

    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["format"] == "constrain-wheelhouse/1"
    ids = [t["id"] for t in manifest["targets"]]
    assert ids == [f"3.11-{X86}", f"3.11-{ARM}", f"3.12-{X86}", f"3.12-{ARM}"]
    files = {f["filename"]: f for f in manifest["files"]}
    lib = files["lib-1.0-py3-none-any.whl"]
    assert lib["sha256"] == sha256(dest / lib["filename"]) == server.record(lib["filename"]).sha256
    assert lib["size"] == (dest / lib["filename"]).stat().st_size
    assert lib["license"] == "BSD-3-Clause" and lib["project"] == "lib"
    assert lib["upload_time"].startswith("2020-01-01T") and lib["url"].startswith(server.url)
    assert lib["targets"] == ids and lib["needs_build"] is False
    assert files["tool-1.0.tar.gz"]["needs_build"] is True
    assert files["tool-1.0.tar.gz"]["sha256"] == sha256(links / "tool-1.0.tar.gz")
    assert files["tool-1.0.tar.gz"]["targets"] == [f"3.11-{X86}", f"3.11-{ARM}"]
    assert files[f"native-1.0-cp312-cp312-{ARM}.whl"]["targets"] == [f"3.12-{ARM}"]
    helper = files["helper-1.0-py3-none-any.whl"]
    assert helper["for_build"] is True and helper["targets"] == [f"3.11-{X86}", f"3.11-{ARM}"]
    assert manifest["targets"][0]["build_files"] == ["helper-1.0-py3-none-any.whl"]
    assert manifest["targets"][2]["build_files"] == []

    for tid in ids:
        pins = [ln for ln in (dest / f"constraints-{tid}.txt").read_text().splitlines()
                if ln and not ln.startswith("#")]
        expected = ["app==1.0", "lib==1.0", "native==1.0"]
        assert pins == ([*expected, "tool==1.0"] if tid.startswith("3.11") else expected)
        assert "--hash=sha256:" in (dest / f"requirements-{tid}.txt").read_text()
    assert (dest / f"pylock.cp312-{ARM}.toml").is_file()
    assert "sdists to build" in out and "downloaded 8 files" in out

    # the rerun: nothing new, nothing downloaded, no output rewritten
    stamps = {p.name: p.stat().st_mtime_ns for p in dest.iterdir() if p.is_file()}
    server.reset_log()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "nothing new: all 8 files were already in" in out
    assert "no output file changed" in out
    assert server.requests_to("/files/") == []
    assert {p.name: p.stat().st_mtime_ns for p in dest.iterdir() if p.is_file()} == stamps


def test_killed_download_resumes_with_range_and_checks_every_hash(server, tmp_path):
    dest = tmp_path / "wh"
    args = ["download", "app", "lib", "--index-url", server.index_url, "--dest", str(dest),
            "--python", "3.12", "--platform", X86, "-j", "1"]
    # lib's wheel stops arriving after two of the 64 KiB pieces constrain writes at a time;
    # once they are on disk, kill -9
    cut, done_bytes = "lib-1.0-py3-none-any.whl", 2 * 65536
    assert server.record(cut).size > done_bytes
    server.stall(f"/files/{cut}", done_bytes)
    part = dest / ".partial" / f"{cut}.part"
    killed = subprocess.Popen([sys.executable, "-m", "constrain", *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: size_of(part) == done_bytes, killed, f"{done_bytes} bytes of {cut}")
    killed.kill()
    killed.communicate(timeout=60)
    assert killed.returncode == KILLED
    assert [p.name for p in (dest / ".partial").iterdir()] == [part.name]
    visible = dist_files(dest)
    assert cut not in visible
    for name in visible:  # what is visible is whole
        assert sha256(dest / name) == server.record(name).sha256

    server.reset_log()
    resumed = run_cli(args)
    assert resumed.returncode == 0, resumed.stderr
    assert dist_files(dest) == {"app-1.0-py3-none-any.whl", "lib-1.0-py3-none-any.whl",
                                f"native-1.0-cp312-cp312-{X86}.whl"}
    assert [r.range for r in server.requests_to(f"/files/{cut}")] == [f"bytes={done_bytes}-"]
    assert not (dest / ".partial").exists()
    manifest = json.loads((dest / "manifest.json").read_text())
    for f in manifest["files"]:
        assert sha256(dest / f["filename"]) == f["sha256"] == server.record(f["filename"]).sha256


def test_altered_wheelhouse_file_is_refused_on_rerun(server, tmp_path, capsys):
    dest = tmp_path / "wh"
    args = ["download", "lib", "--index-url", server.index_url, "--dest", str(dest)]
    assert main(args) == 0
    wheel = dest / "lib-1.0-py3-none-any.whl"
    data = bytearray(wheel.read_bytes())
    data[100] ^= 0xFF
    wheel.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "hash mismatch" in err and "lib-1.0-py3-none-any.whl" in err
    assert "altered" in err
    assert wheel.read_bytes() == bytes(data)  # refused, not silently replaced


def test_vetted_manifest_marks_old_files_and_only_vetted_refuses_new_ones(
    server, tmp_path, capsys
):
    first = tmp_path / "first"
    base = ["download", "--index-url", server.index_url, "--python", "3.12", "--platform", X86]
    assert main([*base, "lib", "--dest", str(first)]) == 0
    server.add([PackageSpec("lib", "2.0")])
    capsys.readouterr()

    second = tmp_path / "second"
    vetted = ["--vetted", str(first / "manifest.json")]
    assert main([*base, "lib", "native", "--dest", str(second), *vetted, "--only-vetted",
                 "--refresh"]) == 1
    err = capsys.readouterr().err
    assert "--only-vetted: 2 files not vetted before" in err
    assert "lib-2.0-py3-none-any.whl" in err and f"native-1.0-cp312-cp312-{X86}.whl" in err
    assert not second.exists() or dist_files(second) == set()

    assert main([*base, "lib==1.0", "native", "--dest", str(second), *vetted]) == 0
    out = capsys.readouterr().out
    review = out.split("new files to review (1):", 1)[1]
    assert f"native-1.0-cp312-cp312-{X86}.whl" in review and "lib-1.0" not in review
    files = {f["filename"]: f["vetted"] for f in
             json.loads((second / "manifest.json").read_text())["files"]}
    assert files == {"lib-1.0-py3-none-any.whl": True, f"native-1.0-cp312-cp312-{X86}.whl": False}

    # everything vetted now: --only-vetted passes
    assert main([*base, "lib==1.0", "--dest", str(tmp_path / "third"), "--only-vetted",
                 "--vetted", str(second / "manifest.json")]) == 0


def test_constraint_files_used_are_copied_into_the_wheelhouse(server, tmp_path):
    server.static["/c/constraints-3.12.txt"] = "lib==1.0\n"
    dest = tmp_path / "wh"
    assert main(["download", "lib", "-c", f"{server.url}/c/constraints-3.12.txt",
                 "--index-url", server.index_url, "--dest", str(dest)]) == 0
    assert (dest / "sources" / "constraints-3.12.txt").read_text() == "lib==1.0\n"
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["sources"] == [{
        "origin": f"{server.url}/c/constraints-3.12.txt",
        "path": "sources/constraints-3.12.txt",
        "sha256": hashlib.sha256(b"lib==1.0\n").hexdigest(),
        "kind": "fetched", "basis": None, "targets": ["3.11"],
    }]


@pytest.fixture
def host_specs_server(make_index):
    return make_index([
        PackageSpec("app", "1.0", requires_dist=["lib>=1"]),
        PackageSpec("lib", "1.0"),
        PackageSpec("lib", "2.0"),
    ], pep658=True)


def test_plain_pip_installs_from_the_wheelhouse_with_no_index(host_specs_server, tmp_path):
    dest = tmp_path / "wh"
    assert main(["download", "app", "lib<2", "--index-url", host_specs_server.index_url,
                 "--dest", str(dest), "--python", PY]) == 0
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    vpy = venv / "bin" / "python"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(vpy), "install", "--no-index",
         "--find-links", str(dest), "-c", str(dest / f"constraints-{PY}.txt"), "app"],
        capture_output=True, text=True, timeout=300,
    )
    assert pip.returncode == 0, pip.stderr
    check = subprocess.run([str(vpy), "-c", "import app, lib; print(lib.__version__)"],
                           capture_output=True, text=True)
    assert check.stdout.strip() == "1.0"


def test_simple_layout_served_by_a_static_server_is_an_index_for_pip(host_specs_server,
                                                                      tmp_path):
    dest = tmp_path / "wh"
    assert main(["download", "app", "lib<2", "--index-url", host_specs_server.index_url,
                 "--dest", str(dest), "--layout", "simple"]) == 0
    assert "lib-1.0-py3-none-any.whl#sha256=" in (dest / "simple" / "lib" / "index.html").read_text()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(dest))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/simple/"
        got = tmp_path / "got"
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--index-url", url, "--dest", str(got),
             "app"],
            capture_output=True, text=True, timeout=300,
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert pip.returncode == 0, pip.stderr
    # only what the wheelhouse holds: lib 2.0 exists on the origin index but not here
    assert dist_files(got) == {"app-1.0-py3-none-any.whl", "lib-1.0-py3-none-any.whl"}


def test_constrain_install_from_the_wheelhouse_offline_and_refusing_an_altered_file(
    host_specs_server, tmp_path, capsys
):
    dest = tmp_path / "wh"
    assert main(["download", "app", "lib<2", "--index-url", host_specs_server.index_url,
                 "--dest", str(dest)]) == 0
    host_specs_server.close()  # from here on, nothing may need the index
    # no -c: the wheelhouse's own constraints file for this interpreter is found by itself
    install = ["install", "app", "--wheelhouse", str(dest), "--offline", "--without-pip"]
    assert main([*install, "--venv", str(tmp_path / "ok"), "--cache-dir",
                 str(tmp_path / "c1")]) == 0
    check = subprocess.run([str(tmp_path / "ok" / "bin" / "python"), "-c",
                            "import app, lib; print(lib.__version__)"],
                           capture_output=True, text=True)
    assert check.stdout.strip() == "1.0"

    wheel = dest / "lib-1.0-py3-none-any.whl"
    data = bytearray(wheel.read_bytes())
    data[-200] ^= 0xFF
    wheel.write_bytes(bytes(data))
    capsys.readouterr()
    assert main([*install, "--venv", str(tmp_path / "bad"), "--cache-dir",
                 str(tmp_path / "c2")]) != 0
    err = capsys.readouterr().err
    assert "lib-1.0-py3-none-any.whl" in err and "mismatch" in err


def test_a_wheelhouse_file_its_manifest_does_not_list_is_never_used(
    host_specs_server, tmp_path, capsys
):
    # Before: a file lying in the wheelhouse beside the vetted ones (left by an earlier
    # download, or copied in by hand) was installed offline without any hash check, and an
    # sdist among them was read (built, unless its metadata is static) during the resolve.
    from tests.support.builders import make_wheel

    dest = tmp_path / "wh"
    assert main(["download", "app", "lib<2", "--index-url", host_specs_server.index_url,
                 "--dest", str(dest)]) == 0
    host_specs_server.close()
    stray = make_wheel(dest, "stray", "1.0")
    newer = make_wheel(dest, "lib", "1.5")  # a newer release of a vetted project
    bomb = dest / "bomb-1.0.tar.gz"  # an sdist: its metadata would come from its own code
    bomb.write_bytes(sdist_with_build_requires(tmp_path, "bomb", "1.0", []).read_bytes())
    capsys.readouterr()
    install = ["install", "--wheelhouse", str(dest), "--offline", "--without-pip",
               "--cache-dir", str(tmp_path / "c")]
    venv = tmp_path / "venv"
    for project in ("stray", "bomb"):
        assert main([*install, "app", project, "--venv", str(venv)]) != 0
        err = capsys.readouterr().err
        assert f"has no file of {project!r}" in err, err
        assert "manifest.json does not list (not vetted), which are not used" in err, err
        assert stray.name in err and bomb.name in err and newer.name in err
        assert not list(venv.glob(f"lib/python*/site-packages/{project}*"))
    # what the manifest lists still installs from the same directory, lib at its vetted 1.0
    assert main([*install, "app", "lib", "--venv", str(venv)]) == 0
    assert list(venv.glob("lib/python*/site-packages/app-1.0.dist-info"))
    assert list(venv.glob("lib/python*/site-packages/lib-1.0.dist-info"))
    assert not list(venv.glob("lib/python*/site-packages/stray*"))


def test_an_install_from_a_wheelhouse_keeps_the_downloads_cut_off(host_specs_server, tmp_path,
                                                                  capsys):
    # Before: "... reports no upload times", though the manifest records each file's: the
    # same --exclude-newer as the download's could not be given on the other side.
    from tests.support.builders import BASE_UPLOAD_TIME

    cut = (BASE_UPLOAD_TIME + timedelta(days=30)).date().isoformat()
    dest = tmp_path / "wh"
    assert main(["download", "app", "lib<2", "--index-url", host_specs_server.index_url,
                 "--dest", str(dest), "--exclude-newer", cut]) == 0
    host_specs_server.close()
    install = ["install", "app", "--wheelhouse", str(dest), "--offline", "--without-pip",
               "--cache-dir", str(tmp_path / "c")]
    assert main([*install, "--venv", str(tmp_path / "ok"), "--exclude-newer", cut]) == 0
    capsys.readouterr()
    before = (BASE_UPLOAD_TIME - timedelta(days=2)).date().isoformat()  # before any upload
    assert main([*install, "--venv", str(tmp_path / "no"), "--exclude-newer", before]) == 1
    err = capsys.readouterr().err
    assert "was uploaded after the --exclude-newer cut-off" in err, err
