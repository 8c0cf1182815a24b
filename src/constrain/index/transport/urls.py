"""Which network URLs the HTTP client asks for at all: http and https ones with a host and a
port that can be read, no longer than httpx sends. Anything else is refused before a request
is made, with an error naming the URL (credentials masked), not an internal error from the
URL parser or the socket, and not retried."""

from __future__ import annotations

from urllib.parse import urlsplit

from ...errors import NetworkError, redact_url

#: the longest URL httpx sends (its ``MAX_URL_LENGTH``)
MAX_URL_LENGTH = 65536


def unusable_url(url: str) -> str | None:
    """Why the network URL ``url`` cannot be asked for (``None``: it can): a scheme other
    than http or https, no host, a host or port that cannot be read, or a length past
    :data:`MAX_URL_LENGTH`."""
    if len(url) > MAX_URL_LENGTH:
        return f"it is {len(url):,} characters long, more than {MAX_URL_LENGTH:,}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- reading it checks it (ValueError: out of range, not a number)
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https"):
        return (f"the scheme {parts.scheme + '://' if parts.scheme else '(none)'} is not "
                "supported (http://, https:// and file:// are)")
    if not parts.hostname:
        return "it names no host"
    return None


def refuse_unusable(url: str) -> None:
    """:class:`NetworkError` naming ``url`` (cut to 200 characters) when it cannot be asked
    for (:func:`unusable_url`)."""
    why = unusable_url(url)
    if why is not None:
        shown = redact_url(url if len(url) <= 200 else url[:200] + "...")
        raise NetworkError(f"cannot ask for {shown}: {why}", url=shown,
                           hint="check the URL where it was given (--index-url, "
                           "--extra-index-url, --find-links, -c, a requirement file's options, "
                           "the PIP_* variables or pip's configuration)")
