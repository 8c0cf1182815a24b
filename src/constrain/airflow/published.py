"""Where Apache Airflow publishes its constraint files, and when a resolve should use them.

Airflow publishes ``<base>/<ref>/<mode>-<python>.txt``: ``<ref>`` is ``constraints-X.Y.Z`` for
a release (``constraints-main``, ``constraints-X-Y`` for branches), ``<mode>`` one of
:data:`MODES`, ``<python>`` the target's ``X.Y``. A requirement pinning ``apache-airflow==X.Y.Z``
(any extras) selects that release's file for the *target* Python. The location is a template
with ``{ref}``, ``{mode}`` and ``{python}`` (forks, internal mirrors), set -- highest first --
by flag, environment (``CONSTRAIN_AIRFLOW_CONSTRAINTS_URL`` ...), configuration, default.

Pure: the caller fetches and probes; this module decides what to ask for and what the answers
mean (:class:`NoConstraintsForPython`).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import ConfigError, ConstrainError, UsageError, redact_url
from ..models import Origin
from .settings import FLAGS as _FLAGS
from .settings import SETTINGS

AIRFLOW = "apache-airflow"
USES = ("auto", "published", "reconstructed", "off")
MODES = ("constraints", "constraints-no-providers", "constraints-source-providers")
#: Airflow's own location (its GitHub repository's raw files).
DEFAULT_URL_TEMPLATE = "https://raw.githubusercontent.com/apache/airflow/{ref}/{mode}-{python}.txt"
#: Pythons probed when the target's file is missing, to say which ones the release has.
KNOWN_PYTHONS = tuple(f"3.{minor}" for minor in range(6, 15))



@dataclass(frozen=True)
class AirflowSettings:
    """How Airflow constraints are found: ``use`` (one of :data:`USES`), the mode, an explicit
    ref (``None``: ``constraints-<pinned version>``) and the location template."""

    use: str = "auto"
    mode: str = "constraints"
    ref: str | None = None
    url_template: str = DEFAULT_URL_TEMPLATE

    def url(self, ref: str, python: str, mode: str | None = None) -> str:
        """The file's location: the template filled in; a template that is a path (a mirror
        on disk, as ``-c`` takes one) gives a ``file:`` URL."""
        filled = self.url_template.format(ref=ref, mode=mode or self.mode, python=python)
        if "://" in filled or filled.startswith("file:"):
            return filled
        from ..config import as_location

        return as_location(filled)


def airflow_settings(
    flags: Mapping[str, str | None],
    environ: Mapping[str, str],
    config: Mapping[str, object],
    config_source: str = "configuration",
) -> AirflowSettings:
    """Settings from flags (keys of :data:`SETTINGS`), then environment, then configuration.

    Raises :class:`UsageError` (flag), :class:`ConfigError` (environment, file) for a bad
    value, naming where it came from."""
    values: dict[str, str] = {}
    for key, (env_name, config_key) in SETTINGS.items():
        flag = flags.get(key)
        if flag is not None:
            values[key] = _checked(key, flag, _FLAGS[key], UsageError)
        elif environ.get(env_name):
            values[key] = _checked(key, environ[env_name], f"environment variable {env_name}",
                                   ConfigError)
        elif config.get(config_key) is not None:
            raw = config[config_key]
            where = f"{config_key} in {config_source}"
            if not isinstance(raw, str):
                raise ConfigError(f"{where} must be a string, not {raw!r}")
            values[key] = _checked(key, raw, where, ConfigError)
    return AirflowSettings(**values)


def _checked(key: str, value: str, where: str, error: type[ConstrainError]) -> str:
    value = value.strip()
    if key == "use" and value not in USES:
        raise error(f"{where}: {value!r} is not one of {', '.join(USES)}")
    if key == "mode" and value not in MODES:
        raise error(f"{where}: unknown mode {value!r}",
                    hint=f"Airflow publishes the modes {', '.join(MODES)}")
    if key == "url_template":
        check_template(value, where, error)
    return value


def check_template(template: str, where: str, error: type[ConstrainError] = UsageError) -> None:
    """A location template may use ``{ref}``, ``{mode}``, ``{python}`` and must use
    ``{python}`` (each Python has its own file)."""
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise error(f"{where}: cannot read the template {redact_url(template)!r}: {exc}") from None
    unknown = fields - {"ref", "mode", "python"}
    if unknown or "python" not in fields:
        raise error(
            f"{where}: the template {redact_url(template)!r} "
            + (f"uses unknown fields {', '.join(sorted(unknown))}" if unknown
               else "does not use {python}"),
            hint="write it like https://mirror.example/{ref}/{mode}-{python}.txt",
        )


@dataclass(frozen=True)
class AirflowRequirement:
    """The requirement that names Airflow: the pinned version (``None`` when not pinned
    exactly), the requirement and where it came from."""

    version: Version | None
    requirement: Requirement
    origin: Origin

    @property
    def ref(self) -> str | None:
        """``constraints-X.Y.Z`` for the pinned release."""
        return f"constraints-{self.version}" if self.version is not None else None


def find_airflow(requirements: Sequence[tuple[Requirement, Origin]]) -> AirflowRequirement | None:
    """The top-level requirement on apache-airflow, preferring one that pins a version with
    ``==X.Y.Z``; ``None`` when Airflow is not required."""
    found: AirflowRequirement | None = None
    for req, origin in requirements:
        if canonicalize_name(req.name) != AIRFLOW:
            continue
        version = _exact(req)
        if found is None or (found.version is None and version is not None):
            found = AirflowRequirement(version, req, origin)
    return found


def _exact(req: Requirement) -> Version | None:
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        try:
            return Version(specs[0].version)
        except InvalidVersion:
            return None
    return None


def wanted(
    settings: AirflowSettings, airflow: AirflowRequirement | None, user_constraints: bool
) -> str | None:
    """Which Airflow constraints this resolve uses: ``"published"``, ``"reconstructed"``,
    ``"auto"`` (published when reachable or cached, else reconstructed) or ``None``.

    ``auto`` applies only when a requirement pins apache-airflow and no ``-c`` was given;
    asking for ``published``/``reconstructed`` layers them under the user's ``-c`` files."""
    if settings.use == "off" or airflow is None:
        return None
    if airflow.version is None and settings.ref is None:
        if settings.use == "auto":
            return None
        raise UsageError(
            f"--airflow-constraints {settings.use} needs apache-airflow pinned with ==X.Y.Z "
            f"(found {airflow.requirement} from {airflow.origin})",
            hint="pin the release, e.g. 'apache-airflow==2.10.5', or give "
            "--airflow-constraints-ref",
        )
    if settings.use == "auto" and user_constraints:
        return None
    return settings.use


class NoConstraintsForPython(ConstrainError):
    """The release publishes no constraints file for the target Python (or none at all)."""

    def __init__(self, url: str, ref: str, mode: str, python: str,
                 available: Sequence[str]) -> None:
        self.available = tuple(available)
        if available:
            message = (f"Airflow publishes no {mode} file for Python {python} at {ref} "
                       f"({redact_url(url)} does not exist); it has Python "
                       + ", ".join(available))
            hint = (f"resolve for one of those (--python {available[-1]}), or use "
                    "--airflow-constraints reconstructed to rebuild constraints for "
                    f"Python {python}")
        else:
            message = (f"no Airflow {mode} files at {ref} for any Python "
                       f"({redact_url(url)} does not exist)")
            hint = ("check the release and --airflow-constraints-ref / "
                    "--airflow-constraints-url, or use --airflow-constraints reconstructed")
        super().__init__(message, hint=hint)


def published_pythons(
    settings: AirflowSettings, ref: str, exists: Callable[[str], bool],
    pythons: Sequence[str] = KNOWN_PYTHONS,
) -> list[str]:
    """The Pythons whose file exists at ``ref`` (``exists(url)`` probes one location)."""
    return [p for p in pythons if exists(settings.url(ref, p))]


def contradicts(
    constraint: Requirement, requirements: Sequence[tuple[Requirement, Origin]],
    projects: frozenset[str] = frozenset({AIRFLOW}),
) -> tuple[Requirement, Origin] | None:
    """The top-level requirement that ``constraint`` contradicts: it pins one of ``projects``
    (the requirement itself: apache-airflow) to a version the requirement excludes, as a
    published file pinning a dev build of apache-airflow does. ``None`` when there is none.

    Other packages are not excused: a constraint moving an added package is an error of the
    resolve, naming the pin and its source."""
    version = _exact(constraint)
    name = canonicalize_name(constraint.name)
    if version is None or name not in projects:
        return None
    for req, origin in requirements:
        if canonicalize_name(req.name) == name and req.specifier and not req.specifier.contains(
            version, prereleases=True
        ):
            return req, origin
    return None
