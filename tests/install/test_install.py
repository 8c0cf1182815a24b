"""constrain install end to end: real venvs, the local index server, and the safety promises."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

import pytest

from constrain.cli import main
from tests.support.builders import PackageSpec, make_wheel
from tests.support.killpoint import KILLED, run_killed_at

SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"

ALPHA = PackageSpec(
    "alpha", "1.0", requires_dist=["beta>=1"],
    wheel_options={"entry_points": {"console_scripts": {"alpha-cli": "alpha:main"}},
                   "files": {"alpha/__init__.py": "def main():\n    print('alpha says hi')\n"}},
)
BETA1 = PackageSpec("beta", "1.0", wheel_options={"files": {
    "beta/__init__.py": "V = 1\n", "beta/one.py": "", "beta/sub/a.py": "", "beta/sub/b.py": ""}})
BETA2 = PackageSpec("beta", "2.0", wheel_options={"files": {
    "beta/__init__.py": "V = 2\n", "beta/two.py": "", "beta/sub/a.py": "", "beta/sub/c.py": ""}})


def install(capsys, *args: str, verbose: bool = False) -> tuple[int, str, str]:
    code = main([*(["-v"] if verbose else []), "install", *args])
    out, err = capsys.readouterr()
    return code, out, err


def installed(venv: Path) -> dict[str, str]:
    site = venv / SITE
    out = {}
    for d in site.glob("*.dist-info"):
        name, version = d.name[: -len(".dist-info")].split("-")
        out[name] = version
    return out


def pyrun(venv: Path, code: str) -> str:
    return subprocess.run([str(venv / "bin/python"), "-c", code], check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture
def server(make_index):
    return make_index([ALPHA, BETA1, BETA2])


def test_install_creates_venv_links_scripts_and_rerun_changes_nothing(server, tmp_path, capsys):
    venv = tmp_path / "V"
    (tmp_path / "c.txt").write_text("beta<2\n")
    code, _out, err = install(capsys, "alpha", "-c", str(tmp_path / "c.txt"),
                              "--index-url", server.index_url, "--venv", str(venv))
    assert code == 0, err
    assert installed(venv) == {"alpha": "1.0", "beta": "1.0", "pip": installed(venv)["pip"]}
    assert "2 install" in err
    # the entry point runs with the venv's interpreter; RECORD and INSTALLER are written
    assert subprocess.run([str(venv / "bin/alpha-cli")], capture_output=True,
                          text=True).stdout.strip() == "alpha says hi"
    dist_info = venv / SITE / "alpha-1.0.dist-info"
    assert (dist_info / "INSTALLER").read_text() == "constrain\n"
    assert (dist_info / "REQUESTED").exists()
    assert "../../../bin/alpha-cli,sha256=" in (dist_info / "RECORD").read_text()
    assert not (venv / SITE / "beta-1.0.dist-info" / "REQUESTED").exists()
    check = subprocess.run([str(venv / "bin/python"), "-m", "pip", "check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    # warm files are hard links into the unpacked cache
    assert (venv / SITE / "beta" / "one.py").stat().st_nlink >= 2

    before = {p: p.stat().st_mtime_ns for p in (venv / SITE).rglob("*") if p.is_file()}
    code, _out, err = install(capsys, "alpha", "-c", str(tmp_path / "c.txt"),
                             "--index-url", server.index_url, "--venv", str(venv))
    assert code == 0
    assert "2 unchanged" in err and "install" not in err.split(":")[-1]
    after = {p: p.stat().st_mtime_ns for p in (venv / SITE).rglob("*") if p.is_file()}
    assert after == before
    code, out, err = install(capsys, "alpha", "-c", str(tmp_path / "c.txt"),
                             "--index-url", server.index_url, "--venv", str(venv), "--dry-run")
    assert code == 0 and out == ""
    assert f"nothing would change in {venv}: 2 unchanged (dry run)" in err
    assert "would change" not in err.replace("nothing would change", "")


def test_upgrade_removes_old_files_and_exact_removes_strays(server, tmp_path, capsys):
    venv = tmp_path / "V"
    assert install(capsys, "alpha", "beta<2", "--index-url", server.index_url,
                   "--venv", str(venv))[0] == 0
    code, out, err = install(capsys, "beta", "--index-url", server.index_url,
                             "--venv", str(venv), "--dry-run")
    assert code == 0 and "beta 1.0 -> 2.0 (upgrade)" in out
    assert installed(venv)["beta"] == "1.0"  # dry run changed nothing
    code, _, err = install(capsys, "beta", "--exact", "--index-url", server.index_url,
                           "--venv", str(venv))
    assert code == 0, err
    got = installed(venv)
    assert got["beta"] == "2.0" and "alpha" not in got and "pip" in got
    pkg = venv / SITE / "beta"
    assert sorted(p.relative_to(pkg).as_posix() for p in pkg.rglob("*.py")) == [
        "__init__.py", "sub/a.py", "sub/c.py", "two.py"]
    assert not (venv / SITE / "alpha").exists()
    assert not (venv / "bin/alpha-cli").exists()


def test_dry_run_does_not_create_the_venv(server, tmp_path, capsys):
    venv = tmp_path / "never"
    code, out, _err = install(capsys, "alpha", "--index-url", server.index_url,
                             "--venv", str(venv), "--dry-run")
    assert code == 0
    assert "+ alpha==1.0" in out and "+ beta==2.0" in out
    assert not venv.exists()


def test_tampered_wheel_is_refused_before_the_env_changes(server, tmp_path, capsys):
    venv = tmp_path / "V"
    assert install(capsys, "beta==1.0", "--index-url", server.index_url,
                   "--venv", str(venv))[0] == 0
    record = server.record("beta-2.0-py3-none-any.whl")
    data = bytearray(record.path.read_bytes())
    data[-30] ^= 0xFF  # one flipped byte: the index's sha256 no longer matches
    record.path.write_bytes(bytes(data))
    code, _, err = install(capsys, "beta==2.0", "--index-url", server.index_url,
                           "--venv", str(venv))
    assert code == 1
    assert "hash mismatch for beta-2.0-py3-none-any.whl" in err
    assert "Traceback" not in err
    assert installed(venv)["beta"] == "1.0"
    assert pyrun(venv, "import beta; print(beta.V)") == "1"


@pytest.mark.parametrize("kind", ["archive path", "entry point"])
def test_wheel_writing_outside_the_env_is_refused(make_index, tmp_path, capsys, kind):
    wheels = tmp_path / "wheels"
    if kind == "archive path":
        make_wheel(wheels, "evil", "1.0", extra_entries={"../../../../escaped.py": "x = 1\n"})
    else:
        make_wheel(wheels, "evil", "1.0",
                   entry_points={"console_scripts": {"../../../escaped": "evil:main"}})
    venv = tmp_path / "deep" / "V"
    code, _, err = install(capsys, "evil", "--no-index", "--find-links", str(wheels),
                           "--venv", str(venv))
    assert code == 1
    assert "unsafe" in err or "escape" in err
    assert "Traceback" not in err
    assert not list(tmp_path.rglob("escaped*"))
    assert "evil" not in installed(venv)


@pytest.mark.parametrize("second", ["twice-1.0.data/purelib/twice/__init__.py",
                                    "twice/./__init__.py"])
def test_wheel_naming_one_path_twice_is_refused(tmp_path, capsys, second):
    # Two archive names for one installed file (the root and the .data purelib directory of a
    # purelib wheel, or a name with a ./ segment): which content would the environment get?
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "twice", "1.0", files={"twice/__init__.py": "V = 1\n"},
               extra_entries={second: "V = 2\n"})
    venv = tmp_path / "V"
    code, _, err = install(capsys, "twice", "--no-index", "--find-links", str(wheels),
                           "--venv", str(venv))
    assert code == 1, err
    assert "twice-1.0-py3-none-any.whl writes purelib/twice/__init__.py twice" in err
    assert "Traceback" not in err
    assert "twice" not in installed(venv)


def test_a_purelib_wheel_with_data_purelib_files_installs(tmp_path, capsys):
    # Before: "does not match its own RECORD / hp_extra.py has no hash in RECORD" -- a valid
    # wheel (PEP 427 lets a purelib wheel carry .data/purelib/) blamed for being altered.
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "hp", "1.0", extra_entries={"hp-1.0.data/purelib/hp_extra.py": "X = 1\n"})
    venv = tmp_path / "V"
    code, _, err = install(capsys, "hp", "--no-index", "--find-links", str(wheels),
                           "--venv", str(venv))
    assert code == 0, err
    assert (venv / SITE / "hp_extra.py").read_text() == "X = 1\n"


def test_pip_gets_its_versioned_launcher_as_pip_itself_makes_it(tmp_path, capsys):
    # Before: an upgrade of pip removed bin/pip3.11 (the old RECORD's) and made only the
    # wheel's pip and pip3, so `pip3.11` was gone from the venv.
    wheels = tmp_path / "wheels"
    scripts = {"console_scripts": {"pip": "pip._internal.cli.main:main",
                                   "pip3": "pip._internal.cli.main:main"}}
    for version in ("90.0", "91.0"):
        make_wheel(wheels, "pip", version, entry_points=scripts,
                   files={"pip/__init__.py": f"__version__ = '{version}'\n"})
    venv = tmp_path / "V"
    versioned = f"pip{sys.version_info[0]}.{sys.version_info[1]}"
    for version in ("90.0", "91.0"):
        code, _, err = install(capsys, f"pip=={version}", "--no-index", "--find-links",
                               str(wheels), "--venv", str(venv), "--without-pip")
        assert code == 0, err
        assert sorted(p.name for p in (venv / "bin").glob("pip*")) == sorted(
            ["pip", "pip3", versioned]), version
        assert "pip._internal.cli.main" in (venv / "bin" / versioned).read_text()


def test_a_distribution_installed_as_egg_info_is_not_replaced_blindly(tmp_path, capsys):
    # Before: hegg 1.0 was installed beside the 0.1 egg-info (two versions at once, the old
    # files left, pip then "uninstalling" 1.0 back to 0.1), as if nothing were there.
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "hegg", "1.0")
    venv = tmp_path / "V"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / SITE
    egg = site / "hegg-0.1-py3.11.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: hegg\nVersion: 0.1\n")
    (site / "hegg").mkdir()
    (site / "hegg" / "oldmod.py").write_text("")
    for dry in ((), ("--dry-run",)):
        code, _, err = install(capsys, "hegg==1.0", "--no-index", "--find-links", str(wheels),
                               "--venv", str(venv), *dry)
        assert code == 1, err
        assert "hegg-0.1-py3.11.egg-info" in err and "installed as .egg-info" in err, err
        assert "-m pip uninstall hegg" in err
        assert not list(site.glob("hegg-1.0.dist-info"))


def _upgrade_killed_at(operation: int, server, tmp_path, capsys) -> Path:
    """A venv with beta 1.0 whose upgrade to 2.0 was killed (SIGKILL) at the ``operation``-th
    file operation in site-packages, one distribution at a time; its journal left behind."""
    venv = tmp_path / "V"
    assert install(capsys, "beta==1.0", "--index-url", server.index_url,
                   "--venv", str(venv))[0] == 0
    proc = run_killed_at(operation, venv / SITE, "install", "beta==2.0", "--index-url",
                         server.index_url, "--venv", str(venv),
                         env={"CONSTRAIN_INSTALL_WORKERS": "1"})
    assert proc.returncode == KILLED, proc.stderr
    return venv


def test_killed_install_is_repaired_by_the_rerun(server, tmp_path, capsys):
    # SIGKILL at the fourth file operation in site-packages: 3 of beta 1.0's files moved aside
    venv = _upgrade_killed_at(4, server, tmp_path, capsys)
    assert list((venv / ".constrain" / "txn").glob("beta.json"))  # the journal survived
    # a dry run changes nothing, but says the real run recovers first (its plan was made
    # against the half-done state without a word)
    code, _, err = install(capsys, "beta==2.0", "--index-url", server.index_url,
                           "--venv", str(venv), "--dry-run")
    assert code == 0 and "an interrupted install left beta half-done" in err, err
    assert list((venv / ".constrain" / "txn").glob("beta.json"))

    code, _, err = install(capsys, "beta==2.0", "--index-url", server.index_url,
                           "--venv", str(venv))
    assert code == 0, err
    assert "beta: an interrupted install was rolled back" in err
    assert installed(venv)["beta"] == "2.0"
    pkg = venv / SITE / "beta"
    assert sorted(p.relative_to(pkg).as_posix() for p in pkg.rglob("*.py")) == [
        "__init__.py", "sub/a.py", "sub/c.py", "two.py"]
    assert pyrun(venv, "import beta; print(beta.V)") == "2"
    assert not list((venv / ".constrain" / "txn").iterdir())


def test_killed_install_rolls_back_to_wholly_old(server, tmp_path, capsys):
    from constrain.install.journal import recover
    from constrain.install.venv import inspect

    # SIGKILL at the third file operation in site-packages: 2 of beta 1.0's files moved aside
    venv = _upgrade_killed_at(3, server, tmp_path, capsys)
    assert recover(inspect(venv / "bin/python")) == ["beta"]
    assert installed(venv)["beta"] == "1.0"
    pkg = venv / SITE / "beta"
    assert sorted(p.relative_to(pkg).as_posix() for p in pkg.rglob("*.py")) == [
        "__init__.py", "one.py", "sub/a.py", "sub/b.py"]
    assert pyrun(venv, "import beta; print(beta.V)") == "1"


def test_a_distribution_another_installer_changed_since_is_not_rolled_back(server, tmp_path,
                                                                           capsys):
    # Before: the journal of an interrupted upgrade was replayed over what pip installed in
    # between: the old files came back beside pip's version, two .dist-info directories.
    from constrain.install.journal import recover
    from constrain.install.venv import inspect

    venv = _upgrade_killed_at(3, server, tmp_path, capsys)
    # another installer puts beta 3.0 there meanwhile
    theirs = venv / SITE / "beta-3.0.dist-info"
    theirs.mkdir()
    (theirs / "METADATA").write_text("Metadata-Version: 2.1\nName: beta\nVersion: 3.0\n")
    said: list[str] = []
    assert recover(inspect(venv / "bin/python"), warn=said.append) == []
    assert said and "beta: another installer changed it" in said[0], said
    assert theirs.is_dir() and not list((venv / ".constrain" / "txn").iterdir())
    assert not (venv / SITE / "beta" / "one.py").exists()  # 1.0's file not put back


def test_killed_first_install_rolls_back_to_absent(server, tmp_path, capsys):
    """A distribution with nothing old is journalled too (in one write, not fsynced): killed
    halfway, it is removed whole, and the rerun installs it."""
    from constrain.install.journal import recover
    from constrain.install.venv import inspect

    venv = tmp_path / "V"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # SIGKILL at the fourth file operation in site-packages: 3 of beta 2.0's files linked
    proc = run_killed_at(4, venv / SITE, "install", "beta==2.0", "--index-url",
                         server.index_url, "--venv", str(venv),
                         env={"CONSTRAIN_INSTALL_WORKERS": "1"})
    assert proc.returncode == KILLED, proc.stderr
    assert (venv / SITE / "beta").is_dir()  # some of beta 2.0 was linked
    assert recover(inspect(venv / "bin/python")) == ["beta"]
    assert "beta" not in installed(venv)
    assert not (venv / SITE / "beta").exists()
    assert not list((venv / SITE).glob("beta-*"))
    assert install(capsys, "beta==2.0", "--index-url", server.index_url,
                   "--venv", str(venv))[0] == 0
    assert pyrun(venv, "import beta; print(beta.V)") == "2"


def test_killed_install_of_new_distributions_rolls_back_only_the_one_under_way(server, tmp_path,
                                                                              capsys):
    """Distributions with nothing old share their thread's journal slot, rewritten for each
    and emptied once it is whole: killed while linking the second, the rerun rolls back that
    one alone, and the first stays installed."""
    from constrain.install.journal import recover
    from constrain.install.venv import inspect

    venv = tmp_path / "V"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # SIGKILL at the tenth file operation in site-packages: alpha whole (7), beta begun
    proc = run_killed_at(10, venv / SITE, "install", "alpha", "--index-url", server.index_url,
                         "--venv", str(venv), env={"CONSTRAIN_INSTALL_WORKERS": "1"})
    assert proc.returncode == KILLED, proc.stderr
    txn = venv / ".constrain" / "txn"
    assert sorted(p.name for p in txn.iterdir()) == ["new.0.json"]  # no file per distribution
    assert json.loads((txn / "new.0.json").read_text())["name"] == "beta"
    assert (venv / SITE / "beta").is_dir()  # some of beta was linked
    assert recover(inspect(venv / "bin/python")) == ["beta"]
    assert installed(venv) == {"alpha": "1.0"}
    assert not (venv / SITE / "beta").exists()
    assert not list(txn.iterdir())
    assert install(capsys, "alpha", "--index-url", server.index_url, "--venv", str(venv))[0] == 0
    assert installed(venv) == {"alpha": "1.0", "beta": "2.0"}
    assert pyrun(venv, "import alpha, beta; print(beta.V)") == "2"


@pytest.mark.parametrize("journal", ["beta.json", "new.0.json"])
def test_journal_cut_short_while_written_is_dropped(server, tmp_path, capsys, journal):
    """A distribution with nothing old has its journal written in place, not renamed: a kill
    during that write leaves it torn, before any of its files was linked. The next install
    drops it and installs the distribution; nothing of the torn journal remains."""
    venv = tmp_path / "V"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    txn = venv / ".constrain" / "txn"
    txn.mkdir(parents=True)
    whole = json.dumps({"state": "started", "name": "beta", "old": [],
                        "new": [str(venv / SITE / "beta" / "__init__.py")],
                        "backup": str(txn / "beta.old")})
    (txn / journal).write_text(whole[: len(whole) // 2])  # what the kill left
    code, _, err = install(capsys, "beta==2.0", "--index-url", server.index_url,
                           "--python-executable", str(venv / "bin/python"))
    assert code == 0, err
    assert installed(venv) == {"beta": "2.0"}
    assert pyrun(venv, "import beta; print(beta.V)") == "2"
    assert not list(txn.iterdir())


@pytest.mark.parametrize("odd", ['q"uote.py', "back\\slash.py", "caf\u00e9.py", "new\nline.py",
                                 "del\x7f.py", "tab\t.py"])
def test_journal_names_odd_paths_exactly(tmp_path, odd):
    """A journal's path lists are written joined at once when every path is plain; a path
    JSON must escape (a quote, a backslash, a non-ASCII or control character) is still
    written so that the journal reads back as the very paths (what a rollback removes)."""
    from types import SimpleNamespace

    from constrain.install.journal import Slots, _write_json

    site = tmp_path / "V" / "site"
    new = [str(site / "pkg" / "__init__.py"), str(site / "pkg" / odd)]
    entry = {"state": "started", "name": "pkg", "old": [], "new": new,
             "backup": str(tmp_path / "V" / "pkg.old")}
    slots = Slots(SimpleNamespace(state_dir=tmp_path / "V" / ".constrain"))  # type: ignore[arg-type]
    try:
        path, _ = slots.write(entry)
        assert json.loads(path.read_text(encoding="utf-8")) == entry
        assert path.read_text(encoding="utf-8") == json.dumps(entry)
    finally:
        slots.close()
    durable = tmp_path / "V" / "pkg.json"
    _write_json(durable, dict(entry, old=new[::-1]))
    assert json.loads(durable.read_text(encoding="utf-8")) == dict(entry, old=new[::-1])


@pytest.mark.parametrize("enabled", [True, False])
def test_install_leaves_the_collector_as_it_found_it(server, tmp_path, capsys, enabled):
    """Linking runs without automatic collection; afterwards the collector is on again only if
    it was (a host that turned it off keeps it off), and nothing is left frozen by it."""
    import gc

    (gc.enable if enabled else gc.disable)()
    frozen = gc.get_freeze_count()  # a freeze an earlier test left holds what joins it
    try:
        code, _, err = install(capsys, "alpha", "--index-url", server.index_url,
                               "--venv", str(tmp_path / "V"))
        assert code == 0, err
        assert gc.isenabled() is enabled
        if not frozen:
            assert gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_offline_wheelhouse_install_makes_no_request(find_links_dir, make_index, tmp_path,
                                                     capsys, monkeypatch):
    house = find_links_dir([ALPHA, BETA1])
    (house / "constraints.txt").write_text("beta==1.0\n")
    watcher = make_index([ALPHA, BETA1, BETA2])
    monkeypatch.setenv("PIP_INDEX_URL", watcher.index_url)  # would be used if anything leaked
    venv = tmp_path / "V"
    code, _, err = install(capsys, "alpha", "--wheelhouse", str(house), "--offline",
                           "--venv", str(venv))
    assert code == 0, err
    assert installed(venv)["alpha"] == "1.0" and installed(venv)["beta"] == "1.0"
    assert watcher.requests == []

    code, _, err = install(capsys, "gamma", "--wheelhouse", str(house), "--offline",
                           "--venv", str(venv))
    assert code != 0 and "gamma" in err and "Traceback" not in err
    assert watcher.requests == []


def test_sdist_is_built_once_per_target(make_index, tmp_path, capsys):
    server = make_index([PackageSpec("delta", "1.0", kinds=("sdist",))])
    for name in ("A", "B"):
        code, _, err = install(capsys, "delta", "--index-url", server.index_url,
                               "--venv", str(tmp_path / name), verbose=True)
        assert code == 0, err
        assert installed(tmp_path / name)["delta"] == "1.0"
        assert ("building a wheel from delta-1.0.tar.gz" in err) == (name == "A")


def test_an_exactly_pinned_sdist_is_built_once_and_its_metadata_read_from_the_wheel(
        make_index, tmp_path, capsys, monkeypatch):
    # The install needs the wheel anyway: no separate metadata build during the resolve.
    server = make_index([PackageSpec("delta", "1.0", kinds=("sdist",), requires_dist=["beta"],
                                     sdist_options={"dynamic": ["Requires-Dist"]}), BETA1])
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("INLINE_BACKEND_LOG", str(log))
    code, _, err = install(capsys, "delta==1.0", "--index-url", server.index_url,
                           "--venv", str(tmp_path / "V"), "--cache-dir", str(tmp_path / "c"))
    assert code == 0, err
    assert installed(tmp_path / "V")["delta"] == "1.0"
    assert installed(tmp_path / "V")["beta"] == "1.0"  # the built wheel's Requires-Dist
    assert log.read_text().split() == ["build_wheel"]


def test_an_open_requirement_on_an_sdist_builds_metadata_first(make_index, tmp_path, capsys,
                                                               monkeypatch):
    server = make_index([PackageSpec("delta", "1.0", kinds=("sdist",),
                                     sdist_options={"dynamic": ["Requires-Dist"]})])
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("INLINE_BACKEND_LOG", str(log))
    code, _, err = install(capsys, "delta", "--index-url", server.index_url,
                           "--venv", str(tmp_path / "V"), "--cache-dir", str(tmp_path / "c"))
    assert code == 0, err
    assert sorted(log.read_text().split()) == ["build_wheel", "prepare_metadata_for_build_wheel"]


def test_second_install_into_a_locked_env_fails_clearly(server, tmp_path, capsys, monkeypatch):
    venv = tmp_path / "V"
    assert install(capsys, "beta==1.0", "--index-url", server.index_url,
                   "--venv", str(venv))[0] == 0
    monkeypatch.setenv("CONSTRAIN_INSTALL_LOCK_TIMEOUT", "0")
    with open(venv / ".constrain" / "install.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        code, _, err = install(capsys, "beta==2.0", "--index-url", server.index_url,
                               "--venv", str(venv))
    assert code == 1
    assert f"another constrain install into {venv} is running" in err
    assert installed(venv)["beta"] == "1.0"


def test_system_interpreter_is_refused_without_system(server, capsys):
    base = getattr(sys, "_base_executable", None) or sys.executable
    code, _, err = install(capsys, "beta", "--index-url", server.index_url,
                           "--python-executable", base)
    assert code == 1
    assert "is a system interpreter" in err and "--system" in err


def test_wheel_not_matching_its_record_is_refused(tmp_path, capsys):
    import zipfile

    built = make_wheel(tmp_path / "build", "gamma", "1.0")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(built) as src, zipfile.ZipFile(wheels / built.name, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "gamma/__init__.py":
                data += b"import os  # slipped in after the build\n"
            out.writestr(info, data)
    venv = tmp_path / "V"
    code, _, err = install(capsys, "gamma", "--no-index", "--find-links", str(wheels),
                           "--venv", str(venv))
    assert code == 1
    assert "gamma-1.0-py3-none-any.whl does not match its own RECORD" in err
    assert "gamma" not in installed(venv)


def test_exact_pins_are_downloaded_once_whole_without_range_reads(server, tmp_path, capsys):
    # An install will download every wheel it pins: for exact pins, the metadata is read from
    # that one whole download instead of ranges of the file first.
    (tmp_path / "c.txt").write_text("beta==1.0\n")
    code, _out, err = install(capsys, "alpha==1.0", "-c", str(tmp_path / "c.txt"),
                             "--index-url", server.index_url, "--venv", str(tmp_path / "V"),
                             "--cache-dir", str(tmp_path / "cache"))
    assert code == 0, err
    assert installed(tmp_path / "V")["beta"] == "1.0"
    assert server.range_requests() == []
    whole = sorted(r.path.rsplit("/", 1)[-1] for r in server.full_downloads())
    assert whole == ["alpha-1.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl"]


def test_open_requirements_still_read_metadata_with_ranges(server, tmp_path, capsys):
    code, _out, err = install(capsys, "alpha", "--index-url", server.index_url,
                             "--venv", str(tmp_path / "V"), "--cache-dir", str(tmp_path / "cache"))
    assert code == 0, err
    assert server.range_requests()  # no exact pin: the version is not certain beforehand


def test_install_leaves_no_worker_process_behind(server, tmp_path, capsys):
    # wheels are unpacked in a worker process while the resolve runs; it ends with the command
    import multiprocessing

    code, _out, err = install(capsys, "alpha", "--index-url", server.index_url,
                             "--venv", str(tmp_path / "V"), "--cache-dir", str(tmp_path / "c"))
    assert code == 0, err
    assert installed(tmp_path / "V")["beta"] == "2.0"
    assert list((tmp_path / "c").glob("unpacked-v*/*/*"))  # the trees the worker made
    assert multiprocessing.active_children() == []


def test_a_failed_install_through_the_library_stops_its_workers_and_leaves_no_scratch(
        make_index, tmp_path):
    # No CLI around it (which kills every child and removes scratch directories at its end):
    # install_command itself must stop the workers it started for the exact pins' wheels and
    # remove their scratch directory in the cache when the resolve fails.
    from constrain.app.install import InstallRequest, install_command
    from constrain.app.requests import ResolveRequest
    from constrain.errors import ConstrainError
    from constrain.processes import descendants

    server = make_index([ALPHA, BETA1, PackageSpec("gamma", "1.0", requires_dist=["beta>=2"])])
    venv = tmp_path / "V"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    cache = tmp_path / "cache"
    before = set(descendants())
    request = InstallRequest(
        resolve=ResolveRequest(requirements=("alpha==1.0", "gamma==1.0", "beta==1.0"),
                               index_url=server.index_url, cache_dir=str(cache),
                               command="install"),
        python_executable=str(venv / "bin" / "python"))
    with pytest.raises(ConstrainError, match="beta"):
        install_command(request)
    assert server.full_downloads()  # the exact pins' wheels were being fetched whole
    assert sorted(p.name for p in cache.iterdir() if p.name.startswith(".tmp")) == []
    assert set(descendants()) - before == set()
    assert "alpha" not in installed(venv)


def test_the_check_after_an_install_names_what_a_stray_distribution_lacks(make_index, tmp_path,
                                                                          capsys):
    gamma = PackageSpec("gamma", "1.0", requires_dist=["beta>=2"])
    server = make_index([ALPHA, BETA1, BETA2, gamma])
    venv = tmp_path / "V"
    code, _, err = install(capsys, "gamma", "--index-url", server.index_url, "--venv", str(venv))
    assert code == 0, err
    (tmp_path / "c.txt").write_text("beta<2\n")
    code, _, err = install(capsys, "alpha", "-c", str(tmp_path / "c.txt"),
                           "--index-url", server.index_url, "--venv", str(venv))
    # the install happened (alpha and beta 1.0 are there); gamma, which it does not cover, is
    # named with what it lacks; alpha, linked by this install, needs beta>=1 and has it
    assert code != 0
    assert installed(venv)["beta"] == "1.0" and installed(venv)["alpha"] == "1.0"
    assert "inconsistent after the install" in err
    assert "gamma 1.0 has requirement beta>=2, but you have beta 1.0." in err
    assert "alpha" not in err.split("inconsistent after the install")[1].split("hint:")[0]


@pytest.mark.parametrize(("fresh", "removes"), [(False, False), (True, False), (False, True)],
                         ids=["existing-venv", "venv-it-creates", "existing-venv-removing-one"])
def test_ctrl_c_while_linking_starts_no_more_and_says_how_many_were_installed(
        make_index, tmp_path, capsys, monkeypatch, fresh, removes):
    """Ctrl-C after the first of two distributions is linked: the second is not started, the
    line counts what is really in the environment, and no journal is left. A venv this
    install was creating is removed whole, and the line says so instead."""
    import signal
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import constrain.app.install_link as app_install
    import constrain.install.journal as journal

    server = make_index([ALPHA, BETA1, BETA2, PackageSpec("gamma", "1.0")])
    venv = tmp_path / "V"
    if not fresh:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    if removes:  # --exact removes gamma first: the interrupt comes while it is removed
        code, _out, err = install(capsys, "gamma", "--index-url", server.index_url,
                                  "--venv", str(venv), "--without-pip")
        assert code == 0, err
    cancelled = threading.Event()

    class Pool(ThreadPoolExecutor):
        def shutdown(self, wait=True, *, cancel_futures=False):
            if cancel_futures:
                cancelled.set()
            super().shutdown(wait, cancel_futures=cancel_futures)

    real, calls = journal.replace, []

    def replace(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 1:  # Ctrl-C while the first is being linked
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
            assert cancelled.wait(60), "the interrupt did not reach the install"
        real(*args, **kwargs)

    monkeypatch.setattr(app_install, "ThreadPoolExecutor", Pool)
    monkeypatch.setattr(journal, "replace", replace)
    monkeypatch.setenv("CONSTRAIN_INSTALL_WORKERS", "1")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code, _out, err = install(capsys, "alpha", "--index-url", server.index_url,
                                  "--venv", str(venv), "--without-pip",
                                  *(["--exact"] if removes else []))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert code == 130
    assert len(calls) == 1  # the second distribution was never started
    if fresh:
        assert not venv.exists(), (err, sorted(str(p) for p in venv.iterdir()))
        assert f"interrupted: nothing was installed and there is no environment at {venv}" \
            in err, err
        return
    assert not list((venv / ".constrain" / "txn").glob("*.json"))
    if removes:  # the removal under way finished, whole; neither install was started
        assert installed(venv) == {}
        assert ("interrupted: 0 of 2 distributions were installed, 2 were not; the one "
                "distribution to be removed was; one cut short midway is rolled back by the "
                "next install, which makes the rest of the changes") in err, err
        return
    assert len(installed(venv)) == 1  # the one under way finished, whole
    assert "interrupted: 1 of 2 distributions were installed, 1 were not;" in err, err
    assert "of 2 distributions were installed, the others" not in err


def test_a_wheel_built_for_one_target_serves_every_target_it_fits(tmp_path):
    # builds run on constrain's own interpreter: a wheel built for `--python 3.11` is the one a
    # 3.11.7 environment would get (it was keyed by the target's patch, and built again)
    import hashlib

    from constrain.cache.store import Cache
    from constrain.install.build import build_for, cached_build
    from constrain.target import TargetEnvironment
    from tests.support.builders import make_sdist

    sdist = make_sdist(tmp_path, "delta", "1.0")
    sha256 = hashlib.sha256(sdist.read_bytes()).hexdigest()
    cache = Cache(tmp_path / "cache")
    major, minor, micro = sys.version_info[:3]
    here = TargetEnvironment.current()
    built = build_for(sdist, sha256, TargetEnvironment.from_options(f"{major}.{minor}"), cache)
    for other in (here, TargetEnvironment.from_options(f"{major}.{minor}.{micro + 1}")):
        assert cached_build(sha256, other, cache) == built
        assert build_for(sdist, sha256, other, cache) == built
    assert len(list(built.parent.glob("*.whl"))) == 1


def test_scripts_are_the_same_when_made_again_from_the_cache(tmp_path, capsys):
    """An entry point's launcher and a ``.data/scripts`` file with a ``#!python`` line are
    made by installer once per tree and interpreter path, then taken from the cache: a new
    environment at the same path gets the same bytes, RECORD their hashes; a script without
    ``#!python`` is copied as it is; a cache entry that no longer fits is made again, and
    ``--verify`` makes them again whatever the cache holds."""
    import base64
    import hashlib

    wheels = tmp_path / "wheels"
    make_wheel(wheels, "tool", "1.0", files={"tool/__init__.py": "def main():\n    print('hi')\n"},
               entry_points={"console_scripts": {"tool-cli": "tool:main"}},
               extra_entries={"tool-1.0.data/scripts/fixme": "#!python\nprint('fixed')\n",
                              "tool-1.0.data/scripts/asis": "#!/bin/sh\necho as-is\n"})
    cache = tmp_path / "cache"
    venv = tmp_path / "V"

    def run(*extra: str) -> dict[str, bytes]:
        if venv.exists():
            subprocess.run(["rm", "-rf", str(venv)], check=True)
        code, _out, err = install(capsys, "tool", "--no-index", "--find-links", str(wheels),
                                  "--venv", str(venv), "--without-pip", "--cache-dir",
                                  str(cache), *extra)
        assert code == 0, err
        return {n: (venv / "bin" / n).read_bytes() for n in ("tool-cli", "fixme", "asis")}

    first = run()
    python = str(venv / "bin" / "python").encode()
    assert first["fixme"] == b"#!" + python + b"\nprint('fixed')\n"
    assert first["asis"] == b"#!/bin/sh\necho as-is\n"
    assert first["tool-cli"].startswith(b"#!" + python + b"\n")
    entries = list((cache / "misc-v1").rglob("launchers-*"))
    assert len(entries) == 1
    assert run("--offline") == first
    record = (venv / SITE / "tool-1.0.dist-info" / "RECORD").read_text()
    for name, data in first.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert f"../../../bin/{name},sha256={digest},{len(data)}" in record
    assert subprocess.run([str(venv / "bin" / "fixme")], capture_output=True,
                          text=True).stdout == "fixed\n"

    entries[0].write_text('{"entry_points": [["other", "x"]], "scripts": {}}')
    assert run("--offline") == first
    entries[0].write_text("not json")
    assert run("--offline") == first
    # --verify trusts nothing the cache derived: a launcher altered in the cache is made again
    altered = {"entry_points": [["tool-cli", "#!/bin/sh\necho altered\n"]],
               "scripts": {"fixme": None, "asis": None}}
    entries[0].write_text(json.dumps(altered))
    assert run("--offline", "--verify") == first
    assert json.loads(entries[0].read_text()) != altered  # and kept anew
    assert run("--offline") == first


def test_launchers_kept_by_another_installer_version_are_made_again(tmp_path, capsys,
                                                                     monkeypatch):
    """The kept launchers are what one version of installer wrote: after an upgrade to one
    that writes them otherwise, a new environment at the same path gets the new version's
    launchers, not the old ones from the cache."""
    import installer
    from installer.scripts import Script

    wheels = tmp_path / "wheels"
    make_wheel(wheels, "tool", "1.0", files={"tool/__init__.py": "def main():\n    print('hi')\n"},
               entry_points={"console_scripts": {"tool-cli": "tool:main"}})
    cache, venv = tmp_path / "cache", tmp_path / "V"

    def run() -> bytes:
        if venv.exists():
            subprocess.run(["rm", "-rf", str(venv)], check=True)
        code, _out, err = install(capsys, "tool", "--no-index", "--find-links", str(wheels),
                                  "--venv", str(venv), "--without-pip", "--cache-dir",
                                  str(cache), "--offline")
        assert code == 0, err
        return (venv / "bin" / "tool-cli").read_bytes()

    first = run()
    assert b"# written otherwise" not in first
    real = Script.generate

    def generate(self, executable, kind):  # what a later installer might write
        name, data = real(self, executable, kind)
        return name, data + b"# written otherwise\n"

    monkeypatch.setattr(installer, "__version__", "99.0")
    monkeypatch.setattr(Script, "generate", generate)
    assert run() == first + b"# written otherwise\n"
    monkeypatch.undo()
    assert run() == first  # the first version's, kept under its own version

def test_record_lists_odd_file_names_as_csv_does_so_pip_can_remove_them(tmp_path, capsys):
    """RECORD's lines are written without csv's writer where csv would not quote (its cost
    was a line per file); a name holding a quote or a space still reads back, and pip
    removes it."""
    import csv

    from constrain.install.link import _record_line, _record_text

    names = ("a/b.py", 'q"uote.py', "com,ma.py", "sp ace.py", "new\nline.py", "", "tab\t.py",
             "cr\r.py", "ünï.py")
    for path in names:
        expected = __import__("io").StringIO()
        csv.writer(expected, lineterminator="\n").writerow((path, "sha256=x", "12"))
        assert _record_line(path, "sha256=x", 12) == expected.getvalue()
        # RECORD as a whole: its plain rows joined at once, else row by row
        rows = [("a/b.py", "sha256=y", 3), (path, "sha256=x", 12), ("x.dist-info/RECORD", "", "")]
        whole = __import__("io").StringIO()
        csv.writer(whole, lineterminator="\n").writerows(rows)
        assert _record_text(rows) == whole.getvalue()
    wheels = tmp_path / "wheels"
    odd = ['odd/q"uote.py', "odd/sp ace.py"]  # (the test builder's RECORD quotes nothing)
    make_wheel(wheels, "odd", "1.0", files={"odd/__init__.py": "", **{p: "X = 1\n" for p in odd}})
    venv = tmp_path / "V"
    code, _out, err = install(capsys, "odd", "--no-index", "--find-links", str(wheels),
                              "--venv", str(venv))
    assert code == 0, err
    rows = list(csv.reader((venv / SITE / "odd-1.0.dist-info" / "RECORD").open()))
    assert {r[0] for r in rows} >= set(odd)
    gone = subprocess.run([str(venv / "bin/python"), "-m", "pip", "uninstall", "-y", "odd"],
                          capture_output=True, text=True)
    assert gone.returncode == 0, gone.stderr
    assert not (venv / SITE / "odd").exists()
