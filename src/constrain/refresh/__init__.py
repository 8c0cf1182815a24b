"""``constrain refresh``: re-resolve constraint files per (mode, Python) and report the diff.

:mod:`.settings` merges the command line with ``[tool.constrain.refresh]``; :mod:`.diff` reads
the committed files and compares pins; :mod:`.report` renders the diff as markdown and JSON;
:mod:`.command` runs the targets in parallel over one session and writes what changed.
"""

from .command import RefreshResult, TargetOutcome, refresh_command
from .settings import Mode, RefreshRequest, parse_mode

__all__ = ["Mode", "RefreshRequest", "RefreshResult", "TargetOutcome", "parse_mode",
           "refresh_command"]
