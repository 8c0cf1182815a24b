"""Index settings (index URLs, find-links, cert, timeout) read the way pip reads them.

pip's configuration is the default source of index settings: Airflow users already keep their
private indexes in ``pip.conf`` and ``PIP_*`` variables. This module reads the same files in the
same order and precedence as pip (without importing pip's configuration machinery, slow to import), and
command-line flags then replace what the configuration says (:func:`with_overrides`).

Precedence, lowest first, as pip documents it:

1. global files: ``$XDG_CONFIG_DIRS/pip/pip.conf`` (each directory, default ``/etc/xdg``), then
   ``/etc/pip.conf``;
2. user files: ``~/.pip/pip.conf`` (legacy), then ``<user config dir>/pip/pip.conf``;
   skipped when ``PIP_CONFIG_FILE`` names an existing file;
3. the site file: ``$VIRTUAL_ENV/pip.conf`` (the running interpreter's prefix when no virtual
   environment is active);
4. the file named by ``PIP_CONFIG_FILE`` (``os.devnull`` disables every file);
5. ``PIP_*`` environment variables.

Within that, pip ranks *sections* above files: a key of a command section (``[install]``,
``[download]``) in any file beats the same key of ``[global]`` in any file, and environment
variables beat both. Empty values are ignored, as pip ignores them.

constrain's own settings (``constrain.toml``, network limits) are in ``settings.py``.
"""

from __future__ import annotations

import locale
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ConfigError, SourceLocation, UsageError, redact_url
from .records import record

CONFIG_BASENAME = "pip.ini" if sys.platform == "win32" else "pip.conf"
DEFAULT_TIMEOUT = 15.0  # pip's --timeout default, in seconds

# Sections whose keys apply to constrain, lowest priority first. constrain resolves and fetches
# the way ``pip download`` and ``pip install`` do; when both sections set a key, [install] wins.
_SECTIONS = ("global", "download", "install")

# pip option names (long forms and aliases) -> our field.
_KEYS = {
    "index-url": "index_url",
    "pypi-url": "index_url",
    "extra-index-url": "extra_index_urls",
    "find-links": "find_links",
    "no-index": "no_index",
    "cert": "cert",
    "timeout": "timeout",
    "default-timeout": "timeout",
}
_LISTS = frozenset({"extra_index_urls", "find_links"})
_TRUE = frozenset({"y", "yes", "t", "true", "on", "1"})
_FALSE = frozenset({"n", "no", "f", "false", "off", "0"})

Warn = Callable[[str], None]


@record
class IndexSettings:
    """Where packages come from and how to reach them.

    ``index_url`` is ``None`` when nothing set it: then the index is the one pip would use by
    default (see :func:`default_index_url`). ``find_links`` entries are kept as written (a URL,
    a path, relative to the working directory); :func:`find_links_locations` resolves them.
    ``sources`` names, for messages, the configuration files that were read.
    """

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    cert: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    no_index: bool = False
    sources: tuple[str, ...] = ()


def default_index_url() -> str:
    """The index pip uses when nothing sets ``index-url``, taken from pip at run time."""
    from pip._internal.models.index import PyPI  # lazy: 20-30 ms alone, 1 ms after httpx

    return PyPI.simple_url


def pip_config_files(environ: Mapping[str, str] | None = None) -> list[tuple[str, Path]]:
    """The ``(kind, path)`` pairs of pip configuration files to read, lowest priority first.

    ``kind`` is one of ``global``, ``user``, ``site``, ``env`` (the ``PIP_CONFIG_FILE``).
    Files that do not exist are included (the caller skips them); an empty list means
    ``PIP_CONFIG_FILE`` is ``os.devnull`` and no file is read at all.
    """
    env = os.environ if environ is None else environ
    config_file = env.get("PIP_CONFIG_FILE")
    if config_file is not None and config_file == os.devnull:
        return []
    out: list[tuple[str, Path]] = [("global", p) for p in _site_config_files(env)]
    if not (config_file and os.path.exists(config_file)):
        home = Path(env["HOME"]) if env.get("HOME") else Path.home()
        legacy = home / ("pip" if sys.platform == "win32" else ".pip") / CONFIG_BASENAME
        out.append(("user", legacy))
        out.append(("user", _user_config_dir(env) / CONFIG_BASENAME))
    site_prefix = env.get("VIRTUAL_ENV") or sys.prefix
    out.append(("site", Path(site_prefix) / CONFIG_BASENAME))
    if config_file:
        out.append(("env", Path(config_file)))
    return out


def pip_index_settings(
    environ: Mapping[str, str] | None = None,
    *,
    warn: Warn | None = None,
    config_files: Sequence[str | os.PathLike[str]] | None = None,
    applied: Sequence[str] | None = (),
) -> IndexSettings:
    """Index settings from pip's configuration files and ``PIP_*`` variables of ``environ``.

    ``config_files`` (lowest priority first) replaces the discovered files, for tests and for
    callers that already know them. ``warn`` receives a line for each file that exists but
    cannot be read, for a ``PIP_CONFIG_FILE`` that does not exist, and for pip's
    ``constraint`` setting when it names files the command does not apply (``applied``, its
    ``-c`` files; ``None`` for a command that takes none): pip would apply them to every
    install, constrain applies only its own ``-c`` (as uv does), and a cap a machine's pip
    keeps must not be lifted unsaid. A file with a syntax error or an unusable value raises
    :class:`ConfigError` naming the file and line.
    """
    env = os.environ if environ is None else environ
    if config_files is None:
        config_file = env.get("PIP_CONFIG_FILE")
        if config_file and config_file != os.devnull and not os.path.exists(config_file):
            _call(warn, f"PIP_CONFIG_FILE names {config_file}, which does not exist; ignored")
        paths = [p for _kind, p in pip_config_files(env)]
    else:
        paths = [Path(p) for p in config_files]

    # section -> field -> (value, where); later files override earlier ones, as in pip.
    by_section: dict[str, dict[str, tuple[str, SourceLocation]]] = {s: {} for s in _SECTIONS}
    read: list[str] = []
    for path in paths:
        parsed = _read_config_file(path, warn)
        if parsed is None:
            continue
        read.append(str(path))
        for section, key, value, loc in parsed:
            field = _KEYS.get(key) or ("constraint" if key == "constraint" else None)
            if field is not None and section in by_section and value:
                by_section[section][field] = (value, loc)

    merged: dict[str, tuple[str, SourceLocation]] = {}
    for section in _SECTIONS:
        merged.update(by_section[section])
    for name, value in env.items():
        if not name.startswith("PIP_") or not value:
            continue
        key = _normalize(name[4:])
        field = _KEYS.get(key) or ("constraint" if key == "constraint" else None)
        if field is not None:
            merged[field] = (value, SourceLocation(f"environment variable {name}", text=value))

    unapplied = merged.pop("constraint", None)
    if unapplied is not None and applied is not None:
        _say_unapplied(warn, *unapplied, applied)
    values: dict[str, object] = {"sources": tuple(read)}
    for field, (raw, loc) in merged.items():
        values[field] = _convert(field, raw, loc)
    return IndexSettings(**values)  # type: ignore[arg-type]


def with_overrides(
    settings: IndexSettings,
    *,
    index_url: str | None = None,
    extra_index_urls: Iterable[str] | None = None,
    find_links: Iterable[str] | None = None,
    no_index: bool | None = None,
    cert: str | None = None,
    timeout: float | None = None,
) -> IndexSettings:
    """``settings`` with each given command-line value replacing the configured one.

    ``None`` leaves a setting alone; an empty list given for ``extra_index_urls`` or
    ``find_links`` clears it.
    """
    changes: dict[str, object] = {}
    if index_url is not None:
        changes["index_url"] = index_url
    if extra_index_urls is not None:
        changes["extra_index_urls"] = tuple(extra_index_urls)
    if find_links is not None:
        changes["find_links"] = tuple(find_links)
    if no_index is not None:
        changes["no_index"] = no_index
    if cert is not None:
        changes["cert"] = cert
    if timeout is not None:
        changes["timeout"] = timeout
    return replace(settings, **changes)  # type: ignore[arg-type]


def index_locations(settings: IndexSettings) -> list[str]:
    """The index URLs to consult, in priority order: ``index_url`` first (pip's default index
    when unset), then each of ``extra_index_urls`` in the order given. Empty under ``no_index``.

    Priority is *first-index*: the first index that knows a project owns it, and later indexes
    are never used for that project (protection against dependency confusion). So the user
    puts the index they trust most in ``--index-url``. Duplicates are dropped; a bare directory
    becomes a ``file://`` URL.
    """
    if settings.no_index:
        return []
    out: list[str] = []
    for url in (settings.index_url or default_index_url(), *settings.extra_index_urls):
        loc = as_location(url)
        if loc not in out:
            out.append(loc)
    return out


def find_links_locations(settings: IndexSettings) -> list[str]:
    """The find-links locations as URLs, in the order given: ``http(s)://`` and ``file://``
    URLs are kept, paths (relative to the working directory, ``~`` expanded) become
    ``file://`` URLs whether or not they exist (the repository warns about missing ones)."""
    out: list[str] = []
    for entry in settings.find_links:
        loc = as_location(entry)
        if loc not in out:
            out.append(loc)
    return out


def as_location(entry: str) -> str:
    """A URL for ``entry``: URLs with a scheme are kept, paths become ``file://`` URLs. A URL
    that cannot be read (a bracketed host left open) is a :class:`UsageError` naming it."""
    try:
        scheme = urlsplit(entry).scheme
    except ValueError as exc:
        raise UsageError(
            f"cannot read the location {redact_url(entry)!r}: {exc}",
            hint="check the URL where it was given (--index-url, --extra-index-url, "
            "--find-links, a requirement file's options, the PIP_* variables or pip's "
            "configuration)") from None
    if len(scheme) > 1:  # a Windows drive letter is not a scheme
        return entry
    return Path(os.path.expanduser(entry)).absolute().as_uri()



# ---------------------------------------------------------------------------- internals


def _user_config_dir(env: Mapping[str, str]) -> Path:
    """pip's per-user configuration directory (``~/.config/pip`` on Linux and macOS)."""
    if sys.platform == "darwin":
        import platformdirs

        data = Path(platformdirs.user_data_dir("pip", appauthor=False, roaming=True))
        if data.is_dir():
            return data
        return Path(os.path.expanduser("~/.config/pip"))
    if sys.platform != "win32" and env is not os.environ:
        # platformdirs reads os.environ; honour an explicitly given environment instead.
        base = env.get("XDG_CONFIG_HOME", "").strip()
        if not base:
            home = env.get("HOME") or os.path.expanduser("~")
            base = os.path.join(home, ".config")
        return Path(base) / "pip"
    import platformdirs

    return Path(platformdirs.user_config_dir("pip", appauthor=False, roaming=True))


def _site_config_files(env: Mapping[str, str]) -> list[Path]:
    """pip's global (site-wide) configuration files, lowest priority first."""
    if sys.platform == "darwin":
        import platformdirs

        dirs = [platformdirs.site_data_dir("pip", appauthor=False, multipath=True)]
    elif sys.platform == "win32":
        import platformdirs

        dirs = [platformdirs.site_config_dir("pip", appauthor=False, multipath=True)]
    else:
        if env is os.environ:
            import platformdirs

            joined = platformdirs.site_config_dir("pip", appauthor=False, multipath=True)
        else:  # the same rule as platformdirs, on the given environment
            xdg = env.get("XDG_CONFIG_DIRS", "").strip() or "/etc/xdg"
            joined = os.pathsep.join(os.path.join(d, "pip") for d in xdg.split(os.pathsep))
        dirs = [*joined.split(os.pathsep), "/etc"]
    return [Path(d) / CONFIG_BASENAME for d in dirs]


def _normalize(name: str) -> str:
    """pip's option-name normalisation: lower case, ``_`` -> ``-``, no leading ``--``."""
    name = name.lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name


def _read_config_file(
    path: Path, warn: Warn | None
) -> list[tuple[str, str, str, SourceLocation]] | None:
    """``(section, key, value, location)`` for every entry of ``path``; ``None`` when there
    is no such file or it cannot be read."""
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding=locale.getpreferredencoding(False))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid {exc.encoding} text",
            locations=[SourceLocation(str(path))],
            hint="save the file as text in the locale's encoding (usually UTF-8)",
        ) from exc
    except OSError as exc:
        _call(warn, f"cannot read pip configuration {path}: {exc.strerror or exc}; ignored")
        return None
    import configparser  # only when a pip configuration file exists

    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        # ParsingError lists every bad line; the others know one line (or none).
        bad = [n for n, _ in getattr(exc, "errors", ())] or [getattr(exc, "lineno", None)]
        if isinstance(exc, configparser.MissingSectionHeaderError):
            why = "a setting outside any [section]"
        elif isinstance(exc, configparser.ParsingError):
            why = "not a 'name = value' line"
        else:
            why = _first_line(exc)
        raise ConfigError(
            f"cannot parse the pip configuration file {path}",
            locations=[SourceLocation(str(path), n, _line(text, n), None, why) for n in bad],
            hint="fix the file; pip would refuse it too",
        ) from exc
    out = []
    for section in parser.sections():
        for key, value in parser.items(section):
            key = _normalize(key)
            lineno = _key_line(text, section, key)
            loc = SourceLocation(str(path), lineno, _line(text, lineno))
            out.append((section, key, value, loc))
    return out


def _convert(field: str, raw: str, loc: SourceLocation) -> object:
    if field in _LISTS:
        return tuple(raw.split())
    if field == "no_index":
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ConfigError(
            f"{raw!r} is not a valid value for no-index",
            locations=[loc],
            hint="use one of true/false, yes/no, on/off, 1/0",
        )
    if field == "timeout":
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(
                f"{raw!r} is not a valid timeout", locations=[loc], hint="give seconds, e.g. 60"
            ) from None
    return raw.strip()


def _key_line(text: str, section: str, key: str) -> int | None:
    """The 1-based line where ``key`` is set in ``[section]`` (the last such line)."""
    current = None
    found = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("[") and "]" in stripped:
            current = stripped[1 : stripped.index("]")].strip()
        elif current == section and line[:1] not in (" ", "\t") and stripped:
            name = stripped.split("=", 1)[0].split(":", 1)[0]
            if _normalize(name.strip()) == key:
                found = number
    return found


def _line(text: str, lineno: int | None) -> str | None:
    if lineno is None:
        return None
    lines = text.splitlines()
    return lines[lineno - 1] if 0 < lineno <= len(lines) else None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _say_unapplied(warn: Warn | None, value: str, loc: SourceLocation,
                   applied: Sequence[str]) -> None:
    """Warn that pip's ``constraint`` setting (``value``, set at ``loc``) names files that the
    command's own ``-c`` files (``applied``) do not include."""
    def same(entry: str) -> str:
        return entry if "://" in entry else os.path.abspath(os.path.expanduser(entry))

    given = {same(a) for a in applied}
    missing = [v for v in value.split() if same(v) not in given]
    if not missing:
        return
    files = " ".join(redact_url(m) for m in missing)
    _call(warn, f"pip's configuration sets constraint = {files} ({loc}): pip applies it to "
          "every install, constrain only the -c files it is given; add "
          f"{' '.join('-c ' + redact_url(m) for m in missing)} to apply it here")


def _call(warn: Warn | None, message: str) -> None:
    if warn is not None:
        warn(message)
