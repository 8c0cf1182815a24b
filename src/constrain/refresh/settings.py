"""What one ``constrain refresh`` is asked to do: modes, Pythons, output directory, gates, reports,
merged from the command line over ``[tool.constrain.refresh]`` (or ``[refresh]`` of
``constrain.toml``).

A *mode* is a named set of requirements with its own files (``<mode>-<python>.txt``), as
Airflow keeps ``constraints``, ``constraints-no-providers`` ... . Positional requirements (and
``-r`` files) make the mode ``constraints``; ``--mode NAME=REQUIREMENTS`` adds more, where
REQUIREMENTS is split like a shell line and may hold ``-r FILE``. In the configuration::

    [tool.constrain.refresh]
    requirements = ["apache-airflow[postgres,celery]==2.10.5"]
    python = ["3.10", "3.11", "3.12"]
    output-dir = "constraints"
    policies = ["airflow", "extra-policies.toml"]
    exclude-newer = "2026-06-01"
    fail-on-downgrade = ["apache-airflow-providers-*"]
    [tool.constrain.refresh.modes]
    constraints-no-providers = ["apache-airflow==2.10.5"]

Command-line values replace configured ones (``--python 3.11`` alone refreshes one target of
the configured matrix, for a CI matrix job).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import ConfigError, UsageError, refuse_unknown_keys

DEFAULT_MODE = "constraints"
#: keys of the refresh table and what each holds
CONFIG_KEYS = {
    "requirements": "list of requirement strings (the 'constraints' mode)",
    "requirement-files": "list of requirement files",
    "constraints": "list of constraint files or URLs applied to every mode",
    "python": "a Python version or a list of them",
    "platforms": "list of wheel platform tags",
    "output-dir": "directory of the <mode>-<python>.txt files",
    "modes": "table: mode name -> list of requirements (or one string, split like a shell)",
    "policies": "policy file or list of them ('airflow': the packaged default)",
    "exclude-newer": "date or timestamp",
    "prerelease": "allow, if-necessary, disallow or if-necessary-or-explicit",
    "only-binary": "true to never use sdists",
    "fail-on-downgrade": "list of package globs whose downgrades are errors",
    "fail-on-inconsistency": "true: a package that differs across Pythons for no reason found "
                             "is an error",
    "report": "file for the markdown report",
    "json-report": "file for the JSON report",
    "airflow-constraints": "auto, published, reconstructed or off (default for refresh: off)",
}


@dataclass(frozen=True)
class Mode:
    """A named requirement set; its files are ``<name>-<python>.txt``."""

    name: str
    requirements: tuple[str, ...] = ()
    requirement_files: tuple[str, ...] = ()

    def spec(self) -> str:
        """The ``--mode`` value that gives this mode back."""
        tokens = list(self.requirements)
        for f in self.requirement_files:
            tokens += ["-r", f]
        return f"{self.name}={shlex.join(tokens)}"


def parse_mode(text: str, where: str = "--mode") -> Mode:
    """``NAME=REQUIREMENTS`` -> :class:`Mode` (REQUIREMENTS split like a shell line; ``-r
    FILE`` names a requirement file)."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name or any(c in name for c in "/\\ ") or not rest.strip():
        raise UsageError(f"{where} {text!r}: expected NAME=REQUIREMENTS",
                         hint="e.g. --mode 'constraints-no-providers=apache-airflow==2.10.5'")
    try:
        tokens = shlex.split(rest)
    except ValueError as exc:
        raise UsageError(f"{where} {text!r}: {exc}") from None
    return _mode_from_tokens(name, tokens, where)


def _mode_from_tokens(name: str, tokens: Sequence[str], where: str) -> Mode:
    reqs: list[str] = []
    files: list[str] = []
    it = iter(tokens)
    for tok in it:
        if tok in ("-r", "--requirement"):
            f = next(it, None)
            if f is None:
                raise UsageError(f"{where}: -r needs a file name")
            files.append(f)
        elif tok.startswith(("--requirement=", "--requirement ")):  # a list element may
            files.append(tok[len("--requirement="):].strip())  # hold the flag and its file
        elif tok.startswith("-r") and tok[2:].strip():
            files.append(tok[2:].strip())
        else:
            reqs.append(tok)
    return Mode(name, tuple(reqs), tuple(files))


def refresh_table(config: Mapping[str, object], source: str | None) -> tuple[dict, str | None]:
    """The ``refresh`` table of constrain's configuration, checked for unknown keys."""
    table = config.get("refresh")
    if table is None:
        return {}, None
    where = f"[refresh] of {source}" if source and not source.startswith("[tool") else (
        f"[tool.constrain.refresh] of {source.split(' of ', 1)[-1]}" if source else "[refresh]")
    if not isinstance(table, dict):
        raise ConfigError(f"{where} is not a table")
    refuse_unknown_keys(table, CONFIG_KEYS, where)
    return dict(table), where


def config_strings(table: Mapping[str, object], key: str, where: str | None) -> tuple[str, ...]:
    """A key holding a string or a list of strings, as a tuple (empty when absent)."""
    raw = table.get(key)
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        return tuple(raw)
    raise ConfigError(f"{key} in {where} must be a string or a list of strings, not {raw!r}")


def config_modes(table: Mapping[str, object], where: str | None) -> tuple[Mode, ...]:
    raw = table.get("modes")
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ConfigError(f"modes in {where} must be a table: mode name -> requirements")
    out = []
    for name, value in raw.items():
        if isinstance(value, str):
            out.append(parse_mode(f"{name}={value}", f"modes.{name} in {where}"))
        elif isinstance(value, list) and value and all(isinstance(x, str) for x in value):
            out.append(_mode_from_tokens(name, value, f"modes.{name} in {where}"))
        else:
            raise ConfigError(f"modes.{name} in {where} must be a non-empty list of requirements")
    return tuple(out)
