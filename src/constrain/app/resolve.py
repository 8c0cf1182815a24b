"""Orchestration of one command: inputs -> target -> index -> resolver -> output.

``app`` wires the layers together for a command and returns data; it neither parses argv nor
prints (``cli.py`` does both). Each command's request is a plain dataclass so library users and
tests can call the same entry points as the CLI.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .errors import ConstrainError, NetworkError, UsageError, redact_url
from .models import InstallSet
from .reporting import NULL_REPORTER, Reporter


@dataclass(frozen=True)
class ResolveRequest:
    """Everything ``constrain resolve`` takes, already split into fields."""

    requirements: tuple[str, ...] = ()
    requirement_files: tuple[str, ...] = ()
    constraint_files: tuple[str, ...] = ()
    python: str | None = None
    platforms: tuple[str, ...] = ()
    exclude_newer: str | None = None
    prerelease: str = "if-necessary-or-explicit"
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] | None = None
    find_links: tuple[str, ...] | None = None
    no_index: bool = False
    offline: bool = False
    refresh: bool = False
    cache_dir: str | None = None
    timeout: float | None = None  # --timeout; None: CONSTRAIN_TIMEOUT, constrain.toml, pip's
    deadline: float | None = None  # --deadline; None: CONSTRAIN_DEADLINE, constrain.toml, 1800
    no_build: bool = False
    only_binary: bool = False
    format: str = "constraints"
    annotate: bool = False
    output: str | None = None
    command: str = ""
    environ: dict[str, str] | None = field(default=None, compare=False)
    # Airflow constraints and upper-bound policies (constrain.layers); None = not set here
    airflow_constraints: str | None = None
    airflow_constraints_mode: str | None = None
    airflow_constraints_ref: str | None = None
    airflow_constraints_url: str | None = None
    policies: tuple[str, ...] = ()
    policy_reference: str | None = None
    overrides: tuple[str, ...] = ()
    config_dir: str | None = None  # where constrain.toml / pyproject.toml are (default: cwd)
    # build requirements of sdists (constrain.build.requirements)
    build_constraints: tuple[str, ...] = ()
    build_exclude_newer_exempt: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, args, argv: Sequence[str]) -> ResolveRequest:
        return cls(
            requirements=tuple(args.requirements),
            requirement_files=tuple(args.requirement_files),
            constraint_files=tuple(args.constraint_files),
            python=args.python,
            platforms=tuple(args.platforms),
            exclude_newer=args.exclude_newer,
            prerelease=args.prerelease,
            index_url=args.index_url,
            extra_index_urls=tuple(args.extra_index_urls)
            if args.extra_index_urls is not None
            else None,
            find_links=tuple(args.find_links) if args.find_links is not None else None,
            no_index=args.no_index,
            offline=args.offline,
            refresh=args.refresh,
            cache_dir=args.cache_dir,
            timeout=getattr(args, "timeout", None),
            deadline=getattr(args, "deadline", None),
            no_build=args.no_build,
            only_binary=args.only_binary,
            format=getattr(args, "format", "constraints"),
            annotate=getattr(args, "annotate", False),
            output=getattr(args, "output", None),
            command=command_line(argv),
            airflow_constraints=getattr(args, "airflow_constraints", None),
            airflow_constraints_mode=getattr(args, "airflow_constraints_mode", None),
            airflow_constraints_ref=getattr(args, "airflow_constraints_ref", None),
            airflow_constraints_url=getattr(args, "airflow_constraints_url", None),
            policies=tuple(getattr(args, "policies", None) or ()),
            policy_reference=getattr(args, "policy_reference", None),
            overrides=tuple(getattr(args, "overrides", None) or ()),
            build_constraints=tuple(getattr(args, "build_constraints", None) or ()),
            build_exclude_newer_exempt=tuple(
                getattr(args, "build_exclude_newer_exempt", None) or ()),
        )


@dataclass
class ResolveResult:
    install_set: InstallSet
    text: str
    stats: dict


def command_line(argv: Sequence[str]) -> str:
    """The reproducing command for headers: credentials redacted, output/cache paths left out
    (they do not change the result)."""
    out: list[str] = []
    skip = False
    drop_with_value = {"-o", "--output", "--cache-dir", "--timeout", "--deadline"}
    drop_flags = {"-q", "--quiet", "-v", "--verbose", "--refresh", "--offline"}
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in drop_with_value:
            skip = True
            continue
        if any(arg.startswith(f + "=") for f in drop_with_value if f.startswith("--")):
            continue
        if arg in drop_flags:
            continue
        out.append(shlex.quote(redact_url(arg)))
    return "constrain " + " ".join(out)


def parse_exclude_newer(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` or an RFC 3339 timestamp, as an aware UTC datetime.

    A bare date includes that whole day (files uploaded before the next midnight UTC), which is
    how uv reads it: ``--exclude-newer 2026-11-01`` keeps releases made on November 1st.
    """
    if text is None:
        return None
    raw = text.strip()
    try:
        if len(raw) == 10:
            return datetime.fromisoformat(raw).replace(tzinfo=UTC) + timedelta(days=1)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"cannot read --exclude-newer {text!r}",
            hint="give a date such as 2026-11-01 or a timestamp such as 2026-11-01T12:00:00Z",
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Session:
    """The long-lived parts of one command: cache, HTTP client, index repository."""

    def __init__(self, request: ResolveRequest, reporter: Reporter) -> None:
        from .cache import Cache, default_cache_dir
        from .config import pip_index_settings, with_overrides
        from .index.transport.client import HttpClient

        environ = dict(os.environ if request.environ is None else request.environ)
        self.environ = environ
        self.reporter = reporter
        self.request = request
        settings = pip_index_settings(environ, warn=reporter.warning)
        self.settings = with_overrides(
            settings,
            index_url=request.index_url,
            extra_index_urls=request.extra_index_urls,
            find_links=request.find_links,
            no_index=request.no_index or None,
        )
        cache_dir = Path(request.cache_dir) if request.cache_dir else default_cache_dir(environ)
        cache_dir = cache_dir.expanduser().absolute()  # build envs and subprocesses use it too
        self.cache = Cache(cache_dir)
        from .config import constrain_config, network_limits

        config, config_source = constrain_config(request.config_dir)
        timeout, deadline = network_limits(
            timeout=request.timeout, deadline=request.deadline,
            settings_timeout=self.settings.timeout, environ=environ, config=config,
            config_source=config_source)
        self.client = HttpClient(
            offline=request.offline, cert=self.settings.cert, timeout=timeout, deadline=deadline
        )
        self._repository = None
        #: which wheels the command will download anyway (install: exact pins), so that their
        #: metadata is read from the whole file rather than with range requests first
        self.whole_wheels = None
        #: (install) ``builder(sdist file, path) -> wheel``: an sdist among the whole wheels is
        #: built into the wheel to install, and its metadata read from that wheel
        self.sdist_wheel = None
        #: (install) told of each whole file in the cache as the resolve reads its metadata
        self.fetched_whole = None
        self.remembered = 0  # resolutions answered from the memo
        self._build_cutoff: datetime | None = None
        self._build_source = None
        import threading

        self._cutoff_lock = threading.Lock()
        #: every requirement/constraint text read, by the location ``fetch_text`` returned
        #: (``download`` copies the constraint sources into the wheelhouse)
        self.fetched: dict[str, str] = {}

    def fetch_text(self, location: str) -> tuple[str, str]:
        """Read a requirement/constraint file from a path or URL (URLs cached for --offline);
        remembered in :attr:`fetched`."""
        where, text = self._fetch_text(location)
        self.fetched[where] = text
        return where, text

    def _fetch_text(self, location: str) -> tuple[str, str]:
        if "://" not in location or location.startswith("file:"):
            from .index.transport.client import file_url_to_path

            path = file_url_to_path(location) if location.startswith("file:") else Path(location)
            try:
                return str(path), path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise ConstrainError(f"no such file: {path}",
                                     hint="check the path given to -r or -c") from None
            except OSError as exc:
                raise ConstrainError(f"cannot read {path}: {exc.strerror}") from None
            except UnicodeDecodeError:
                raise ConstrainError(f"{path} is not UTF-8 text") from None
        from .cache.keys import url_key

        key = url_key(location)
        if self.request.offline:
            cached = self.cache.get("constraints", key)
            if cached is None:
                from .errors import OfflineMissing

                raise OfflineMissing(redact_url(location))
            return location, cached.decode("utf-8")
        try:
            response = self.client.get(location)
        except NetworkError:
            cached = self.cache.get("constraints", key)
            if cached is None:
                raise
            self.reporter.warning(f"{redact_url(location)} unreachable; using the cached copy")
            return location, cached.decode("utf-8")
        if response.status != 200:
            raise ConstrainError(
                f"{redact_url(location)} answered HTTP {response.status}",
                hint="check the URL; constraint files are plain text pip constraint files",
            )
        import time

        self.cache.put("constraints", key, response.content,
                       meta={"url": redact_url(location), "fetched": time.time()})
        return location, response.content.decode("utf-8")

    @property
    def repository(self):
        if self._repository is None:
            from .index.pages.repository import IndexRepository

            self._repository = IndexRepository(
                self.settings,
                self.client,
                self.cache,
                _LazyFetcher(self),
                refresh=self.request.refresh,
                offline=self.request.offline,
                reporter=self.reporter,
            )
        return self._repository

    @property
    def build_cutoff(self) -> datetime | None:
        """The cut-off for build requirements: the earliest ``exclude_newer`` of this
        command's resolves so far (a reconstruction's date included), ``None`` for none."""
        return self._build_cutoff

    def note_cutoff(self, when: datetime | None) -> None:
        """A resolve of this command applies the cut-off ``when``: builds from now on take
        build requirements uploaded by the earliest such cut-off (``constrain.build.requirements``)."""
        if when is None:
            return
        with self._cutoff_lock:
            if self._build_cutoff is None or when < self._build_cutoff:
                self._build_cutoff = when

    @property
    def build_source(self):
        """The :class:`~constrain.build.requirements.SessionBuildRequirements` of this command: how
        build environments get their build requirements."""
        with self._cutoff_lock:
            if self._build_source is None:
                from .build.requirements import BuildRules, SessionBuildRequirements

                rules = BuildRules.from_options(self.request.build_exclude_newer_exempt,
                                                self.request.build_constraints)
                self._build_source = SessionBuildRequirements(self, rules)
            return self._build_source

    def resolve(self, requirements, constraints, target, options, reporter: Reporter,
                on_pin=None):
        """``resolver.resolve`` on this session's repository, answered from a remembered
        resolution when its inputs and the listings it read are unchanged (``memo.py``)."""
        from .memo import resolve_remembered

        self.note_cutoff(getattr(options, "exclude_newer", None))
        install_set, remembered = resolve_remembered(
            requirements,
            constraints,
            self.repository,
            self.cache,
            target,
            options,
            reporter,
            allow_build=not self.request.no_build,
            # CONSTRAIN_NO_REMEMBER=1 always resolves (benchmarks measure the resolver itself)
            use=not self.request.refresh and not self.environ.get("CONSTRAIN_NO_REMEMBER"),
            on_pin=on_pin,
            on_miss=self.client.warm_up,  # HTTP set-up overlaps the resolve's first steps
        )
        if remembered:
            self.remembered += 1
        return install_set

    def close(self) -> None:
        if self._repository is not None:
            self._repository.close()
            fetcher = getattr(self._repository, "metadata_fetcher", None)
            if hasattr(fetcher, "close"):
                fetcher.close()
        self.client.close()


class _LazyFetcher:
    """The session's MetadataFetcher, built (and its heavier imports done) on first use: a
    remembered resolution never needs one."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._fetcher = None
        import threading

        self._lock = threading.Lock()

    def __call__(self, file):
        if self._fetcher is None:
            with self._lock:
                if self._fetcher is None:
                    from .index.metadata.fetcher import MetadataFetcher

                    s = self._session
                    self._fetcher = MetadataFetcher(
                        s.client,
                        s.cache,
                        allow_build=not s.request.no_build,
                        offline=s.request.offline,
                        refresh=s.request.refresh,
                        build_index=s.settings,
                        reporter=s.reporter,
                        build_source=s.build_source,
                        whole_wheel=s.whole_wheels,
                        sdist_wheel=s.sdist_wheel,
                        fetched_whole=s.fetched_whole,
                    )
        return self._fetcher(file)

    def close(self) -> None:
        if self._fetcher is not None and hasattr(self._fetcher, "close"):
            self._fetcher.close()


@dataclass
class PreparedResolve:
    """What every target of one command shares: the inputs as read (requirements, constraints
    and the files or URLs they came from) and the resolve options. Built once by
    :func:`prepare_resolve`; :func:`resolve_target` then resolves any number of targets with
    it, from several threads at once when they share one :class:`Session`."""

    inputs: object  # constraints.model.Inputs
    requirements: tuple
    constraints: tuple
    options: object  # resolver.ResolveOptions
    exclude_newer: datetime | None
    command: str = ""
    layers: object = None  # layers.LayerPlan: Airflow constraints, policies, overrides

    @property
    def sources(self) -> tuple[str, ...]:
        """Every file or URL read for requirements or constraints, in reading order."""
        return tuple(self.inputs.sources)  # type: ignore[attr-defined]


def prepare_resolve(request: ResolveRequest, session: Session) -> PreparedResolve:
    """Read the inputs of ``request`` (through ``session``, so URLs are cached), apply index
    options found in requirement files to ``session.settings``, and fix the resolve options."""
    from .config import with_overrides
    from .constraints.sources import load_inputs
    from .resolver import ResolveOptions

    exclude_newer = parse_exclude_newer(request.exclude_newer)
    session.note_cutoff(exclude_newer)
    inputs = load_inputs(
        request.requirements,
        request.requirement_files,
        request.constraint_files,
        fetch=session.fetch_text,
        environ=dict(os.environ if request.environ is None else request.environ),
    )
    # Index options inside requirement files apply unless the command line set them.
    if inputs.index_url and request.index_url is None:
        session.settings = with_overrides(session.settings, index_url=inputs.index_url)
    if inputs.extra_index_urls and request.extra_index_urls is None:
        session.settings = with_overrides(
            session.settings,
            extra_index_urls=tuple(session.settings.extra_index_urls)
            + tuple(u for u in inputs.extra_index_urls
                    if u not in session.settings.extra_index_urls),
        )
    if inputs.find_links and request.find_links is None:
        session.settings = with_overrides(
            session.settings,
            find_links=tuple(session.settings.find_links)
            + tuple(u for u in inputs.find_links if u not in session.settings.find_links),
        )
    prerelease = request.prerelease
    if inputs.pre and prerelease == "if-necessary-or-explicit":
        prerelease = "allow"
    options = ResolveOptions(
        prerelease=prerelease,
        exclude_newer=exclude_newer,
        only_binary=request.only_binary,
    )
    from .layers import plan_layers

    environ = dict(os.environ if request.environ is None else request.environ)
    return PreparedResolve(
        inputs=inputs,
        requirements=tuple(inputs.requirements),
        constraints=tuple(inputs.constraints),
        options=options,
        exclude_newer=exclude_newer,
        command=request.command,
        layers=plan_layers(request, session, inputs, session.reporter, environ),
    )


def resolve_target(
    prepared: PreparedResolve,
    session: Session,
    target,
    reporter: Reporter = NULL_REPORTER,
    on_pin=None,
) -> InstallSet:
    """Resolve ``prepared`` for one ``target`` (a :class:`~constrain.target.TargetEnvironment`)
    through ``session``'s repository; thread-safe for several targets on one session."""
    constraints = prepared.constraints
    layered = None
    if prepared.layers is not None:  # Airflow's file, overrides, policy bounds (per target)
        from .layers import layer_constraints

        layered = layer_constraints(prepared.layers, prepared.requirements, constraints,
                                    prepared.options, session, target, reporter)
        constraints = layered.constraints
    install_set = session.resolve(
        prepared.requirements, constraints, target, prepared.options, reporter, on_pin=on_pin
    )
    if layered is not None:
        from .layers import finish_install_set

        install_set = finish_install_set(layered, install_set, session, target,
                                         prepared.options, reporter)
    return dataclasses.replace(
        install_set, command=prepared.command, exclude_newer=prepared.exclude_newer
    )


def resolve_targets(
    jobs: Sequence[tuple[PreparedResolve, object]],
    session: Session,
    reporter: Reporter = NULL_REPORTER,
    *,
    doing: str = "resolving",
) -> list[InstallSet]:
    """Resolve each ``(prepared, target)`` in its own thread over one shared session (one
    cache, one connection pool, one repository), answers in ``jobs`` order. The first failure
    in that order is raised, saying which target it concerns."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    session.repository  # noqa: B018 -- create it once, before the threads race for it
    errors: dict[int, BaseException] = {}
    sets: dict[int, InstallSet] = {}
    lock = threading.Lock()

    def one(i: int) -> None:
        prepared, target = jobs[i]
        reporter.info(f"{doing} for {target.describe()}")  # type: ignore[attr-defined]
        try:
            result = resolve_target(prepared, session, target, reporter)
        except BaseException as exc:  # re-raised below, in job order
            with lock:
                errors[i] = exc
            return
        with lock:
            sets[i] = result

    pool = ThreadPoolExecutor(max_workers=max(1, len(jobs)))
    try:
        list(pool.map(one, range(len(jobs))))
    except KeyboardInterrupt:  # not waited for: closing the session (the caller's clean-up)
        pool.shutdown(wait=False, cancel_futures=True)  # ends the resolves under way
        raise
    pool.shutdown(wait=True)
    if errors:
        i = min(errors)
        exc = errors[i]
        if isinstance(exc, ConstrainError):
            where = jobs[i][1].describe()  # type: ignore[attr-defined]
            exc.details = (*exc.details, f"(while {doing} for {where})")
        raise exc
    return [sets[i] for i in range(len(jobs))]


def resolve_command(request: ResolveRequest, reporter: Reporter = NULL_REPORTER) -> ResolveResult:
    """Run ``constrain resolve``: read inputs, resolve for the target, render (and write)."""
    from .output import render, write_atomic
    from .target import TargetEnvironment

    if request.format not in ("constraints", "requirements", "pylock", "json"):
        raise UsageError(f"unknown format {request.format!r}")
    target = TargetEnvironment.from_options(request.python, request.platforms)
    parse_exclude_newer(request.exclude_newer)  # a bad date fails before any network
    session = Session(request, reporter)
    try:
        prepared = prepare_resolve(request, session)
        install_set = resolve_target(prepared, session, target, reporter)
        stats = _stats(install_set, session)
        text = render(install_set, request.format, annotate=request.annotate)
        if request.output:
            write_atomic(Path(request.output), text)
        return ResolveResult(install_set=install_set, text=text, stats=stats)
    finally:
        session.close()


def _stats(install_set: InstallSet, session: Session) -> dict:
    s = install_set.stats
    repo_stats = {}
    if session._repository is not None and hasattr(session._repository, "stats"):
        repo_stats = dict(session._repository.stats())
    return {
        "pins": len(install_set.pins),
        "remembered_resolutions": session.remembered,
        "rounds": s.rounds,
        "candidates_visited": s.candidates_visited,
        "backtracks": s.backtracks,
        "requirements_matched": s.requirements_matched,
        "requests": session.client.counters.requests,
        "bytes_received": session.client.counters.bytes_received,
        **{k: v for k, v in repo_stats.items() if k not in ("requests", "bytes_received")},
    }
