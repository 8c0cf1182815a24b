"""How the provider hands candidates to resolvelib cheaply: lazy match lists, exact pins,
and the criterion behind resolvelib's mappings.

Pure helpers of :mod:`constrain.resolver.provider`, kept apart so the provider reads as
resolvelib's questions and answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from packaging.version import Version

from .candidates import Candidate, Req


class LazyMatches:
    """find_matches' answer for resolvelib: a factory of iterators over candidates that are
    produced on demand and remembered, so each version's files are examined at most once and
    only as far as the resolver looks (resolvelib calls a callable result to iterate)."""

    __slots__ = ("_done", "_seen", "_source")

    def __init__(self, source: Iterator[Candidate]) -> None:
        self._source = source
        self._seen: list[Candidate] = []
        self._done = False

    def __call__(self) -> Iterator[Candidate]:
        if self._done:
            return iter(self._seen)
        return self._iterate()

    def _iterate(self, start: int = 0) -> Iterator[Candidate]:
        i = start
        while True:
            if i < len(self._seen):
                yield self._seen[i]
                i += 1
                continue
            if self._done:
                return
            try:
                self._seen.append(next(self._source))
            except StopIteration:
                self._done = True
                return


def pinned_versions(pin: Req) -> list[Version]:
    """The versions an exact pin allows (``==`` without wildcard, ``===``); ``[]`` if it is
    not one."""
    if pin.exact is not None:
        return [pin.exact]
    out = []
    for spec in pin.specifier:
        if spec.operator in ("==", "===") and not spec.version.endswith(".*"):
            try:
                out.append(Version(spec.version))
            except ValueError:
                return []
    return out


def criterion_of(candidates: Any, identifier: str) -> Any:
    """resolvelib's criterion for ``identifier`` behind the ``candidates`` mapping it hands
    to ``get_preference`` (a view over its criteria), or ``None`` when this resolvelib does
    not expose it that way: the preference is then computed afresh each time (same answer).
    tests/resolver/test_provider.py fails if the criterion stops being found."""
    criteria = getattr(candidates, "_mapping", None)
    return criteria.get(identifier) if isinstance(criteria, dict) else None
