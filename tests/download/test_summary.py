"""What ``constrain download`` tells the person running it: the summary in a pipe (plain lines,
no table), the platform of each target in the summary and in the file names, and a progress
total that the byte counts reach (files copied from the cache or a find-links directory too)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from constrain.app.requests import ResolveRequest
from constrain.app.download import DownloadRequest, download_command
from constrain.reporting import Reporter
from tests.support.builders import PackageSpec, build_repository

X86 = "manylinux_2_28_x86_64"
SPECS = [
    PackageSpec("app", "1.0", requires_dist=["native"]),
    PackageSpec("native", "1.0", tags=[f"cp311-cp311-{X86}", f"cp312-cp312-{X86}"],
                wheel_options={"pad_bytes": 100_000}),
]
BOX = set("┏┃━┡│└┬┴╇")


def test_summary_in_a_pipe_is_plain_lines_naming_the_one_platform(make_index, tmp_path):
    server = make_index(SPECS, pep658=True)
    dest = tmp_path / "wh"
    proc = subprocess.run(
        [sys.executable, "-m", "constrain", "download", "app", "--index-url", server.index_url,
         "--python", "3.11", "--python", "3.12", "--platform", X86, "--dest", str(dest),
         "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert not BOX & set(proc.stdout), proc.stdout
    lines = proc.stdout.splitlines()
    assert lines[0] == f"wheelhouse {dest}:"
    assert lines[1].startswith(f"  3.11-{X86}: 2 files (")
    assert lines[1].endswith("2 downloaded now, 2 to vet, 0 sdists to build")
    assert lines[2].startswith(f"  3.12-{X86}: 2 files (")
    assert lines[3].startswith("  all targets: 3 files (")
    # one --platform: the platform is in the file names too
    for py, slug in (("3.11", "cp311"), ("3.12", "cp312")):
        assert (dest / f"constraints-{py}-{X86}.txt").is_file()
        assert (dest / f"requirements-{py}-{X86}.txt").is_file()
        assert (dest / f"pylock.{slug}-{X86}.toml").is_file()
    assert not (dest / "constraints-3.11.txt").exists()


class _Bytes(Reporter):
    """Records the byte total each fetch announces and the bytes advanced against it."""

    def __init__(self) -> None:
        self.totals: list[int | None] = []
        self.done: list[int] = []

    def start(self, task: str, total: int | None = None, unit: str = "") -> None:
        if task == "bytes":
            self.totals.append(total)
            self.done.append(0)

    def advance(self, task: str, amount: int = 1) -> None:
        if task == "bytes":
            self.done[-1] += amount


def test_progress_reaches_its_total_with_files_from_a_find_links_directory(make_index,
                                                                            tmp_path):
    server = make_index(SPECS[:1], pep658=True)
    links = tmp_path / "links"
    links.mkdir()
    build_repository(links, SPECS[1:])  # native comes from a local directory: copied, not fetched
    request = DownloadRequest(
        resolve=ResolveRequest(requirements=("app",), index_url=server.index_url,
                               find_links=(str(links),), cache_dir=str(tmp_path / "cache")),
        dest=str(tmp_path / "wh"), pythons=("3.12",), platforms=(X86,))
    reporter = _Bytes()
    result = download_command(request, reporter)
    assert sorted(result.downloaded) == ["app-1.0-py3-none-any.whl",
                                         f"native-1.0-cp312-cp312-{X86}.whl"]
    size = sum(p.stat().st_size for p in Path(result.dest).glob("*.whl"))
    assert reporter.totals == [size] and reporter.done == [size]


def test_a_terminal_gets_the_table_and_a_pipe_the_lines_of_the_same_figures(make_index,
                                                                            tmp_path):
    from constrain.cli.download import render_summary

    server = make_index(SPECS, pep658=True)
    request = DownloadRequest(
        resolve=ResolveRequest(requirements=("app",), index_url=server.index_url,
                               cache_dir=str(tmp_path / "cache")),
        dest=str(tmp_path / "wh"), pythons=("3.11",), platforms=(X86,))
    result = download_command(request)
    table, lines = render_summary(result, table=True), render_summary(result, table=False)
    assert BOX & set(table) and not BOX & set(lines)
    row = next(ln for ln in table.splitlines() if f"3.11-{X86}" in ln)
    assert [c.strip() for c in row.strip("│ ").split("│")][1:] == [
        "2", lines.split("2 files (", 1)[1].split(")", 1)[0], "2", "2", "0"]
    assert f"  3.11-{X86}: 2 files (" in lines
    # one target: nothing to compare, no consistency line
    assert "consistency" not in table and "consistency" not in lines
