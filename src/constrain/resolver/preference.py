"""Which open requirement the resolver works on next: a deterministic sort key.

Order: the synthetic Python requirement, exact pins (``==``/``===`` in a requirement or a
constraint), projects the user named, the causes of the last backtrack, fewer candidates left,
then the identifier -- so the same inputs always give the same resolution. Candidates
themselves are always tried highest version first (see ``provider.find_matches``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

from .candidates import PYTHON, Candidate, Req

Preference = tuple[bool, bool, bool, bool, int, str]

#: Counting stops here: past it, "fewer candidates" no longer tells projects apart usefully,
#: and every candidate counted costs a look at that version's files.
COUNT_CAP = 10


def backtrack_keys(causes: Sequence[Any]) -> set[str]:
    """Identifiers involved in the last backtrack: each cause's requirement and its parent."""
    out: set[str] = set()
    for info in causes:
        out.add(info.requirement.key)
        if info.parent is not None:
            out.add(info.parent.key)
    return out


def criterion_facts(requirements: Iterable[Req], candidates: Iterator[Candidate]
                    ) -> tuple[bool, int]:
    """What the sort key needs from one resolvelib criterion (its requirements and
    candidates), which never changes: does a requirement pin exactly, and how many
    candidates are left (counted up to :data:`COUNT_CAP`)."""
    pinned = any(r.pinned for r in requirements)
    return pinned, sum(1 for _ in islice(candidates, COUNT_CAP))


def preference(
    key: str,
    facts: tuple[bool, int],
    *,
    constraint_pinned: bool,
    user_named: bool,
    in_backtrack: bool,
) -> Preference:
    """The sort key for identifier ``key`` (lower is resolved first), given its criterion's
    :func:`criterion_facts`."""
    pinned_by_requirement, count = facts
    pinned = constraint_pinned or pinned_by_requirement
    return (key != PYTHON, not pinned, not user_named, not in_backtrack, count, key)


def narrow(identifiers: Iterable[str], resolutions: Mapping[str, Candidate]) -> list[str]:
    """Work on the Python requirement alone when it is open: it has one candidate and decides
    at once whether a candidate's Requires-Python admits the target."""
    ids = list(identifiers)
    return [PYTHON] if PYTHON in ids else ids
