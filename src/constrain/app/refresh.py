"""Run ``constrain refresh``: resolve every (mode, Python) target over one session, compare with the
committed files, write the files whose pins moved, and build the reports.

Each target is resolved for highest versions within the upper-bound policies, with the current
file's pins as the *reference* of ``minor``/``major`` bounds (so a package moves freely up to its
bound and stops there). Airflow's own constraint files are switched off unless the refresh
command or its configuration asks for them: a published file pins every package to the old
release and a refresh could never move anything; the current files act only as the policies'
reference. A file is rewritten only when its pins changed (comments ignored), so a rerun with
nothing new leaves every file untouched, mtime included. Nothing here prints.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import ConstrainError, OutputError, UsageError, redact_url
from ..models import InstallSet
from ..output import render, write_atomic
from ..output.header import format_utc
from ..refresh.diff import diff_pins, install_set_pins, matches_any, read_pins
from ..refresh.held import held_back_by
from ..refresh.outcome import RefreshResult, TargetOutcome
from ..refresh.settings import DEFAULT_MODE, Mode
from ..reporting import NULL_REPORTER, Reporter
from ..review.consistency import check_consistency
from ..target import TargetEnvironment
from .requests import ResolveRequest, parse_exclude_newer
from .resolve import prepare_resolve, refuse_replacing, request_files, resolve_targets
from .session import build_session


@dataclass(frozen=True)
class RefreshRequest:
    """Everything ``constrain refresh`` takes. ``resolve`` carries the options every target
    shares (its requirements, python and platforms are ignored: ``modes`` x ``pythons`` make
    the targets, each with every one of ``platforms``)."""

    resolve: ResolveRequest
    output_dir: str
    modes: tuple[Mode, ...]
    pythons: tuple[str | None, ...] = (None,)
    platforms: tuple[str, ...] = ()
    check: bool = False
    fail_on_downgrade: tuple[str, ...] = ()
    fail_on_inconsistency: bool = False
    report: str | None = None
    json_report: str | None = None
    config_source: str | None = None
    environ: Mapping[str, str] | None = field(default=None, compare=False)


def refresh_command(request: RefreshRequest, reporter: Reporter = NULL_REPORTER) -> RefreshResult:
    """Refresh every target of ``request`` (see the module docstring).

    Raises :class:`UsageError` for bad options, :class:`InputError` for unreadable committed
    files, and the resolver's errors naming the target. ``--check``, forbidden downgrades and
    (under ``--fail-on-inconsistency``) unexplained differences across Pythons do not raise:
    the result says so (``changed``, ``forbidden``, ``unexplained``) and nothing is written."""
    from ..refresh.report import render_json, render_markdown

    if not request.modes:
        raise UsageError("nothing to refresh",
                         hint="name requirements (constrain refresh 'apache-airflow==2.10.5' "
                         "--python 3.11 --output-dir constraints), --mode NAME=REQUIREMENTS, or "
                         "set them in [tool.constrain.refresh]")
    for mode in request.modes:
        if not mode.requirements and not mode.requirement_files:
            raise UsageError(f"mode {mode.name!r} has no requirements")
    exclude_newer = parse_exclude_newer(request.resolve.exclude_newer)  # fails before network
    out_dir = Path(request.output_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--output-dir {out_dir} exists and is not a directory")
    # every path this will write, checked before any work: a report that cannot be written
    # must not leave the constraint files written and the command failed
    from ..output import check_writable

    check_writable(out_dir / "constraints.txt", make_parents=True)
    for flag, report in (("--report", request.report), ("--json-report", request.json_report)):
        if report == "":
            raise UsageError(f"{flag} is empty", hint=f"give a file name, or leave {flag} out")
        if report is not None:
            check_writable(Path(report))
    _check_step_summary(request)
    planned = _plan_targets(request)
    # no result may replace a file the command reads, nor another result
    outputs = [*((f"the constraints file {out_dir / name}", str(out_dir / name))
                 for _m, name, _t in planned),
               *((f"--report {r}", r) for r in (request.report,) if r),
               *((f"--json-report {r}", r) for r in (request.json_report,) if r)]
    read = [*request_files(request.resolve),
            *(f for mode in request.modes for f in mode.requirement_files)]
    refuse_replacing(outputs, read)
    current = {name: _read_current(out_dir / name) for _m, name, _t in planned}

    mode_requests = {mode.name: dataclasses.replace(
        request.resolve, requirements=mode.requirements, requirement_files=mode.requirement_files)
        for mode in request.modes}
    session = build_session(request.resolve, reporter, inputs_of=mode_requests.values())
    try:  # and the files those include, now read (nothing resolved yet)
        refuse_replacing(outputs, [s for r in session.inputs.values() for s in r.sources])
        prepared_by_mode = {name: prepare_resolve(req, session)
                            for name, req in mode_requests.items()}
        jobs = []
        for mode, name, target in planned:
            prepared = dataclasses.replace(
                prepared_by_mode[mode.name],
                command=reproduce_command(request, mode, target.python_short))
            layers = prepared.layers
            if layers is not None and request.resolve.policy_reference is None:
                pins = current[name]
                reference = {k: v.version for k, v in (pins or {}).items()}
                prepared = dataclasses.replace(prepared, layers=dataclasses.replace(
                    layers, reference=reference,
                    reference_source=str(out_dir / name) if pins is not None else None))
            jobs.append((prepared, target))
        sets = resolve_targets(jobs, session, reporter, doing="refreshing")
        outcomes = []
        for (mode, name, target), install_set in zip(planned, sets, strict=True):
            old = current[name]
            diff = diff_pins(old or {}, install_set_pins(install_set))
            forbidden = tuple(c for c in diff.downgraded
                              if matches_any(c.name, request.fail_on_downgrade))
            as_of, why = _as_of(install_set, exclude_newer)
            outcomes.append(TargetOutcome(mode.name, name, out_dir / name, target, install_set,
                                          diff, existed=old is not None, forbidden=forbidden,
                                          as_of=as_of, as_of_why=why,
                                          held_by=held_back_by(install_set, session.repository)))
        consistency = {
            mode.name: check_consistency(
                [(t.file, t.install_set) for t in outcomes if t.mode == mode.name],
                files_of=session.repository.files)
            for mode in request.modes}
        written: list[str] = []
        blocked = any(t.forbidden for t in outcomes) or (
            request.fail_on_inconsistency and any(c.unexplained for c in consistency.values()))
        for t in outcomes:
            if not t.changed:
                t.status = "unchanged"
            elif request.check or blocked:
                t.status = "would create" if not t.existed else "would update"
            else:
                try:
                    out_dir.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise OutputError(f"cannot create --output-dir {out_dir}: "
                                      f"{exc.strerror or exc}") from exc
                write_atomic(t.path, render(t.install_set, "constraints",
                                            notes=header_notes(t)))
                t.status = "created" if not t.existed else "updated"
                written.append(t.file)
        result = RefreshResult(out_dir, outcomes, request.check, exclude_newer, written,
                               consistency=consistency,
                               fail_on_inconsistency=request.fail_on_inconsistency)
        result.stats = {
            "targets": len(outcomes),
            "changed": len(result.changed),
            "written": len(written),
            "pins": sum(len(t.install_set.pins) for t in outcomes),
            # summed over the targets (a remembered target counts the rounds it was found in)
            "remembered_resolutions": session.remembered,
            "rounds": sum(t.install_set.stats.rounds for t in outcomes),
            "candidates_visited": sum(t.install_set.stats.candidates_visited for t in outcomes),
            "backtracks": sum(t.install_set.stats.backtracks for t in outcomes),
            "requests": session.client.counters.requests,
            "bytes_received": session.client.counters.bytes_received,
        }
    finally:
        session.close()
    result.markdown = render_markdown(result)
    result.json = render_json(result)
    _write_reports(request, result)
    return result


# ---------------------------------------------------------------------------- targets


def _plan_targets(request: RefreshRequest) -> list[tuple[Mode, str, TargetEnvironment]]:
    """``(mode, file name, target)`` for every mode x Python (each with all the platforms),
    in that order; the same file named twice is refused."""
    out = []
    seen: dict[str, str] = {}
    for mode in request.modes:
        for py in request.pythons or (None,):
            target = TargetEnvironment.from_options(py, request.platforms)
            name = f"{mode.name}-{target.python_short}.txt"
            if name in seen:
                raise UsageError(f"two targets would write {name} ({seen[name]} and {py})",
                                 hint="give each Python and mode once")
            seen[name] = str(py)
            out.append((mode, name, target))
    return out


def _read_current(path: Path):
    """The pins of the committed file at ``path``; ``None`` when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConstrainError(f"cannot read {path}: {exc}") from None
    return read_pins(text, str(path))


# ---------------------------------------------------------------------------- the header


def _as_of(install_set: InstallSet, exclude_newer: datetime | None) -> tuple[datetime | None, str]:
    """When the pins are "as of": the --exclude-newer cut-off, else the newest upload time of
    any pinned file (never the wall clock: the same inputs give the same bytes)."""
    if exclude_newer is not None:
        return exclude_newer, "the --exclude-newer cut-off"
    times = [f.upload_time for p in install_set.pins for f in p.files if f.upload_time]
    if not times:
        return None, ""
    return max(times), "the newest upload among the pinned files"


def header_notes(t: TargetOutcome) -> list[str]:
    """The refresh's lines for the header: mode, Python, how and as of when."""
    notes = [f"Refreshed constraints, mode {t.mode!r}, Python {t.python}: highest versions "
             "within the upper-bound policies, each relative to the previous file's pins"]
    if t.as_of is not None:
        notes.append(f"Pins as of {format_utc(t.as_of)} ({t.as_of_why})")
    return notes


def reproduce_command(request: RefreshRequest, mode: Mode, python: str) -> str:
    """The command that refreshes this one file again, from the effective settings (not argv:
    a configuration-driven run and a command-line run write the same header)."""
    r = request.resolve
    parts: list[str] = []
    if mode.name == DEFAULT_MODE:
        parts += mode.requirements
        for f in mode.requirement_files:
            parts += ["-r", f]
    else:
        parts += ["--mode", mode.spec()]
    parts += ["--python", python]
    for p in request.platforms:
        parts += ["--platform", p]
    parts += ["--output-dir", request.output_dir]
    for c in r.constraint_files:
        parts += ["-c", c]
    for p in r.policies:
        parts += ["--policies", p]
    if r.policy_reference:
        parts += ["--policy-reference", r.policy_reference]
    if r.exclude_newer:
        parts += ["--exclude-newer", r.exclude_newer]
    if r.prerelease != "if-necessary-or-explicit":
        parts += ["--prerelease", r.prerelease]
    if r.only_binary:
        parts.append("--only-binary")
    if r.no_build:
        parts.append("--no-build")
    if r.index_url:
        parts += ["--index-url", r.index_url]
    for u in r.extra_index_urls or ():
        parts += ["--extra-index-url", u]
    for u in r.find_links or ():
        parts += ["--find-links", u]
    if r.no_index:
        parts.append("--no-index")
    if r.airflow_constraints and r.airflow_constraints != "off":
        parts += ["--airflow-constraints", r.airflow_constraints]
    for o in r.overrides:
        parts += ["--override", o]
    return "constrain refresh " + " ".join(shlex.quote(redact_url(p)) for p in parts)


# ---------------------------------------------------------------------------- reports


def _step_summary(request: RefreshRequest) -> str | None:
    environ: Mapping[str, str] = os.environ if request.environ is None else request.environ
    return environ.get("GITHUB_STEP_SUMMARY") or None


def _check_step_summary(request: RefreshRequest) -> None:
    """The summary file GitHub gives a step must be one this command can append to, checked
    before any work (else the constraint files were written and then the command failed)."""
    summary = _step_summary(request)
    if summary is None:
        return
    if os.path.isfile(summary):
        if not os.access(summary, os.W_OK):
            raise OutputError(f"cannot append to GITHUB_STEP_SUMMARY {summary}: it is not "
                              "writable", hint="unset GITHUB_STEP_SUMMARY, or make it writable")
        return
    from ..output import check_writable

    check_writable(Path(summary))


def _write_reports(request: RefreshRequest, result: RefreshResult) -> None:
    if request.report:
        write_atomic(Path(request.report), result.markdown)
    if request.json_report:
        write_atomic(Path(request.json_report), result.json)
    summary = _step_summary(request)
    if summary:  # GitHub appends each step's summary file to the run's page
        try:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(result.markdown)
        except OSError as exc:
            raise ConstrainError(f"cannot append to GITHUB_STEP_SUMMARY {summary}: "
                                 f"{exc.strerror or exc}") from None
