"""The error hierarchy: every failure a user can meet, as structured data the CLI renders.

Each error says what went wrong (``message``), where (``locations``: file:line with the offending
text and a caret, a URL, or a chain of packages) and how to get out (``hint``). Third-party
exceptions are translated into these at exactly one boundary each; nothing outside ``cli``
prints them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .records import record

if TYPE_CHECKING:
    from collections.abc import Mapping

    from packaging.version import Version


_URL_SECRETS = None


def redact_url(url: str) -> str:
    """``url`` (or any text holding URLs, such as ``--index-url=URL``) with every password
    or token replaced by ``****``: the userinfo (``user:****@``, or ``****@`` for a bare
    token) and the value of every query parameter (``?token=****``). Safe to print, log and
    store; the fragment (``#sha256=...``) is kept."""
    global _URL_SECRETS
    if "://" not in url:
        return url
    if _URL_SECRETS is None:
        import re

        _URL_SECRETS = (
            re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/?#@\s:]*)"
                       r"(?P<colon>:?)[^/?#@\s]*@"),
            re.compile(r"(://[^?#\s]*\?)(?P<bare>[^=&#\s]+)(?=$|[#\s])"),
        )
    userinfo, bare = _URL_SECRETS

    def mask_user(m) -> str:
        if m.group("colon"):
            return f"{m.group('scheme')}{m.group('user')}:****@"
        return f"{m.group('scheme')}****@"

    text = userinfo.sub(mask_user, url)
    if "?" in text:
        text = _mask_queries(text)
        text = bare.sub(lambda m: m.group(1) + "****", text)
    return text


def _mask_queries(text: str) -> str:
    """Every ``key=value`` of the query of each URL in ``text`` -> ``key=****``."""
    import re

    out = []
    for piece in re.split(r"(\s+)", text):
        scheme_at = piece.find("://")
        q = piece.find("?", scheme_at + 3) if scheme_at >= 0 else -1
        if q < 0:
            out.append(piece)
            continue
        head, rest = piece[: q + 1], piece[q + 1 :]
        query, hash_, fragment = rest.partition("#")
        parts = []
        for part in query.split("&"):
            key, sep, _value = part.partition("=")
            parts.append(f"{key}=****" if sep else part)
        masked = "&".join(parts)
        out.append(head + masked + hash_ + fragment)
    return "".join(out)


#: the most of a line an error quotes: a longer one is cut around the caret
_SHOWN = 160


@record
class SourceLocation:
    """A place in a text input: a file path or URL, a 1-based line number, the line, a column.

    ``column`` is 0-based and points at the offending character (the caret); ``None`` when the
    whole line is at fault.
    """

    source: str
    line: int | None = None
    text: str | None = None
    column: int | None = None
    message: str | None = None

    def __str__(self) -> str:
        where = redact_url(self.source)
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column + 1}"
        return where

    def render(self) -> list[str]:
        """The location as display lines: ``where: message``, the text, and a caret line. A
        password or token in a URL of the text or the message is masked (:func:`redact_url`),
        the caret moved to stay under the same character."""
        head = str(self)
        if self.message:
            head += f": {redact_url(self.message)}"
        lines = [head]
        if self.text is not None and self.line is not None:
            gutter = f"{self.line:>5} | "
            text = self.text.rstrip("\n")
            shown = redact_url(text)
            column = self.column
            if column is not None and shown != text:  # what the masked part before it became
                column = min(len(redact_url(text[:column])), max(len(shown) - 1, 0))
            if len(shown) > _SHOWN:  # a long line: the part around the caret
                start = max(0, min((column or 0) - _SHOWN // 2, len(shown) - _SHOWN))
                cut = shown[start:start + _SHOWN]
                shown = ("..." if start else "") + cut + (
                    "..." if start + _SHOWN < len(shown) else "")
                if column is not None:
                    column = column - start + (3 if start else 0)
            lines.append(gutter + shown)
            if column is not None:
                lines.append(" " * (len(gutter) - 2) + "| " + " " * column + "^")
        return lines


class ConstrainError(Exception):
    """Root of every error constrain reports to a user.

    ``message`` is one sentence; ``hint`` the way out; ``locations`` where in the input the fault
    lies; ``details`` further lines (a package chain, the list of close names).
    """

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        locations: tuple[SourceLocation, ...] | list[SourceLocation] = (),
        details: tuple[str, ...] | list[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.locations = tuple(locations)
        self.details = tuple(details)

    def render(self) -> list[str]:
        """All lines a person needs: the message, every location, details, and the hint."""
        lines = [f"error: {redact_url(self.message)}"]
        for loc in self.locations:
            lines.extend("  " + part for part in loc.render())
        lines.extend("  " + redact_url(d) for d in self.details)
        if self.hint:
            lines.append(f"hint: {redact_url(self.hint)}")
        return lines


class UsageError(ConstrainError):
    """The command line itself is wrong (unknown option value, conflicting flags)."""

    exit_code = 2


class InputError(ConstrainError):
    """One or more lines of a requirement, constraint, policy or config file could not be used.

    Parsers collect every bad line and raise this once, so a user fixes them all in one go.
    """

    exit_code = 2


class ConfigError(ConstrainError):
    """Configuration (pip.conf, constrain.toml, environment) is unusable."""


class NetworkError(ConstrainError):
    """An index or file location could not be reached after retries; names the URL."""

    def __init__(self, message: str, *, url: str, **kw) -> None:
        super().__init__(message, **kw)
        self.url = url


class ProjectNotFound(ConstrainError):
    """No configured index or find-links location knows the project."""

    def __init__(self, project: str, *, suggestions: tuple[str, ...] = (), **kw) -> None:
        kw.setdefault(
            "hint",
            f"did you mean {', '.join(suggestions)}?"
            if suggestions
            else "check the spelling, or add the index that hosts it with --extra-index-url",
        )
        super().__init__(f"no project named {project!r} on any configured index", **kw)
        self.project = project
        self.suggestions = suggestions


class OfflineMissing(ConstrainError):
    """``--offline`` was given and something needed is not in the cache."""

    def __init__(self, missing: str, **kw) -> None:
        kw.setdefault("hint", "run once without --offline to fill the cache")
        super().__init__(f"--offline: {missing} is not in the cache", **kw)
        self.missing = missing


class MetadataError(ConstrainError):
    """The metadata of a file is missing, malformed, or disagrees with its name or hash."""


class HashMismatch(ConstrainError):
    """A downloaded file or metadata file does not match the hash the index or lock gave."""

    def __init__(self, what: str, *, expected: str, actual: str, **kw) -> None:
        kw.setdefault("hint", "the index or a proxy served altered content; try --refresh")
        super().__init__(
            f"hash mismatch for {what}: expected {expected}, got {actual}", **kw
        )
        self.expected = expected
        self.actual = actual


class BuildError(ConstrainError):
    """A PEP 517 build (metadata or wheel) of an sdist failed. ``pin`` is ``(project,
    version)`` of the candidate that needed it, when a resolve met it."""

    def __init__(self, message: str, *, pin: tuple[str, Version] | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.pin = pin


class BuildRequirementsUnavailable(BuildError):
    """The build requirements of an sdist cannot be had under the command's rules (none
    uploaded by the cut-off, missing from an offline wheelhouse or cache, no wheel for the
    build interpreter). ``hint`` is specific to the case and is kept by whoever retells it."""


class BuildForbidden(ConstrainError):
    """``--no-build`` is in force and only an sdist without static metadata was available."""


class UploadTimeMissing(ConstrainError):
    """``--exclude-newer`` was asked for but an index did not report upload times (PEP 700)."""


class ResolutionImpossible(ConstrainError):
    """No set of versions satisfies the requirements and constraints; ``details`` explains.

    ``unmatched`` holds, for callers that can widen what the resolve may see (a
    reconstruction moving a package past its date), each requirement of the conflict as
    ``(project, specifier text, requested by)``: the parent ``name==version``, or the origin of
    a top-level requirement."""

    unmatched: tuple[tuple[str, str, str], ...] = ()


class CacheError(ConstrainError):
    """The cache directory is unusable (permissions, disk full, a foreign format)."""


class OutputGone(ConstrainError):
    """The reader of stdout went away before the result was written (``constrain resolve ...
    | head -1``): the command ends quietly, with the status a ``SIGPIPE`` gives (141)."""

    exit_code = 141

    def __init__(self) -> None:
        super().__init__("the reader of stdout went away")

    def render(self) -> list[str]:
        return []


class OutputError(ConstrainError):
    """An output file cannot be written, or an install set cannot be expressed in the asked
    format (a lock file entry without the hashes the format requires)."""


def refuse_unknown_keys(table: Mapping[str, object], known: Mapping[str, str],
                        where: str) -> None:
    """:class:`ConfigError` naming each key of ``table`` not in ``known`` (key -> what it
    sets) and the known key nearest to it: a misspelt key would otherwise be ignored without
    a word."""
    unknown = sorted(set(table) - set(known))
    if not unknown:
        return
    import difflib

    near = [difflib.get_close_matches(k, known, n=1) for k in unknown]
    said = ", ".join(f"{k} (did you mean {m[0]}?)" if m else k
                     for k, m in zip(unknown, near, strict=True))
    raise ConfigError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {said}",
                      details=[f"{k}: {v}" for k, v in known.items()],
                      hint="use the keys listed above")
