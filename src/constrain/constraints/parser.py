"""Parse the text of one pip-format requirements or constraints file into origin-tagged entries.

The syntax is pip's (``pip help install``, "Requirements File Format"), processed in pip's
order: physical lines ending in a backslash are joined (the logical line keeps the number of
its first physical line; a comment line ends a continuation); comments (``#`` at the start or
after whitespace) and blank lines are dropped; ``${VAR}`` (upper-case letters, digits, ``_``) is
expanded from an injected mapping, unset or empty variables staying as written. What remains
is a PEP 508 requirement (``packaging.requirements.Requirement``; ``name @ url`` included)
optionally followed by ``--hash`` options, or a line of file-level options.

Nothing is raised while parsing: every problem becomes a :class:`SourceLocation` with the
column of the offending character, collected on :attr:`ParsedFile.problems`, so a caller can
report every bad line of every file at once. Columns and line text refer to the line as
written (before variable expansion), so carets land on what the user typed and expanded
secrets never reach an error message.

Decisions where pip is loose:

* Constraint files accept ``name``, ``name<spec>``, ``name @ url`` (pip's resolver accepts
  direct-URL constraints since 21.x; uv does too), markers and ``--hash``. Extras, unnamed
  requirements (paths, URLs) and ``-e`` are errors, as in pip.
* File-level options (``-i``, ``-r`` ...) on a requirement line, ``--hash`` without a
  requirement, and stray words after options are errors (pip silently ignores them).
* ``--hash`` must be ``sha256``/``sha384``/``sha512`` with a hex digest of the right length.
* ``-e``/``--editable`` is reported as not supported yet; ``--use-feature`` is accepted and
  ignored.

Over 400 lines: pip's file format (continuations, options, variables, URLs, hashes) with exact
error positions is one grammar.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement

from ..errors import SourceLocation
from ..models import Origin
from ..records import record
from .argument import UNNAMED, error_position, looks_unnamed
from .argument import parse_requirement_string as parse_requirement_string  # re-exported
from .argument import raise_problems as raise_problems  # re-exported

Kind = Literal["requirements", "constraints"]

COMMENT_RE = re.compile(r"(^|\s+)#.*$")
ENV_VAR_RE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)\}")
#: the longest logical line read (one with a --hash for each of a hundred files is 8 kB)
MAX_LINE = 1 << 20
# A word of the options part: runs of non-space text and quoted strings (shlex-like).
_WORD_RE = re.compile(r"""(?:"[^"]*"|'[^']*'|[^\s"'])+|["'].*""")
_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

# Every option pip accepts in a requirements file: canonical name -> takes a value.
_TAKES_VALUE = {
    "requirement": True,
    "constraint": True,
    "editable": True,
    "index-url": True,
    "extra-index-url": True,
    "no-index": False,
    "find-links": True,
    "pre": False,
    "only-binary": True,
    "no-binary": True,
    "prefer-binary": False,
    "trusted-host": True,
    "require-hashes": False,
    "use-feature": True,
    "hash": True,
    "global-option": True,
    "config-settings": True,
}
_SHORT = {
    "-r": "requirement",
    "-c": "constraint",
    "-e": "editable",
    "-i": "index-url",
    "-f": "find-links",
    "-C": "config-settings",
}
_LONG_ALIASES = {"--config-setting": "config-settings"}
_UNSUPPORTED = {
    "editable": "editable requirements (-e) are not supported yet; "
    "install the project with pip afterwards",
    "global-option": "--global-option is not supported (it applies to legacy setup.py builds)",
    "config-settings": "--config-settings on a requirement line is not supported yet",
}
_PER_REQUIREMENT = {"hash"}
_IGNORED = {"use-feature"}


@record
class RequirementLine:
    """A requirement (or constraint) line: the parsed requirement, where it is, its hashes."""

    requirement: Requirement
    origin: Origin
    hashes: tuple[str, ...] = ()


@record
class Include:
    """A ``-r``/``-c`` line: the nested location as written (variables expanded), the kind the
    option names (``-r``: requirements, ``-c``: constraints) and where the path starts."""

    kind: Kind
    location: str
    origin: Origin
    column: int = 0


@record
class FileOption:
    """A file-level option such as ``--index-url`` (``name`` is the long name without dashes;
    ``value`` is ``None`` for flags)."""

    name: str
    value: str | None
    origin: Origin
    column: int = 0


Entry = RequirementLine | Include | FileOption


@record
class ParsedFile:
    """One file's entries in file order, and every problem found in it."""

    source: str
    kind: Kind
    entries: tuple[Entry, ...] = ()
    problems: tuple[SourceLocation, ...] = ()

    @property
    def requirements(self) -> tuple[RequirementLine, ...]:
        return tuple(e for e in self.entries if isinstance(e, RequirementLine))

    @property
    def includes(self) -> tuple[Include, ...]:
        return tuple(e for e in self.entries if isinstance(e, Include))

    @property
    def options(self) -> tuple[FileOption, ...]:
        return tuple(e for e in self.entries if isinstance(e, FileOption))

    def raise_for_problems(self) -> None:
        """Raise one :class:`InputError` listing every problem, if there is any."""
        raise_problems(self.problems)


# --------------------------------------------------------------------------- line splitting
def logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations the way pip does: ``(first line number, joined text)``.

    A line that is a comment ends a continuation (and is joined, so it is dropped later).
    """
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), start=1):
        is_comment = COMMENT_RE.match(line) is not None
        if not line.endswith("\\") or is_comment:
            if is_comment:
                line = " " + line
            if pending:
                pending.append(line)
                out.append((first, "".join(pending)))
                pending = []
            else:
                out.append((number, line))
        else:
            if not pending:
                first = number
            pending.append(line.rstrip("\\"))
    if pending:
        out.append((first, "".join(pending)))
    return out


class _Line:
    """A logical line after comment removal, strip and expansion, with a map from columns of
    the working text back to columns of the line as written."""

    def __init__(self, raw: str, environ: Mapping[str, str]) -> None:
        self.raw = raw
        body = COMMENT_RE.sub("", raw)
        stripped = body.strip()
        self.lead = len(body) - len(body.lstrip())
        parts: list[str] = []
        # (start, end) in the working text, (start, end) in the stripped text, per expansion
        self.segments: list[tuple[int, int, int, int]] = []
        pos = new = 0
        for m in ENV_VAR_RE.finditer(stripped):
            value = environ.get(m.group("name"))
            if not value:
                continue
            parts.append(stripped[pos : m.start()])
            new += m.start() - pos
            self.segments.append((new, new + len(value), m.start(), m.end()))
            parts.append(value)
            new += len(value)
            pos = m.end()
        parts.append(stripped[pos:])
        self.text = "".join(parts)

    def column(self, col: int) -> int:
        """The column in the line as written of column ``col`` of :attr:`text`."""
        out = col
        for start, end, ostart, oend in self.segments:
            if col < start:
                break
            if col < end:
                return self.lead + ostart
            out = col - end + oend
        return self.lead + out


# --------------------------------------------------------------------------- the parser
class _FileParser:
    def __init__(self, source: str, kind: Kind, environ: Mapping[str, str]) -> None:
        self.source = source
        self.kind = kind
        self.environ = environ
        self.entries: list[Entry] = []
        self.problems: list[SourceLocation] = []

    def problem(self, number: int, line: _Line, col: int | None, message: str) -> None:
        self.problems.append(
            SourceLocation(
                self.source,
                number,
                line.raw,
                line.column(col) if col is not None else None,
                message,
            )
        )

    def parse(self, text: str) -> ParsedFile:
        if text.startswith("\ufeff"):
            text = text[1:]
        for number, raw in logical_lines(text):
            if len(raw) > MAX_LINE:  # no requirement or option line is near it; parsing
                self.problems.append(SourceLocation(  # one costs memory by the character
                    self.source, number, raw, None,
                    f"the line is {len(raw):,} characters long (more than {MAX_LINE:,})"))
                continue
            line = _Line(raw, self.environ)
            if line.text:
                self.parse_line(number, line)
        return ParsedFile(self.source, self.kind, tuple(self.entries), tuple(self.problems))

    def parse_line(self, number: int, line: _Line) -> None:
        text = line.text
        words = [(m.start(), m.group()) for m in _WORD_RE.finditer(text)]
        split = next((i for i, (_, w) in enumerate(words) if w.startswith("-")), len(words))
        req_end = words[split][0] if split < len(words) else len(text)
        args = text[:req_end].rstrip()
        origin = Origin(self.source, number, line.raw)
        options = self.parse_options(number, line, words[split:], has_requirement=bool(args))
        if args:
            req = self.parse_requirement(number, line, args)
            if req is not None and options is not None:
                hashes = tuple(v for name, v, _ in options if name == "hash" and v is not None)
                self.entries.append(RequirementLine(req, origin, hashes))
            return
        for name, value, col in options or ():
            if name in ("requirement", "constraint"):
                kind: Kind = "requirements" if name == "requirement" else "constraints"
                self.entries.append(Include(kind, value or "", origin, line.column(col)))
            elif name not in _IGNORED:
                self.entries.append(FileOption(name, value, origin, line.column(col)))

    def parse_requirement(self, number: int, line: _Line, args: str) -> Requirement | None:
        try:
            req = Requirement(args)
        except InvalidRequirement as exc:
            col, message = error_position(exc)
            if looks_unnamed(args):
                col, message = 0, UNNAMED
            self.problem(number, line, col, message)
            return None
        if self.kind == "constraints" and req.extras:
            self.problem(
                number,
                line,
                args.find("["),
                "constraints cannot have extras (pip rejects them); constrain the project "
                "without its extras",
            )
            return None
        return req

    def parse_options(
        self, number: int, line: _Line, words: list[tuple[int, str]], *, has_requirement: bool
    ) -> list[tuple[str, str | None, int]] | None:
        """Read option words into ``(name, value, column of value or option)``; ``None`` when
        a problem was reported for the line."""
        out: list[tuple[str, str | None, int]] = []
        ok = True
        i = 0
        while i < len(words):
            col, word = words[i]
            i += 1
            if not word.startswith("-"):
                self.problem(number, line, col, f"unexpected {word!r} after options")
                ok = False
                continue
            name, attached, value_col = _split_option(word, col)
            if name is None:
                self.problem(number, line, col, _unknown_option(word))
                ok = False
                if "=" not in word and i < len(words) and not words[i][1].startswith("-"):
                    i += 1  # most likely its value: do not report it a second time
                continue
            value: str | None = None
            if _TAKES_VALUE[name]:
                if attached is not None:
                    value = attached
                elif i < len(words) and not words[i][1].startswith("-"):
                    value_col, value = words[i]
                    i += 1
                else:
                    self.problem(number, line, col + len(word), f"{word} needs a value")
                    ok = False
                    continue
                try:
                    value = " ".join(shlex.split(value))
                except ValueError:
                    self.problem(number, line, value_col, "unbalanced quote")
                    ok = False
                    continue
            elif attached is not None:
                self.problem(number, line, value_col, f"--{name} takes no value")
                ok = False
                continue
            if name in _UNSUPPORTED:
                message = _UNSUPPORTED[name]
                if name == "editable" and self.kind == "constraints":
                    message = "editable requirements (-e) are not allowed in constraint files"
                self.problem(number, line, col, message)
                ok = False
            elif name in _PER_REQUIREMENT and not has_requirement:
                self.problem(number, line, col, "--hash needs a requirement on the same line")
                ok = False
            elif name not in _PER_REQUIREMENT and has_requirement:
                self.problem(
                    number,
                    line,
                    col,
                    f"--{name} cannot share a line with a requirement; put it on a line of "
                    "its own",
                )
                ok = False
            elif name == "hash":
                assert value is not None
                checked = self.check_hash(number, line, value, value_col)
                if checked is None:
                    ok = False
                else:
                    out.append((name, checked, value_col))
            else:
                out.append((name, value, value_col if value is not None else col))
        return out if ok else None

    def check_hash(self, number: int, line: _Line, value: str, col: int) -> str | None:
        algo, sep, digest = value.partition(":")
        algo = algo.lower()
        if not sep:
            self.problem(number, line, col, "--hash must be written algorithm:hexdigest")
            return None
        if algo not in _HEX_LENGTHS:
            self.problem(
                number, line, col, f"unsupported hash algorithm {algo!r}; use sha256, "
                "sha384 or sha512"
            )
            return None
        digest_col = col + len(algo) + 1
        bad = next((i for i, ch in enumerate(digest) if ch not in "0123456789abcdefABCDEF"), None)
        if bad is not None:
            self.problem(number, line, digest_col + bad, f"{algo} digest is not hexadecimal")
            return None
        if len(digest) != _HEX_LENGTHS[algo]:
            self.problem(
                number,
                line,
                digest_col + min(len(digest), _HEX_LENGTHS[algo]),
                f"{algo} digest has {len(digest)} hex digits, expected {_HEX_LENGTHS[algo]}",
            )
            return None
        return f"{algo}:{digest.lower()}"


def _split_option(word: str, col: int) -> tuple[str | None, str | None, int]:
    """``--index-url=x`` -> ("index-url", "x", col of x); ``-rfile`` -> ("requirement",
    "file", ...); an unknown option gives a ``None`` name."""
    if word.startswith("--"):
        key, eq, value = word.partition("=")
        name: str | None = _LONG_ALIASES.get(key, key[2:])
        if name not in _TAKES_VALUE:
            return None, None, col
        return name, (value if eq else None), col + len(key) + 1
    name = _SHORT.get(word[:2])
    if name is None:
        return None, None, col
    rest = word[2:]
    if rest.startswith("="):  # optparse would keep the "=", but nobody means it
        return name, rest[1:], col + 3
    return name, (rest or None), col + 2


def _unknown_option(word: str) -> str:
    key = word.partition("=")[0]
    known = [f"--{n}" for n in _TAKES_VALUE] + list(_SHORT)
    import difflib  # here: only a misspelt option needs it

    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"unknown option {key}{hint}"


def parse_lines(
    text: str,
    source: str,
    *,
    kind: Kind = "requirements",
    environ: Mapping[str, str] | None = None,
) -> ParsedFile:
    """Parse ``text`` (the contents of ``source``, a path or URL) as a pip requirements file
    (``kind="requirements"``) or constraints file. Never raises: problems are on the result."""
    if kind not in ("requirements", "constraints"):
        raise ValueError(f"kind must be 'requirements' or 'constraints', not {kind!r}")
    return _FileParser(source, kind, environ or {}).parse(text)
