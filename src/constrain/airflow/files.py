"""Airflow's constraints file for one target: the published file (from the network or the cache) or, when it cannot be had, a reconstruction.

:func:`airflow_constraints` decides with the layer plan's ``use`` (``published``, ``auto``,
``reconstructed``); :func:`fetch_published` reads the file Airflow publishes for the target
Python, caching it for ``--offline``; a reconstruction standing in for it is announced once
per reconstruction, not on every run that reuses it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from packaging.requirements import Requirement

from ..errors import ConstrainError, NetworkError, OfflineMissing, redact_url
from ..models import Origin
from ..output.header import format_utc
from ..reporting import Reporter
from . import published as af
from .plan import LayerPlan, Pairs

if TYPE_CHECKING:
    from ..resolver import ResolveOptions
    from ..target import TargetEnvironment
    from .ports import Resolving

_BUCKET = "constraints"  # the bucket Session.fetch_text caches URLs in: --offline finds both
_ANNOUNCED = "reconstructions"  # beside what a reconstruction learnt: cleared with it


def airflow_constraints(
    plan: LayerPlan, session: Resolving, target: TargetEnvironment, options: ResolveOptions,
    reporter: Reporter,
    requirements: Pairs = (), constraints: Pairs = (),
) -> tuple[list[tuple[Requirement, Origin]], str, str | None, tuple, str]:
    """Airflow's constraints for ``target``: ``(pairs, source, note, moves, summary)``
    (``summary``: for the command's summary line). Published when
    asked (or, for ``auto``, when reachable or cached); otherwise reconstructed with a warning,
    the user's ``requirements`` and ``constraints`` applying inside the reconstruction."""
    from .reconstruction import reconstruct

    assert plan.airflow is not None and plan.use is not None
    ref = plan.settings.ref or plan.airflow.ref
    assert ref is not None
    python = target.python_short
    available = None
    fallback: list[str] = []  # why auto does not use the published file (said once, below)
    if plan.use in ("auto", "published"):
        try:
            found = fetch_published(plan, session, ref, python, reporter, fallback.append)
        except af.NoConstraintsForPython as exc:
            if plan.use == "published" or not exc.available:
                raise
            # auto: the release predates this Python; rebuild its set for it instead
            available = exc.available
            reporter.warning(f"{exc.message}; reconstructing constraints for Python {python}")
            found = None
        if found is not None:
            source, text = found
            from ..constraints.sources import load_inputs

            inputs = load_inputs(
                (), (), [source],
                fetch=lambda loc: (loc, text) if loc == source else session.fetch_text(loc))
            return list(inputs.constraints), source, None, (), f"published {redact_url(source)}"
    done = reconstruct(plan.airflow, plan.settings.mode, plan.policies, session, target,
                       options, reporter, requirements=requirements,
                       constraints=constraints, available=available)
    if fallback:
        _say_once(session, reporter, done.key,
                  f"{fallback[0]}; using constraints reconstructed as of "
                  f"{format_utc(done.basis) if done.basis else '?'} ({done.why}) instead")
    return done.pairs, done.source, done.note, done.moves, done.summary


def _say_once(session: Resolving, reporter: Reporter, key: str, message: str) -> None:
    """A warning the first time a reconstruction stands in for the published file; on the
    runs that reuse it (same release, date, target and inputs) only ``-v`` shows it, so an
    unreachable file does not repeat on every command. A cache that cannot be written keeps
    the warning."""
    marker = f"{key}-announced"
    if key and session.cache.get(_ANNOUNCED, marker) is not None:
        reporter.info(message)
        return
    reporter.warning(message)
    if key:
        try:
            session.cache.put(_ANNOUNCED, marker, b"1", meta={"fetched": time.time()})
        except ConstrainError:
            pass


def fetch_published(
    plan: LayerPlan, session: Resolving, ref: str, python: str, reporter: Reporter,
    fallback: Callable[[str], None] | None = None,
) -> tuple[str, str] | None:
    """``(url, text)`` of the published file, from the network or the cache; ``None`` when
    ``auto`` should reconstruct instead, after telling ``fallback`` why (a warning when none
    is given). A missing file raises
    :class:`~.published.NoConstraintsForPython` naming the Pythons the
    release has."""
    if fallback is None:
        def fallback(why: str) -> None:
            reporter.warning(f"{why}; using reconstructed constraints instead")

    from ..cache.keys import url_key

    url = plan.settings.url(ref, python)
    shown = redact_url(url)
    key = url_key(url)
    strict = plan.use == "published"

    def cached() -> str | None:
        data = session.cache.get(_BUCKET, key)
        return data.decode("utf-8") if data is not None else None

    if session.request.offline and not url.startswith("file:"):
        text = cached()
        if text is not None:
            session.fetched[url] = text
            return url, text
        if strict:
            raise OfflineMissing(shown)
        fallback(f"--offline: Airflow's constraints {shown} are not cached")
        return None
    try:
        response = session.client.get(url)
    except NetworkError as exc:
        text = cached()
        if text is not None:
            reporter.warning(f"{shown} unreachable; using the cached copy")
            session.fetched[url] = text
            return url, text
        if strict:
            exc.hint = ((exc.hint + "; or ") if exc.hint else "") + (
                "give a mirror of Airflow's files with --airflow-constraints-url, or use "
                "--airflow-constraints reconstructed")
            raise
        fallback(f"Airflow's constraints {shown} are unreachable and not cached")
        return None
    if response.status == 404:
        def exists(candidate: str) -> bool:
            try:
                return session.client.get(candidate).status == 200
            except ConstrainError:
                return False

        available = af.published_pythons(plan.settings, ref, exists)
        raise af.NoConstraintsForPython(url, ref, plan.settings.mode, python, available)
    if response.status != 200:
        if strict:
            raise ConstrainError(f"{shown} answered HTTP {response.status}",
                                 hint="check --airflow-constraints-url and the ref")
        fallback(f"Airflow's constraints {shown} answered HTTP {response.status}")
        return None
    text = response.content.decode("utf-8")
    if not url.startswith("file:"):
        session.cache.put(_BUCKET, key, response.content,
                          meta={"url": shown, "fetched": time.time()})
    session.fetched[url] = text
    return url, text
