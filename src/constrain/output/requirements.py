"""Render an install set as a requirements file for pip's hash-checking mode (``--require-hashes``).

Each pin becomes ``name==version \\`` followed by one ``--hash=sha256:...`` line per distinct
sha256 among the pin's files, so pip accepts whichever compatible file it picks.

pip refuses a file in which some requirements carry hashes and others do not. So the file is
all-or-nothing: when any pin has no file with a known sha256, **no** pin gets hashes, and the
header names the pins that lacked them and says hash checking is off for the whole file. Callers
that want to refuse instead can ask :func:`pins_without_hashes` first.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models import InstallSet, Pin
from .constraints import annotation_lines, pin_line, sorted_pins
from .header import header_lines


def pin_hashes(pin: Pin) -> list[str]:
    """Every distinct sha256 among the pin's files, sorted."""
    return sorted({f.sha256 for f in pin.files if f.sha256})


def pins_without_hashes(install_set: InstallSet) -> tuple[Pin, ...]:
    """Pins none of whose files has a known sha256 (they force a file without hashes)."""
    return tuple(p for p in sorted_pins(install_set) if not pin_hashes(p))


def render_requirements(
    install_set: InstallSet, *, annotate: bool = False, notes: Sequence[str] = ()
) -> str:
    """The requirements file text (ends with a newline)."""
    missing = pins_without_hashes(install_set)
    lines = header_lines(install_set, kind="requirements", notes=notes)
    if missing:
        lines.append(
            "# WARNING: no sha256 is known for the pins below, and pip rejects a file where"
        )
        lines.append(
            "# only some requirements carry hashes, so this file has NO hashes at all and"
        )
        lines.append("# pip's hash-checking mode (--require-hashes) cannot be used with it:")
        lines.extend(f"#   {pin_line(p)}" for p in missing)
    lines.append("")
    for pin in sorted_pins(install_set):
        hashes = [] if missing else pin_hashes(pin)
        if hashes:
            lines.append(pin_line(pin) + " \\")
            for i, digest in enumerate(hashes):
                tail = " \\" if i < len(hashes) - 1 else ""
                lines.append(f"    --hash=sha256:{digest}{tail}")
        else:
            lines.append(pin_line(pin))
        if annotate:
            lines.extend(annotation_lines(pin))
    return "\n".join(lines) + "\n"
