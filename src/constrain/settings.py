"""constrain's own settings, beside pip's (``config.py``): a project's ``constrain.toml`` (or
``[tool.constrain]`` of its ``pyproject.toml``), and the network limits chosen from the command
line, the environment, that file and pip's timeout."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .errors import ConfigError, SourceLocation, UsageError, refuse_unknown_keys


def constrain_config(directory: str | os.PathLike[str] | None = None) -> tuple[dict, str | None]:
    """constrain's own settings for a project: ``constrain.toml`` (top-level keys) in
    ``directory`` (default: the working directory), else ``[tool.constrain]`` of its
    ``pyproject.toml``. Returns ``(settings, source)``; ``({}, None)`` when neither exists.
    A file that is not valid TOML raises :class:`ConfigError` naming file:line.

    A command asks more than once (the session, then the constraint layers): a file whose
    text is the one already parsed in this process is not parsed again."""
    base = Path(directory) if directory is not None else Path.cwd()
    for name, table in (("constrain.toml", ()), ("pyproject.toml", ("tool", "constrain"))):
        path = base / name
        if not path.is_file():
            continue
        data = _read_toml(path)
        for key in table:
            data = data.get(key, {})
            if not isinstance(data, dict):
                raise ConfigError(f"[{'.'.join(table)}] in {path} is not a table")
        if table and not data:
            continue
        where = str(path) if not table else f"[tool.constrain] of {path}"
        refuse_unknown_keys(data, CONFIG_KEYS, where)
        return dict(data), where
    return {}, None


#: the keys of constrain's own configuration, each with what it sets
CONFIG_KEYS = {
    "timeout": "seconds to wait for a connection or more of an answer (--timeout)",
    "deadline": "seconds one page or file may take in all, 0 for none (--deadline)",
    "airflow-constraints": "auto, published, reconstructed or off (--airflow-constraints)",
    "airflow-constraints-mode": "constraints, constraints-no-providers or "
                                "constraints-source-providers (--airflow-constraints-mode)",
    "airflow-constraints-ref": "the git ref of Airflow's constraints (--airflow-constraints-ref)",
    "airflow-constraints-url": "the template of their location (--airflow-constraints-url)",
    "policies": "upper-bound policy files, or airflow (--policies)",
    "refresh": "the table of constrain refresh's settings",
}


#: path -> (its text, its TOML): the last configuration file :func:`_read_toml` parsed
_TOML_READ: dict[Path, tuple[str, dict]] = {}


def _read_toml(path: Path) -> dict:
    """The TOML of ``path`` (a copy of its own: callers may change it)."""
    import copy

    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(
            f"cannot read {path}: byte {exc.start + 1} (line {line}) is not UTF-8",
            hint="a TOML file is UTF-8 text: save it again as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}",
                          hint="check the file's permissions") from None
    known = _TOML_READ.get(path)
    if known is not None and known[0] == text:
        return copy.deepcopy(known[1])
    import tomllib  # here: most commands run where no configuration file is

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        import re

        m = re.search(r"at line (\d+), column (\d+)", str(exc))
        n = int(m.group(1)) if m else None
        raise ConfigError(
            f"cannot parse {path}",
            locations=[SourceLocation(str(path), n, _line_of(text, n),
                                      int(m.group(2)) - 1 if m else None,
                                      str(exc).split(" (at ")[0])],
        ) from None
    _TOML_READ[path] = (text, copy.deepcopy(data))
    return data


# ---------------------------------------------------------------------------- network limits


def network_limits(
    *,
    timeout: float | None,
    deadline: float | None,
    settings_timeout: float,
    environ: Mapping[str, str],
    config: Mapping[str, object],
    config_source: str | None,
) -> tuple[float, float | None]:
    """``(timeout, deadline)`` in seconds for the HTTP client. Each comes from, highest first:
    the command line (``--timeout``/``--deadline``), ``CONSTRAIN_TIMEOUT``/``CONSTRAIN_DEADLINE``,
    ``timeout``/``deadline`` in ``constrain.toml`` (or ``[tool.constrain]``), then pip's
    ``timeout`` (for the timeout) or the built-in deadline. A deadline of 0 means none.
    Unusable values raise :class:`ConfigError` naming where they were set."""
    from .index.transport.client import DEFAULT_DEADLINE

    def pick(flag: float | None, env_name: str, key: str, default: float | None
             ) -> float | None:
        if flag is not None:  # the command line's own: a usage error (exit 2)
            try:
                return _positive(flag, f"--{key}")
            except ConfigError as exc:
                raise UsageError(exc.message, hint=exc.hint) from None
        raw = environ.get(env_name, "").strip()
        if raw:
            return _positive(raw, f"environment variable {env_name}")
        if key in config:
            return _positive(config[key], f"{key} in {config_source or 'constrain.toml'}")
        return default

    chosen_timeout = pick(timeout, "CONSTRAIN_TIMEOUT", "timeout", settings_timeout)
    chosen_deadline = pick(deadline, "CONSTRAIN_DEADLINE", "deadline", DEFAULT_DEADLINE)
    return (chosen_timeout or settings_timeout,
            chosen_deadline if chosen_deadline else None)


def _positive(value: object, where: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = -1.0
    if number < 0 or number != number:
        raise ConfigError(f"{value!r} is not a number of seconds, 0 or more ({where})",
                          locations=[SourceLocation(where)],
                          hint="give seconds, e.g. 30 (0 for --deadline: no deadline)")
    return number


def _line_of(text: str, lineno: int | None) -> str | None:
    lines = text.splitlines()
    return lines[lineno - 1] if lineno is not None and 0 < lineno <= len(lines) else None
