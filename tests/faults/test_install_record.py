"""A wheel whose RECORD does not match its archive is refused, naming the wheel and the entry."""

from __future__ import annotations

import pytest

from tests.faults.installing import install, rewrite_wheel
from tests.support.builders import make_wheel

FILES = {"gamma/__init__.py": "V = 1\n", "gamma/extra.py": "E = 1\n"}


def _without_line(path: str):
    def change(name, data):
        if name.endswith("/RECORD"):
            data = b"".join(line for line in data.splitlines(keepends=True)
                            if not line.startswith(path.encode() + b","))
        return [(name, data)]
    return change


def _extra_line(line: str):
    def change(name, data):
        return [(name, data + line.encode() if name.endswith("/RECORD") else data)]
    return change


def _altered(path: str):
    def change(name, data):
        return [(name, data + b"import os  # slipped in\n" if name == path else data)]
    return change


@pytest.mark.parametrize("case, change, expected", [
    ("omits a file", _without_line("gamma/extra.py"), "gamma/extra.py is not mentioned in RECORD"),
    ("lists a .. path", _extra_line("../../../evil.py,sha256=AAAA,4\n"),
     "RECORD lists an unsafe path '../../../evil.py'"),
    ("lists a missing file", _extra_line("gamma/ghost.py,sha256=AAAA,4\n"),
     "RECORD lists 'gamma/ghost.py', which the wheel does not contain"),
    ("wrong hash", _altered("gamma/extra.py"), "gamma/extra.py: RECORD says sha256="),
])
def test_record_not_matching_the_archive_is_refused(tmp_path, capsys, case, change, expected):
    built = make_wheel(tmp_path / "build", "gamma", "1.0", files=FILES)
    wheels = tmp_path / "wheels"
    rewrite_wheel(built, wheels, change)
    venv = tmp_path / "V"
    code, _, err = install(capsys, "gamma", "--no-index", "--find-links", str(wheels),
                           "--venv", str(venv))
    assert code == 1, err
    assert "gamma-1.0-py3-none-any.whl does not match its own RECORD" in err
    assert expected in err
    assert "Traceback" not in err and "internal error" not in err
    assert not venv.exists()  # the venv this install made is removed with it
    assert not list(tmp_path.rglob("evil.py"))
