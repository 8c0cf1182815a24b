"""A venv constrain creates is complete (with pip unless --without-pip) or removed."""

from __future__ import annotations

import pytest

from tests.faults.installing import SITE, install, installed, pip, pip_list
from tests.support.builders import PackageSpec
from tests.support.killpoint import KILLED, run_killed_at

BETA = PackageSpec("beta", "1.0", wheel_options={"files": {"beta/__init__.py": "V = 1\n"}})
GAMMA = PackageSpec("gamma", "1.0", requires_dist=["beta"])


@pytest.fixture
def server(make_index):
    return make_index([BETA, GAMMA])


def test_failed_first_install_removes_the_new_venv(server, tmp_path, capsys):
    record = server.record("beta-1.0-py3-none-any.whl")
    record.path.write_bytes(record.path.read_bytes() + b"tampered")  # hash no longer matches
    venv = tmp_path / "V"
    code, _, err = install(capsys, "gamma", "--index-url", server.index_url, "--venv", str(venv))
    assert code == 1
    assert "hash mismatch for beta-1.0-py3-none-any.whl" in err
    assert not venv.exists()  # not an empty, pip-less venv left behind


def test_killed_first_install_gets_pip_on_the_next_install(server, tmp_path, capsys):
    venv = tmp_path / "V"
    # killed at the fourth file placed in site-packages: while pip is being put into the venv
    proc = run_killed_at(4, venv / SITE, "install", "gamma", "--index-url", server.index_url,
                         "--venv", str(venv), env={"CONSTRAIN_INSTALL_WORKERS": "1"})
    assert proc.returncode == KILLED, proc.stderr
    assert (venv / ".constrain" / "incomplete").is_file()  # ours, not finished
    assert "pip" not in installed(venv)

    code, _, err = install(capsys, "gamma", "--index-url", server.index_url, "--venv", str(venv))
    assert code == 0, err
    assert "pip: an interrupted install was rolled back" in err
    assert pip(venv, "--version").returncode == 0
    assert pip(venv, "check").returncode == 0
    assert {"pip", "beta", "gamma"} <= set(pip_list(venv))
    assert not (venv / ".constrain" / "incomplete").exists()


def test_without_pip_makes_a_complete_venv_without_pip(server, tmp_path, capsys):
    venv = tmp_path / "V"
    code, _, err = install(capsys, "gamma", "--index-url", server.index_url, "--venv",
                           str(venv), "--without-pip")
    assert code == 0, err
    assert set(installed(venv)) == {"beta", "gamma"}
    assert not (venv / ".constrain" / "incomplete").exists()
    # a later install does not add pip behind the user's back
    assert install(capsys, "beta", "--index-url", server.index_url, "--venv", str(venv))[0] == 0
    assert "pip" not in installed(venv)


def test_a_first_install_ended_at_once_still_removes_its_venv(server, tmp_path, capsys,
                                                               monkeypatch):
    # A second Ctrl-C, or the grace time after the first, ends the command at once
    # (remove_scratch, then os._exit): the main thread never gets to remove the new venv.
    # Before: the venv stayed with its marker; a removal under way when the process ended
    # left bin/ and lib/ without pyvenv.cfg, which the next install took for a system Python.
    from constrain import processes

    venv = tmp_path / "V"
    seen = []

    def ended_at_once(*args, **kwargs):
        assert (venv / ".constrain" / "incomplete").is_file()
        processes.remove_scratch()  # what the command does as it ends at once
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        raise SystemExit(130)  # (os._exit in the real command)

    monkeypatch.setattr("constrain.app.install._install", ended_at_once)
    monkeypatch.setattr(processes, "_ENDING", [False])  # this test's process goes on
    with pytest.raises(SystemExit):
        install(capsys, "gamma", "--index-url", server.index_url, "--venv", str(venv))
    assert seen == [[]]  # removed whole, no half venv or renamed remains left

    (venv / "bin").mkdir(parents=True)  # what such a cut-short removal used to leave
    (venv / "bin" / "python").symlink_to("/usr/bin/python3")
    code, _, err = install(capsys, "gamma", "--index-url", server.index_url, "--venv", str(venv))
    assert code == 1 and "is not a virtual environment" in err and "--system" not in err, err


def test_a_removal_cut_short_by_the_command_ending_is_finished(tmp_path, monkeypatch):
    # A second signal while the new venv is being removed runs the ending command's undo in
    # the same thread, in the middle of that removal. Before: the undo found the lock taken
    # (by the removal it interrupted) and the venv renamed aside, and left that half.
    import shutil

    from constrain.install import venv as venvs

    path = tmp_path / "V"
    venvs.create_venv(path, None, seed=False)
    real = shutil.rmtree

    def interrupted(*args, **kwargs):
        monkeypatch.setattr(shutil, "rmtree", real)
        venvs.remove_unfinished(path)  # what processes.remove_scratch runs as it ends
        raise SystemExit(130)  # (os._exit in the real command)

    monkeypatch.setattr(shutil, "rmtree", interrupted)
    with pytest.raises(SystemExit):
        venvs.remove_unfinished(path)
    assert list(tmp_path.iterdir()) == []
