"""Render an install set as a pip/uv constraints file: the header, then one ``name==version`` a pin.

A constraints file must stay valid for both pip (``-c``) and uv: no extras, no hashes, no
options, only ``name==version`` lines and comments. Pins are sorted by canonical name and written
with the project's display name, so the same install set always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models import InstallSet, Pin
from .header import comment_safe, header_lines


def sorted_pins(install_set: InstallSet) -> list[Pin]:
    """The pins in output order: by canonical name."""
    return sorted(install_set.pins, key=lambda p: p.name)


def pin_line(pin: Pin) -> str:
    """``Display-Name==1.2.3`` (no extras: constraint files must not carry them)."""
    return f"{pin.display_name or pin.metadata.name}=={pin.version}"


def annotation_lines(pin: Pin) -> list[str]:
    """pip-compile style reasons under a pin: ``# via parent`` and ``# constraint: file:line``."""
    out: list[str] = []
    parents = list(dict.fromkeys(comment_safe(p) for p in pin.required_by))
    if len(parents) == 1:
        out.append(f"    # via {parents[0]}")
    elif parents:
        out.append("    # via")
        out.extend(f"    #   {p}" for p in parents)
    for origin in dict.fromkeys(pin.constraint_origins):
        out.append(f"    # constraint: {comment_safe(str(origin))}")
    return out


def render_constraints(
    install_set: InstallSet, *, annotate: bool = False, notes: Sequence[str] = ()
) -> str:
    """The constraints file text (ends with a newline)."""
    lines = header_lines(install_set, kind="constraints", notes=notes)
    lines.append("")
    for pin in sorted_pins(install_set):
        lines.append(pin_line(pin))
        if annotate:
            lines.extend(annotation_lines(pin))
    return "\n".join(lines) + "\n"
