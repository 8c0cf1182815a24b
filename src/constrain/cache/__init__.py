"""Persistent cache: atomic, versioned, process-safe storage of pages, metadata and files."""

from .store import Cache, cache_root, default_cache_dir

__all__ = ["Cache", "cache_root", "default_cache_dir"]
