"""``constrain policy check [FILE]``: vet an upper-bound policy file against the index.

Problems are entries without a reason or removal condition and packages no configured index
knows, every one with file:line. For each bound the check says what it holds back (the newest
release beyond it) or that it no longer holds anything back. Bounds are computed relative to
the ``reference`` constraints file; ``minor``/``major`` bounds without a reference pin are only
checked for their package's existence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InputError, OfflineMissing, ProjectNotFound, SourceLocation
from ..reporting import Reporter
from .requests import ResolveRequest, parse_exclude_newer
from .session import build_session


@dataclass(frozen=True)
class PolicyCheckRequest:
    """What ``constrain policy check`` takes: the policy file (``airflow``: the packaged one),
    the reference constraints file, whether to ask the index, and the index options."""

    file: str = "airflow"
    reference: str | None = None
    lookup: bool = True
    python: str | None = None
    exclude_newer: str | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] | None = None
    find_links: tuple[str, ...] | None = None
    no_index: bool = False
    offline: bool = False
    cache_dir: str | None = None


@dataclass
class PolicyCheckResult:
    """One line per bound checked, the problems found, the file read and its policy count."""

    source: str
    policies: int
    lines: list[str] = field(default_factory=list)
    problems: list[SourceLocation] = field(default_factory=list)

    def error(self) -> InputError:
        """The error listing every problem (exit 2)."""
        n = len(self.problems)
        return InputError(
            f"{n} problem{'s' if n != 1 else ''} in policy file {self.source}",
            locations=sorted(self.problems, key=lambda p: p.line or 0),
            hint="every entry needs bound, reason and remove-when, for a package the "
            "index has",
        )


def policy_check(request: PolicyCheckRequest, reporter: Reporter) -> PolicyCheckResult:
    """Check ``request.file`` (see the module docstring); raises only for unreadable input."""
    from ..airflow.layers import exact_pins, load_policy_file, newest_release
    from ..resolver import ResolveOptions
    from ..target import TargetEnvironment

    session_request = ResolveRequest(
        python=request.python, exclude_newer=request.exclude_newer,
        index_url=request.index_url, extra_index_urls=request.extra_index_urls,
        find_links=request.find_links, no_index=request.no_index, offline=request.offline,
        cache_dir=request.cache_dir,
    )
    target = TargetEnvironment.from_options(request.python, ())
    options = ResolveOptions(exclude_newer=parse_exclude_newer(request.exclude_newer))
    session = build_session(session_request, reporter, inputs_of=())
    try:
        pf = load_policy_file(request.file, session)
        result = PolicyCheckResult(pf.source, len(pf.policies), problems=list(pf.lint()))
        reference = {}
        if request.reference:
            from ..constraints.sources import load_inputs

            ref_inputs = load_inputs((), (), [request.reference], fetch=session.fetch_text)
            reference = exact_pins(ref_inputs.constraints)
        for policy in pf.policies:
            if not request.lookup:
                continue
            try:
                session.repository.files(policy.name)
            except OfflineMissing as exc:  # a cache never filled: the file can be checked alone
                exc.hint = f"{exc.hint}, or check the file alone with --no-lookup"
                raise
            except ProjectNotFound:
                result.problems.append(SourceLocation(
                    policy.origin.source, policy.origin.line, policy.origin.text, None,
                    f"unknown package {policy.display_name}: no configured index has it"))
                continue
            newest = newest_release(session.repository, policy.name, target, options)
            ref = reference.get(policy.name)
            spec = policy.specifier(ref)
            label = f"{policy.display_name} ({policy.bound}" + (f" of {ref})" if ref else ")")
            if spec is None:
                result.lines.append(f"{label}: no reference pin; newest release {newest}")
            elif newest is None:
                result.lines.append(f"{label}: no release for {target.describe()}")
            elif spec.contains(newest, prereleases=True):
                result.lines.append(
                    f"{label}: bound {spec} no longer holds anything back "
                    f"(newest release {newest} is within it) - consider removing it")
            else:
                result.lines.append(f"{label}: bound {spec} holds back {newest}" + (
                    f"; the reference pin {ref} is outside it too (a resolve under this "
                    f"policy moves {policy.display_name} down)"
                    if ref is not None and not spec.contains(ref, prereleases=True) else ""))
        return result
    finally:
        session.close()
