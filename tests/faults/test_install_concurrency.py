"""Installs at once: eight venvs sharing one cold cache; two installs into one venv."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys

from tests.faults.installing import (ROOT, RUN, install_proc, installed, missing_record_files,
                                     pip, plain_venv, pyrun)
from tests.support.builders import PackageSpec

SPECS = [
    PackageSpec("alpha", "1.0", requires_dist=["beta", "gamma"], wheel_options={
        "files": {f"alpha/m{i}.py": f"I = {i}\n" for i in range(30)} | {
            "alpha/__init__.py": "V = 1\n"},
        "entry_points": {"console_scripts": {"alpha-cli": "alpha:V"}}}),
    PackageSpec("beta", "1.0", wheel_options={"pad_bytes": 200_000}),
    PackageSpec("gamma", "1.0"),
]


def test_eight_installs_share_one_cold_cache(make_index, tmp_path):
    server = make_index(SPECS)
    cache = tmp_path / "cache"
    procs = [subprocess.Popen(
        [sys.executable, "-c", RUN, "install", "alpha", "--index-url", server.index_url,
         "--cache-dir", str(cache), "--venv", str(tmp_path / f"V{i}")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(8)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for code, err in results:
        assert code == 0, err
        assert "Traceback" not in err
    for i in range(8):
        venv = tmp_path / f"V{i}"
        assert {"alpha", "beta", "gamma", "pip"} <= set(installed(venv))
        assert missing_record_files(venv) == []
        assert pyrun(venv, "import alpha.m29, beta, gamma; print(alpha.V)").stdout.strip() == "1"
    assert pip(tmp_path / "V7", "check").returncode == 0
    # one unpacked tree per wheel (pip's too), whoever made it
    wheels = sorted(json.loads(m.read_text())["wheel"].split("-")[0]
                    for m in cache.glob("unpacked-v*/*/*/manifest.json"))
    assert wheels == ["alpha", "beta", "gamma", "pip"]


def test_second_install_into_one_venv_waits_then_proceeds(make_index, tmp_path):
    server = make_index(SPECS)
    venv = plain_venv(tmp_path / "V")
    (venv / ".constrain").mkdir()
    with open(venv / ".constrain" / "install.lock", "a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # another install is running
        second = subprocess.Popen(
            [sys.executable, "-c", RUN, "install", "alpha", "--index-url", server.index_url,
             "--venv", str(venv)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = []
        for line in second.stderr:  # it says it waits, and does not go on while we hold it
            seen.append(line)
            if "waiting for another install into" in line:
                break
        assert any(str(venv) in line for line in seen), seen
        assert second.poll() is None
        assert installed(venv) == {}
    err = second.stderr.read()
    assert second.wait(timeout=120) == 0, err
    assert set(installed(venv)) == {"alpha", "beta", "gamma"}


def test_two_installs_into_one_venv_at_once_both_succeed(make_index, tmp_path):
    server = make_index(SPECS)
    venv = plain_venv(tmp_path / "V")
    args = ("--index-url", server.index_url, "--venv", str(venv))
    first = subprocess.Popen([sys.executable, "-c", RUN, "install", "alpha", *args], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = install_proc("gamma", "beta", *args)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    assert second.returncode == 0, second.stderr
    assert set(installed(venv)) == {"alpha", "beta", "gamma"}
    assert missing_record_files(venv) == []
