"""Persistent cache: atomic, versioned, process-safe storage of pages, metadata and files."""

from .store import Cache, default_cache_dir

__all__ = ["Cache", "default_cache_dir"]
