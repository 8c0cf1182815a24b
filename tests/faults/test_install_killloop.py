"""Kill -9 at random points of upgrades and downgrades: each rerun leaves a consistent venv.

Each round kills one or two installs (towards a random one of two versions) with SIGKILL at a
random file operation in the venv -- a file moved aside, linked, written, or put back by a
recovery -- chosen by count, not timing (``tests.support.killpoint``), then reruns the install towards a random version and checks what a user would: ``pip
check`` is clean, every file every RECORD lists is there, ``pip list`` shows exactly the
rerun's versions (nothing of the killed runs), the code imports at that version, no journal is
left.
"""

from __future__ import annotations

import random

from tests.faults.installing import install, missing_record_files, pip, pip_list, pyrun
from tests.support.builders import PackageSpec
from tests.support.killpoint import KILLED, run_killed_at

ROUNDS = 12


def _files(version: str) -> dict[str, str]:
    """Half the paths are shared between versions (same path, other content), half not."""
    files = {"pkga/__init__.py": f"V = '{version}'\ndef main():\n    print(V)\n"}
    for i in range(12):
        files[f"pkga/shared/m{i}.py"] = f"X = '{version}-{i}'\n"
        files[f"pkga/v{version[0]}/only{i}.py"] = f"Y = {i}\n"
    return files


def _specs():
    out = []
    for v in ("1.0", "2.0"):
        out.append(PackageSpec("pkga", v, requires_dist=[f"pkgb=={v}"], wheel_options={
            "files": _files(v), "entry_points": {"console_scripts": {"pkga-cli": "pkga:main"}}}))
        out.append(PackageSpec("pkgb", v, wheel_options={"files": {
            "pkgb/__init__.py": f"V = '{v}'\n", f"pkgb/b{v[0]}.py": ""}}))
    return out


def test_kill_loop_leaves_each_rerun_consistent(make_index, tmp_path, capsys):
    server = make_index(_specs())
    venv = tmp_path / "V"
    args = ("--index-url", server.index_url, "--venv", str(venv))
    assert install(capsys, "pkga==1.0", *args)[0] == 0
    rng = random.Random(16)
    kills, have = 0, "1.0"
    for round_ in range(ROUNDS):
        for n in range(rng.choice((1, 2))):
            # the first towards the other version; a second may then be killed in recovery
            target = ("2.0" if have == "1.0" else "1.0") if n == 0 else rng.choice(("1.0", "2.0"))
            # ~30 files of pkga and pkgb moved aside, ~35 linked, then recoveries
            at = rng.randint(1, 70)
            proc = run_killed_at(at, venv, "install", f"pkga=={target}", *args)
            assert proc.returncode in (0, KILLED), proc.stderr
            kills += proc.returncode == KILLED
        have = want = rng.choice(("1.0", "2.0"))
        code, _, err = install(capsys, f"pkga=={want}", *args)
        assert code == 0, f"round {round_}: {err}"
        check = pip(venv, "check")
        assert check.returncode == 0, f"round {round_}: {check.stdout}"
        assert missing_record_files(venv) == [], f"round {round_}"
        listed = pip_list(venv)
        assert {k: v for k, v in listed.items() if k != "pip"} == {"pkga": want, "pkgb": want}
        assert pyrun(venv, "import pkga, pkga.shared.m3 as m, pkgb; "
                     "print(pkga.V, m.X, pkgb.V)").stdout.split() == [want, f"{want}-3", want]
        assert not list((venv / ".constrain" / "txn").glob("*.json"))
    assert kills >= ROUNDS  # the loop did kill, at least once a round on average
