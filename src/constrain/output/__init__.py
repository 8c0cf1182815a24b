"""Writers of install sets: constraints, requirements with hashes, pylock.toml, JSON report.

:func:`render` turns an :class:`~constrain.models.InstallSet` into the text of one format, the
same bytes for the same set; :func:`write_atomic` puts text on disk without ever leaving a half
file. Each format lives in its own module.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import UsageError
from ..models import InstallSet
from .requirements import pins_without_hashes
from .write import check_writable, write_atomic

FORMATS = ("constraints", "requirements", "pylock", "json")

__all__ = ["FORMATS", "check_writable", "pins_without_hashes", "render", "write_atomic"]


def render(
    install_set: InstallSet, fmt: str, *, annotate: bool = False, notes: Sequence[str] = ()
) -> str:
    """The text of ``install_set`` in format ``fmt`` (one of :data:`FORMATS`).

    ``annotate`` adds ``# via`` / ``# constraint:`` lines (constraints and requirements only;
    the other formats always carry that information). ``notes`` are remarks for the header.
    Raises :class:`~constrain.errors.OutputError` when the set cannot be expressed in ``fmt``
    (a lock entry without any hashed file).
    """
    # Each writer is imported when asked for: pylock and the JSON report pull in more.
    if fmt == "constraints":
        from .constraints import render_constraints

        return render_constraints(install_set, annotate=annotate, notes=notes)
    if fmt == "requirements":
        from .requirements import render_requirements

        return render_requirements(install_set, annotate=annotate, notes=notes)
    if fmt == "pylock":
        from .pylock import render_pylock

        return render_pylock(install_set, notes=notes)
    if fmt == "json":
        from .report import render_report

        return render_report(install_set, notes=notes)
    raise UsageError(
        f"unknown output format {fmt!r}", hint=f"choose one of: {', '.join(FORMATS)}"
    )
