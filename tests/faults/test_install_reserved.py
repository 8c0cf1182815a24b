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
