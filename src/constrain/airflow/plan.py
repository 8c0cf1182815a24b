"""What the constraint layers of one command are: the :class:`LayerPlan` every target shares and the :class:`Layered` constraints of one target.

Plain frozen values: :mod:`.layers` builds them, :mod:`.files` and ``app`` read them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from packaging.version import Version

from ..models import Origin
from . import published as af

if TYPE_CHECKING:
    from ..policies.bounds import Bound, BoundPolicy

Pairs = Sequence[tuple[Requirement, Origin]]


@dataclass(frozen=True)
class LayerPlan:
    """What every target of one command shares: Airflow settings and requirement, the
    policies, the reference pins for their bounds, and the overrides."""

    settings: af.AirflowSettings = field(default_factory=af.AirflowSettings)
    airflow: af.AirflowRequirement | None = None
    use: str | None = None
    policies: tuple[BoundPolicy, ...] = ()
    reference: Mapping[str, Version] | None = None
    reference_source: str | None = None
    overrides: tuple[tuple[NormalizedName, str, int | None], ...] = ()


@dataclass(frozen=True)
class Layered:
    """The constraints for one target, the bounds among them, the exclude-newer cut-off used,
    and the notes for the output header."""

    constraints: tuple[tuple[Requirement, Origin], ...]
    bounds: tuple[Bound, ...] = ()
    notes: tuple[str, ...] = ()
    #: ``reconstruction.Move`` values: packages a reconstruction moved past the release date
    moves: tuple[object, ...] = ()
    #: Airflow's constraints in force, for the summary line (published URL, or reconstructed
    #: as of which date and why); empty when none
    airflow: str = ""
