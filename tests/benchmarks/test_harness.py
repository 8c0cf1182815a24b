"""The benchmark harness: measuring, isolation, cache discipline, comparison and tables.

Hermetic: the "tools" here are small Python scripts standing in for constrain, uv and pip.
"""

from __future__ import annotations

import os
import sys
import textwrap
import urllib.parse
from typing import ClassVar
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from harness import measure, report, runner, tools, trash, workloads
from harness.workloads import COLD, WARM, WARM_OFFLINE, Command, Context, Workload

PY = sys.executable


def run(code: str, tmp_path: Path, timeout: float = 60, **kwargs) -> measure.RunResult:
    return measure.run_measured(
        [PY, "-c", textwrap.dedent(code)], env=dict(os.environ), cwd=tmp_path, timeout=timeout,
        stderr_path=tmp_path / "stderr.txt", **kwargs)


# --- measuring one command ------------------------------------------------------------------


def test_failed_command_reports_exit_code_and_stderr(tmp_path):
    result = run("import sys; sys.exit('index unreachable')", tmp_path)
    assert result.status == measure.FAILED
    assert result.returncode == 1
    assert "index unreachable" in result.stderr_tail


def test_command_that_cannot_start_is_a_failure_not_a_crash(tmp_path):
    result = measure.run_measured([str(tmp_path / "no-such-tool")], env=dict(os.environ),
                                  cwd=tmp_path, timeout=5)
    assert result.status == measure.FAILED
    assert result.returncode is None


def test_timeout_ends_the_whole_process_tree(tmp_path):
    marker = tmp_path / "grandchild-survived"
    code = f"""
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c",
            "import time, pathlib; time.sleep(3); pathlib.Path({str(marker)!r}).write_text('x')"])
        import time; time.sleep(60)
    """
    result = run(code, tmp_path, timeout=0.5)
    assert result.status == measure.TIMEOUT
    import time

    time.sleep(3.5)  # long enough for the grandchild to have written, had it survived
    assert not marker.exists()


def test_peak_counts_memory_of_several_processes_alive_at_once(tmp_path):
    child = ("import time; b = bytearray(120 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
             "time.sleep(1.5)")
    code = f"""
        import subprocess, sys
        procs = [subprocess.Popen([sys.executable, "-c", {child!r}]) for _ in range(2)]
        for p in procs: p.wait()
    """
    result = run(code, tmp_path)
    assert result.status == measure.OK
    assert result.peak_rss_bytes >= 220 * 2**20, result.peak_rss_bytes / 2**20


def test_peak_counts_a_spike_freed_before_the_next_sample(tmp_path):
    code = """
        import time
        b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); del b
        time.sleep(0.5)
    """
    result = run(code, tmp_path)
    assert result.status == measure.OK
    assert result.peak_rss_bytes >= 190 * 2**20



@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="clone(2) and /proc: Linux")
def test_peak_counts_a_process_in_its_parents_memory_once(tmp_path):
    # A child made with CLONE_VM lives in its parent's address space, as a vfork'd child does
    # until it execs (how subprocess and uv spawn), and /proc shows it with the parent's
    # resident size. Here it runs libc's sleep() on a stack of its own for a second.
    code = """
        import ctypes, os, time
        b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096])
        libc = ctypes.CDLL(None, use_errno=True)
        stack = ctypes.create_string_buffer(256 * 1024)
        top = ctypes.c_void_p(ctypes.addressof(stack) + len(stack) - 64)
        fn = ctypes.cast(libc.sleep, ctypes.c_void_p)
        libc.clone.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        CLONE_VM, SIGCHLD = 0x100, 17
        pid = libc.clone(fn, top, CLONE_VM | SIGCHLD, ctypes.c_void_p(1))
        assert pid > 0, ctypes.get_errno()
        time.sleep(0.6)
        assert os.waitpid(pid, 0)[0] == pid
    """
    result = run(code, tmp_path)
    assert result.status == measure.OK, result.stderr_tail
    assert 190 * 2**20 <= result.peak_rss_bytes < 300 * 2**20, result.peak_rss_bytes / 2**20

# --- isolation ------------------------------------------------------------------------------


def test_isolated_env_removes_other_sources_and_switches_off_config():
    base = {
        "HOME": "/home/me", "PIP_FIND_LINKS": "/wheels", "PIP_EXTRA_INDEX_URL": "http://x/simple",
        "PIP_INDEX_URL": "http://y/simple", "UV_INDEX_URL": "http://z/simple",
        "CONSTRAIN_CACHE_DIR": "/tmp/c", "SSL_CERT_FILE": "/etc/ca.pem",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env = tools.isolated_env(base)
    # PYTHONDONTWRITEBYTECODE: tools run from bytecode, as installed ones do
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "UV_INDEX_URL",
                 "CONSTRAIN_CACHE_DIR", "PYTHONDONTWRITEBYTECODE"):
        assert name not in env
    assert env["PIP_CONFIG_FILE"] == os.devnull
    assert env["UV_NO_CONFIG"] == "1"
    assert env["HOME"] == "/home/me" and env["SSL_CERT_FILE"] == "/etc/ca.pem"


def test_every_tool_is_given_the_same_single_index(tmp_path):
    ctx = _context(tmp_path, _toolset(tmp_path, "print('fake')"))
    ctx.index_url = "http://127.0.0.1:9/simple"
    wl = workloads.WORKLOADS["airflow"]
    for tool in ("constrain", "uv", "pip"):
        (argv,) = wl.command(ctx, tool, COLD, tmp_path).argvs
        assert argv[argv.index("--index-url") + 1] == ctx.index_url
        assert argv[argv.index("--cache-dir") + 1] == str(tmp_path / "work" / "cache" / tool)
        assert not any("extra-index" in a or "find-links" in a for a in argv)
    assert "--offline" in wl.command(ctx, "uv", WARM_OFFLINE, tmp_path).argvs[0]
    assert wl.command(ctx, "pip", WARM_OFFLINE, tmp_path) is None


def test_no_registry_host_name_is_written_in_the_benchmarks():
    from pip._internal.models.index import PyPI

    hosts = {urllib.parse.urlsplit(PyPI.simple_url).hostname, PyPI.file_storage_domain}
    for path in BENCHMARKS.rglob("*"):
        if ".work" in path.parts or "results" in path.parts or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for host in hosts:
            assert host not in text, f"{path} names {host}"


# --- reading what the tools produced --------------------------------------------------------


def test_pins_from_requirements_text_reads_uv_style_output():
    text = textwrap.dedent("""\
        # This file was autogenerated by uv
        alembic==1.14.1 \\
            --hash=sha256:abc
            # via apache-airflow
        Flask_Babel==2.0.0
            # via flask-appbuilder
        requests>=2
        --index-url http://127.0.0.1/simple
        """)
    assert workloads.pins_from_requirements_text(text) == {"alembic": "1.14.1",
                                                           "flask-babel": "2.0.0"}


def test_pins_from_pip_report():
    text = ('{"install": [{"metadata": {"name": "Flask_Babel", "version": "2.0.0"}},'
            ' {"metadata": {"name": "alembic", "version": "1.14.1"}}]}')
    assert workloads.pins_from_pip_report(text) == {"flask-babel": "2.0.0", "alembic": "1.14.1"}


# --- the runner, with fake tools --------------------------------------------------------------

FAKE_TOOL = """
import json, os, pathlib, sys
cache, out, pins = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
if os.environ.get("FAIL_TOOL") == pathlib.Path(sys.argv[0]).stem:
    sys.exit("resolution impossible")
warm = cache.exists() and any(cache.iterdir())
cache.mkdir(parents=True, exist_ok=True)
(cache / "entry").write_text("x")
out.write_text("".join(p + "\\n" for p in pins.split(",")) + ("# warm\\n" if warm else "# cold\\n"))
if os.environ.get("CONSTRAIN_STATS_FILE"):
    pathlib.Path(os.environ["CONSTRAIN_STATS_FILE"]).write_text(
        json.dumps({"requests": 0 if warm else 42, "bytes_received": 3 * 2**20,
                    "remembered_resolutions": 0 if os.environ.get("CONSTRAIN_NO_REMEMBER") else 1,
                    "rounds": 7, "candidates_visited": 19}))
"""


def _toolset(tmp_path: Path, body: str = FAKE_TOOL, constrain_commands=("resolve",)):
    argvs = {}
    for tool in tools.TOOLS:
        script = tmp_path / f"{tool}.py"
        script.write_text(body)
        argvs[tool] = [PY, str(script)]
    return tools.Toolset(constrain=argvs["constrain"], uv=argvs["uv"], pip=argvs["pip"],
                         peers_python=Path(PY), constrain_commands=set(constrain_commands))


def _context(tmp_path: Path, toolset) -> Context:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return Context(root=tmp_path, work=work, index_url="http://127.0.0.1:9/simple",
                   tools=toolset, env=dict(os.environ))


class FakeResolve(Workload):
    name = "fake"
    title = "fake resolve"
    modes = (COLD, WARM, WARM_OFFLINE)
    PINS: ClassVar[dict[str, str]] = {"constrain": "a==1,b==2", "uv": "a==1,b==3", "pip": "a==1,b==3,c==1"}

    def command(self, ctx, tool, mode, run_dir):
        if tool == "pip" and mode == WARM_OFFLINE:
            return None
        return Command([[*ctx.tools.argv(tool), str(ctx.cache(tool)), str(run_dir / "out.txt"),
                         self.PINS[tool]]])

    def read_pins(self, tool, run_dir):
        text = (run_dir / "out.txt").read_text()
        self.seen.setdefault(tool, []).append(text.splitlines()[-1])
        return workloads.pins_from_requirements_text(text)


def _quiet(message: str) -> None:
    pass


def test_cold_runs_start_empty_and_warm_runs_reuse_the_cache(tmp_path):
    ctx = _context(tmp_path, _toolset(tmp_path))
    wl = FakeResolve()
    wl.seen = {}
    result = runner.run_workload(ctx, wl, tools.TOOLS, 2, {t: 30 for t in tools.TOOLS},
                                 force=False, log=_quiet)
    assert wl.seen["uv"] == ["# cold", "# cold", "# warm", "# warm", "# warm", "# warm"]
    rows = {(r.tool, r.mode): r for r in result.rows}
    assert rows["pip", WARM_OFFLINE].status == runner.NOT_APPLICABLE
    assert rows["constrain", COLD].stats["requests"] == 42
    assert rows["constrain", WARM].stats["requests"] == 0
    assert len(rows["uv", COLD].times_s) == 2 and rows["uv", COLD].median_s > 0
    # results are compared, not only timed
    assert rows["constrain", COLD].differs_from_uv == 1
    assert rows["pip", COLD].differs_from_uv == 1
    assert rows["pip", COLD].packages == 3
    assert rows["uv", WARM].ratio == pytest.approx(
        rows["constrain", WARM].median_s / rows["uv", WARM].median_s)


def test_the_tools_runs_alternate_within_a_mode(tmp_path):
    # A machine drifting during a mode (load, a file system slowed by deletions) must weigh on
    # every tool alike: run 1 of each tool, then run 2 of each, not one tool's runs in a block;
    # and each round starts with another tool: no tool always takes the first run's cost.
    ctx = _context(tmp_path, _toolset(tmp_path))
    wl = FakeResolve()
    wl.modes, wl.seen = (COLD, WARM), {}
    lines: list[str] = []
    result = runner.run_workload(ctx, wl, ("constrain", "uv"), 2, {"constrain": 30, "uv": 30},
                                 force=False, log=lines.append)
    runs = [line.split(": ", 1)[1].rsplit(":", 1)[0] for line in lines if " run " in line]
    assert runs == ["constrain cold run 1/2", "uv cold run 1/2", "uv cold run 2/2",
                    "constrain cold run 2/2", "constrain warm run 1/2", "uv warm run 1/2",
                    "uv warm run 2/2", "constrain warm run 2/2"]
    assert [(r.tool, r.mode) for r in result.rows] == [  # the table still lists tool by tool
        ("constrain", COLD), ("constrain", WARM), ("uv", COLD), ("uv", WARM)]
    assert wl.seen["uv"] == ["# cold", "# cold", "# warm", "# warm"]


def test_warm_mode_alone_primes_the_cache_first(tmp_path):
    ctx = _context(tmp_path, _toolset(tmp_path))
    wl = FakeResolve()
    wl.modes, wl.seen = (WARM,), {}
    runner.run_workload(ctx, wl, ("uv",), 1, {"uv": 30}, force=False, log=_quiet)
    assert wl.seen["uv"] == ["# warm"]


def test_failing_tool_is_reported_with_its_message_and_not_repeated(tmp_path, monkeypatch):
    ctx = _context(tmp_path, _toolset(tmp_path))
    ctx.env["FAIL_TOOL"] = "pip"
    wl = FakeResolve()
    wl.seen = {}
    result = runner.run_workload(ctx, wl, ("uv", "pip"), 3, {"uv": 30, "pip": 30},
                                 force=False, log=_quiet)
    pip_cold = next(r for r in result.rows if r.tool == "pip" and r.mode == COLD)
    assert pip_cold.status == measure.FAILED
    assert "resolution impossible" in pip_cold.note
    assert pip_cold.times_s == [] and pip_cold.ratio is None
    assert "failed" in report.plain_table(result)


def test_constrain_rows_say_unavailable_until_its_command_exists(tmp_path):
    ctx = _context(tmp_path, _toolset(tmp_path, constrain_commands=()))
    wl = FakeResolve()
    wl.seen = {}
    result = runner.run_workload(ctx, wl, tools.TOOLS, 1, {t: 30 for t in tools.TOOLS},
                                 force=False, log=_quiet)
    constrain_rows = [r for r in result.rows if r.tool == "constrain"]
    assert {r.status for r in constrain_rows} == {runner.UNAVAILABLE}
    assert "constrain" not in wl.seen
    assert all(r.ratio is None for r in result.rows)
    assert "unavailable" in report.plain_table(result)


def test_install_and_download_skip_until_constrain_has_them(tmp_path):
    ctx = _context(tmp_path, _toolset(tmp_path, constrain_commands=("resolve",)))
    for name in ("install", "download"):
        result = runner.run_workload(ctx, workloads.WORKLOADS[name], tools.TOOLS, 1,
                                     {t: 30 for t in tools.TOOLS}, force=False, log=_quiet)
        assert result.skipped and f"constrain {name}" in result.skipped
        assert result.rows == []
        assert "skipped" in report.plain_table(result)


def test_constraint_workload_skips_naming_the_variable_until_a_file_is_given(tmp_path):
    ctx = _context(tmp_path, _toolset(tmp_path))
    wl = workloads.WORKLOADS["airflow-py37-constraints"]
    reason = wl.skip_reason(ctx, force=False)
    assert "CONSTRAIN_BENCH_OLD_CONSTRAINTS" in reason and "constraints-3.7.txt" in reason
    ctx.old_constraints = tmp_path / "missing.txt"
    assert "is not a file" in wl.skip_reason(ctx, force=False)
    given = tmp_path / "constraints-3.7.txt"
    given.write_text("six==1.16.0\n")
    ctx.old_constraints = given
    assert wl.skip_reason(ctx, force=False) is None
    (argv,) = wl.command(ctx, "pip", COLD, tmp_path).argvs
    assert argv[argv.index("--python-version") + 1].startswith("3.7")
    assert argv[argv.index("-c") + 1] == str(given)
    assert argv[-1] == workloads.OLD_AIRFLOW


def test_constraint_workload_resolves_every_requirement_it_is_given(tmp_path):
    ctx = _context(tmp_path, _toolset(tmp_path))
    ctx.old_constraints, ctx.old_requirement = tmp_path / "c.txt", "pandas  celery[redis]"
    wl = workloads.WORKLOADS["airflow-py37-constraints"]
    (constrain,) = wl.command(ctx, "constrain", COLD, tmp_path).argvs
    at = constrain.index("resolve")
    assert constrain[at + 1:at + 3] == ["pandas", "celery[redis]"]
    uv = wl.command(ctx, "uv", COLD, tmp_path)
    assert uv.stdin_text == "pandas\ncelery[redis]\n"
    (pip,) = wl.command(ctx, "pip", COLD, tmp_path).argvs
    assert pip[-2:] == ["pandas", "celery[redis]"]


def test_old_constraints_come_from_the_environment_or_the_command_line(monkeypatch, tmp_path):
    import run as bench_run

    monkeypatch.delenv(workloads.OLD_CONSTRAINTS_ENV, raising=False)
    monkeypatch.delenv(workloads.OLD_REQUIREMENT_ENV, raising=False)
    args = bench_run.parse_args([])
    assert args.old_constraints is None and args.old_requirement == workloads.OLD_AIRFLOW
    monkeypatch.setenv(workloads.OLD_CONSTRAINTS_ENV, str(tmp_path / "c.txt"))
    monkeypatch.setenv(workloads.OLD_REQUIREMENT_ENV, "pandas celery")
    args = bench_run.parse_args([])
    assert args.old_constraints == tmp_path / "c.txt" and args.old_requirement == "pandas celery"
    args = bench_run.parse_args(["--old-constraints", "other.txt"])
    assert args.old_constraints == Path("other.txt")


class FakeFullResolve(FakeResolve):
    """Like the Airflow workload: warm-offline, then constrain's full resolve of it."""

    modes = (WARM, WARM_OFFLINE, workloads.WARM_OFFLINE_FULL)

    def command(self, ctx, tool, mode, run_dir):
        if mode in workloads.FULL_RESOLVE_OF:
            if tool != "constrain":
                return None
            command = self.command(ctx, tool, workloads.FULL_RESOLVE_OF[mode], run_dir)
            command.env.update(workloads.NO_REMEMBER)
            return command
        return super().command(ctx, tool, mode, run_dir)


def test_full_resolve_row_is_constrain_only_and_compared_with_the_peers_base_mode(tmp_path):
    ctx = _context(tmp_path, _toolset(tmp_path))
    wl = FakeFullResolve()
    wl.seen = {}
    result = runner.run_workload(ctx, wl, tools.TOOLS, 1, {t: 30 for t in tools.TOOLS},
                                 force=False, log=_quiet)
    rows = {(r.tool, r.mode): r for r in result.rows}
    full = rows["constrain", workloads.WARM_OFFLINE_FULL]
    assert ("uv", workloads.WARM_OFFLINE_FULL) not in rows
    assert ("pip", workloads.WARM_OFFLINE_FULL) not in rows
    # the variable reached constrain on that row only
    assert full.stats["remembered_resolutions"] == 0
    assert rows["constrain", WARM_OFFLINE].stats["remembered_resolutions"] == 1
    assert full.ratio == pytest.approx(full.median_s / rows["uv", WARM_OFFLINE].median_s)
    assert "vs uv warm-offline" in full.note
    assert "pip" not in full.ratios  # pip has no warm-offline figure to compare with
    text = report.plain_table(result)
    assert "CONSTRAIN_NO_REMEMBER=1" in text
    assert "19" in text  # candidates visited are shown


def test_each_tool_has_its_own_repeat_count(tmp_path):
    ctx = _context(tmp_path, _toolset(tmp_path))
    wl = FakeResolve()
    wl.modes, wl.seen = (COLD,), {}
    result = runner.run_workload(ctx, wl, tools.TOOLS, {"constrain": 3, "uv": 2, "pip": 1},
                                 {t: 30 for t in tools.TOOLS}, force=False, log=_quiet)
    runs = {r.tool: len(r.times_s) for r in result.rows}
    assert runs == {"constrain": 3, "uv": 2, "pip": 1}
    assert "1" in next(line for line in report.plain_table(result).splitlines()
                       if line.strip().startswith("pip"))


def test_download_and_install_use_constrains_own_flags(tmp_path):
    ctx = _context(tmp_path, _toolset(tmp_path, constrain_commands=("resolve", "download")))
    (argv,) = workloads.WORKLOADS["download"].command(ctx, "constrain", COLD, tmp_path).argvs
    assert argv[argv.index("--dest") + 1] == str(tmp_path / "wheels")
    assert argv[argv.index("--airflow-constraints") + 1] == "off"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--python"] == ["3.11", "3.12"]
    assert len([a for a in argv if a == "--platform"]) == 2
    pip = workloads.WORKLOADS["download"].command(ctx, "pip", COLD, tmp_path).argvs
    assert len(pip) == 4 and all("--only-binary=:all:" in a for a in pip)


def test_table_shows_timeouts_ratios_and_work_counters():
    rows = [
        runner.Row("constrain", COLD, measure.OK, [2.0], 2.0, 150.0,
                   {"requests": 475, "bytes_received": 54 * 2**20}, 141),
        runner.Row("uv", COLD, measure.OK, [4.0], 4.0, 120.0, None, 141),
        runner.Row("pip", COLD, measure.TIMEOUT, note="no answer within 600s"),
    ]
    runner.compare(rows)
    text = report.plain_table(runner.WorkloadResult("w", "w title", "", rows=rows))
    uv_line = next(line for line in text.splitlines() if line.strip().startswith("uv"))
    pip_line = next(line for line in text.splitlines() if line.strip().startswith("pip"))
    assert "0.50x" in uv_line
    assert ">timeout" in pip_line
    assert "475" in text and "54.0 MB" in text


def test_json_document_holds_every_row(tmp_path):
    import json

    rows = [runner.Row("uv", COLD, measure.OK, [1.0, 3.0, 2.0], 2.0, 10.0, None, 5)]
    path = tmp_path / "out.json"
    report.write_json(path, {"index_url": "x"}, [runner.WorkloadResult("w", "t", "d", rows=rows)])
    data = json.loads(path.read_text())
    assert data["meta"]["index_url"] == "x"
    assert data["workloads"][0]["rows"][0]["times_s"] == [1.0, 3.0, 2.0]


def test_quick_means_one_run_and_unknown_workloads_are_refused(capsys):
    import run as bench_run

    quick = bench_run.parse_args(["--quick", "--pip-repeat", "4"])
    assert (quick.repeat, quick.pip_repeat) == (1, 1)
    default = bench_run.parse_args([])
    assert (default.repeat, default.pip_repeat) == (5, 1)
    assert bench_run.parse_args(["--pip-repeat", "2"]).pip_repeat == 2
    with pytest.raises(SystemExit):
        bench_run.parse_args(["--workload", "nonsense"])


def test_install_result_is_read_from_the_venv(tmp_path):
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    for name, version in (("Flask_Babel", "2.0.0"), ("alembic", "1.14.1")):
        info = site / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    assert workloads.installed_pins(tmp_path / "venv") == {"flask-babel": "2.0.0",
                                                           "alembic": "1.14.1"}


def test_download_result_is_read_from_the_wheel_names(tmp_path):
    for rel in ("3.11-a/psycopg2_binary-2.9.10-cp311-cp311-manylinux_2_17_x86_64.whl",
                "3.12-b/psycopg2_binary-2.9.10-cp312-cp312-macosx_11_0_arm64.whl",
                "3.12-b/six-1.16.0-py2.py3-none-any.whl", "3.12-b/notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    assert workloads.downloaded_pins(tmp_path) == {"psycopg2-binary": "2.9.10", "six": "1.16.0"}


def test_stopping_the_harness_ends_the_command_it_was_running(tmp_path):
    import signal
    import subprocess
    import time

    pidfile = tmp_path / "child.pid"
    script = tmp_path / "harness.py"
    script.write_text(textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(BENCHMARKS)!r})
        import run
        from harness import measure
        signal.signal(signal.SIGTERM, run._interrupted)
        code = "import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
        measure.run_measured([sys.executable, "-c", code], env=dict(os.environ),
                             cwd={str(tmp_path)!r}, timeout=120)
    """))
    harness = subprocess.Popen([PY, str(script)], stderr=subprocess.DEVNULL)
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text():
            break
        time.sleep(0.05)
    child = int(pidfile.read_text())
    harness.send_signal(signal.SIGTERM)
    assert harness.wait(timeout=30) != 0
    assert _ends(child, within=10), f"the measured command {child} outlived the harness"


def _ends(pid: int, within: float) -> bool:
    """Has ``pid`` ended (gone, or a zombie its new parent has not reaped yet) within
    ``within`` seconds? Killed processes are reaped by init asynchronously, later under load."""
    import time

    deadline = time.monotonic() + within
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def test_emptied_caches_are_set_aside_and_deleted_only_after_the_runs(tmp_path):
    # deleting ten thousand files just before a cold run slowed that run's file creation
    work = tmp_path / "work"
    cache = work / "cache" / "uv"
    (cache / "wheels").mkdir(parents=True)
    (cache / "wheels" / "a.whl").write_bytes(b"x")
    trash.set_aside(cache, work)
    assert cache.is_dir() and list(cache.iterdir()) == []
    kept = list((work / "trash").rglob("a.whl"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"x"
    trash.set_aside(work / "cache" / "new", work)  # nothing there yet: just made
    assert (work / "cache" / "new").is_dir()
    trash.empty_trash(work)
    assert not (work / "trash").exists() and cache.is_dir()


# --- a baseline constrain, the new workloads, the summary -----------------------------------

def test_a_baseline_runs_wherever_constrain_does_and_is_compared_with_it(tmp_path):
    toolset = _toolset(tmp_path)
    script = tmp_path / "old.py"
    script.write_text(FAKE_TOOL)
    toolset.baselines["constrain@old"] = [PY, str(script)]
    ctx = _context(tmp_path, toolset)
    wl = FakeResolve()
    wl.PINS = {**FakeResolve.PINS, "constrain@old": "a==1,b==3"}
    wl.tools = ("constrain", "uv")  # no pip: the baseline still runs, as constrain does
    wl.seen = {}
    result = runner.run_workload(ctx, wl, toolset.names, 1, {t: 30 for t in tools.TOOLS},
                                 force=False, log=_quiet)
    rows = {(r.tool, r.mode): r for r in result.rows}
    assert {tool for tool, _ in rows} == {"constrain", "constrain@old", "uv"}
    old = rows["constrain@old", COLD]
    assert old.stats["requests"] == 42  # its work counters are read like constrain's
    assert old.ratio == pytest.approx(rows["constrain", COLD].median_s / old.median_s)
    assert old.differs_from_uv == 0 and rows["constrain", COLD].differs_from_uv == 1
    lines = report.summary_lines([result])
    assert "pins, fake (2 packages): constrain != uv (1 differ), constrain@old = uv" in lines


def test_a_baseline_that_is_no_commit_is_refused_by_name(tmp_path):
    with pytest.raises(SystemExit, match="--baseline no-such-ref"):
        tools.build_baseline(BENCHMARKS, tmp_path, "no-such-ref", dict(os.environ), "x")


def test_summary_gives_the_largest_workloads_memory_against_uvs():
    def rows(packages, peak):
        out = [runner.Row("constrain", COLD, measure.OK, [1.0], 1.0, peak, None, packages),
               runner.Row("constrain", workloads.WARM_OFFLINE_FULL, measure.OK, [1.0], 1.0,
                          peak / 2, None, packages),
               runner.Row("uv", COLD, measure.OK, [1.0], 1.0, 100.0, None, packages),
               runner.Row("uv", WARM_OFFLINE, measure.OK, [1.0], 1.0, 50.0, None, packages)]
        for row in out:
            row.pins = {str(i): "1" for i in range(packages)}
        runner.compare(out)
        return out

    small = runner.WorkloadResult("small", "", "", rows=rows(10, 500.0))
    large = runner.WorkloadResult("large", "", "", rows=rows(400, 300.0))
    lines = report.summary_lines([small, large])
    at = lines.index("peak memory, largest workload (large, 400 packages):")
    assert lines[at + 1] == "  constrain cold: 300 MB = 3.00x uv's 100 MB"
    assert lines[at + 2] == ("  constrain warm-offline (full resolve, CONSTRAIN_NO_REMEMBER=1): "
                             "150 MB = 3.00x uv's 50 MB")


def test_the_changed_request_forgets_only_its_own_remembered_answer(tmp_path):
    ctx = _context(tmp_path, _toolset(tmp_path))
    wl = workloads.WORKLOADS["airflow-changed"]
    cache = ctx.cache("constrain")
    first = cache / "resolutions-v1" / "ab" / "ab-workload-1"
    first.parent.mkdir(parents=True)
    first.write_text("workload 1's answer")
    (_, w1), (_, own) = wl.primers(ctx, "constrain", tmp_path / "runs")
    assert "apache-airflow-providers-slack" not in w1.argvs[0]
    assert "apache-airflow-providers-slack" in own.argvs[0]
    for step in own.prepare:  # after workload 1's priming run: what is there is kept
        step()
    mine = cache / "resolutions-v1" / "cd" / "cd-changed"
    mine.parent.mkdir(parents=True)
    mine.write_text("this request's answer")
    measured = wl.command(ctx, "constrain", WARM_OFFLINE, tmp_path / "run")
    assert "--offline" in measured.argvs[0]
    for step in measured.prepare:
        step()
    assert first.exists() and not mine.exists()
    # uv is measured the same way, offline, with nothing to forget
    uv = wl.command(ctx, "uv", WARM_OFFLINE, tmp_path / "run")
    assert "--offline" in uv.argvs[0] and not uv.prepare


def test_refresh_runs_three_pythons_in_one_constrain_command_and_three_uv_ones(tmp_path):
    ctx = _context(tmp_path, _toolset(tmp_path))
    wl = workloads.WORKLOADS["refresh"]
    (argv,) = wl.command(ctx, "constrain", COLD, tmp_path).argvs
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--python"] == ["3.10", "3.11",
                                                                             "3.12"]
    uv = wl.command(ctx, "uv", WARM_OFFLINE, tmp_path)
    assert len(uv.argvs) == 3 and all("--offline" in a for a in uv.argvs)
    out = tmp_path / "out"
    out.mkdir()
    for python in ("3.10", "3.11", "3.12"):
        (out / f"constraints-{python}.txt").write_text(f"six==1.{python[-2:]}\n")
    assert wl.read_pins("uv", tmp_path) == {"3.10:six": "1.10", "3.11:six": "1.11",
                                            "3.12:six": "1.12"}


@pytest.mark.parametrize(("repeat", "cold_repeat"), [(3, 2), (1, 3)])
def test_cold_runs_follow_cold_repeat(tmp_path, repeat, cold_repeat):
    """--cold-repeat N runs each cold mode of constrain and uv N times, fewer or more than
    --repeat (it once capped them at --repeat); pip's cold runs stay within its own count."""
    ctx = _context(tmp_path, _toolset(tmp_path))
    wl = FakeResolve()
    wl.seen = {}
    result = runner.run_workload(ctx, wl, ("constrain", "uv", "pip"),
                                 {"constrain": repeat, "uv": repeat, "pip": 1},
                                 {t: 30 for t in tools.TOOLS}, force=False, log=_quiet,
                                 cold_repeat=cold_repeat)
    runs = {(r.tool, r.mode): len(r.times_s) for r in result.rows}
    assert runs[("constrain", COLD)] == runs[("uv", COLD)] == cold_repeat
    assert runs[("constrain", WARM)] == runs[("uv", WARM)] == repeat
    assert runs[("pip", COLD)] == 1


def test_cold_repeat_is_an_option():
    import run as bench_run

    assert bench_run.parse_args(["--cold-repeat", "1"]).cold_repeat == 1
