"""Cheaper HTTP/2 for large transfers: bigger DATA frames, and no hex dumps of every frame.

Both patch httpcore/hyperframe internals and do nothing when those are not the ones expected;
``client.py`` applies them when it builds its client.
"""

from __future__ import annotations

import threading

#: the largest HTTP/2 DATA frame constrain asks servers for (RFC 9113 allows up to 16 MiB - 1)
LARGE_FRAME = 1 << 20
_LARGE_FRAMES = "constrain.large_frames"  # request extension marking constrain's connections
_frames_lock = threading.Lock()


async def _mark_request(request) -> None:
    request.extensions[_LARGE_FRAMES] = True


def _ask_for_large_frames() -> None:
    """Make constrain's HTTP/2 connections ask for DATA frames of up to :data:`LARGE_FRAME`
    bytes instead of the 16 KiB default (a SETTINGS_MAX_FRAME_SIZE update right after the
    connection preface). httpcore keeps the default and handles every frame in Python, so
    index pages and wheels in 16 KiB frames cost about a third more CPU than in large ones
    (measured: 64 MB of wheels, 1.1-1.4 s of CPU against 0.8-0.9 s). httpcore has no setting
    for it: this wraps its connection set-up, only for connections whose first request is
    constrain's (marked by :func:`_mark_request`), and does nothing when httpcore's
    internals are not the ones expected."""
    try:
        from h2.settings import SettingCodes
        from httpcore._async.http2 import AsyncHTTP2Connection
    except ImportError:
        return
    with _frames_lock:
        original = getattr(AsyncHTTP2Connection, "_send_connection_init", None)
        if original is None or getattr(original, "constrain_large_frames", False):
            return

        async def send_connection_init(self, request) -> None:
            await original(self, request)
            state = getattr(self, "_h2_state", None)
            write = getattr(self, "_write_outgoing_data", None)
            if state is None or write is None or not request.extensions.get(_LARGE_FRAMES):
                return
            state.update_settings({SettingCodes.MAX_FRAME_SIZE: LARGE_FRAME})
            self.READ_NUM_BYTES = LARGE_FRAME  # and read them in pieces that large
            await write(request)

        send_connection_init.constrain_large_frames = True  # type: ignore[attr-defined]
        AsyncHTTP2Connection._send_connection_init = send_connection_init


def _cheap_frame_repr() -> None:
    """h2 formats every frame it receives for its trace log, whether or not anything logs
    (``repr(frame)``), and hyperframe's repr of a DATA frame hex-encodes the whole payload to
    show its first 20 hex digits: every byte downloaded was hex-encoded once, about a tenth
    of the HTTP thread's time. This replaces that helper with one giving the same text from
    the first 10 bytes only."""
    import binascii

    try:
        import hyperframe.frame as frame_module
    except ImportError:
        return
    original = getattr(frame_module, "_raw_data_repr", None)
    if original is None or getattr(original, "constrain_cheap", False):
        return

    def raw_data_repr(data) -> str:
        if not data:
            return "None"
        shown = binascii.hexlify(bytes(data[:10])).decode("ascii")
        return "<hex:" + shown + ("..." if len(data) > 10 else "") + ">"

    raw_data_repr.constrain_cheap = True  # type: ignore[attr-defined]
    frame_module._raw_data_repr = raw_data_repr
