"""Load requirement strings, requirement files and constraint files (nested ones included) into
one :class:`~constrain.constraints.model.Inputs`.

Reading is injected: ``fetch(location)`` returns ``(canonical location, text)`` for a path or
URL and raises a :class:`~constrain.errors.ConstrainError` when it cannot, so this module does
no I/O of its own. Every problem of every file (bad lines, unreadable includes, include
cycles) is raised together as one :class:`~constrain.errors.InputError`.

Semantics follow pip where pip is clear: inputs are read in pip's order (constraint files,
then command-line requirements, then requirement files); a nested ``-r``/``-c`` path is
resolved against the including file (``urljoin`` when that file is a URL); ``-c`` inside a
requirements file adds constraints; file options apply in reading order (the last ``-i`` wins,
``--extra-index-url``/``-f``/``--trusted-host`` accumulate, ``--only-binary``/``--no-binary``
follow pip's ``:all:``/``:none:`` rules). Relative ``-f`` paths are taken relative to the file
that names them (uv's rule; pip does so only when the path exists).

One deliberate difference: ``-r`` inside a *constraints* file yields constraints. pip (23-25)
turns such lines into requirements -- a behaviour its maintainers call surprising
(pypa/pip#12222; pypa/pip#8821 proposes constraints) -- while uv reads them as constraints. A
constraints file that silently adds requirements would defeat its purpose, so constrain sides
with uv. A file included twice in the same role is read once; a cycle is an error naming the
chain.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from ..errors import ConstrainError, InputError, NetworkError, SourceLocation, redact_url
from ..models import COMMAND_LINE, Origin
from .argument import parse_requirement_string, raise_problems
from .model import ALL, Inputs

if TYPE_CHECKING:
    from .parser import FileOption, Include, Kind

Fetch = Callable[[str], tuple[str, str]]

_URL_RE = re.compile(r"^(http|https|file):", re.I)


def is_url(location: str) -> bool:
    """Is ``location`` a URL pip would fetch (http, https, file) rather than a path?"""
    return _URL_RE.match(location) is not None


#: well-known files that are no requirements files, by how a line of theirs starts (compiled
#: by ``re`` when a file is first read: most commands read none)
_FORMATS = (
    (r"^\s*(lock-version\s*=|\[\[packages\]\])", "a PEP 751 lock file"),
    (r"^\s*\[(project|build-system|tool)[].]", "a pyproject.toml"),
)


def other_format(text: str) -> str | None:
    """What ``text`` is when it is a well-known file that is no requirements file (a pylock,
    a JSON report, a pyproject.toml), else ``None``: no requirement line starts like these."""
    head = re.match(r"\s*(\S?\S?)", text)
    if head is not None and (head[1][:1] == "{" or head[1] in ("[{", '["')):
        return "JSON"
    return next((shape for pattern, shape in _FORMATS if re.search(pattern, text, re.M)), None)


def resolve_location(parent: str, child: str) -> str:
    """Where ``child`` (as written in ``parent``) lives: a URL join when ``parent`` is a URL,
    ``child`` itself when it is a URL or an absolute path, else a path beside ``parent``
    (``..`` folded lexically; ``fetch`` decides what the path really names)."""
    if is_url(parent):
        return urljoin(parent, child)
    if is_url(child) or PurePath(child).is_absolute():
        return child
    joined = PurePath(parent).parent / child
    parts: list[str] = []
    for part in joined.parts:
        if part == ".." and parts and parts[-1] not in ("..", joined.anchor):
            parts.pop()
        elif part != ".":
            parts.append(part)
    return str(PurePath(*parts)) if parts else "."


class _FormatControl:
    """pip's ``--only-binary``/``--no-binary`` bookkeeping (``FormatControl``)."""

    def __init__(self) -> None:
        self.only: set[str] = set()
        self.no: set[str] = set()

    def apply(self, value: str, target: set[str], other: set[str]) -> None:
        new = value.split(",")
        while ALL in new:
            other.clear()
            target.clear()
            target.add(ALL)
            del new[: new.index(ALL) + 1]
            if ":none:" not in new:
                return
        for name in new:
            if name == ":none:":
                target.clear()
                continue
            if not name:
                continue
            key = canonicalize_name(name)
            other.discard(key)
            target.add(key)


class _Loader:
    def __init__(self, fetch: Fetch, environ: Mapping[str, str],
                 constraint_flag: str = "-c") -> None:
        self.fetch = fetch
        self.environ = environ
        self.constraint_flag = constraint_flag  # the option that named the constraint files
        self.problems: list[SourceLocation] = []
        #: files that could not be read: their problem without the hint, and the hint
        self.read_failures: list[tuple[str, SourceLocation, SourceLocation, str]] = []
        self.requirements: list[tuple[Requirement, Origin]] = []
        self.constraints: list[tuple[Requirement, Origin]] = []
        self.sources: list[str] = []
        self.done: set[tuple[str, Kind]] = set()
        self.hashes: dict[NormalizedName, list[str]] = {}
        self.index_url: str | None = None
        self.extra_index_urls: list[str] = []
        self.find_links: list[str] = []
        self.trusted_hosts: list[str] = []
        self.flags: dict[str, bool] = {}
        self.formats = _FormatControl()

    # ------------------------------------------------------------------ files
    def load(
        self, location: str, kind: Kind, chain: tuple[str, ...], via: Include | None
    ) -> None:
        try:
            canonical, text = self.fetch(location)
        except ConstrainError as exc:
            self.unreadable(location, exc, via, kind)
            return
        if canonical in chain:
            cycle = " -> ".join(
                redact_url(c) for c in (*chain[chain.index(canonical) :], canonical)
            )
            self.at(via, canonical, f"include cycle: {cycle}")
            return
        if (canonical, kind) in self.done:
            return
        self.done.add((canonical, kind))
        if canonical not in self.sources:
            self.sources.append(canonical)
        shape = other_format(text)
        if shape is not None:  # one problem, not one per line of it
            self.unreadable(location, InputError(
                f"{location} is {shape}, not a requirements or constraints file",
                hint="give a file in pip's format, such as constrain's --format constraints "
                "or requirements output"), via, kind)
            return
        # here: requirements all given on the command line need no file grammar
        from .parser import FileOption, Include, RequirementLine, parse_lines

        parsed = parse_lines(text, canonical, kind=kind, environ=self.environ)
        pending = list(parsed.problems)  # reported in line order, nested files in place
        for entry in parsed.entries:
            while pending and (pending[0].line or 0) <= (entry.origin.line or 0):
                self.problems.append(pending.pop(0))
            if isinstance(entry, RequirementLine):
                self.add(entry.requirement, entry.origin, kind, entry.hashes)
            elif isinstance(entry, Include):
                # -c always yields constraints; -r yields whatever the including file holds.
                nested: Kind = "constraints" if kind == "constraints" else entry.kind
                target = resolve_location(canonical, entry.location)
                self.load(target, nested, (*chain, canonical), entry)
            elif isinstance(entry, FileOption):
                self.option(entry, canonical)
        self.problems.extend(pending)

    def unreadable(
        self, location: str, exc: ConstrainError, via: Include | None, kind: Kind
    ) -> None:
        shown = redact_url(location)
        flag = self.constraint_flag if kind == "constraints" else "-r"
        if isinstance(exc, NetworkError):
            hint = (f"check the URL and the network, or save the file and give {flag} its "
                    "path; a URL read once is cached, and that copy is used when it cannot "
                    "be reached")
        elif not is_url(location) and exc.message.startswith("no such file"):
            hint = (f"check the path given to {flag}" if via is None else
                    f"check the {flag} line; its path is read beside the file that has it")
        elif not is_url(location) and exc.message.endswith("is a directory") and via is None:
            hint = f"give {flag} the path of a file"
        else:
            hint = exc.hint or ""
        message = exc.message.replace(location, shown)  # in case the fetcher did not redact
        if shown not in message:
            message = f"cannot read {shown}: {message}"
        self.at(via, location, message + (f" ({hint})" if hint else ""))
        detailed = self.problems[-1]
        self.at(via, location, message)
        self.read_failures.append((shown, detailed, self.problems.pop(), hint))

    def at(self, via: Include | None, location: str, message: str) -> None:
        if via is None:
            self.problems.append(SourceLocation(location, None, None, None, message))
        else:
            o = via.origin
            self.problems.append(SourceLocation(o.source, o.line, o.text, via.column, message))

    # ------------------------------------------------------------------ entries
    def add(
        self, req: Requirement, origin: Origin, kind: Kind, hashes: tuple[str, ...] = ()
    ) -> None:
        (self.constraints if kind == "constraints" else self.requirements).append((req, origin))
        if hashes:
            known = self.hashes.setdefault(canonicalize_name(req.name), [])
            known.extend(h for h in hashes if h not in known)

    def option(self, opt: FileOption, source: str) -> None:
        name, value = opt.name, opt.value or ""
        if name == "index-url":
            self.index_url = value
        elif name == "extra-index-url":
            _append(self.extra_index_urls, value)
        elif name == "find-links":
            _append(self.find_links, resolve_location(source, value))
        elif name == "trusted-host":
            _append(self.trusted_hosts, value)
        elif name == "only-binary":
            self.formats.apply(value, self.formats.only, self.formats.no)
        elif name == "no-binary":
            self.formats.apply(value, self.formats.no, self.formats.only)
        else:  # flags: pre, prefer-binary, no-index, require-hashes
            self.flags[name] = True

    def result(self) -> Inputs:
        return Inputs(
            requirements=tuple(self.requirements),
            constraints=tuple(self.constraints),
            index_url=self.index_url,
            extra_index_urls=tuple(self.extra_index_urls),
            find_links=tuple(self.find_links),
            no_index=self.flags.get("no-index", False),
            pre=self.flags.get("pre", False),
            prefer_binary=self.flags.get("prefer-binary", False),
            only_binary=frozenset(self.formats.only),
            no_binary=frozenset(self.formats.no),
            trusted_hosts=tuple(self.trusted_hosts),
            require_hashes=self.flags.get("require-hashes", False),
            hashes={k: tuple(v) for k, v in self.hashes.items()},
            sources=tuple(self.sources),
        )


def _append(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)


def load_inputs(
    requirements: Sequence[str] = (),
    requirement_files: Sequence[str] = (),
    constraint_files: Sequence[str] = (),
    *,
    fetch: Fetch,
    environ: Mapping[str, str] | None = None,
    constraint_flag: str = "-c",
) -> Inputs:
    """Read every input into one :class:`Inputs`, or raise one :class:`InputError` listing
    every bad line, unreadable file and include cycle of all of them.

    ``requirements`` are PEP 508 strings from the command line (origin ``"command line"``);
    the files are paths or URLs handed to ``fetch``; ``environ`` expands ``${VAR}`` in files;
    ``constraint_flag`` is the option that gave ``constraint_files``, for the hints.
    """
    loader = _Loader(fetch, environ or {}, constraint_flag)
    for location in constraint_files:
        loader.load(location, "constraints", (), None)
    for number, text in enumerate(requirements, start=1):
        try:
            req = parse_requirement_string(text, argument=number)
        except InputError as exc:
            loader.problems.extend(exc.locations)
            continue
        loader.add(req, COMMAND_LINE, "requirements")
    for location in requirement_files:
        loader.load(location, "requirements", (), None)
    if loader.problems and len(loader.problems) == len(loader.read_failures):
        # only files that could not be read: nothing in them to fix, the hints say what to do
        failed = list(dict.fromkeys(shown for shown, _, _, _ in loader.read_failures))
        hints = list(dict.fromkeys(h for _, _, _, h in loader.read_failures if h))
        raise InputError(f"cannot read {', '.join(failed)}",
                         locations=tuple(plain for _, _, plain, _ in loader.read_failures),
                         hint="; ".join(hints) or None)
    raise_problems(loader.problems)
    return loader.result()
