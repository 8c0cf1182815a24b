"""What a command is asked to do, as typed values: :class:`ResolveRequest` (every option of a
resolve), the reproducing command line written into headers, and the ``--exclude-newer`` date.

The CLI builds these from argv; library users and tests build them directly.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import field
from datetime import UTC, date, datetime, timedelta

from ..errors import UsageError, redact_url
from ..records import record


@record
class ResolveRequest:
    """Everything ``constrain resolve`` takes, already split into fields."""

    requirements: tuple[str, ...] = ()
    requirement_files: tuple[str, ...] = ()
    constraint_files: tuple[str, ...] = ()
    python: str | None = None
    platforms: tuple[str, ...] = ()
    exclude_newer: str | None = None
    prerelease: str = "if-necessary-or-explicit"
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] | None = None
    find_links: tuple[str, ...] | None = None
    no_index: bool = False
    offline: bool = False
    refresh: bool = False
    cache_dir: str | None = None
    timeout: float | None = None  # --timeout; None: CONSTRAIN_TIMEOUT, constrain.toml, pip's
    deadline: float | None = None  # --deadline; None: CONSTRAIN_DEADLINE, constrain.toml, 1800
    no_build: bool = False
    only_binary: bool = False
    format: str = "constraints"
    annotate: bool = False
    output: str | None = None
    command: str = ""
    environ: dict[str, str] | None = field(default=None, compare=False)
    # Airflow constraints and upper-bound policies (constrain.airflow.layers); None = not set here
    airflow_constraints: str | None = None
    airflow_constraints_mode: str | None = None
    airflow_constraints_ref: str | None = None
    airflow_constraints_url: str | None = None
    policies: tuple[str, ...] = ()
    policy_reference: str | None = None
    overrides: tuple[str, ...] = ()
    config_dir: str | None = None  # where constrain.toml / pyproject.toml are (default: cwd)
    # build requirements of sdists (constrain.build.requirements)
    build_constraints: tuple[str, ...] = ()
    build_exclude_newer_exempt: tuple[str, ...] = ()



def command_line(argv: Sequence[str]) -> str:
    """The reproducing command for headers: credentials redacted, output/cache paths left out
    (they do not change the result)."""
    out: list[str] = []
    skip = False
    drop_with_value = {"-o", "--output", "--cache-dir", "--timeout", "--deadline"}
    drop_flags = {"-q", "--quiet", "-v", "--verbose", "--refresh", "--offline"}
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in drop_with_value:
            skip = True
            continue
        if any(arg.startswith(f + "=") for f in drop_with_value if f.startswith("--")):
            continue
        if arg in drop_flags:
            continue
        out.append(shlex.quote(redact_url(arg)))
    return "constrain " + " ".join(out)


def check_exempt(values: Sequence[str]) -> None:
    """:class:`UsageError` naming the first ``--build-exclude-newer-exempt`` value that is
    neither a project name (any spelling: ``SetupTools``) nor ``:all:``: a specifier or a typo
    would otherwise exempt nothing, without a word."""
    from packaging.utils import InvalidName, canonicalize_name

    for value in values:
        if value.strip() == ":all:":
            continue
        try:
            canonicalize_name(value.strip(), validate=True)
        except InvalidName:
            raise UsageError(
                f"--build-exclude-newer-exempt {value!r} is not a project name",
                hint="give a project name (setuptools) or :all: for every build requirement; "
                "to pin a build requirement's version, use --build-constraint FILE") from None


def parse_exclude_newer(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` or an RFC 3339 timestamp, as an aware UTC datetime.

    A bare date includes that whole day (files uploaded before the next midnight UTC), which is
    how uv reads it: ``--exclude-newer 2026-11-01`` keeps releases made on November 1st.
    """
    if text is None:
        return None
    raw = text.strip()
    try:
        try:  # a bare date in any ISO 8601 spelling (2026-11-01, 20261101): its whole day
            day = date.fromisoformat(raw)
        except ValueError:
            day = None
        if day is not None:
            try:
                return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
            except OverflowError:  # 9999-12-31: the whole day is the end of time
                return datetime.max.replace(tzinfo=UTC)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"cannot read --exclude-newer {text!r}",
            hint="give a date such as 2026-11-01 or a timestamp such as 2026-11-01T12:00:00Z",
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)

