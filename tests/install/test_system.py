"""Installing into a system interpreter: only with --system, and into one its distribution
manages (PEP 668's EXTERNALLY-MANAGED) only with --break-system-packages too."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import pytest

from constrain.cli import main
from constrain.errors import ConstrainError
from constrain.install.venv import Interpreter, inspect, refuse_system


def _system(managed: bool) -> Interpreter:
    return Interpreter("/usr/bin/python3", (3, 11, 2), "cpython", False, "/usr", "/usr",
                       {"purelib": "/usr/local/lib/python3.11/dist-packages"}, {}, (),
                       externally_managed=managed)


def test_an_externally_managed_interpreter_needs_break_system_packages():
    # Before: --system alone installed into Debian's Python, which pip and uv refuse.
    with pytest.raises(ConstrainError) as caught:
        refuse_system(_system(True), True)
    assert "externally managed" in caught.value.message
    assert "--break-system-packages" in (caught.value.hint or "")
    refuse_system(_system(True), True, True)  # both flags: allowed
    refuse_system(_system(False), True)  # not managed: --system is enough
    with pytest.raises(ConstrainError):
        refuse_system(_system(False), False)


def test_the_probe_reads_the_marker_of_the_interpreter_asked():
    stdlib = Path(sysconfig.get_path("stdlib"))
    assert inspect(sys.executable).externally_managed == (stdlib / "EXTERNALLY-MANAGED").is_file()


MANAGED = Path("/usr/lib/python3.11/EXTERNALLY-MANAGED")


@pytest.mark.skipif(not (MANAGED.is_file() and Path("/usr/bin/python3.11").exists()),
                    reason="no externally managed system Python here")
def test_debians_python_is_refused_then_its_site_packages_named(make_index, capsys):
    from tests.support.builders import PackageSpec

    server = make_index([PackageSpec("alpha", "1.0")])
    argv = ["install", "alpha", "--python-executable", "/usr/bin/python3.11", "--system",
            "--dry-run", "--index-url", server.index_url]
    assert main(argv) == 1
    assert "externally managed" in capsys.readouterr().err
    # before: "would change /usr", where nothing is written (Debian's pip uses /usr/local)
    assert main([*argv, "--break-system-packages"]) == 0
    out, err = capsys.readouterr()
    assert "would change /usr/local/lib/python3.11/dist-packages:" in out + err, out + err


def test_a_system_interpreters_state_lives_where_its_installs_write(tmp_path):
    # Before: the lock and journals of a --system install into Debian's Python went to
    # /usr/.constrain, beside the distribution's own files, where nothing else is written.
    from types import SimpleNamespace

    from constrain.install.link import environment_file, refuse_environment_files

    debian = _system(False)
    site = "/usr/local/lib/python3.11/dist-packages"
    debian.paths.update(platlib=site, scripts="/usr/local/bin", data="/usr/local")
    assert debian.state_dir == Path(site, ".constrain")
    assert environment_file(debian, f"{site}/.constrain/install.lock") is not None
    assert environment_file(debian, f"{site}/.constrain") is not None
    assert environment_file(debian, "/usr/.constrain/install.lock") is None  # not ours now
    assert environment_file(debian, f"{site}/pkg/__init__.py") is None
    wheel = SimpleNamespace(dist_info="pkg-1.dist-info",
                            manifest={"root": "purelib", "wheel": "pkg-1-py3-none-any.whl"})
    refuse_environment_files(debian, wheel, [f"{site}/pkg/__init__.py"])  # type: ignore[arg-type]
    with pytest.raises(ConstrainError, match="constrain's state"):
        refuse_environment_files(debian, wheel,  # type: ignore[arg-type]
                                 [f"{site}/pkg/__init__.py", f"{site}/.constrain/txn/x.json"])
    venv = inspect(sys.executable)  # the test run's venv keeps <venv>/.constrain
    assert venv.is_venv and venv.state_dir == Path(venv.prefix, ".constrain")
