"""What Airflow's constraint logic needs from the command running it, as Protocols.

:mod:`.layers` and :mod:`.reconstruction` fetch files, read the cache and resolve helper sets,
but they must not import the orchestration layer (``app``) that calls them: ``app`` passes its
session in, and these Protocols say what that object must offer. ``app.session.Session``
satisfies :class:`Resolving`; ``app.requests.ResolveRequest`` satisfies :class:`LayerOptions`.
A test can pass any object with these attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from ..cache import Cache
    from ..config import IndexSettings
    from ..index.transport.client import HttpClient
    from ..models import InstallSet, Origin
    from ..ports import MetadataProvider
    from ..reporting import Reporter
    from ..resolver import ResolveOptions
    from ..target import TargetEnvironment


class LayerOptions(Protocol):
    """The options of a command that decide its constraint layers."""

    @property
    def airflow_constraints(self) -> str | None: ...
    @property
    def airflow_constraints_mode(self) -> str | None: ...
    @property
    def airflow_constraints_ref(self) -> str | None: ...
    @property
    def airflow_constraints_url(self) -> str | None: ...
    @property
    def constraint_files(self) -> tuple[str, ...]: ...
    @property
    def policies(self) -> tuple[str, ...]: ...
    @property
    def policy_reference(self) -> str | None: ...
    @property
    def overrides(self) -> tuple[str, ...]: ...
    @property
    def config_dir(self) -> str | None: ...


class CommandFacts(Protocol):
    """What the layers read of the command itself."""

    @property
    def offline(self) -> bool: ...
    @property
    def no_build(self) -> bool: ...
    @property
    def command(self) -> str: ...


class Resolving(Protocol):
    """The command's session as the Airflow layers use it: read files and URLs (remembered in
    :attr:`fetched`), list a project's files, resolve a helper set for a target, and build an
    sdist the way the command builds them."""

    @property
    def request(self) -> CommandFacts: ...
    @property
    def settings(self) -> IndexSettings: ...
    @property
    def cache(self) -> Cache: ...
    @property
    def client(self) -> HttpClient: ...
    @property
    def repository(self) -> MetadataProvider: ...
    @property
    def fetched(self) -> dict[str, str]: ...
    #: (install) ``builder(sdist file, path)``: sdists are built into the wheels to install
    @property
    def sdist_wheel(self) -> Callable[[Any, Path], Any] | None: ...
    @property
    def build_source(self) -> Any: ...

    def fetch_text(self, location: str) -> tuple[str, str]: ...

    def resolve(self, requirements: Sequence[tuple[Requirement, Origin]],
                constraints: Sequence[tuple[Requirement, Origin]], target: TargetEnvironment,
                options: ResolveOptions, reporter: Reporter, on_pin: Any = None,
                ) -> InstallSet: ...

