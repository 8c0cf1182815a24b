"""Distributions of one install that share a path are replaced one after another.

Two new distributions writing one file (an old-style namespace package's ``__init__.py``)
used to be linked at the same time: each journalled the file as new, and rolling one back
(a full disk, Ctrl-C) deleted the file the other had installed.
"""

from __future__ import annotations

import errno
import subprocess
import sys
import threading

from constrain.install import journal
from tests.install.test_install import SITE, install, installed
from tests.support.builders import PackageSpec

NS = "ns/__init__.py"
PKG_A = PackageSpec("ns-a", "1.0", wheel_options={"files": {
    NS: "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n",
    "ns/a.py": "A = 1\n"}})
PKG_B = PackageSpec("ns-b", "1.0", wheel_options={"files": {
    NS: "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n",
    "ns/b.py": "B = 1\n"}})
APP = PackageSpec("app", "1.0", requires_dist=["ns-a", "ns-b"],
                  wheel_options={"files": {"app.py": ""}})


def test_a_rolled_back_distribution_leaves_a_file_another_one_installed(
        make_index, tmp_path, capsys, monkeypatch):
    server = make_index([APP, PKG_A, PKG_B])
    # the two link threads meet before either links (as they could when run at the same time),
    # then ns-b fails after linking its files: its roll-back must not take ns/__init__.py
    # from ns-a. Replaced one after another, the first to link waits out the barrier.
    meet = threading.Barrier(2, timeout=1)
    real_link = journal.link

    def link(interp, unpacked, name, **kwargs):
        if name in ("ns-a", "ns-b"):
            try:
                meet.wait()
            except threading.BrokenBarrierError:
                pass
        made = real_link(interp, unpacked, name, **kwargs)
        if name == "ns-b":
            raise OSError(errno.ENOSPC, "No space left on device")
        return made

    monkeypatch.setattr(journal, "link", link)
    monkeypatch.setenv("CONSTRAIN_INSTALL_WORKERS", "2")
    venv = tmp_path / "V"  # an environment of its own: one made by a failed install is removed
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    code, _, err = install(capsys, "app", "--index-url", server.index_url, "--venv", str(venv))
    assert code == 1, err
    assert "no space left on the device while installing ns-b" in err
    assert installed(venv) == {"app": "1.0", "ns_a": "1.0"}  # ns-b rolled back, ns-a whole
    assert (venv / SITE / NS).is_file()
    assert (venv / SITE / "ns/a.py").is_file() and not (venv / SITE / "ns/b.py").exists()


def test_replacements_sharing_a_path_are_grouped_in_order():
    class T:
        def __init__(self, recorded=(), new_files=()):
            self.recorded, self.new_files = list(recorded), list(new_files)

    touched = [T(new_files=["/e/x", "/e/a"]), T(new_files=["/e/b"]),
               T(recorded=["/e/a"], new_files=["/e/c"]), T(new_files=["/e/d", "/e/b"]),
               T(new_files=["/e/c"]), T()]
    assert journal.sharing_groups(touched) == [[0, 2, 4], [1, 3], [5]]
