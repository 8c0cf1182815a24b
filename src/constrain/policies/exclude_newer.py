"""Exclude-newer policy: only files uploaded at or before a cut-off (PEP 700 upload times)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..errors import UploadTimeMissing, redact_url
from ..models import DistFile


def check_upload_times(project: str, files: Sequence[DistFile]) -> None:
    """Raise :class:`UploadTimeMissing` when ``project`` has files but none carries an upload
    time: the cut-off could not be honoured for it."""
    if files and all(f.upload_time is None for f in files):
        indexes = sorted({f.index for f in files if f.index}) or ["(unknown index)"]
        raise UploadTimeMissing(
            f"cannot apply --exclude-newer to {project}: "
            f"{', '.join(redact_url(i) for i in indexes)} reports no upload times",
            hint="an index without PEP 700 upload times cannot honour --exclude-newer; "
            "drop --exclude-newer, or use an index that reports upload-time",
        )


def uploaded_by(files: Sequence[DistFile], cutoff: datetime | None) -> tuple[DistFile, ...]:
    """The files uploaded at or before ``cutoff`` (all files when there is no cut-off).

    A file without an upload time cannot be shown to be old enough, so it is dropped.
    """
    if cutoff is None:
        return tuple(files)
    return tuple(f for f in files if f.upload_time is not None and f.upload_time <= cutoff)
