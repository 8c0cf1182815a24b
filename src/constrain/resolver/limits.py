"""Which specifiers limit an identifier's versions, gathered incrementally.

resolvelib hands ``find_matches`` every requirement of a criterion each time one is added
(the large Airflow resolve: ``apache-airflow`` gathers ~600 requirements, one per extras
candidate and provider, nearly all ``===2.9.3``; 640,000 requirements walked in 4,400 calls).
A criterion is never changed, only replaced: one with the same requirements and one more
(:meth:`_add_to_criteria`), or with some removed (a backjump). :class:`Limits` keeps, per
identifier, the requirement information it last read and the distinct limits (by text) it
found there; when a criterion's information starts with exactly those objects (an identity
test per entry, in C), only the entries after them are read. Anything else reads afresh.
The answer is the same dictionary, in the same order, as reading every requirement.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from packaging.specifiers import SpecifierSet

from .candidates import ConstraintIndex, Req


class Limits:
    """The limits of identifiers for one resolve (see the module's docstring)."""

    def __init__(self, constraints: ConstraintIndex) -> None:
        self.constraints = constraints
        #: identifier -> (information read, its limits by text)
        self._read: dict[str, tuple[Sequence[Any], dict[str, SpecifierSet]]] = {}
        self._constraint_texts: dict[str, list[tuple[str, SpecifierSet]]] = {}

    def of(self, identifier: str, name: str, requirements: Mapping[str, Iterable[Req]]
           ) -> dict[str, SpecifierSet]:
        """Every specifier that limits ``identifier`` -- its requirements, the requirements
        on the base project ``name`` (for an extras identifier) and the constraints -- by
        text, each distinct one once (a limit given twice limits once)."""
        found = self._requirement_limits(identifier, requirements)
        if identifier != name:
            for text, spec in self._requirement_limits(name, requirements).items():
                found.setdefault(text, spec)
        for text, spec in self._constraint_limits(name):
            found.setdefault(text, spec)
        return found

    def _requirement_limits(self, key: str, requirements: Mapping[str, Iterable[Req]]
                            ) -> dict[str, SpecifierSet]:
        """The limits of ``key``'s requirements in ``requirements`` (a new dictionary)."""
        criteria = getattr(requirements, "_mapping", None)
        appends = getattr(requirements, "_appends", None)
        if not isinstance(criteria, dict) or not isinstance(appends, Mapping):
            # not resolvelib's IteratorMapping over its criteria: read every requirement
            return {r.limit[0]: r.limit[1] for r in requirements.get(key, ())}
        criterion = criteria.get(key)
        found: dict[str, SpecifierSet]
        if criterion is None:
            found = {}
        else:
            found = dict(self._criterion_limits(key, criterion.information))
        for r in appends.get(key, ()):
            text, spec = r.limit
            found[text] = spec
        return found

    def _criterion_limits(self, key: str, information: Sequence[Any]
                          ) -> dict[str, SpecifierSet]:
        """The limits of the requirements in ``information`` (a criterion's), read from
        where the last reading for ``key`` left off when it is a prefix of it."""
        known = self._read.get(key)
        if known is not None:
            before, limits = known
            if before is information:
                return limits
            n = len(before)
            if len(information) >= n and all(map(operator.is_, before, information)):
                if len(information) == n:
                    return limits
                limits = dict(limits)
                for info in information[n:]:
                    text, spec = info.requirement.limit
                    limits[text] = spec
                self._read[key] = (information, limits)
                return limits
        limits = {}
        for info in information:
            text, spec = info.requirement.limit
            limits[text] = spec
        self._read[key] = (information, limits)
        return limits

    def _constraint_limits(self, name: str) -> list[tuple[str, SpecifierSet]]:
        found = self._constraint_texts.get(name)
        if found is None:
            found = self._constraint_texts[name] = [
                (str(s), s) for s in self.constraints.specifiers(name)]
        return found
