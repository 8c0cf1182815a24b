"""Turn workload results into aligned tables (rich when present) and one JSON document."""

from __future__ import annotations

import json
from pathlib import Path

from .measure import OK, TIMEOUT
from .runner import WorkloadResult

COLUMNS = ("tool", "mode", "median s", "runs", "constrain/peer", "peak MB", "requests", "bytes",
           "rounds", "candidates", "pkgs", "≠uv", "note")
NUMERIC = range(2, 12)  # right-aligned columns


def _bytes(value) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    return f"{value / 2**20:.1f} MB" if value >= 2**20 else f"{value / 1024:.0f} kB"


def _count(value) -> str:
    return str(value) if isinstance(value, int) else "-"


def cells(row) -> list[str]:
    """The table cells of one row; failures show in the time column as the user would say them."""
    if row.status == OK:
        time = f"{row.median_s:.3f}" if row.median_s < 1 else f"{row.median_s:.2f}"
    elif row.status == TIMEOUT:
        time = ">timeout"
    else:
        time = row.status
    stats = row.stats or {}
    return [
        row.tool,
        row.mode,
        time,
        str(len(row.times_s)) if row.times_s else "-",
        f"{row.ratio:.2f}x" if row.ratio is not None else "",
        f"{row.peak_mb:.0f}" if row.peak_mb is not None else "-",
        _count(stats.get("requests")),
        _bytes(stats.get("bytes_received")),
        _count(stats.get("rounds")),
        _count(stats.get("candidates_visited")),
        str(row.packages) if row.packages is not None else "-",
        str(row.differs_from_uv) if row.differs_from_uv is not None else "",
        row.note[:90],
    ]


def plain_table(result: WorkloadResult) -> str:
    """The workload as plain aligned text (what CI logs and the README hold)."""
    lines = [result.title]
    if result.skipped:
        return "\n".join([*lines, f"  skipped: {result.skipped}"])
    table = [list(COLUMNS)] + [cells(row) for row in result.rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    for r in table:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)


def print_tables(results: list[WorkloadResult], plain: bool = False) -> None:
    try:
        if plain:
            raise ImportError
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        for result in results:
            print(plain_table(result) + "\n")
        return
    from rich.markup import escape

    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # logs and files: do not fold the table into 80 columns
    for result in results:
        if result.skipped:
            console.print(f"[bold]{escape(result.title)}[/bold]\n  skipped: "
                          f"{escape(result.skipped)}\n")
            continue
        table = Table(title=escape(result.title), title_justify="left")
        for i, name in enumerate(COLUMNS):
            table.add_column(name, justify="right" if i in NUMERIC else "left")
        for row in result.rows:
            table.add_row(*(escape(cell) for cell in cells(row)))
        console.print(table)


def summary_lines(results: list[WorkloadResult]) -> list[str]:
    """What the tables say about correctness and memory, in words: for each workload whether
    every tool's pins equal uv's, and the peak memory of the largest workload (most distinct
    packages: a refresh's three files of one set count once) against uv's, mode by mode."""
    lines = []
    largest, most = None, -1
    for result in results:
        uv = next((r for r in result.rows if r.tool == "uv" and r.pins is not None), None)
        if uv is None or uv.pins is None:
            continue
        distinct = len({key.rpartition(":")[2] for key in uv.pins})  # "3.11:name" -> name
        if distinct > most:
            largest, most = result, distinct
        words = []
        for tool in dict.fromkeys(r.tool for r in result.rows if r.tool != "uv"):
            differs = [r.differs_from_uv for r in result.rows
                       if r.tool == tool and r.differs_from_uv is not None]
            if not differs:
                continue
            worst = max(differs)
            words.append(f"{tool} {'=' if worst == 0 else '!='} uv"
                         + ("" if worst == 0 else f" ({worst} differ)"))
        if words:
            lines.append(f"pins, {result.name} ({uv.packages} packages): " + ", ".join(words))
    if largest is not None:
        peaks = []
        uv_peak = {r.mode: r.peak_mb for r in largest.rows if r.tool == "uv" and r.peak_mb}
        for row in largest.rows:
            if row.tool == "uv" or not row.peak_mb:
                continue
            base = row.mode.split(" (")[0]
            versus = uv_peak.get(base)
            ratio = f" = {row.peak_mb / versus:.2f}x uv's {versus:.0f} MB" if versus else ""
            peaks.append(f"  {row.tool} {row.mode}: {row.peak_mb:.0f} MB{ratio}")
        if peaks:
            lines.append(f"peak memory, largest workload ({largest.name}, {most} packages):")
            lines += peaks
    return lines


def write_json(path: Path, meta: dict, results: list[WorkloadResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "workloads": [result.to_json() for result in results]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
