"""How the resolver sees the package world: the one Protocol between ``resolver/`` and ``index/``.

``resolver/`` reads files and metadata only through :class:`MetadataProvider`, and ``index/``
(its real implementation: the index client plus cache) never imports the resolver; tests use
an in-memory index loaded from a scenario file. Named only by type checkers (imported under
``TYPE_CHECKING``): nothing at run time loads this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from packaging.utils import NormalizedName

from .models import CoreMetadata, DistFile


class MetadataProvider(Protocol):
    """How the resolver sees the package world: files of a project, metadata of a file.

    The real implementation is the index client plus cache (``index/``); tests use an in-memory
    index loaded from a scenario file.
    """

    def files(self, project: NormalizedName) -> Sequence[DistFile]:
        """Every file offered for ``project`` on the one index that owns it (first-index
        priority) plus find-links locations. Raises ``ProjectNotFound`` when none has it."""
        ...

    def metadata(self, file: DistFile) -> CoreMetadata:
        """The core metadata of ``file``, fetched once and cached. May raise
        ``MetadataError``, ``BuildForbidden``, ``BuildError``, ``OfflineMissing``."""
        ...

    def prefetch(
        self,
        project: NormalizedName,
        choose: Callable[[Sequence[DistFile]], Iterable[DistFile]] | None = None,
        then: Callable[[CoreMetadata], object] | None = None,
    ) -> None:
        """A hint: ``project`` will be needed soon. Start fetching its files in the background
        and, once they are known, the metadata of the files ``choose`` picks (typically the
        best file of the most likely version), then call ``then`` with the first one's
        metadata. Never raises; errors surface on the real call."""
        ...

    def prefetch_files(self, files: Iterable[DistFile]) -> None:
        """A hint: the metadata of ``files`` may be needed soon (the resolver is walking down a
        project's versions). Start fetching it in the background. Never raises."""
        ...
