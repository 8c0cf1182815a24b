"""Every patch of a third-party library's internals, in one place, behind one switch.

httpx, httpcore, h2 and hyperframe have no settings for three things that make large
transfers cheaper, so constrain reaches into their internals:

- **network backend** (:func:`asyncio_transport`): httpx's transport is rebuilt with a connection
  pool on :mod:`.netstream` (asyncio's own transports: a read takes every byte that has
  arrived) instead of anyio's (one TLS record, at most 16 KiB, per read). httpcore's network
  backend interface is public; httpx's way to hand one in (its transport's ``_pool``) is not.
- **large frames** (:func:`_ask_for_large_frames`): constrain's HTTP/2 connections ask for DATA
  frames of up to :data:`LARGE_FRAME` bytes instead of 16 KiB (httpcore handles every frame in
  Python: 64 MB of wheels took 1.1-1.4 s of CPU in 16 KiB frames, 0.8-0.9 s in large ones).
  Each frame is copied a few times on its way, so it stays a quarter of the size at which the
  C heap maps blocks of their own (:data:`constrain.heap.MMAP_THRESHOLD`): above it, every
  copy was a fresh mapping to fault in, and a cold install of Airflow paid 0.3-0.4 s of system
  time for it.
- **cheap frame repr** (:func:`_cheap_frame_repr`): h2 formats every frame it receives for its
  trace log whether or not anything logs, and hyperframe's repr of a DATA frame hex-encodes the
  whole payload to show 20 hex digits; the replacement gives the same text from 10 bytes.

The switch: :func:`install_patches` (``enabled=False`` restores the libraries as shipped), and
the environment variable ``CONSTRAIN_HTTP_PATCHES=0``, read when a client is built
(:func:`wanted`). Off, everything works the same, only with more CPU per byte. Each patch does
nothing when the internals it needs are not the ones expected; :func:`problems` says which
ones no longer apply, naming the library versions (a test fails on any). The dependency pins
in ``pyproject.toml`` keep these libraries to the range the patches were tested with.
"""

from __future__ import annotations

import inspect
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

#: the largest HTTP/2 DATA frame constrain asks servers for (RFC 9113 allows up to 16 MiB - 1),
#: and the size of each read: well below ``heap.MMAP_THRESHOLD`` (see above)
LARGE_FRAME = 256 * 1024
_LARGE_FRAMES = "constrain.large_frames"  # request extension marking constrain's connections
_lock = threading.Lock()
_originals: dict[str, tuple[Any, str, Any]] = {}  # patch -> (owner, attribute, original)
ENV = "CONSTRAIN_HTTP_PATCHES"


def wanted() -> bool:
    """Are the patches wanted (``CONSTRAIN_HTTP_PATCHES`` is not ``0``/``false``/``no``/``off``)?"""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def install_patches(enabled: bool = True) -> None:
    """Apply every patch (idempotent), or with ``enabled=False`` put the originals back."""
    if enabled:
        _ask_for_large_frames()
        _cheap_frame_repr()
        return
    with _lock:
        for owner, attribute, original in _originals.values():
            setattr(owner, attribute, original)
        _originals.clear()


def installed() -> frozenset[str]:
    """The names of the process-wide patches in force (``large_frames``, ``frame_repr``)."""
    with _lock:
        return frozenset(_originals)


async def mark_request(request: Any) -> None:
    """An httpx request hook marking a request (and so its connection) as constrain's."""
    request.extensions[_LARGE_FRAMES] = True


def _replace(name: str, owner: Any, attribute: str, replacement: Any) -> None:
    """Put ``replacement`` at ``owner.attribute``, remembering the original (under _lock)."""
    if name not in _originals:
        _originals[name] = (owner, attribute, getattr(owner, attribute))
    setattr(owner, attribute, replacement)


def _ask_for_large_frames() -> None:
    """Wrap httpcore's HTTP/2 connection set-up so that, on connections whose first request is
    constrain's (marked by :func:`mark_request`), a SETTINGS_MAX_FRAME_SIZE update of
    :data:`LARGE_FRAME` follows the connection preface, and reads are that large too."""
    try:
        from h2.settings import SettingCodes
        from httpcore._async.http2 import AsyncHTTP2Connection
    except ImportError:
        return
    with _lock:
        original = getattr(AsyncHTTP2Connection, "_send_connection_init", None)
        if original is None or "large_frames" in _originals:
            return

        async def send_connection_init(self: Any, request: Any) -> None:
            await original(self, request)
            state = getattr(self, "_h2_state", None)
            write = getattr(self, "_write_outgoing_data", None)
            if state is None or write is None or not request.extensions.get(_LARGE_FRAMES):
                return
            state.update_settings({SettingCodes.MAX_FRAME_SIZE: LARGE_FRAME})
            self.READ_NUM_BYTES = LARGE_FRAME  # and read them in pieces that large
            await write(request)

        # the patch itself: a method of httpcore's replaced
        _replace("large_frames", AsyncHTTP2Connection, "_send_connection_init",
                 send_connection_init)


def _cheap_frame_repr() -> None:
    """Replace hyperframe's hex dump helper with one that hex-encodes only the 10 bytes shown."""
    import binascii

    try:
        import hyperframe.frame as frame_module
    except ImportError:
        return
    with _lock:
        if getattr(frame_module, "_raw_data_repr", None) is None or "frame_repr" in _originals:
            return

        def raw_data_repr(data: Any) -> str:
            if not data:
                return "None"
            shown = binascii.hexlify(bytes(data[:10])).decode("ascii")
            return "<hex:" + shown + ("..." if len(data) > 10 else "") + ">"

        _replace("frame_repr", frame_module, "_raw_data_repr", raw_data_repr)


def asyncio_transport(verify: ssl.SSLContext | bool, limits: Any) -> Any:
    """httpx's transport for direct connections, with httpcore on :mod:`.netstream` instead of
    anyio (reads take everything that has arrived, not one TLS record each). Proxied
    connections keep httpx's own transports. ``None`` (httpx's default) when httpx's
    transport is not built the way this expects."""
    import httpcore
    import httpx

    from .netstream import AsyncioBackend

    try:
        transport = httpx.AsyncHTTPTransport(http2=True, verify=verify, limits=limits)
        pool = getattr(transport, "_pool", None)
        if not isinstance(pool, httpcore.AsyncConnectionPool):
            return None
        # the patch itself: httpx takes no network backend, so its pool is replaced
        transport._pool = httpcore.AsyncConnectionPool(  # noqa: SLF001
            ssl_context=pool._ssl_context,  # noqa: SLF001
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=True,
            network_backend=AsyncioBackend(),
        )
    except (AttributeError, TypeError):
        return None
    return transport


def problems() -> list[str]:
    """Why each patch would not apply to the libraries installed (empty: all apply), each
    naming the library and its version."""
    out: list[str] = []

    versions = _versions()

    def say(dist: str, what: str) -> None:
        out.append(f"{dist} {versions.get(dist, '(not installed)')}: {what}")

    try:
        from httpcore._async.http2 import AsyncHTTP2Connection
    except ImportError as exc:
        say("httpcore", f"large frames: {exc}")
    else:
        init = getattr(AsyncHTTP2Connection, "_send_connection_init", None)
        write = getattr(AsyncHTTP2Connection, "_write_outgoing_data", None)
        if init is None or list(inspect.signature(init).parameters) != ["self", "request"]:
            say("httpcore", "large frames: AsyncHTTP2Connection._send_connection_init(self, "
                            "request) is gone or changed")
        if write is None or list(inspect.signature(write).parameters) != ["self", "request"]:
            say("httpcore", "large frames: AsyncHTTP2Connection._write_outgoing_data(self, "
                            "request) is gone or changed")
        if not isinstance(getattr(AsyncHTTP2Connection, "READ_NUM_BYTES", None), int):
            say("httpcore", "large frames: AsyncHTTP2Connection.READ_NUM_BYTES is gone")
        if "_h2_state" not in inspect.getsource(AsyncHTTP2Connection.__init__):
            say("httpcore", "large frames: AsyncHTTP2Connection no longer has _h2_state")
    try:
        from h2.settings import SettingCodes

        SettingCodes.MAX_FRAME_SIZE  # noqa: B018 -- the name the patch uses
    except (ImportError, AttributeError) as exc:
        say("h2", f"large frames: {exc}")
    try:
        import hyperframe.frame as frame_module
    except ImportError as exc:
        say("hyperframe", f"frame repr: {exc}")
    else:
        helper = _originals.get("frame_repr", (None, None, None))[2] or getattr(
            frame_module, "_raw_data_repr", None)
        if helper is None or list(inspect.signature(helper).parameters) != ["data"]:
            say("hyperframe", "frame repr: hyperframe.frame._raw_data_repr(data) is gone or "
                              "changed")
    try:
        import httpcore
        import httpx
    except ImportError as exc:
        say("httpx", f"network backend: {exc}")
        return out
    try:
        pool = getattr(httpx.AsyncHTTPTransport(http2=True), "_pool", None)
    except Exception as exc:  # noqa: BLE001 -- any failure is the finding
        say("httpx", f"network backend: AsyncHTTPTransport(http2=True) fails: {exc}")
    else:
        if not isinstance(pool, httpcore.AsyncConnectionPool) or not hasattr(pool, "_ssl_context"):
            say("httpx", "network backend: AsyncHTTPTransport._pool is no longer an "
                         "httpcore.AsyncConnectionPool with an _ssl_context")
    params = inspect.signature(httpcore.AsyncConnectionPool.__init__).parameters
    if "network_backend" not in params:
        say("httpcore", "network backend: AsyncConnectionPool takes no network_backend")
    return out


def _versions() -> dict[str, str]:
    """The installed versions of the patched libraries, by distribution name."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for name in ("httpx", "httpcore", "h2", "hyperframe"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out
