"""Render a refresh's diff as markdown (a PR body or CI step summary) and as JSON.

Per file: status, upgraded, downgraded, added and removed packages with versions, downgrades a
``--fail-on-downgrade`` glob forbids, and what upper-bound policies held back (package, pinned
version, bound, newest release available, reason, policy origin). The same result always gives
the same text.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..output.header import format_utc
from .diff import requirement_limits

if TYPE_CHECKING:
    from ..review.consistency import Consistency
    from .diff import Change
    from .outcome import RefreshResult, TargetOutcome

FORMAT = "constrain-refresh-report/1"
_KINDS = ("upgraded", "downgraded", "added", "removed")
#: change tables longer than this are folded into a <details> block
FOLD_AFTER = 30


def _v(version) -> str | None:
    return None if version is None else str(version)


def _held_rows(t: TargetOutcome) -> list[dict]:
    rows = []
    for h in t.held_back:
        p = h.bound.policy
        rows.append({
            "package": h.name,
            "pinned": _v(h.chosen),
            "bound": h.bound.describe(),
            "newest": _v(h.newest),
            "reason": p.reason,
            "remove_when": p.remove_when,
            "policy": str(p.origin),
            # requirements that exclude the newest release too: the policy is not binding
            "also_limited_by": t.held_by[h.name] if h.name in t.held_by
            else requirement_limits(t.install_set, h.name, h.newest),
        })
    return sorted(rows, key=lambda r: r["package"].lower())


def _change(c: Change) -> dict:
    return {"name": c.name, "from": _v(c.old), "to": _v(c.new)}


def to_data(result: RefreshResult) -> dict:
    """The report as JSON-ready data."""
    files = []
    for t in result.targets:
        entry = {
            "file": t.file,
            "mode": t.mode,
            "python": t.python,
            "target": t.target.describe(),
            "status": t.status,
            "pins": len(t.install_set.pins),
        }
        for kind in _KINDS:
            entry[kind] = [_change(c) for c in t.diff.of_kind(kind)]
        entry["forbidden_downgrades"] = [_change(c) for c in t.forbidden]
        entry["held_back"] = _held_rows(t)
        entry["as_of"] = format_utc(t.as_of) if t.as_of else None
        files.append(entry)
    return {
        "format": FORMAT,
        "output_dir": str(result.output_dir),
        "check": result.check,
        "exclude_newer": format_utc(result.exclude_newer) if result.exclude_newer else None,
        "changed": bool(result.changed),
        "written": list(result.written),
        "files": files,
        "consistency": {mode: c.to_data() for mode, c in result.consistency.items()},
    }


def render_json(result: RefreshResult) -> str:
    return json.dumps(to_data(result), indent=2) + "\n"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(result: RefreshResult) -> str:
    """The report as GitHub-flavoured markdown."""
    out = ["## constrain refresh", ""]
    changed = result.changed
    n = len(result.targets)
    summary = (f"{n} file{'s' if n != 1 else ''} in `{result.output_dir}`: "
               f"{len(changed)} with changed pins, {n - len(changed)} unchanged")
    if result.exclude_newer is not None:
        summary += f"; files uploaded after {format_utc(result.exclude_newer)} excluded"
    out.append(summary + ".")
    if result.check and changed:
        out += ["", "**--check: the committed files are out of date** (nothing was written)."]
    forbidden = result.forbidden
    if forbidden:
        out += ["", "**Forbidden downgrades** (nothing was written):", ""]
        out += [f"- `{t.file}`: {c.name} {c.old} → {c.new}" for t, c in forbidden]
    if result.fail_on_inconsistency and result.unexplained:
        out += ["", ("**--fail-on-inconsistency: packages differ across Pythons with no "
                     "reason found** (nothing was written):"), ""]
        out += [f"- mode `{m}`: {f.name} ({f.versions_text()})" for m, f in result.unexplained]
    for t in result.targets:
        counts = ", ".join(f"{len(t.diff.of_kind(k))} {k}" for k in _KINDS)
        out += ["", f"### `{t.file}` — {t.status}", "",
                f"Mode `{t.mode}`, {_cell(t.target.describe())}; {len(t.install_set.pins)} "
                f"pins; {counts}."]
        if t.diff:
            # a long table (a new file, a big refresh) folds away in a PR or step summary
            fold = len(t.diff.changes) > FOLD_AFTER
            if fold:
                out += ["", f"<details><summary>{len(t.diff.changes)} changes</summary>"]
            out += ["", "| package | change | from | to |", "|---|---|---|---|"]
            for c in t.diff.changes:
                out.append(f"| {_cell(c.name)} | {c.kind} | {_v(c.old) or ''} | "
                           f"{_v(c.new) or ''} |")
            if fold:
                out += ["", "</details>"]
        held = _held_rows(t)
        if held:
            out += ["", "Held back (by a policy's bound; by requirements too, when they "
                    "exclude the newest release anyway):", "",
                    "| package | pinned | bound | newest | reason | policy | held back by |",
                    "|---|---|---|---|---|---|---|"]
            for r in held:
                out.append(f"| {_cell(r['package'])} | {r['pinned'] or ''} | "
                           f"{_cell(r['bound'])} | {r['newest']} | "
                           f"{_cell(r['reason'] or 'no reason given')} | {_cell(r['policy'])} | "
                           f"{_cell('; '.join(r['also_limited_by'])) or 'the policy'} |")
    for mode, found in result.consistency.items():
        out += _consistency_section(mode, found, several=len(result.consistency) > 1)
    return "\n".join(out) + "\n"


def _consistency_section(mode: str, c: Consistency, *, several: bool) -> list[str]:
    """Every package that differs across the Pythons of ``mode``: its version per file and
    why (unexplained ones flagged)."""
    if len(c.targets) < 2:
        return []
    title = "Consistency across Pythons" + (f" (mode `{mode}`)" if several else "")
    headline = c.headline()
    out = ["", f"### {title}", "", headline[0].upper() + headline[1:] + "."]
    if not c.findings:
        return out
    out += ["", "| package | " + " | ".join(f"`{t}`" for t in c.targets) + " | why |",
            "|---|" + "---|" * len(c.targets) + "---|"]
    for f in c.findings:
        versions = dict(f.versions)
        cells = [str(versions[t]) if versions.get(t) is not None else "—" for t in c.targets]
        flag = "" if f.explained else "**unexplained** — "
        out.append(f"| {_cell(f.name)} | " + " | ".join(cells) + f" | {flag}"
                   f"{_cell(f.why_text())} |")
    return out
