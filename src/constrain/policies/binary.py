"""Binary policy: with ``--only-binary`` sdists are never candidates."""

from __future__ import annotations

from collections.abc import Sequence

from ..models import DistFile


def binaries(files: Sequence[DistFile], only_binary: bool) -> tuple[DistFile, ...]:
    """``files`` without sdists when ``only_binary``; unchanged otherwise."""
    if not only_binary:
        return tuple(files)
    return tuple(f for f in files if f.is_wheel)
