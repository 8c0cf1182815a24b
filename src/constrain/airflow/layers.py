"""Layer the constraints of one resolve: Airflow's published or reconstructed file, the user's
files, overrides and upper-bound policies, and report what each layer did.

``app`` calls :func:`plan_layers` once per command (flags, environment, ``constrain.toml``,
policy and reference files) and :func:`layer_constraints` once per target (Airflow's file
depends on the target Python). After the resolve, :func:`finish_install_set` adds what the
policies held back and the notes every output header carries. Airflow's own file (published
or reconstructed) comes from :mod:`.files`; everything is fetched through the session the
command passes in (:class:`.ports.Resolving`); the decisions themselves live in the pure modules
:mod:`.published` and :mod:`constrain.policies.bounds`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from ..errors import (
    ConstrainError,
    UsageError,
    redact_url,
)
from ..models import InstallSet, Origin
from ..reporting import Reporter
from . import published as af
from .plan import LayerPlan, Layered, Pairs

if TYPE_CHECKING:
    from ..policies.bounds import Bound, BoundPolicy, HeldBack
    from ..constraints.model import Inputs
    from ..resolver import ResolveOptions
    from ..target import TargetEnvironment
    from .ports import LayerOptions, Resolving

def plan_layers(request: LayerOptions, session: Resolving, inputs: Inputs, reporter: Reporter,
                environ: Mapping[str, str]) -> LayerPlan:
    """Read the settings, policy files and reference file of ``request``."""
    from ..settings import constrain_config

    config, config_source = constrain_config(request.config_dir)
    settings = af.airflow_settings(
        {
            "use": request.airflow_constraints,
            "mode": request.airflow_constraints_mode,
            "ref": request.airflow_constraints_ref,
            "url_template": request.airflow_constraints_url,
        },
        environ,
        config,
        config_source or "configuration",
    )
    airflow = af.find_airflow(inputs.requirements)
    use = af.wanted(settings, airflow, bool(request.constraint_files))

    policy_files = list(request.policies)
    if not policy_files and config.get("policies") is not None:
        raw = config["policies"]
        policy_files = [raw] if isinstance(raw, str) else list(raw)
    policies: list[BoundPolicy] = []
    for location in policy_files:
        pf = load_policy_file(location, session)
        for problem in pf.lint():
            reporter.warning(f"policy {problem}: {problem.message}")
        policies.extend(p for p in pf.policies if p.name not in {q.name for q in policies})

    reference = None
    if request.policy_reference:
        from ..constraints.sources import load_inputs

        ref_inputs = load_inputs((), (), [request.policy_reference], fetch=session.fetch_text)
        reference = exact_pins(ref_inputs.constraints)
    overrides = tuple(_parse_override(o) for o in request.overrides)
    return LayerPlan(settings, airflow, use, tuple(policies), reference,
                     request.policy_reference, overrides)


def load_policy_file(location: str, session: Resolving | None):
    """The policy file at ``location`` (``airflow``: the packaged default)."""
    from ..policies.bounds import DEFAULT_POLICIES, default_policy_text, parse_policies

    if location == DEFAULT_POLICIES:
        source, text = default_policy_text()
    else:
        if session is None:
            source, text = location, Path(location).read_text(encoding="utf-8")
        else:
            source, text = session.fetch_text(location)
    return parse_policies(text, source)


def exact_pins(pairs: Pairs) -> dict[str, Version]:
    """Canonical name -> version of every exact ``==`` pin among ``pairs``."""
    out: dict[str, Version] = {}
    for req, _origin in pairs:
        specs = list(req.specifier)
        if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
            out[canonicalize_name(req.name)] = Version(specs[0].version)
    return out


def _parse_override(text: str) -> tuple[NormalizedName, str, int | None]:
    name, sep, where = text.partition("=")
    if not sep or not name.strip() or not where.strip():
        raise UsageError(f"--override {text!r}: expected PACKAGE=SOURCE[:LINE]",
                         hint="e.g. --override sqlalchemy=team-constraints.txt, or "
                         "--override sqlalchemy=airflow for Airflow's file")
    line = None
    head, colon, tail = where.rpartition(":")
    if colon and tail.isdigit() and head:
        where, line = head, int(tail)
    return canonicalize_name(name.strip()), where.strip(), line


# ---------------------------------------------------------------------------- per target


def layer_constraints(
    plan: LayerPlan,
    requirements: Pairs,
    constraints: Pairs,
    options: ResolveOptions,
    session: Resolving,
    target: TargetEnvironment,
    reporter: Reporter,
) -> Layered:
    """The constraints for ``target``: Airflow's (first), then the user's, conflicts checked
    (overrides applied and reported), contradictions of the requirements dropped (reported),
    then the policies' bounds relative to the reference."""
    from ..constraints.sets import ConstraintSet

    notes: list[str] = []
    airflow_pairs: list[tuple[Requirement, Origin]] = []
    airflow_source = None
    moves: tuple = ()
    airflow = ""
    if plan.use is not None:
        from .files import airflow_constraints  # here: most resolves layer no Airflow file

        airflow_pairs, airflow_source, note, moves, airflow = airflow_constraints(
            plan, session, target, options, reporter, requirements, constraints)
        if note:
            notes.append(note)
        notes.extend(f"moved past the release date for Python {target.python_short}: "
                     f"{m.line()}" for m in moves)
    pairs: list[tuple[Requirement, Origin]] = []
    for req, origin in [*airflow_pairs, *constraints]:
        against = af.contradicts(req, requirements)
        if against is not None:
            message = (f"ignored the constraint {req} from {origin}: it contradicts the "
                       f"requirement {against[0]} from {against[1]}")
            reporter.warning(message)
            notes.append(message)
            continue
        pairs.append((req, origin))

    wins = _override_origins(plan.overrides, pairs, airflow_source)
    cs = ConstraintSet(pairs, evaluate=target.evaluate, overrides=wins)
    dropped = {(o.name, d.origin) for o in cs.overridden for d in o.dropped}
    for o in cs.overridden:
        lost = ", ".join(f"{d.specifier or d.url} from {d.origin}" for d in o.dropped)
        message = (f"override: {o.name}{o.winner.specifier or ''} from {o.winner.origin} wins "
                   f"over {lost}")
        reporter.warning(message)
        notes.append(message)
    pairs = [(r, o) for r, o in pairs if (canonicalize_name(r.name), o) not in dropped]

    bounds: list[Bound] = []
    if plan.policies:  # (policies.bounds is imported only where a resolve has policies)
        from ..policies.bounds import bounds_for

        reference = plan.reference if plan.reference is not None else exact_pins(
            [(r, o) for r, o in pairs if target.evaluate(r.marker)])
        bounds, unused = bounds_for(plan.policies, reference)
        for p in unused:
            reporter.info(f"policy for {p.display_name} ({p.bound}) not applied: no reference "
                          "pin" + (f" in {plan.reference_source}" if plan.reference_source
                                   else " in the constraints"))
        pairs.extend(b.constraint() for b in bounds)
    return Layered(tuple(pairs), tuple(bounds), tuple(notes), tuple(moves), airflow)


def finish_install_set(
    layered: Layered, install_set: InstallSet, session: Resolving, target: TargetEnvironment,
    options: ResolveOptions, reporter: Reporter,
) -> InstallSet:
    """``install_set`` with the layers' notes and what the bounds held back (package, bound,
    newest release available for the target, reason)."""
    chosen: dict[str, Version] = {p.name: p.version for p in install_set.pins}

    def newest(name: str) -> Version | None:
        return newest_release(session.repository, name, target, options)

    held: Sequence[HeldBack] = ()
    if layered.bounds:
        from ..policies.bounds import held_back

        held = held_back(layered.bounds, chosen, newest)
    for h in held:
        reporter.info(h.line())
    notes = (*install_set.notes, *layered.notes, *(h.line() for h in held))
    return dataclasses.replace(install_set, notes=notes,
                               held_back=(*install_set.held_back, *held),
                               moved=(*install_set.moved, *layered.moves),
                               airflow=layered.airflow or install_set.airflow)


def newest_release(repository, name: str, target: TargetEnvironment, options: ResolveOptions) -> Version | None:
    """The highest final, unyanked release of ``name`` with a file for ``target`` under the
    file policies (exclude-newer, only-binary)."""
    from ..policies.filters import FilePolicy, group_versions, iter_choices

    policy = FilePolicy("disallow", options.exclude_newer, options.only_binary)
    try:
        versions = group_versions(name, repository.files(NormalizedName(name)), target, policy)
    except ConstrainError:
        return None
    for choice in iter_choices(versions, [], "disallow"):
        if not choice.yanked:
            return choice.version
    return None


def _override_origins(
    overrides: Sequence[tuple[NormalizedName, str, int | None]],
    pairs: Pairs,
    airflow_source: str | None,
) -> dict[str, Origin]:
    """Map each ``--override NAME=SOURCE[:LINE]`` to the origin it names among ``pairs``
    (``airflow`` names Airflow's file; a path matches the same file however written)."""
    sources = {o.source for _r, o in pairs}
    out: dict[str, Origin] = {}
    for name, where, line in overrides:
        found = None
        if where == "airflow" and airflow_source is not None:
            found = airflow_source
        elif where in sources:
            found = where
        else:
            for s in sources:
                if "://" not in s and "://" not in where and _same_path(s, where):
                    found = s
        if found is None:
            raise UsageError(
                f"--override {name}={where}: no constraint source {where!r} in this resolve",
                hint="name a -c file as given on the command line, or 'airflow'; sources: "
                + ", ".join(sorted(redact_url(s) for s in sources)),
            )
        out[name] = Origin(found, line)
    return out


def _same_path(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


# ---------------------------------------------------------------------------- Airflow
