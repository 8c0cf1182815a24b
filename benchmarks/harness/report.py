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
        return "\n".join(lines + [f"  skipped: {result.skipped}"])
    table = [list(COLUMNS)] + [cells(row) for row in result.rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    for r in table:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
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


def write_json(path: Path, meta: dict, results: list[WorkloadResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "workloads": [result.to_json() for result in results]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
