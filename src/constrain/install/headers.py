"""The header fields of an unpacked or installed distribution's METADATA, read without packaging.

Kept apart from ``plan.py`` (which needs packaging, the models and the environment's
interpreter) so that an unpacking worker process, which only keeps a wheel's dependency fields
in its tree's manifest, imports none of them.
"""

from __future__ import annotations

from pathlib import Path


def metadata_headers(dist_info: Path, parser=None):
    """The header fields of ``dist_info/METADATA`` (raises ``OSError``). Only the header block
    is parsed: the long description after the first empty line can be most of the file.
    ``email`` (and the socket, calendar and random modules it brings) is imported only here:
    an install into an environment with nothing else installed reads no METADATA."""
    with open(dist_info / "METADATA", "rb") as fh:
        data = fh.read()
    end = min((i for i in (data.find(b"\n\n"), data.find(b"\r\n\r\n")) if i >= 0),
              default=-1)
    if end >= 0:
        data = data[: end + 1]
    if parser is None:
        import email.parser

        parser = email.parser.BytesHeaderParser()
    return parser.parsebytes(data)
