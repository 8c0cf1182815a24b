"""``constrain cache info`` and ``constrain cache prune``: the cache a command would use, read
and shrunk (:mod:`constrain.cache.usage`, :mod:`constrain.cache.prune`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..cache import cache_root
from ..cache.prune import parse_age, parse_size, plan, remove
from ..cache.usage import Entry, Usage, scan
from ..errors import UsageError


def cache_info(cache_dir: str | None) -> Usage:
    """What the cache holds, entry by entry."""
    return scan(cache_root(cache_dir))


@dataclass(frozen=True)
class PruneRequest:
    """What ``constrain cache prune`` is asked: the limits as written (``30d``, ``2G``), and
    whether to remove anything."""

    cache_dir: str | None = None
    older_than: str | None = None
    max_size: str | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class PruneResult:
    """What went (or would go: ``dry_run``), what a running command kept (``busy``), what
    was kept for being used in the last day, and the size before."""

    root: Path
    removed: tuple[Entry, ...]
    busy: tuple[Entry, ...]
    kept_recent: int
    size_before: int
    max_size: int | None
    dry_run: bool

    @property
    def freed(self) -> int:
        return sum(e.size for e in self.removed)

    @property
    def size_after(self) -> int:
        return self.size_before - self.freed

    def per_kind(self) -> dict[str, tuple[int, int]]:
        """kind -> (entries, bytes) of what went."""
        out: dict[str, tuple[int, int]] = {}
        for e in self.removed:
            n, s = out.get(e.kind, (0, 0))
            out[e.kind] = (n + 1, s + e.size)
        return out


def cache_prune(request: PruneRequest) -> PruneResult:
    """Choose by the limits and remove (unless ``dry_run``); a usage error without a limit."""
    if request.older_than is None and request.max_size is None:
        raise UsageError("say what to prune: --older-than AGE, --max-size SIZE, or both",
                         hint="e.g. constrain cache prune --older-than 30d --max-size 2G "
                         "(add --dry-run to see what would go)")
    older = parse_age(request.older_than) if request.older_than is not None else None
    limit = parse_size(request.max_size) if request.max_size is not None else None
    root = cache_root(request.cache_dir)
    chosen = plan(scan(root), older_than=older, max_size=limit)
    removed: tuple[Entry, ...] = chosen.remove
    busy: tuple[Entry, ...] = ()
    if not request.dry_run:
        outcome = remove(root, chosen.remove)
        removed, busy = outcome.removed, outcome.busy
    return PruneResult(root, removed, busy, chosen.kept_recent, chosen.size_before, limit,
                       request.dry_run)
