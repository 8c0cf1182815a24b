"""The resolve pipeline: read the inputs once, layer the constraints per target, resolve one or
several targets over one session, and ``constrain resolve`` itself.

``app`` wires the domain packages together for a command and returns data; it neither parses
argv nor prints (``cli`` does both).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from typing import TYPE_CHECKING

from ..errors import ConstrainError, InputError, SourceLocation, UsageError
from ..models import InstallSet
from ..records import record
from ..reporting import NULL_REPORTER, Reporter
from .requests import ResolveRequest, check_exempt, parse_exclude_newer
from .session import Session, build_session, inputs_key

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from ..airflow.plan import LayerPlan
    from ..constraints.model import Inputs
    from ..models import Origin
    from ..resolver import ResolveOptions
    from ..target import TargetEnvironment


@record(frozen=False)
class ResolveResult:
    """What ``constrain resolve`` produced: the install set, the rendered text and the stats."""

    install_set: InstallSet
    text: str
    stats: dict


@record
class PreparedResolve:
    """What every target of one command shares: the inputs as read (requirements, constraints
    and the files or URLs they came from), the resolve options and the constraint layers.
    Built once by :func:`prepare_resolve`; :func:`resolve_target` then resolves any number of
    targets with it, from several threads at once when they share one :class:`Session`."""

    inputs: Inputs
    requirements: tuple[tuple[Requirement, Origin], ...]
    constraints: tuple[tuple[Requirement, Origin], ...]
    options: ResolveOptions
    exclude_newer: datetime | None
    command: str = ""
    #: Airflow's constraints, policies, overrides (``None``: none, they would change nothing)
    layers: LayerPlan | None = None

    @property
    def sources(self) -> tuple[str, ...]:
        """Every file or URL read for requirements or constraints, in reading order."""
        return tuple(self.inputs.sources)


def prepare_resolve(request: ResolveRequest, session: Session) -> PreparedResolve:
    """The inputs of ``request`` (read when ``session`` was built, or now through it when it
    was built for other inputs), the resolve options, and the constraint layers (settings,
    policy and reference files read through ``session``)."""
    from ..airflow.settings import layers_change_nothing
    from ..settings import constrain_config
    from ..constraints.model import ALL
    from ..constraints.sources import load_inputs
    from ..resolver import ResolveOptions

    exclude_newer = parse_exclude_newer(request.exclude_newer)
    check_exempt(request.build_exclude_newer_exempt)
    if request.build_constraints:  # read now: a bad one is said before any work
        session.build_source.read_constraints()
    session.note_cutoff(exclude_newer)
    inputs = session.inputs.get(inputs_key(request))
    if inputs is None:  # index options in these files cannot change the built session
        inputs = load_inputs(request.requirements, request.requirement_files,
                             request.constraint_files, fetch=session.fetch_text,
                             environ=session.environ)
    if inputs.hash_checking:
        _pinned_for_hashes(inputs)
    prerelease = request.prerelease
    if inputs.pre and prerelease == "if-necessary-or-explicit":
        prerelease = "allow"
    _say_unapplied(inputs, session.reporter)
    options = ResolveOptions(
        prerelease=prerelease,  # type: ignore[arg-type]  # one of PRERELEASE_CHOICES
        exclude_newer=exclude_newer,
        only_binary=request.only_binary or ALL in inputs.only_binary,
        hashes=tuple(sorted((name, tuple(sorted({_algo_digest(h) for h in values})))
                            for name, values in inputs.hashes.items())),
    )
    layers = None  # none when they would change nothing: constrain.airflow is not imported
    config, _source = constrain_config(request.config_dir)
    if not layers_change_nothing(request, session.environ, config, bool(inputs.constraints)):
        from ..airflow.layers import plan_layers

        layers = plan_layers(request, session, inputs, session.reporter, session.environ)
    return PreparedResolve(
        inputs=inputs,
        requirements=tuple(inputs.requirements),
        constraints=tuple(inputs.constraints),
        options=options,
        exclude_newer=exclude_newer,
        command=request.command,
        layers=layers,
    )


def _algo_digest(value: str) -> tuple[str, str]:
    """``("sha256", "ab12...")`` of a ``--hash`` value ``sha256:AB12...``."""
    algo, _, digest = value.partition(":")
    return algo.lower(), digest.lower()


def with_hashes(install_set: InstallSet, sha256_for) -> InstallSet:
    """``install_set`` with, for each file of its pins that has no sha256, the one
    ``sha256_for(file)`` gives (``None``: none known)."""
    pins = []
    for pin in install_set.pins:
        files = []
        for f in pin.files:
            digest = sha256_for(f) if f.sha256 is None else None
            files.append(f if digest is None
                         else dataclasses.replace(f, hashes=(*f.hashes, ("sha256", digest))))
        pins.append(dataclasses.replace(pin, files=tuple(files)))
    return dataclasses.replace(install_set, pins=tuple(pins))


def _local_sha256(f) -> str | None:
    """The sha256 of a local file (a find-links directory's), which no index gave a hash for:
    a lock or a hashed requirements file can then name it; ``None`` for a remote or gone one."""
    from ..index.files import sha256_of
    from ..index.transport.client import file_url_to_path

    if not f.url.startswith("file:"):
        return None
    try:
        return sha256_of(file_url_to_path(f.url))
    except OSError:
        return None


def _say_unapplied(inputs, reporter: Reporter) -> None:
    """Warn of the options in requirement files that constrain reads but does not apply (it
    applies ``-i``, ``--extra-index-url``, ``--find-links``, ``--no-index``, ``--pre``,
    ``--only-binary :all:`` and ``--hash``): a setting dropped without a word is worse."""
    from ..constraints.model import ALL

    said = []
    if inputs.only_binary - {ALL}:
        said.append(f"--only-binary for {', '.join(sorted(inputs.only_binary - {ALL}))} "
                    "(only :all: is applied)")
    if inputs.no_binary:
        said.append(f"--no-binary {', '.join(sorted(inputs.no_binary))}")
    if inputs.prefer_binary:
        said.append("--prefer-binary")
    if inputs.trusted_hosts:
        said.append(f"--trusted-host {', '.join(inputs.trusted_hosts)} (TLS is always checked)")
    for option in said:
        reporter.warning(f"a requirements file asks for {option}, which constrain does not "
                         "apply")


def _pinned_for_hashes(inputs) -> None:
    """In pip's hash-checking mode (``--require-hashes``, or any ``--hash``) every requirement
    must name one version (``==`` without a wildcard, or ``===``): an error naming the others."""
    loose = [origin for req, origin in inputs.requirements
             if not (len(req.specifier) == 1 and next(iter(req.specifier)).operator in ("==", "===")
                     and not str(req.specifier).endswith(".*"))]
    if loose:
        raise InputError(
            "hash-checking mode (--require-hashes or --hash): every requirement must be pinned "
            "with ==", locations=[SourceLocation(o.source, o.line, o.text, None, "not pinned")
                                  for o in loose],
            hint="pin each with ==version and give its --hash, as pip requires in this mode")


def resolve_target(
    prepared: PreparedResolve,
    session: Session,
    target: TargetEnvironment,
    reporter: Reporter = NULL_REPORTER,
    on_pin: Callable[..., object] | None = None,
) -> InstallSet:
    """Resolve ``prepared`` for one ``target`` (a :class:`~constrain.target.TargetEnvironment`)
    through ``session``'s repository; thread-safe for several targets on one session."""
    constraints = prepared.constraints
    layered = None
    if prepared.layers is not None:  # Airflow's file, overrides, policy bounds (per target)
        from ..airflow.layers import layer_constraints

        layered = layer_constraints(prepared.layers, prepared.requirements, constraints,
                                    prepared.options, session, target, reporter)
        constraints = layered.constraints
    install_set = session.resolve(
        prepared.requirements, constraints, target, prepared.options, reporter, on_pin=on_pin
    )
    if layered is not None:
        from ..airflow.layers import finish_install_set

        install_set = finish_install_set(layered, install_set, session, target,
                                         prepared.options, reporter)
    inputs = prepared.inputs
    if inputs.hash_checking:  # every pin hashed, as pip requires
        unhashed = [p.display_name for p in install_set.pins if p.name not in inputs.hashes]
        if unhashed:
            raise InputError(
                f"hash-checking mode: {len(unhashed)} of the {len(install_set.pins)} pins have "
                f"no --hash: {', '.join(unhashed[:10])}" + (" ..." if len(unhashed) > 10 else ""),
                hint="give every package the install needs, dependencies too, with ==version "
                "and --hash (constrain resolve --format requirements writes such a file), or "
                "drop --require-hashes and every --hash")
    return dataclasses.replace(
        install_set, command=prepared.command, exclude_newer=prepared.exclude_newer
    )


def resolve_targets(
    jobs: Sequence[tuple[PreparedResolve, TargetEnvironment]],
    session: Session,
    reporter: Reporter = NULL_REPORTER,
    *,
    doing: str = "resolving",
) -> list[InstallSet]:
    """Resolve each ``(prepared, target)`` in its own thread over one shared session (one
    cache, one connection pool, one repository), answers in ``jobs`` order. The first failure
    in that order is raised, saying which target it concerns."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    session.repository  # noqa: B018 -- create it once, before the threads race for it
    errors: dict[int, BaseException] = {}
    sets: dict[int, InstallSet] = {}
    lock = threading.Lock()

    def one(i: int) -> None:
        prepared, target = jobs[i]
        reporter.info(f"{doing} for {target.describe()}")
        try:
            result = resolve_target(prepared, session, target, reporter)
        except BaseException as exc:  # noqa: BLE001 -- re-raised below, in job order
            with lock:
                errors[i] = exc
            return
        with lock:
            sets[i] = result

    pool = ThreadPoolExecutor(max_workers=max(1, len(jobs)))
    try:
        list(pool.map(one, range(len(jobs))))
    except KeyboardInterrupt:  # not waited for: closing the session (the caller's clean-up)
        pool.shutdown(wait=False, cancel_futures=True)  # ends the resolves under way
        raise
    pool.shutdown(wait=True)
    if errors:
        i = min(errors)
        exc = errors[i]
        if isinstance(exc, ConstrainError):
            where = jobs[i][1].describe()
            exc.details = (*exc.details, f"(while {doing} for {where})")
        raise exc
    return [sets[i] for i in range(len(jobs))]


def check_output(output: str, inputs: Sequence[str] = ()) -> None:
    """Refuse, before any work, an output path that is empty, names one of the ``inputs``
    (:func:`refuse_replacing`), or could not be written (``output.write.check_writable``)."""
    from ..output import check_writable

    if not output:
        raise UsageError("-o/--output is empty", hint="give a file name, or leave -o out "
                         "(or give -o -) to write to stdout")
    refuse_replacing([(f"-o {output}", output)], inputs)
    check_writable(Path(output))


def request_files(request: ResolveRequest) -> tuple[str, ...]:
    """Every file ``request`` names that a command reads: its requirement and constraint
    files, policy files, policy reference and build constraints (files these include are in
    the session's ``Inputs.sources`` once read)."""
    return (*request.requirement_files, *request.constraint_files, *request.policies,
            *((request.policy_reference,) if request.policy_reference else ()),
            *request.build_constraints)


def refuse_replacing(outputs: Sequence[tuple[str, str]], inputs: Sequence[str]) -> None:
    """:class:`UsageError` when an output (``(what, path)``: ``what`` names it in the message,
    ``-o out.txt``) is the same file as one of the ``inputs`` (paths; URLs are skipped) or as
    another output: writing it would replace what the command reads, or one result would
    replace another."""
    import os

    seen: dict[str, str] = {}
    for what, path in outputs:
        target = os.path.realpath(path)
        for name in inputs:
            if "://" not in name and os.path.realpath(name) == target:
                raise UsageError(f"{what} would replace the input file {name}",
                                 hint="write the result to another file")
        if target in seen:
            raise UsageError(f"{seen[target]} and {what} are the same file",
                             hint="give each result a file of its own")
        seen[target] = what


def resolve_command(request: ResolveRequest, reporter: Reporter = NULL_REPORTER) -> ResolveResult:
    """Run ``constrain resolve``: read inputs, resolve for the target, render (and write)."""
    from ..output import render, write_atomic
    from ..target import TargetEnvironment

    if request.format not in ("constraints", "requirements", "pylock", "json"):
        raise UsageError(f"unknown format {request.format!r}")
    if request.output is not None:
        check_output(request.output, request_files(request))
    target = TargetEnvironment.from_options(request.python, request.platforms)
    session = build_session(request, reporter)  # a bad date fails before any network
    try:
        if request.output:  # and the files those include, now read (nothing resolved yet)
            refuse_replacing([(f"-o {request.output}", request.output)],
                             [s for read in session.inputs.values() for s in read.sources])
        prepared = prepare_resolve(request, session)
        install_set = resolve_target(prepared, session, target, reporter)
        stats = resolve_stats(install_set, session)
        if request.format in ("requirements", "pylock"):  # formats that carry hashes
            install_set = with_hashes(install_set, _local_sha256)
        text = render(install_set, request.format, annotate=request.annotate)
        if request.output:
            write_atomic(Path(request.output), text)
        return ResolveResult(install_set=install_set, text=text, stats=stats)
    finally:
        session.close()


def resolve_stats(install_set: InstallSet, session: Session) -> dict:
    """The work counters of a one-target command (``CONSTRAIN_STATS_FILE``)."""
    s = install_set.stats
    repo_stats = session.repository_stats()
    return {
        "pins": len(install_set.pins),
        "remembered_resolutions": session.remembered,
        "rounds": s.rounds,
        "candidates_visited": s.candidates_visited,
        "backtracks": s.backtracks,
        "requirements_matched": s.requirements_matched,
        "requests": session.client.counters.requests,
        "bytes_received": session.client.counters.bytes_received,
        **{k: v for k, v in repo_stats.items() if k not in ("requests", "bytes_received")},
    }
