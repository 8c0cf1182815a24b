"""Shared pytest fixtures: generated repositories, local index servers, and a hermetic environment.

Every test runs with pip's and uv's configuration switched off and a fresh constrain cache
directory (the autouse ``_hermetic_env``), so nothing on the developer's machine -- a private
index in ``PIP_INDEX_URL``, a pip.conf, a warm cache -- leaks into results. A test that wants real
configuration sets the variables itself with ``monkeypatch``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, settings

from tests.support.builders import FileRecord, PackageSpec, build_repository

if TYPE_CHECKING:
    from tests.support.indexserver import IndexServer

_REMOVED_ENV = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_NO_INDEX",
    "PIP_CONSTRAINT",
    "PIP_REQUIREMENT",
    "PIP_REQUIRE_VIRTUALENV",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_FIND_LINKS",
    "UV_CONSTRAINT",
    "UV_EXCLUDE_NEWER",
    "UV_OFFLINE",
    "CONSTRAIN_CACHE_DIR",
    "NETRC",
)
_counter = itertools.count()

# Hypothesis's defaults time every example (a 200 ms deadline: an example that took longer once,
# and not when run again, fails the test as flaky) and its inputs' generation (too_slow): on a
# loaded machine a process waits for a core for that long, and a property test failed for it.
# What the tests check does not depend on how long it took; their examples and counts are the
# same. Tests' own @settings start from this profile.
settings.register_profile("constrain", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("constrain")


def pytest_configure(config: pytest.Config) -> None:
    """A suite started with SIGINT or SIGTERM ignored (``pytest &`` in a script, ``nohup``)
    would start every constrain it runs with them ignored, and constrain leaves a signal
    ignored at start ignored: the Ctrl-C tests could not pass. The suite's own process takes
    them as an interactive one does (its children then start with the default)."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@dataclass(frozen=True)
class IsolatedEnv:
    """What ``isolated_env`` set up: the per-test cache directory (not yet created)."""

    cache_dir: Path


def _isolate(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> IsolatedEnv:
    for name in _REMOVED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # pip then reads no config file at all
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("PIP_NO_INPUT", "1")
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    monkeypatch.setenv("CONSTRAIN_CACHE_DIR", str(cache_dir))
    return IsolatedEnv(cache_dir=cache_dir)


@pytest.fixture(autouse=True)
def _hermetic_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> IsolatedEnv:
    """Applied to every test: no pip/uv configuration, a fresh cache dir per test (created
    lazily by whoever uses it, so this costs nothing)."""
    cache_dir = tmp_path_factory.getbasetemp() / "constrain-cache" / f"t{next(_counter)}"
    return _isolate(monkeypatch, cache_dir)


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> IsolatedEnv:
    """A fresh ``CONSTRAIN_CACHE_DIR`` under ``tmp_path``, ``PIP_CONFIG_FILE=os.devnull`` and
    no ``PIP_INDEX_URL`` / ``PIP_EXTRA_INDEX_URL`` / ``PIP_FIND_LINKS`` (nor uv equivalents).
    Returns where the cache lives."""
    return _isolate(monkeypatch, tmp_path / "constrain-cache")


@pytest.fixture
def repo_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[Iterable[PackageSpec]], dict[str, list[FileRecord]]]:
    """``repo_factory(specs)`` builds the files of ``specs`` in a fresh directory and returns
    :func:`build_repository`'s records."""

    def make(specs: Iterable[PackageSpec]) -> dict[str, list[FileRecord]]:
        return build_repository(tmp_path_factory.mktemp("repo"), specs)

    return make


@pytest.fixture
def find_links_dir(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[Iterable[PackageSpec]], Path]:
    """``find_links_dir(specs)`` -> a flat directory holding every built file (a find-links
    location / wheelhouse)."""

    def make(specs: Iterable[PackageSpec]) -> Path:
        directory = tmp_path_factory.mktemp("find-links")
        build_repository(directory, specs)
        return directory

    return make


@pytest.fixture
def index_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., IndexServer]]:
    """``make_index(specs=(), **options) -> IndexServer``: a local index on 127.0.0.1 serving
    ``specs`` (options as for :class:`IndexServer`); every server is closed at teardown."""
    from tests.support.indexserver import IndexServer

    servers: list[IndexServer] = []

    def make_index(specs: Iterable[PackageSpec] = (), **options: Any) -> IndexServer:
        options.setdefault("directory", tmp_path_factory.mktemp("index"))
        server = IndexServer(specs, **options)
        servers.append(server)
        return server

    yield make_index
    for server in servers:
        server.close()


@pytest.fixture
def make_index(index_server: Callable[..., IndexServer]) -> Callable[..., IndexServer]:
    """Alias of ``index_server`` under the name of the callable it returns."""
    return index_server
