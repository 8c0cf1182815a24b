"""What a candidate depends on, read from its core metadata for one target.

Pure functions of the metadata, the candidate and the :class:`~constrain.target.TargetEnvironment`
(no I/O, no resolver state): the provider asks them and keeps what it learns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Protocol

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ..errors import MetadataError, SourceLocation
from ..models import CoreMetadata, UnreadableLine
from ..target import TargetEnvironment
from .candidates import Candidate, Req


class Evaluates(Protocol):
    """What reads a marker for the target: :class:`~constrain.target.TargetEnvironment`, or
    :class:`MarkerMemo` in front of it."""

    def evaluate(self, marker: Marker | None,
                 extras: frozenset[str] | set[str] = ...) -> bool: ...


class MarkerMemo:
    """``target.evaluate`` remembered per marker object and extra, for one resolve.

    A marker's truth on a target depends only on the marker and on ``extra``; the resolver
    reads the same Requires-Dist markers again and again (every extra of ``apache-airflow[all]``
    against each of its hundreds of lines): the large Airflow resolve evaluated 57,000 markers,
    10% of its time. Entries hold their marker, so an ``id`` is never reused for another.
    A marker object seen first is looked up by its text before it is evaluated: equal texts
    are equal markers, and metadata read at different times holds them as different objects
    (11,500 evaluations for 1,950 distinct texts and extras in the large Airflow resolve).

    A marker that is exactly ``extra == "x"`` (most extras' lines) holds for an extra by
    whether its name is ``x`` or not, nothing else: for a set of extras (an extras candidate
    of ``apache-airflow`` asks with ~100) it is evaluated for ``x`` and for no extra at
    all, not once per extra. So is a conjunction with ``extra == "x"`` among its terms
    (``python_version < "3.12" and extra == "devel-ci"``): false for any other extra.
    """

    def __init__(self, target: TargetEnvironment) -> None:
        self.target = target
        self._known: dict[tuple[int, str], tuple[Marker, bool]] = {}
        #: (marker's text, extra) -> answer: metadata read apart holds equal markers as
        #: distinct objects (the large Airflow resolve: 10,000 marker objects, 935 texts)
        self._by_text: dict[tuple[str, str], bool] = {}
        #: id(marker) -> (marker, x when the marker is exactly ``extra == "x"`` else None)
        self._extra_only: dict[int, tuple[Marker, str | None]] = {}
        self._last_extras: object = None
        #: id(metadata) -> (metadata, lines by the one extra they hold for, other lines)
        self._lines: dict[int, tuple[CoreMetadata, dict[str, list[int]], list[int]]] = {}
        self._last_canonical: frozenset[str] = frozenset()

    def evaluate(self, marker: Marker | None,
                 extras: frozenset[str] | set[str] = frozenset()) -> bool:
        """Does ``marker`` hold on the target, for any of ``extras`` (or none)? As
        :meth:`~constrain.target.TargetEnvironment.evaluate`."""
        if marker is None:
            return True
        if not extras:
            return self._holds(marker, "")
        named = self._only_extra(marker)
        if named is None:
            return any(self._holds(marker, extra) for extra in extras)
        # ``extra == "x"``: the same answer for every extra that is not x (packaging compares
        # the extra's normalized name with x), the answer for no extra at all
        canonical = self._canonical(extras)
        hit = named in canonical
        if hit and self._holds(marker, named):
            return True
        return len(canonical) > hit and self._holds(marker, "")

    def _holds(self, marker: Marker, extra: str) -> bool:
        key = (id(marker), extra)
        known = self._known.get(key)
        if known is None:
            # another object with the same text may have been asked already (equal text,
            # equal marker: packaging compares markers so)
            text_key = (str(marker), extra)
            answer = self._by_text.get(text_key)
            if answer is None:
                answer = self._by_text[text_key] = self.target.evaluate(
                    marker, frozenset((extra,)) if extra else frozenset())
            known = self._known[key] = (marker, answer)
        return known[1]

    def _only_extra(self, marker: Marker) -> str | None:
        known = self._extra_only.get(id(marker))
        if known is None:
            found = _EXTRA_ONLY.fullmatch(str(marker))
            known = self._extra_only[id(marker)] = (
                marker, found[1] if found else _conjoined_extra(marker))
        return known[1]

    def lines_by_extra(self, md: CoreMetadata) -> tuple[dict[str, list[int]], list[int]]:
        """The positions of ``md``'s Requires-Dist lines with a marker: by the one extra a
        line holds for alone (``extra == "x"``, or a conjunction with it), and the others.
        Made once per metadata: every extras candidate of a release reads them (the large
        Airflow resolve: 190 candidates of apache-airflow, 250 lines each)."""
        known = self._lines.get(id(md))
        if known is None or known[0] is not md:
            by_extra: dict[str, list[int]] = {}
            others: list[int] = []
            for i, r in enumerate(md.requires_dist):
                if r.marker is None:
                    continue
                named = self._only_extra(r.marker)
                if named is None:
                    others.append(i)
                else:
                    by_extra.setdefault(named, []).append(i)
            known = self._lines[id(md)] = (md, by_extra, others)
        return known[1], known[2]

    def canonical(self, extras: frozenset[str] | set[str]) -> frozenset[str]:
        """The normalized names of ``extras``."""
        return self._canonical(extras)

    def _canonical(self, extras: frozenset[str] | set[str]) -> frozenset[str]:
        """The normalized names of ``extras`` (the last frozenset's kept: the same set is
        asked about every line of a release)."""
        if extras is not self._last_extras or not isinstance(extras, frozenset):
            self._last_canonical = frozenset(canonicalize_name(e) for e in extras)
            self._last_extras = extras
        return self._last_canonical


#: a marker that only compares the extra with one name (packaging's own spelling of it)
_EXTRA_ONLY = re.compile(r'extra == "([^"]+)"')


def _conjoined_extra(marker: Marker) -> str | None:
    """x when ``marker`` is a conjunction one of whose terms is ``extra == "x"`` (``python_version
    < "3.12" and extra == "devel-ci"``), so that it holds for no other extra and for none;
    else ``None``. Read from packaging's parsed tree (a list of terms joined by "and"/"or",
    a term a (variable, op, value) tuple or a parenthesised list); a tree of another shape
    gives ``None`` (every extra is then asked, as before)."""
    tree = getattr(marker, "_markers", None)
    if not isinstance(tree, list) or any(isinstance(t, str) and t != "and" for t in tree):
        return None
    for term in tree:
        if not isinstance(term, tuple) or len(term) != 3:
            continue
        lhs, op, rhs = term
        if getattr(op, "value", None) != "==":
            continue
        kinds = (type(lhs).__name__, type(rhs).__name__)
        if kinds == ("Variable", "Value") and lhs.value == "extra":
            named = rhs.value
        elif kinds == ("Value", "Variable") and rhs.value == "extra":
            named = lhs.value
        else:
            continue
        if isinstance(named, str) and named:
            return named
    return None


def dependency(req: Requirement, parent: Candidate) -> Req | None:
    """A dependency of ``parent`` as a resolver requirement. A project requiring itself
    (``foo[all]`` needing ``foo[a,b]``) gets exactly the parent's version; without new
    extras such a self-requirement adds nothing."""
    return _of_parent(Req.from_requirement(req), parent)


class Dependencies:
    """:func:`dependency`, each Requires-Dist requirement object made into a :class:`Req`
    once per resolve (the entry holds the object, so its ``id`` is not reused). Metadata
    from the facts snapshot holds equal requirements as one object, and a release's lines
    are read again for each of its candidates and extras: workload 1's full resolve made
    1,352 requirements of 317 objects. The one :class:`Req` also keeps, once, its text for
    the limits, whether it pins, and its answers about versions."""

    def __init__(self, url_allowed: Callable[[str], bool] = lambda name: False) -> None:
        self._made: dict[int, tuple[Requirement, Req]] = {}
        self.url_allowed = url_allowed

    def __call__(self, req: Requirement, parent: Candidate) -> Req | None:
        known = self._made.get(id(req))
        if known is None or known[0] is not req:
            if req.url is not None and not self.url_allowed(canonicalize_name(req.name)):
                raise DirectUrl(req)
            known = self._made[id(req)] = (req, Req.from_requirement(req))
        return _of_parent(known[1], parent)


class DirectUrl(Exception):
    """A dependency written ``name @ url``, which the resolver does not fetch."""

    def __init__(self, requirement: Requirement) -> None:
        super().__init__(str(requirement))
        self.requirement = requirement


def direct_url_error(candidate: Candidate, requirement: Requirement, chain: str
                     ) -> MetadataError:
    """The error for a candidate whose metadata asks for ``name @ url``: constrain takes
    projects from indexes and find-links only, and quietly taking the index's release of that
    name instead could install another artifact than the one named (dependency confusion)."""
    name = requirement.name
    return MetadataError(
        f"{candidate.name} {candidate.version} requires {requirement}, a direct URL, which "
        "constrain does not fetch",
        details=(f"needed by {chain}",) if chain else (),
        hint=f"to take {name} from the indexes or --find-links instead, constrain it yourself "
        f"(a -c file with e.g. '{name}>=0'), or exclude this version ({candidate.name}!="
        f"{candidate.version})",
    )


def _of_parent(dep: Req, parent: Candidate) -> Req | None:
    if dep.name == parent.name:
        if not dep.extras - parent.extras:
            return None
        return Req(dep.name, extras=dep.extras, exact=parent.version)
    return dep


def unreadable_applying(
    target: Evaluates, md: CoreMetadata, extras: frozenset[str] = frozenset()
) -> list[UnreadableLine]:
    """The unreadable Requires-Dist lines of ``md`` whose marker holds on the target for
    ``extras`` (none: the project itself) -- lines that would have been dependencies."""
    return [
        u for u in md.unreadable
        if target.evaluate(_marker(u.marker), extras)
        and (not extras or not target.evaluate(_marker(u.marker)))
    ]


def unreadable_error(
    candidate: Candidate, md: CoreMetadata, applying: list[UnreadableLine], chain: str
) -> MetadataError:
    """The error for a candidate that needs Requires-Dist lines that cannot be read: each
    line with its place, the chain that asked for the candidate, and a way around it."""
    what, hint = f"{md.name} {md.version}", "exclude this version"
    if candidate.extras:
        named = sorted({canonicalize_name(e) for u in applying for e in u.extras}
                       & set(candidate.extras))
        extras = ", ".join(repr(e) for e in named or sorted(candidate.extras))
        what += f" with the extra{'s' if len(named) > 1 else ''} {extras}"
        hint = f"do not ask for {extras}, or exclude this version"
    n = len(applying)
    return MetadataError(
        f"{what} needs {n} Requires-Dist line{'s' if n > 1 else ''} that cannot be read",
        locations=[SourceLocation(u.where, u.line, f"Requires-Dist: {u.text}", None,
                                  u.error) for u in applying],
        details=(f"needed by {chain}",) if chain else (),
        hint=f"{hint} (e.g. {candidate.name}!={candidate.version})",
    )


def extra_dependencies(
    target: Evaluates, candidate: Candidate, md: CoreMetadata,
    make: Callable[[Requirement, Candidate], Req | None] = dependency,
) -> tuple[list[Req | None], frozenset[str]]:
    """Requirements the candidate's extras bring beyond the base project's own (each made
    by ``make``: :func:`dependency` or a :class:`Dependencies`), and the extras the release
    does not have (neither provided nor changing any marker)."""
    provided = set(md.provides_extra) | {
        canonicalize_name(e) for u in md.unreadable for e in u.extras
    }
    valid = frozenset(
        e
        for e in candidate.extras
        if e in provided
        or any(
            target.evaluate(r.marker, {e}) != target.evaluate(r.marker)
            for r in md.requires_dist
            if r.marker is not None
        )
    )
    invalid = frozenset(candidate.extras - valid)
    if not valid:
        return [], invalid
    lines: Iterable[Requirement] = md.requires_dist
    if isinstance(target, MarkerMemo):
        # only the lines that may hold for these extras: a line that holds for one named
        # extra alone (MarkerMemo.lines_by_extra) is false for every other extra
        by_extra, others = target.lines_by_extra(md)
        wanted = set(others)
        for extra in target.canonical(valid):
            wanted.update(by_extra.get(extra, ()))
        lines = [md.requires_dist[i] for i in sorted(wanted)]
    return [
        make(r, candidate)
        for r in lines
        if r.marker is not None
        and target.evaluate(r.marker, valid)
        and not target.evaluate(r.marker)
    ], invalid


_MARKERS: dict[str, Marker] = {}


def _marker(text: str) -> Marker:
    """``Marker(text)``, parsed once per text (the parser checked it when the metadata was
    read)."""
    found = _MARKERS.get(text)
    if found is None:
        found = _MARKERS[text] = Marker(text)
    return found
