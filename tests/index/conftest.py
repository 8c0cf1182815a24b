"""Fixtures of the index tests: a cache, and repositories over it closed after each test."""

from __future__ import annotations

import threading

import pytest

from constrain.cache.store import Cache
from constrain.config import IndexSettings
from constrain.index.pages.repository import IndexRepository
from constrain.index.transport.client import HttpClient
from constrain.models import CoreMetadata, DistFile


class StubFetcher:
    """A metadata fetcher that records calls; ``gate`` (if set) holds each call until set."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[str] = []
        self.gate = gate
        self._lock = threading.Lock()

    def __call__(self, file: DistFile) -> CoreMetadata:
        with self._lock:
            self.calls.append(file.filename)
        if self.gate is not None:
            self.gate.wait(10)
        return CoreMetadata(name=file.project, version=file.version, source="pep658")


@pytest.fixture
def cache(tmp_path) -> Cache:
    return Cache(tmp_path / "cache")


@pytest.fixture
def make_repo(cache):
    made: list[tuple[IndexRepository, HttpClient]] = []

    def make(settings: IndexSettings, *, cache=cache, fetcher=None, **kw) -> IndexRepository:
        client = HttpClient(retries=2, backoff=0.0, timeout=10)
        repo = IndexRepository(settings, client, cache, fetcher or StubFetcher(), **kw)
        made.append((repo, client))
        return repo

    yield make
    for repo, client in made:
        repo.close()
        client.close()
