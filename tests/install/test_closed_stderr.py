"""An install whose messages nobody reads any more (``constrain install ... 2>&1 | head``)
carries on: the reader of stderr going away neither stops it halfway nor turns its end into an
error."""

from __future__ import annotations

import sys
from pathlib import Path

from constrain.cli import main
from tests.support.builders import PackageSpec

SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"


class ClosedAfter:
    """stderr whose reader leaves after ``lines`` writes: every later write fails."""

    def __init__(self, lines: int) -> None:
        self.left = lines
        self.seen: list[str] = []

    def write(self, text: str) -> int:
        if self.left <= 0:
            raise BrokenPipeError(32, "Broken pipe")
        self.left -= 1
        self.seen.append(text)
        return len(text)

    def flush(self) -> None:
        if self.left <= 0:
            raise BrokenPipeError(32, "Broken pipe")

    def isatty(self) -> bool:
        return False


def test_an_install_goes_on_when_its_messages_have_no_reader(make_index, tmp_path: Path,
                                                             monkeypatch):
    names = [f"pkg{n}" for n in range(6)]
    server = make_index([PackageSpec(name, "1.0") for name in names])
    stderr = ClosedAfter(2)
    monkeypatch.setattr(sys, "stderr", stderr)
    code = main(["install", *names, "--venv", str(tmp_path / "venv"),
                 "--index-url", server.index_url, "--cache-dir", str(tmp_path / "cache"),
                 "--airflow-constraints", "off"])
    assert code == 0
    assert len(stderr.seen) == 2  # what was read before the reader left
    for name in names:  # and the install went to its end
        assert (tmp_path / "venv" / SITE / name).is_dir()
