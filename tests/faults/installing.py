"""Helpers of the install fault tests: run constrain, look at a venv the way a user would."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from constrain.cli import main

SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
ROOT = Path(__file__).parents[2]
RUN = "import sys\nfrom constrain.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def install(capsys, *args: str) -> tuple[int, str, str]:
    """``constrain install ARGS`` in this process: (exit code, stdout, stderr)."""
    code = main(["install", *args])
    out, err = capsys.readouterr()
    return code, out, err


def install_proc(*args: str, env: dict | None = None, timeout: float = 120,
                 **kwargs) -> subprocess.CompletedProcess:
    """``constrain install ARGS`` as its own process (for kills and concurrency)."""
    return subprocess.run([sys.executable, "-c", RUN, "install", *args], capture_output=True,
                          text=True, cwd=ROOT, env=dict(os.environ, **(env or {})),
                          timeout=timeout, **kwargs)


def installed(venv: Path) -> dict[str, str]:
    """name -> version of every ``.dist-info`` in the venv's site-packages."""
    out = {}
    for d in (venv / SITE).glob("*.dist-info"):
        name, version = d.name[: -len(".dist-info")].split("-")
        out[name] = version
    return out


def pip(venv: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run([str(venv / "bin/python"), "-m", "pip", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def pip_list(venv: Path) -> dict[str, str]:
    proc = pip(venv, "list", "--format=json")
    assert proc.returncode == 0, proc.stderr
    return {d["name"].lower(): d["version"] for d in json.loads(proc.stdout)}


def missing_record_files(venv: Path) -> list[str]:
    """Every path a RECORD in the venv lists that is not there (and dist-infos without
    RECORD)."""
    site = venv / SITE
    missing = []
    for d in site.glob("*.dist-info"):
        record = d / "RECORD"
        if not record.is_file():
            missing.append(f"{d.name}/RECORD")
            continue
        for row in csv.reader(record.read_text().splitlines()):
            if row and not (site / row[0]).exists():
                missing.append(f"{d.name}: {row[0]}")
    return missing


def pyrun(venv: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin/python"), "-c", code], capture_output=True,
                          text=True, timeout=60)


def rewrite_wheel(src: Path, dest_dir: Path, change) -> Path:
    """A copy of the wheel ``src`` in ``dest_dir`` whose entries went through
    ``change(name, data) -> [(name, data), ...]`` (RECORD untouched unless ``change`` does)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / src.name
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            for name, data in change(info.filename, zin.read(info)):
                zout.writestr(zipfile.ZipInfo(name, date_time=info.date_time), data)
    return out


def plain_venv(venv: Path) -> Path:
    """A venv made by ``python -m venv --without-pip`` (not by constrain)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv
