"""One requirement given on the command line, parsed by packaging or reported with a caret, and
the one error that reports every problem of every input at once.

Apart from :mod:`.parser` (pip's file format) so that a resolve whose requirements are all on
the command line does not import the file grammar: its four frozen dataclasses and regular
expressions are ~3 % of a remembered resolve's instructions.
"""

from __future__ import annotations

from packaging.requirements import InvalidRequirement, Requirement

from ..errors import InputError, SourceLocation

UNNAMED = ("a path or URL is not supported as a requirement: name the project (with a version) "
           "and give its directory or index with --find-links or --extra-index-url")


def parse_requirement_string(text: str, *, argument: int | None = None) -> Requirement:
    """Parse one requirement given on the command line; raise :class:`InputError` with a caret.

    ``argument`` (1-based position among the requirement arguments) is shown as the line
    number so the caret can be drawn.
    """
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        col, message = error_position(exc)
        if looks_unnamed(text):
            col, message = 0, UNNAMED
        raise InputError(
            f"invalid requirement {text!r} on the command line",
            locations=[SourceLocation("command line", argument or 1, text, col, message)],
            hint="write a PEP 508 requirement such as 'name>=1.0' or 'name @ https://...'",
        ) from None


def raise_problems(problems: tuple[SourceLocation, ...] | list[SourceLocation]) -> None:
    """Raise one :class:`InputError` for ``problems`` (from any number of inputs), if any."""
    if not problems:
        return
    n = len(problems)
    where: list[str] = []
    for p in problems:
        shown = str(SourceLocation(p.source))
        if shown not in where:
            where.append(shown)
    raise InputError(
        f"{n} problem{'s' if n != 1 else ''} in {', '.join(where)}",
        locations=tuple(problems),
        hint="fix every line listed; the format is pip's requirements file format "
        "(PEP 508 requirements, one per line, and pip's file options)",
    )


def error_position(exc: InvalidRequirement) -> tuple[int | None, str]:
    """Column and one-line message of a packaging error. packaging's tokenizer errors carry a
    span (and draw a caret line under the source); other errors point at no column."""
    cause = exc.__cause__
    span = getattr(cause, "span", None)
    message = str(getattr(cause, "message", "") or str(exc).split("\n", 1)[0])
    if isinstance(span, tuple) and len(span) == 2:
        return span[1], message
    lines = str(exc).split("\n")
    if len(lines) >= 3 and lines[-1].rstrip().endswith("^"):
        return len(lines[-1].rstrip()) - 1 - 4, lines[0]
    return None, lines[0]


def looks_unnamed(args: str) -> bool:
    """Does requirement text ``args`` look like a path or URL without a name?"""
    head = args.split(";", 1)[0].strip()
    return (
        "://" in head
        or head.startswith((".", "/", "~", "\\"))
        or head.endswith((".whl", ".tar.gz", ".zip", ".tar.bz2"))
    )
