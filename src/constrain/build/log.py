"""What a failed build said: the backend's meaningful last lines, and the whole output kept.

A backend's own message (setuptools' ``error in X setup command: use_2to3 is invalid``, a
compiler's ``fatal error: pg_config not found``) is buried under pip-style progress and Python
tracebacks; :func:`meaningful_tail` digs it out for the error. :func:`keep_log` keeps the whole
output in ``<cache>/build-logs/<sdist>.log`` for whoever needs more.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

TAIL_LINES = 12
LOGS_DIR = "build-logs"
#: the start of a line constrain adds to a build's output (how a hook ended): kept in the
#: whole log, never taken for one of the backend's own last lines
OURS = "[constrain] "


def how_it_ended(returncode: int) -> str:
    """How a failed hook's process ended (``returncode`` as :mod:`subprocess` gives it): a
    backend killed by a signal, or leaving through ``os._exit``, prints nothing, so this may
    be all there is to tell."""
    if returncode >= 0:
        return f"exited with status {returncode}"
    import signal

    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")


def meaningful_tail(lines: Sequence[str], limit: int = TAIL_LINES) -> list[str]:
    """The last ``limit`` lines of a build's output that say what went wrong: blank lines
    dropped, a line repeated kept once (last), and each Python traceback reduced to its
    exception line (a backend's message,
    such as setuptools' ``error in X setup command: use_2to3 is invalid``, is usually that
    line or printed just before it)."""
    out: list[str] = []
    in_traceback = False
    for line in lines:
        if not line.strip() or line.startswith(OURS):
            continue
        if line.startswith("Traceback (most recent call last):"):
            in_traceback = True
            continue
        if in_traceback:
            if line.startswith((" ", "\t", "During handling of the above",
                                "The above exception")):
                continue
            in_traceback = False  # the exception line itself ends the traceback
        if line in out:  # the same message from two hooks (the early one and its rerun)
            out.remove(line)
        out.append(line)
    return out[-limit:]


def keep_log(root: Path, what: str, output: Sequence[str], *, drop: bool = False) -> Path | None:
    """Write ``output`` to ``root/build-logs/<what>.log`` (atomically) and return its path;
    ``None`` when there is nothing to write or it cannot be written. ``drop`` removes the log
    of ``what`` instead (a later success makes an old failure's log misleading)."""
    path = root / LOGS_DIR / f"{what}.log"
    if drop:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
        return None
    if not output:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text("\n".join(output) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        return None
    return path
