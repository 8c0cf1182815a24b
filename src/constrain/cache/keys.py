"""Cache keys: pure functions from what is cached (a URL, a file hash, a target) to a safe name."""

from __future__ import annotations

import hashlib


def digest(*parts: str) -> str:
    """A short, filename-safe, stable key for any tuple of strings."""
    h = hashlib.sha256("\x00".join(parts).encode())
    return h.hexdigest()[:40]


def url_key(url: str, *variant: str) -> str:
    """Key for something fetched from ``url`` (an index page, a constraint file). Credentials
    are part of the URL and so part of the key, but never stored in clear text."""
    return digest(url.split("#", 1)[0], *variant)


def file_key(identity: str, *variant: str) -> str:
    """Key for facts about one distribution file, from ``DistFile.cache_identity()``."""
    return digest(identity, *variant)
