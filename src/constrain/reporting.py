"""Reporter objects: how core code tells the user what is happening without ever printing.

Core modules accept a :class:`Reporter` and call it; ``cli`` supplies one that draws rich
progress bars on a terminal and plain lines in CI. Tests use :class:`CollectingReporter`.
"""

from __future__ import annotations

import threading


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


class CollectingReporter(Reporter):
    """Keeps every message; for tests and for summaries printed at the end. (A plain class:
    every command imports this module, and a dataclass costs its creation on each run.)"""

    def __init__(self, warnings: list[str] | None = None, infos: list[str] | None = None) -> None:
        self.warnings: list[str] = [] if warnings is None else warnings
        self.infos: list[str] = [] if infos is None else infos
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CollectingReporter(warnings={self.warnings!r}, infos={self.infos!r})"

    def warning(self, message: str) -> None:
        with self._lock:
            if message not in self.warnings:
                self.warnings.append(message)

    def info(self, message: str) -> None:
        with self._lock:
            self.infos.append(message)
