"""What a written file (a lock, a report, a remembered resolution) may say of a URL: never a login
or a token. Its own module so that writers of the cache need not import the pylock writer."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def strip_userinfo(url: str) -> str:
    """``url`` without ``user:password@``, without a query (where tokens travel) and without a
    fragment: safe to store in a lock."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc, query="", fragment=""))
