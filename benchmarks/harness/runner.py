"""Run workloads mode by mode, the tools' runs alternating, and collect one row of figures per pair.

Cache discipline: each tool has its own cache directory. A *cold* run starts from an emptied
cache (the old one is set aside and deleted after the measured runs: :func:`set_aside`); a *warm* run uses the cache that the previous identical run filled (the last cold run,
or one unmeasured priming run when there was none that succeeded). Repeats of a mode stop at
the first failure or timeout: a failing command is reported, not re-measured.

Repeats are per tool (pip's slow runs may be measured fewer times than the others). A
full-resolve mode (``workloads.FULL_RESOLVE_OF``) is constrain only: its row is compared with
the peers' rows of the mode whose command it reruns.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .base import COLD, FULL_RESOLVE_OF, Command, Context, Workload
from .measure import OK, TIMEOUT, RunResult, run_measured
from .tools import is_constrain
from .trash import set_aside

UNAVAILABLE = "unavailable"
NOT_APPLICABLE = "n/a"
STATS_KEYS = ("requests", "bytes_received", "rounds", "candidates_visited", "pages_fetched",
              "metadata_fetched")


@dataclass
class Row:
    """The figures of one tool in one mode of one workload."""

    tool: str
    mode: str
    status: str
    times_s: list[float] = field(default_factory=list)
    median_s: float | None = None
    peak_mb: float | None = None
    stats: dict | None = None
    packages: int | None = None
    pins: dict[str, str] | None = None
    note: str = ""
    argvs: list[list[str]] = field(default_factory=list)
    ratio: float | None = None  # constrain median / this row's median, same mode
    # on a constrain full-resolve row: {peer: constrain median / the peer's base-mode median}
    ratios: dict[str, float] = field(default_factory=dict)
    differs_from_uv: int | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class WorkloadResult:
    name: str
    title: str
    description: str
    skipped: str | None = None
    rows: list[Row] = field(default_factory=list)

    def to_json(self) -> dict:
        data = asdict(self)
        data["rows"] = [row.to_json() for row in self.rows]
        return data


Log = Callable[[str], None]


def _stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _empty(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)


def read_stats(path: Path) -> dict | None:
    """constrain's work counters from CONSTRAIN_STATS_FILE, or None if absent or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def execute(ctx: Context, tool: str, command: Command, run_dir: Path, timeout: float) -> RunResult:
    """Run every argv of ``command`` in ``run_dir``: times summed, peaks maxed, first failure."""
    _empty(run_dir)
    for step in command.prepare:
        step()
    env = dict(ctx.env)
    env.update(command.env)
    if is_constrain(tool):
        env["CONSTRAIN_STATS_FILE"] = str(run_dir / "stats.json")
    stdin_path = None
    if command.stdin_text is not None:
        stdin_path = run_dir / "stdin.txt"
        stdin_path.write_text(command.stdin_text)
    total, peak, last = 0.0, 0, None
    for i, argv in enumerate(command.argvs):
        suffix = f"-{i}" if len(command.argvs) > 1 else ""
        last = run_measured(
            argv, env=env, cwd=run_dir, timeout=max(1.0, timeout - total),
            stdin_path=stdin_path,
            stdout_path=run_dir / command.stdout_name.replace(".txt", f"{suffix}.txt"),
            stderr_path=run_dir / f"stderr{suffix}.txt",
        )
        total += last.wall_s
        peak = max(peak, last.peak_rss_bytes)
        if last.status != OK:
            break
    assert last is not None
    last.wall_s, last.peak_rss_bytes = total, peak
    return last


@dataclass
class _Lane:
    """One tool going through a workload's modes: its rows, cache and run counts
    (:func:`run_workload` takes every lane through a mode together)."""

    tool: str
    repeat: int
    cold_repeat: int | None
    timeout: float
    cache: Path
    base: Path
    rows: list[Row] = field(default_factory=list)
    cache_filled: bool = False
    peaks: list[int] = field(default_factory=list)

    def runs(self, mode: str) -> int:
        return self.cold_repeat if mode == COLD and self.cold_repeat is not None else self.repeat


def _unavailable(ctx: Context, workload: Workload, tool: str) -> str | None:
    reason = ctx.tools.unavailable.get(tool)
    if (is_constrain(tool) and reason is None
            and workload.needs_constrain_command not in ctx.tools.constrain_commands):
        reason = f"`constrain {workload.needs_constrain_command} --help` fails"
    return reason


def _open_mode(ctx: Context, workload: Workload, lane: _Lane, mode: str,
               log: Log) -> Row | None:
    """The row of ``lane`` in ``mode``, its cache primed first when the mode needs a warm one;
    ``None`` when the lane has no such mode or its priming failed (the row says why)."""
    tool, base = lane.tool, lane.base
    if workload.command(ctx, tool, mode, base / "probe") is None:
        if mode not in FULL_RESOLVE_OF:  # constrain only: the peers' base-mode row counts
            lane.rows.append(Row(tool, mode, NOT_APPLICABLE,
                                 note=f"{tool} has no {mode} equivalent"))
        return None
    row = Row(tool, mode, OK)
    lane.rows.append(row)
    lane.peaks = []
    if mode != COLD and not lane.cache_filled:
        log(f"  {workload.name}: {tool} priming the cache for {mode}")
        for prime_dir, primer in workload.primers(ctx, tool, base):
            result = execute(ctx, tool, primer, prime_dir, lane.timeout)
            if result.status != OK:
                row.status, row.note = result.status, "priming run: " + _why(result)
                return None
    return row


def _one_run(ctx: Context, workload: Workload, lane: _Lane, row: Row, i: int,
             log: Log) -> None:
    """Run ``i`` of ``row``'s mode for ``lane``; a failure or timeout ends the row's runs."""
    mode, tool = row.mode, lane.tool
    run_dir = lane.base / f"{_dirname(mode)}-{i}"
    if mode == COLD:
        set_aside(lane.cache, ctx.work)
    command = workload.command(ctx, tool, mode, run_dir)
    row.argvs = command.argvs
    result = execute(ctx, tool, command, run_dir, lane.timeout)
    log(f"  {workload.name}: {tool} {mode} run {i + 1}/{lane.runs(mode)}: "
        f"{result.wall_s:.2f}s {result.status}")
    if result.status != OK:
        row.status, row.note = result.status, _why(result)
        return
    row.times_s.append(result.wall_s)
    lane.peaks.append(result.peak_rss_bytes)
    row.stats = read_stats(run_dir / "stats.json") if is_constrain(tool) else None
    try:
        row.pins = workload.read_pins(tool, run_dir)
    except (OSError, ValueError, KeyError) as exc:
        row.note = f"could not read its output: {exc}"
    row.packages = len(row.pins) if row.pins is not None else None


def _run_lanes(ctx: Context, workload: Workload, lanes: list[_Lane], log: Log) -> None:
    """Every mode of ``workload`` for every lane, mode by mode; within a mode the lanes' runs
    alternate (run 1 of each tool, then run 2 of each, ...), so a drift of the machine during
    a mode (load, a file system slowed by earlier deletions) weighs on every tool alike; and
    each round starts with the next tool (:func:`rotated`), so that no tool always runs first."""
    for mode in workload.modes:
        open_rows = [(lane, row) for lane in lanes
                     if (row := _open_mode(ctx, workload, lane, mode, log)) is not None]
        for i in range(max((lane.runs(mode) for lane, _ in open_rows), default=0)):
            for lane, row in rotated(open_rows, i):
                if i < lane.runs(mode) and row.status == OK:
                    _one_run(ctx, workload, lane, row, i, log)
        for lane in lanes:
            row = next((r for r in lane.rows if r.mode == mode), None)
            if row is None or row.status == NOT_APPLICABLE:
                continue
            if row.status == OK:
                row.median_s = statistics.median(row.times_s)
                row.peak_mb = max(lane.peaks) / 2**20 if max(lane.peaks) else None
            if not row.note.startswith("priming run: "):
                lane.cache_filled = row.status == OK


def rotated(items: list, i: int) -> list:
    """``items`` in round ``i``: starting with item ``i`` (modulo their number). The first run
    of a round was the slow one on this machine's ext4, which has no journal: creating a file
    there skips every inode freed in the last minute or more, so a run's cost depended on what
    had been deleted before it, by whichever tool (benchmarks/README.md)."""
    k = i % len(items) if items else 0
    return items[k:] + items[:k]


def _dirname(mode: str) -> str:
    """A mode as a directory name: ``warm-offline (full resolve, ...)`` -> ``warm-offline-full``."""
    return mode.split(" (")[0] + ("-full" if mode in FULL_RESOLVE_OF else "")


def _why(result: RunResult) -> str:
    if result.status == TIMEOUT:
        return f"no answer within {result.wall_s:.0f}s"
    lines = [line for line in result.stderr_tail.strip().splitlines() if line.strip()]
    detail = lines[-1][:300] if lines else ""
    return f"exit {result.returncode}: {detail}" if detail else f"exit {result.returncode}"


def compare(rows: list[Row]) -> None:
    """Fill each peer row's ratio (constrain / peer, same mode; a baseline ``constrain@REF``
    is a peer too), the ratio of constrain's full-resolve rows to uv's and pip's base mode,
    and each row's differences from uv's pins."""
    by_mode = {row.mode: row for row in rows if row.tool == "constrain"}
    uv_pins = next((row.pins for row in rows if row.tool == "uv" and row.pins is not None), None)
    peers = {(row.tool, row.mode): row for row in rows if row.tool != "constrain"}
    for row in rows:
        base = FULL_RESOLVE_OF.get(row.mode)
        if is_constrain(row.tool) and base and row.median_s is not None:
            for peer in ("uv", "pip"):
                other = peers.get((peer, base))
                if other is not None and other.median_s:
                    row.ratios[peer] = row.median_s / other.median_s
            if "uv" in row.ratios:
                row.ratio = row.ratios["uv"]  # the table's ratio column: against uv
            if row.ratios:
                row.note = "; ".join(f"vs {peer} {base}: {value:.2f}x"
                                     for peer, value in row.ratios.items())
        mine = by_mode.get(row.mode)
        if (row.tool != "constrain" and mine is not None and mine.median_s is not None
                and row.median_s):
            row.ratio = mine.median_s / row.median_s
        if row.tool != "uv" and row.pins is not None and uv_pins is not None:
            names = set(row.pins) | set(uv_pins)
            row.differs_from_uv = sum(row.pins.get(n) != uv_pins.get(n) for n in names)


def run_workload(ctx: Context, workload: Workload, tools: tuple[str, ...],
                 repeat: int | dict[str, int], timeouts: dict[str, float], force: bool,
                 log: Log = _stderr_log, cold_repeat: int | None = None) -> WorkloadResult:
    """Every tool of ``tools`` through every mode of ``workload``; ``repeat`` is one count for
    all tools or a count per tool; ``cold_repeat``, when given, is the number of cold runs of
    constrain and uv, more or fewer than ``repeat`` (pip's cold runs are never more than its
    own count, ``--pip-repeat``: its runs are the slow ones)."""
    result = WorkloadResult(workload.name, workload.title, workload.description)
    result.skipped = workload.skip_reason(ctx, force)
    if result.skipped:
        log(f"{workload.title}: skipped ({result.skipped})")
        return result
    log(workload.title)
    lanes: list[_Lane | list[Row]] = []  # a list: the rows of a tool that cannot run
    for tool in tools:
        if not workload.runs(tool):
            continue
        reason = _unavailable(ctx, workload, tool)
        if reason is not None:
            lanes.append([Row(tool, mode, UNAVAILABLE, note=reason) for mode in workload.modes])
            continue
        kind = "constrain" if is_constrain(tool) else tool
        count = repeat if isinstance(repeat, int) else repeat[kind]
        cold = cold_repeat
        if cold is not None and kind == "pip":
            cold = min(cold, count)
        lanes.append(_Lane(tool, count, cold, timeouts[kind], ctx.cache(tool),
                           ctx.work / "runs" / workload.name / tool))
    _run_lanes(ctx, workload, [lane for lane in lanes if isinstance(lane, _Lane)], log)
    for lane in lanes:
        result.rows += lane.rows if isinstance(lane, _Lane) else lane
    compare(result.rows)
    return result


def startup(ctx: Context, tools: tuple[str, ...], repeat: int, log: Log = _stderr_log
            ) -> WorkloadResult:
    """``TOOL --help`` start-up time, median of ``repeat`` runs, per tool."""
    result = WorkloadResult("startup", "start-up: TOOL --help",
                            f"Median of {repeat} runs of `--help`: interpreter and import cost.")
    log(result.title)
    for tool in tools:
        if tool in ctx.tools.unavailable:
            result.rows.append(Row(tool, "--help", UNAVAILABLE, note=ctx.tools.unavailable[tool]))
            continue
        argv = [*ctx.tools.argv(tool), "--help"]
        row = Row(tool, "--help", OK, argvs=[argv])
        for _ in range(repeat):
            res = run_measured(argv, env=ctx.env, cwd=ctx.work, timeout=60, sample=False)
            if res.status != OK:
                row.status, row.note = res.status, f"exit {res.returncode}"
                break
            row.times_s.append(res.wall_s)
            if res.peak_rss_bytes:
                row.peak_mb = max(row.peak_mb or 0.0, res.peak_rss_bytes / 2**20)
        if row.status == OK:
            row.median_s = statistics.median(row.times_s)
        result.rows.append(row)
    compare(result.rows)
    return result
