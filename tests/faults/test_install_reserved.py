"""A wheel cannot overwrite the venv's own files: launchers, activation scripts, pyvenv.cfg."""

from __future__ import annotations

import sys

import pytest

from tests.faults.installing import install, installed, plain_venv, pyrun
from tests.support.builders import make_wheel

MINOR = f"python{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.mark.parametrize("kind, name", [
    ("entry point", "python"),
    ("entry point", "python3"),
    ("entry point", MINOR),
    ("entry point", "activate"),
    ("data script", "python"),
    ("data script", "activate.fish"),
    ("data file", "pyvenv.cfg"),
    ("data file", "bin/python3"),
])
def test_wheel_naming_a_venv_file_is_refused(tmp_path, capsys, kind, name):
    wheels = tmp_path / "wheels"
    payload = "#!/bin/sh\necho hijacked\n"
    if kind == "entry point":
        make_wheel(wheels, "evil", "1.0", entry_points={"console_scripts": {name: "evil:main"}})
    elif kind == "data script":
        make_wheel(wheels, "evil", "1.0", extra_entries={f"evil-1.0.data/scripts/{name}": payload})
    else:
        make_wheel(wheels, "evil", "1.0", extra_entries={f"evil-1.0.data/data/{name}": payload})
    venv = tmp_path / "V"
    plain_venv(venv)
    before = {p: p.read_bytes() for p in [venv / "pyvenv.cfg", *sorted((venv / "bin").iterdir())]
              if p.is_file()}
    code, _, err = install(capsys, "evil", "--no-index", "--find-links", str(wheels),
                           "--venv", str(venv))
    assert code == 1, err
    assert "evil-1.0-py3-none-any.whl" in err and name.rsplit("/", 1)[-1] in err
    assert "Traceback" not in err and "internal error" not in err
    assert "evil" not in installed(venv)
    after = {p: p.read_bytes() for p in before}
    assert after == before
    assert pyrun(venv, "print('still python')").stdout.strip() == "still python"


def test_a_dist_info_a_package_vendors_is_its_own_data(tmp_path, capsys):
    # Before: setuptools >= 72 (setuptools/_vendor/*.dist-info/) and bleach 6 were refused as
    # "would overwrite a file of another distribution's metadata", so neither they nor
    # anything needing them could be installed; and removing one left those files behind,
    # an empty namespace package that still imported.
    wheels = tmp_path / "wheels"
    vendored = {"tool/__init__.py": "V = 1\n",
                "tool/_vendor/dep-1.0.dist-info/METADATA": "Name: dep\nVersion: 1.0\n",
                "tool/_vendor/dep-1.0.dist-info/LICENSE": "MIT\n"}
    make_wheel(wheels, "tool", "1.0", files=vendored)
    make_wheel(wheels, "tool", "2.0", files={"tool/__init__.py": "V = 2\n"})
    make_wheel(wheels, "other", "1.0")
    venv = tmp_path / "V"
    plain_venv(venv)
    args = ("--no-index", "--find-links", str(wheels), "--venv", str(venv))
    code, _, err = install(capsys, "tool==1.0", *args)
    assert code == 0, err
    site = next(venv.glob("lib/python*/site-packages"))
    assert (site / "tool/_vendor/dep-1.0.dist-info/LICENSE").is_file()
    assert installed(venv)["tool"] == "1.0" and "dep" not in installed(venv)
    code, _, err = install(capsys, "tool==2.0", *args)  # the old version's files all go
    assert code == 0, err
    assert not (site / "tool/_vendor").exists()
    code, _, err = install(capsys, "other", "--exact", *args)
    assert code == 0, err
    assert not (site / "tool").exists()
    assert pyrun(venv, "import tool").returncode != 0
