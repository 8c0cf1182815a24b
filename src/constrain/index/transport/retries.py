"""When to ask again: which failures are retried, how long to wait between attempts.

Pure functions of an answer or an error, used by the one retry loop of ``client.py``.
"""

from __future__ import annotations

#: statuses worth asking again for: timeouts, rate limits, passing server trouble
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

#: a Retry-After longer than this is not waited for (the answer is returned as it is)
MAX_RETRY_AFTER = 60.0


def backoff_delay(backoff: float, tries: int) -> float:
    """Seconds to wait after the ``tries``-th failed attempt: ``backoff * 2**(tries-1)``
    scaled by a random factor in [0.5, 1) ("equal jitter"), so clients failing together do
    not retry together."""
    import random

    return backoff * (2 ** (tries - 1)) * (0.5 + random.random() / 2)  # jitter, not secrecy


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date); ``None``
    when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils
    import time

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def refused(exc: BaseException) -> bool:
    """Did ``exc`` come from a refused connection (nothing listens on that port)?"""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "Connection refused" in str(exc) or "[Errno 111]" in str(exc)


def _lookup_error(exc: BaseException, errno_name: str) -> bool:
    """Is a ``socket.gaierror`` with this errno anywhere in ``exc``'s chain of causes?"""
    import socket

    wanted = getattr(socket, errno_name)
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, socket.gaierror) and cause.errno == wanted:
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def name_unknown(exc: BaseException) -> bool:
    """Did ``exc`` come from a host name with no address (``EAI_NONAME``: an unreachable
    GitHub, a typo in a URL)? Retries with back-off would only add seconds to every run."""
    return _lookup_error(exc, "EAI_NONAME")


def name_lookup_failed_for_now(exc: BaseException) -> bool:
    """Did ``exc`` come from a name lookup that failed for now (``EAI_AGAIN``: no answer from
    any name server; the system's resolver has already made its own attempts)?"""
    return _lookup_error(exc, "EAI_AGAIN")


#: Linux's routing tables of the calling process's network namespace
ROUTE_TABLES = ("/proc/net/route", "/proc/net/ipv6_route")


def without_network() -> bool:
    """Has this process no route but through loopback (no interface up with an address: the
    cable out, Wi-Fi off, ``unshare -n``)? Read from :data:`ROUTE_TABLES`; ``False`` when
    they cannot be read (another system: it cannot tell)."""
    read = False
    for table in ROUTE_TABLES:
        try:
            with open(table, encoding="ascii", errors="replace") as fh:
                lines = fh.read().splitlines()
        except OSError:
            continue
        read = True
        for line in lines:
            fields = line.split()
            if not fields or fields[0] == "Iface":  # the IPv4 table's header
                continue
            # the interface is the first field of an IPv4 route, the last of an IPv6 one
            interface = fields[0] if table.endswith("/route") else fields[-1]
            if interface != "lo":
                return False
    return read
