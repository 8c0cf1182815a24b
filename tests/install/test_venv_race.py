"""Two installs into one missing --venv at once: the one that joins waits for the venv being
made instead of removing it, and the one that made it, failing, never removes it from under
an install that holds its lock."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from constrain.install.venv import INCOMPLETE, choose, remove_unfinished, venv_python


def _being_made(venv: Path, pid: int) -> None:
    (venv / INCOMPLETE).parent.mkdir(parents=True)
    (venv / INCOMPLETE).write_text(json.dumps({"seed": False, "pid": pid}))


def test_a_venv_another_install_is_making_is_waited_for_not_removed(tmp_path):
    # Before: the second install saw a marker and no interpreter yet, took it for a creation
    # killed halfway, and removed the venv the first was making.
    venv = tmp_path / "v"
    maker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _being_made(venv, maker.pid)
        (venv / "lib" / "marker-of-the-other-install").parent.mkdir()
        (venv / "lib" / "marker-of-the-other-install").write_text("")

        def finish() -> None:  # the other install's `python -m venv` ends
            time.sleep(0.3)
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
                           check=True)

        t = threading.Thread(target=finish)
        t.start()
        chosen = choose(venv=str(venv), python_executable=None, system=False, environ={},
                        cwd=tmp_path, seed=False)
        t.join()
    finally:
        maker.kill()
        maker.wait()
    assert chosen.python == venv_python(venv) and not chosen.created
    assert (venv / "lib" / "marker-of-the-other-install").exists()  # nothing was removed


def test_a_creation_whose_maker_is_gone_is_made_again(tmp_path):
    venv = tmp_path / "v"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _being_made(venv, gone.pid)
    chosen = choose(venv=str(venv), python_executable=None, system=False, environ={},
                    cwd=tmp_path, seed=False)
    assert chosen.created and chosen.python.exists()


def test_the_maker_failing_leaves_a_venv_another_install_is_linking_into(tmp_path):
    # Before: the failing first install removed the venv while the other one linked into it,
    # which then reported success on an environment that no longer existed.
    venv = tmp_path / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    _being_made(venv, 1)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; fh = open(sys.argv[1], 'a+b'); "
         "fcntl.flock(fh, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)",
         str(venv / ".constrain" / "install.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        remove_unfinished(venv)
        assert venv_python(venv).exists()
    finally:
        holder.kill()
        holder.wait()
    remove_unfinished(venv)  # no one in it any more: an unfinished venv of ours goes
    assert not venv.exists()


def test_a_venv_whose_interpreter_is_gone_is_named_as_such(tmp_path):
    # Before: "exists but is not a virtual environment (no bin/python)" for a venv whose base
    # interpreter had moved.
    import pytest

    from constrain.errors import ConstrainError

    venv = tmp_path / "v"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /gone/bin\n")
    (venv / "bin" / "python").symlink_to("/gone/bin/python3.11")
    with pytest.raises(ConstrainError) as caught:
        choose(venv=str(venv), python_executable=None, system=False, environ={}, cwd=tmp_path)
    assert "has lost its interpreter (bin/python points to /gone/bin/python3.11" in str(
        caught.value.message), caught.value.message
    assert "remove" in (caught.value.hint or "")
