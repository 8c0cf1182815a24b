"""An upgrade removes only the old version's own files, whatever its RECORD lists."""

from __future__ import annotations

from tests.faults.installing import SITE, install, installed, pip, pyrun
from tests.support.builders import PackageSpec

BETA1 = PackageSpec("beta", "1.0", wheel_options={"files": {"beta/__init__.py": "V = 1\n",
                                                            "beta/one.py": ""}})
BETA2 = PackageSpec("beta", "2.0", wheel_options={"files": {"beta/__init__.py": "V = 2\n"}})
GAMMA = PackageSpec("gamma", "1.0")


def test_upgrade_keeps_venv_files_an_old_record_lists(make_index, tmp_path, capsys):
    server = make_index([BETA1, BETA2, GAMMA])
    venv = tmp_path / "V"
    assert install(capsys, "beta==1.0", "gamma", "--index-url", server.index_url,
                   "--venv", str(venv))[0] == 0
    # an old RECORD (another installer's, or a hostile one) claims the venv's own files and
    # another distribution's metadata
    record = venv / SITE / "beta-1.0.dist-info" / "RECORD"
    claimed = ["../../../bin/python", "../../../bin/python3", "../../../bin/activate",
               "../../../pyvenv.cfg", "gamma-1.0.dist-info/METADATA", "gamma/__init__.py",
               "../../../.constrain/install.lock", "../../../../outside.txt"]
    (tmp_path / "outside.txt").write_text("not the venv's\n")
    record.write_text(record.read_text() + "".join(f"{p},,\n" for p in claimed))

    code, _, err = install(capsys, "beta==2.0", "--index-url", server.index_url,
                           "--venv", str(venv))
    assert code == 0, err
    assert installed(venv)["beta"] == "2.0"
    assert not (venv / SITE / "beta" / "one.py").exists()  # its own old file is gone
    for path in ("bin/python", "bin/python3", "bin/activate", "pyvenv.cfg"):
        assert (venv / path).exists(), path
    assert (tmp_path / "outside.txt").exists()
    assert (venv / SITE / "gamma-1.0.dist-info" / "METADATA").exists()
    assert (venv / SITE / "gamma" / "__init__.py").exists()  # gamma's RECORD lists it too
    assert pip(venv, "check").returncode == 0
    assert pyrun(venv, "import beta; print(beta.V)").stdout.strip() == "2"
    assert pip(venv, "--version").returncode == 0
