"""A wheel that ships bytecode (``__pycache__/*.pyc``, as Flask-AppBuilder 2.x's wheels do) is
unpacked without it, and without a word: installer would skip those files with a
``RuntimeWarning`` each, and a warning cannot be silenced for one of the unpacking threads --
their ``catch_warnings`` undid each other's, and the warnings reached the user's stderr with
constrain's own source lines."""

from __future__ import annotations

import hashlib
import warnings

from constrain.cache.store import Cache
from constrain.cli import main
from constrain.install.unpack import unpack
from tests.support.builders import make_wheel

FILES = {"shipped/__init__.py": "X = 1\n",
         "shipped/__pycache__/__init__.cpython-36.pyc": b"\x33\x0d\x0d\x0a" + b"\0" * 12,
         "shipped/sub/__pycache__/mod.cpython-37.pyc": b"\x42\x0d\x0d\x0a" + b"\0" * 12,
         "shipped/sub/mod.py": "Y = 2\n"}


def test_bytecode_a_wheel_ships_is_left_out_without_any_warning(tmp_path, monkeypatch):
    wheel = make_wheel(tmp_path / "wheels", "shipped", "1.0", files=FILES)
    said: list[str] = []
    # whatever filter is in force in whichever thread: nothing may be warned at all
    monkeypatch.setattr(warnings, "warn", lambda message, *a, **k: said.append(str(message)))
    unpacked = unpack(wheel, hashlib.sha256(wheel.read_bytes()).hexdigest(),
                      Cache(tmp_path / "cache"))
    assert said == []
    files = {p.relative_to(unpacked.root).as_posix() for p in unpacked.root.rglob("*")
             if p.is_file()}
    assert any(f.endswith("shipped/sub/mod.py") for f in files)
    assert not any("__pycache__" in f for f in files)


def test_an_install_of_wheels_shipping_bytecode_prints_no_python_warning(tmp_path, capsys):
    for i in range(4):
        make_wheel(tmp_path / "fl", f"shipped{i}", "1.0",
                   files={k.replace("shipped", f"shipped{i}"): v for k, v in FILES.items()})
    code = main(["install", *(f"shipped{i}" for i in range(4)), "--no-index", "--find-links",
                 str(tmp_path / "fl"), "--venv", str(tmp_path / "venv"), "--without-pip",
                 "--airflow-constraints", "off", "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Warning" not in err and "__pycache__" not in err
    site = next((tmp_path / "venv").glob("lib/python*/site-packages"))
    assert (site / "shipped0" / "sub" / "mod.py").is_file()
    assert not (site / "shipped0" / "sub" / "__pycache__").exists()
