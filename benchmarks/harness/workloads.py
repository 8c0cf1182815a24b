"""The benchmark workloads by name: for each, the exact command every tool runs in every mode
(the kinds are in :mod:`.resolves` and :mod:`.jobs`, what they share in :mod:`.base`)."""

from __future__ import annotations

from .base import (  # noqa: F401 -- the names the runner, run.py and the tests use
    AIRFLOW,
    AIRFLOW_LARGE,
    AIRFLOW_PROVIDERS,
    CHANGED_REQUIREMENT,
    COLD,
    EXCLUDE_NEWER,
    FULL_RESOLVE_OF,
    LARGE_BUILD_CONSTRAINTS,
    LARGE_PLATFORM,
    NO_REMEMBER,
    OLD_AIRFLOW,
    OLD_CONSTRAINTS_ENV,
    OLD_PYTHON,
    OLD_REQUIREMENT_ENV,
    PROVIDER_EXTRAS,
    WARM,
    WARM_FULL,
    WARM_OFFLINE,
    WARM_OFFLINE_FULL,
    Command,
    Context,
    Workload,
    pins_from_pip_report,
    pins_from_requirements_text,
)
from .jobs import Download, Install, Refresh, downloaded_pins, installed_pins, workload1_pins  # noqa: F401
from .resolves import Resolve, ResolveChanged, ResolveMany, ResolveWithConstraints

WORKLOAD_1 = Resolve(
    "airflow", "1. resolve apache-airflow[postgres]==2.10.5 for Python 3.11", AIRFLOW,
    "3.11", (COLD, WARM_OFFLINE, WARM_OFFLINE_FULL),
    "The everyday job: one Airflow release with one extra. cold = empty cache, "
    "warm-offline = the cache of an identical run with no network, both tools (pip: "
    "n/a); constrain answers a repeated resolve from the resolution it remembered, so "
    "its full-resolve row measures the resolver itself.")

WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        WORKLOAD_1,
        ResolveMany(
            "airflow-large", "1b. resolve uv's Airflow benchmark (airflow[all]==2.9.3 + beam, "
            "Python 3.11, macOS arm64)", AIRFLOW_LARGE, "3.11",
            (COLD, WARM_OFFLINE, WARM_OFFLINE_FULL),
            "uv's own Airflow benchmark: apache-airflow[all]==2.9.3 and "
            "apache-airflow-providers-apache-beam>3.0.0, several hundred packages (pip: left "
            "out, it needs minutes and builds); for macOS on Apple silicon (gssapi has no "
            "Linux wheel and its build needs Kerberos headers), sdists built with "
            "setuptools<81.",
            build_constraints=LARGE_BUILD_CONSTRAINTS, platform=LARGE_PLATFORM),
        ResolveChanged(
            WORKLOAD_1, "airflow-changed", f"1c. workload 1 + {CHANGED_REQUIREMENT}, after workload 1 "
            "(Python 3.11)", (AIRFLOW, CHANGED_REQUIREMENT), "3.11",
            (WARM_OFFLINE, WARM_OFFLINE_FULL),
            "One requirement added to workload 1 after workload 1 was resolved: no remembered "
            "answer for the new request (removed before each run), every page and metadata "
            "file cached; both tools --offline."),
        ResolveWithConstraints(
            "airflow-py37-constraints",
            "2. resolve for Python 3.7 with -c a constraint file Airflow published",
            OLD_AIRFLOW, OLD_PYTHON, (COLD, WARM, WARM_FULL),
            "An old release for an old Python, held by Airflow's published constraint file "
            "(hundreds of pins, most of them for packages the requirement never needs)."),
        Resolve(
            "airflow-providers",
            f"3. resolve apache-airflow with {len(PROVIDER_EXTRAS)} provider extras (3.11)",
            AIRFLOW_PROVIDERS, "3.11", (COLD, WARM, WARM_FULL),
            "A large resolve: several hundred packages, many with long release histories."),
        Install(),
        Download(),
        Refresh(),
    )
}

