"""Closing a metadata fetcher with a build environment begun ahead of a build: a command that
ended well waits for it (none is left half made); one ending by Ctrl-C does not wait."""

from __future__ import annotations

import threading

import pytest

from constrain.index.metadata.fetcher import MetadataFetcher
from constrain.index.transport.client import HttpClient


def _fetcher_with_ahead(release: threading.Event, finished: list[bool]) -> MetadataFetcher:
    fetcher = MetadataFetcher(HttpClient(offline=True), None)

    def make() -> None:  # stands for BuildEnvs.get of setuptools' environment
        release.wait(60)
        finished.append(True)

    fetcher._ahead = threading.Thread(target=make, daemon=True)
    fetcher._ahead.start()
    return fetcher


def test_a_command_that_ended_well_waits_for_the_environment_begun_ahead():
    release, finished = threading.Event(), []
    fetcher = _fetcher_with_ahead(release, finished)
    threading.Timer(0.2, release.set).start()
    fetcher.close()
    assert finished == [True]


def test_an_interrupted_command_does_not_wait_for_it():
    release, finished = threading.Event(), []
    fetcher = _fetcher_with_ahead(release, finished)
    try:
        with pytest.raises(KeyboardInterrupt):
            try:
                raise KeyboardInterrupt
            finally:
                fetcher.close()  # as Session.close runs while Ctrl-C unwinds the install
        assert finished == []
    finally:
        release.set()
