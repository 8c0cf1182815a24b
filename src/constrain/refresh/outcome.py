"""What a refresh found and did: one :class:`TargetOutcome` per file, and the :class:`RefreshResult`.

Built by :func:`constrain.app.refresh.refresh_command`, rendered by :mod:`.report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..models import InstallSet
from ..review.consistency import Consistency, Finding
from ..target import TargetEnvironment
from .diff import Change, PinDiff


@dataclass
class TargetOutcome:
    """One refreshed file: its target, the new set, what moved, and what happened on disk.

    ``status``: ``created``, ``updated``, ``unchanged``; under ``--check`` or when a forbidden
    downgrade stopped the writing, ``would create`` / ``would update``."""

    mode: str
    file: str
    path: Path
    target: TargetEnvironment
    install_set: InstallSet
    diff: PinDiff
    status: str = "unchanged"
    existed: bool = True
    forbidden: tuple[Change, ...] = ()
    as_of: datetime | None = None
    as_of_why: str = ""
    #: per held-back package, what besides its policy excludes the newest release (empty:
    #: the policy alone); see :mod:`.held`
    held_by: dict[str, list[str]] = field(default_factory=dict)

    @property
    def python(self) -> str:
        return self.target.python_short

    @property
    def held_back(self) -> tuple:
        """:class:`~constrain.policies.bounds.HeldBack` entries for this target."""
        return tuple(self.install_set.held_back)

    @property
    def changed(self) -> bool:
        return bool(self.diff) or not self.existed


@dataclass
class RefreshResult:
    """What a refresh found and did; ``markdown`` / ``json`` are the reports."""

    output_dir: Path
    targets: list[TargetOutcome]
    check: bool
    exclude_newer: datetime | None
    written: list[str] = field(default_factory=list)
    markdown: str = ""
    json: str = ""
    stats: dict = field(default_factory=dict)
    #: per mode, the differences across its Pythons (see :mod:`constrain.review.consistency`)
    consistency: dict[str, Consistency] = field(default_factory=dict)
    #: ``--fail-on-inconsistency`` was given (unexplained differences then stop the writing)
    fail_on_inconsistency: bool = False

    @property
    def changed(self) -> list[TargetOutcome]:
        return [t for t in self.targets if t.changed]

    @property
    def forbidden(self) -> list[tuple[TargetOutcome, Change]]:
        return [(t, c) for t in self.targets for c in t.forbidden]

    @property
    def unexplained(self) -> list[tuple[str, Finding]]:
        """``(mode, finding)`` for every difference across Pythons with no reason."""
        return [(m, f) for m, c in self.consistency.items() for f in c.unexplained]

    @property
    def blocked(self) -> bool:
        """Nothing is written: a forbidden downgrade, or an unexplained difference under
        ``--fail-on-inconsistency``."""
        return bool(self.forbidden) or (self.fail_on_inconsistency and bool(self.unexplained))
