"""Reporter objects: how core code tells the user what is happening without ever printing.

Core modules accept a :class:`Reporter` and call it; ``cli`` supplies one that draws rich
progress bars on a terminal and plain lines in CI. Tests use :class:`CollectingReporter`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


class Reporter:
    """The do-nothing reporter, and the interface every reporter implements."""

    def warning(self, message: str) -> None:
        """Something the user should know but that does not stop the command."""

    def info(self, message: str) -> None:
        """A step of progress worth a line in verbose or CI output."""

    def start(self, task: str, total: int | None = None, unit: str = "") -> None:
        """A countable task begins (``task`` is its label, e.g. "metadata")."""

    def advance(self, task: str, amount: int = 1) -> None:
        """Part of a task is done."""

    def finish(self, task: str) -> None:
        """A task is over."""


NULL_REPORTER = Reporter()


@dataclass
class CollectingReporter(Reporter):
    """Keeps every message; for tests and for summaries printed at the end."""

    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def warning(self, message: str) -> None:
        with self._lock:
            if message not in self.warnings:
                self.warnings.append(message)

    def info(self, message: str) -> None:
        with self._lock:
            self.infos.append(message)
