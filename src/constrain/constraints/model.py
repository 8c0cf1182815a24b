"""The values read from requirement and constraint inputs.

:class:`Inputs` is everything :func:`constrain.constraints.sources.load_inputs` read: the
requirements and constraints with the origin (file:line, URL:line or the command line) of each,
plus the index options the files carried. The constraints that apply to one target are
:mod:`.sets` (imported only where constraints are layered).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field

from packaging.requirements import Requirement
from packaging.utils import NormalizedName

from ..models import Origin
from ..records import record

ALL = ":all:"
"""The pseudo-name in ``only_binary`` / ``no_binary`` meaning every project."""


@record
class Inputs:
    """Everything read from requirement strings, requirement files and constraint files.

    ``requirements`` and ``constraints`` keep input order (nested files expanded where they
    were included). ``index_url`` is the last ``-i`` seen (``None``: the default index);
    ``extra_index_urls``, ``find_links`` and ``trusted_hosts`` accumulate without duplicates.
    ``only_binary`` / ``no_binary`` hold canonical names or :data:`ALL`, with pip's rules for
    ``:all:`` and ``:none:`` applied in reading order. ``hashes`` maps a canonical name to the
    ``algo:hexdigest`` values given by ``--hash`` on any line naming it. ``sources`` lists every
    file or URL read, in reading order, once each.
    """

    requirements: tuple[tuple[Requirement, Origin], ...] = ()
    constraints: tuple[tuple[Requirement, Origin], ...] = ()
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    pre: bool = False
    prefer_binary: bool = False
    only_binary: frozenset[str] = frozenset()
    no_binary: frozenset[str] = frozenset()
    trusted_hosts: tuple[str, ...] = ()
    require_hashes: bool = False
    hashes: Mapping[NormalizedName, tuple[str, ...]] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    @property
    def hash_checking(self) -> bool:
        """pip's hash-checking mode: ``--require-hashes``, or any ``--hash``."""
        return self.require_hashes or bool(self.hashes)
