"""Index settings: pip's files, sections and variables in pip's precedence; flags override."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from constrain.config import (
    IndexSettings,
    default_index_url,
    find_links_locations,
    index_locations,
    pip_config_files,
    pip_index_settings,
    with_overrides,
)
from constrain.errors import ConfigError


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An isolated HOME / XDG layout and no PIP_* variables from the machine running tests."""
    for name in list(os.environ):
        if name.startswith("PIP_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(h / ".config"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "xdg"))
    return h


def test_later_files_override_earlier_ones(tmp_path):
    g = _write(tmp_path / "g.conf", "[global]\nindex-url = http://global/simple\ntimeout = 5\n")
    u = _write(tmp_path / "u.conf", "[global]\nindex-url = http://user/simple\n")
    s = pip_index_settings({}, config_files=[g, u])
    assert s.index_url == "http://user/simple"
    assert s.timeout == 5.0
    assert s.sources == (str(g), str(u))


def test_command_section_beats_global_section_of_any_file(tmp_path):
    # pip ranks sections above files: [install] of the lowest file beats [global] of the highest.
    g = _write(tmp_path / "g.conf", "[install]\nindex-url = http://install/simple\n")
    u = _write(tmp_path / "u.conf", "[global]\nindex-url = http://user/simple\n")
    s = pip_index_settings({}, config_files=[g, u])
    assert s.index_url == "http://install/simple"


def test_environment_variables_beat_every_file(tmp_path):
    f = _write(
        tmp_path / "f.conf",
        "[install]\nindex-url = http://file/simple\nno-index = false\ntimeout = 3\n",
    )
    env = {
        "PIP_INDEX_URL": "http://env/simple",
        "PIP_EXTRA_INDEX_URL": "http://a/simple  http://b/simple\nhttp://c/simple",
        "PIP_FIND_LINKS": "/w1 /w2",
        "PIP_NO_INDEX": "yes",
        "PIP_CERT": "/ca.pem",
        "PIP_DEFAULT_TIMEOUT": "60",
    }
    s = pip_index_settings(env, config_files=[f])
    assert s == IndexSettings(
        index_url="http://env/simple",
        extra_index_urls=("http://a/simple", "http://b/simple", "http://c/simple"),
        find_links=("/w1", "/w2"),
        cert="/ca.pem",
        timeout=60.0,
        no_index=True,
        sources=(str(f),),
    )


def test_multiline_lists_aliases_and_empty_values(tmp_path):
    f = _write(
        tmp_path / "f.conf",
        "[global]\nextra-index-url =\n    http://one/simple\n    http://two/simple\n"
        "pypi-url = http://alias/simple\ndefault-timeout = 7.5\ncert =\n"
        "[freeze]\nindex-url = http://ignored/simple\n",
    )
    s = pip_index_settings({"PIP_FIND_LINKS": ""}, config_files=[f])
    assert s.extra_index_urls == ("http://one/simple", "http://two/simple")
    assert s.index_url == "http://alias/simple"
    assert s.timeout == 7.5
    assert s.cert is None
    assert s.find_links == ()


def test_bad_boolean_names_file_and_line(tmp_path):
    f = _write(tmp_path / "f.conf", "[global]\n\nno-index = maybe\n")
    with pytest.raises(ConfigError) as info:
        pip_index_settings({}, config_files=[f])
    rendered = "\n".join(info.value.render())
    assert f"{f}:3" in rendered
    assert "no-index = maybe" in rendered
    assert "true/false" in info.value.hint


def test_syntax_error_is_a_config_error_with_location(tmp_path):
    f = _write(tmp_path / "f.conf", "[global]\nindex-url = http://x/simple\nnot a key line\n")
    with pytest.raises(ConfigError) as info:
        pip_index_settings({}, config_files=[f])
    assert info.value.locations[0].source == str(f)
    assert info.value.locations[0].line == 3


def test_bad_timeout_from_environment(tmp_path):
    with pytest.raises(ConfigError) as info:
        pip_index_settings({"PIP_DEFAULT_TIMEOUT": "soon"}, config_files=[])
    assert "PIP_DEFAULT_TIMEOUT" in "\n".join(info.value.render())


def test_devnull_config_file_disables_every_file(home):
    _write(home / ".config" / "pip" / "pip.conf", "[global]\nindex-url = http://user/simple\n")
    env = {"HOME": str(home), "PIP_CONFIG_FILE": os.devnull}
    assert pip_config_files(env) == []
    assert pip_index_settings(env).index_url is None


def test_config_file_order(home, tmp_path):
    venv = tmp_path / "venv"
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "cfg"),
        "XDG_CONFIG_DIRS": f"{tmp_path}/x1:{tmp_path}/x2",
        "VIRTUAL_ENV": str(venv),
    }
    if sys.platform in ("darwin", "win32"):
        pytest.skip("XDG layout is the Linux rule")
    assert pip_config_files(env) == [
        ("global", tmp_path / "x1" / "pip" / "pip.conf"),
        ("global", tmp_path / "x2" / "pip" / "pip.conf"),
        ("global", Path("/etc/pip.conf")),
        ("user", home / ".pip" / "pip.conf"),
        ("user", home / "cfg" / "pip" / "pip.conf"),
        ("site", venv / "pip.conf"),
    ]
    # An existing PIP_CONFIG_FILE replaces the user files and comes last.
    extra = _write(tmp_path / "extra.conf", "")
    kinds = [k for k, _ in pip_config_files({**env, "PIP_CONFIG_FILE": str(extra)})]
    assert kinds == ["global", "global", "global", "site", "env"]


def test_missing_pip_config_file_warns_and_keeps_user_files(home, tmp_path):
    _write(home / ".config" / "pip" / "pip.conf", "[global]\nindex-url = http://user/simple\n")
    warnings: list[str] = []
    env = {**os.environ, "PIP_CONFIG_FILE": str(tmp_path / "nope.conf")}
    s = pip_index_settings(env, warn=warnings.append)
    assert s.index_url == "http://user/simple"
    assert len(warnings) == 1 and "nope.conf" in warnings[0]


SCENARIOS = {
    "user-over-legacy": {
        ".pip/pip.conf": "[global]\nindex-url = http://legacy/simple\n",
        ".config/pip/pip.conf": "[global]\nindex-url = http://new/simple\nfind-links = a b\n",
    },
    "install-section-over-user-global": {
        "xdg/pip/pip.conf": "[install]\nextra-index-url = http://x/simple\n",
        ".config/pip/pip.conf": "[global]\nextra-index-url = http://g/simple\nno-index = on\n",
    },
    "config-file-env": {
        ".config/pip/pip.conf": "[global]\nindex-url = http://user/simple\n",
        "env.conf": "[global]\ntimeout = 42\nextra-index-url = http://e/simple\n",
    },
    "env-vars": {
        ".config/pip/pip.conf": "[install]\nindex-url = http://user/simple\n",
        "$PIP_INDEX_URL": "http://var/simple",
        "$PIP_NO_INDEX": "0",
        "$PIP_FIND_LINKS": "x y",
    },
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_agrees_with_pip_itself(name, home, tmp_path, monkeypatch):
    """The settings equal what pip's own option parser makes of the same files and variables."""
    for rel, text in SCENARIOS[name].items():
        if rel.startswith("$"):
            monkeypatch.setenv(rel[1:], text)
        elif rel == "env.conf":
            monkeypatch.setenv("PIP_CONFIG_FILE", str(_write(tmp_path / rel, text)))
        else:
            base = tmp_path if rel.startswith("xdg/") else home
            _write(base / rel, text)

    from pip._internal.commands import create_command

    options, _ = create_command("install").parse_args([])
    ours = pip_index_settings()
    assert (ours.index_url or default_index_url()) == options.index_url
    assert list(ours.extra_index_urls) == options.extra_index_urls
    assert list(ours.find_links) == options.find_links
    assert ours.no_index == options.no_index
    assert ours.timeout == options.timeout
    assert ours.cert == options.cert


def test_overrides_replace_config_values():
    s = IndexSettings(
        index_url="http://cfg/simple", extra_index_urls=("http://e/simple",), find_links=("w",)
    )
    o = with_overrides(s, index_url="http://flag/simple", find_links=[], no_index=True)
    assert o.index_url == "http://flag/simple"
    assert o.extra_index_urls == ("http://e/simple",)
    assert o.find_links == ()
    assert o.no_index is True
    assert with_overrides(s) == s


def test_index_locations_first_index_priority_order():
    s = IndexSettings(
        index_url="http://trusted/simple",
        extra_index_urls=("http://second/simple", "http://trusted/simple", "http://third/simple"),
    )
    assert index_locations(s) == [
        "http://trusted/simple",
        "http://second/simple",
        "http://third/simple",
    ]
    assert index_locations(with_overrides(s, no_index=True)) == []


def test_default_index_comes_from_pip():
    from pip._internal.models.index import PyPI

    locs = index_locations(IndexSettings(extra_index_urls=("http://x/simple",)))
    assert locs == [PyPI.simple_url, "http://x/simple"]


def test_find_links_paths_become_file_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wheels").mkdir()
    s = IndexSettings(
        find_links=("wheels", str(tmp_path / "missing"), "http://host/links/", "file:///srv/w")
    )
    assert find_links_locations(s) == [
        (tmp_path / "wheels").as_uri(),
        (tmp_path / "missing").as_uri(),
        "http://host/links/",
        "file:///srv/w",
    ]


def test_pips_constraint_setting_is_said_unless_the_command_applies_it(tmp_path, monkeypatch):
    # pip applies a configured constraint to every install; constrain applies only its -c
    # files, so a cap a machine's pip keeps is said, with where it is set and the -c to give
    caps = _write(tmp_path / "caps.txt", "torch<=2.0\n")
    conf = _write(tmp_path / "pip.conf", f"[global]\ncert = /x.pem\n[install]\nconstraint = {caps}\n")
    said: list[str] = []
    pip_index_settings({}, config_files=[conf], warn=said.append)
    assert len(said) == 1, said
    assert f"constraint = {caps} ({conf}:4)" in said[0] and f"add -c {caps}" in said[0]
    said.clear()
    monkeypatch.chdir(tmp_path)  # the same file given relative to the working directory
    pip_index_settings({}, config_files=[conf], warn=said.append, applied=["caps.txt"])
    assert said == []
    # the variable beats the files, as in pip; a login in a URL is masked
    pip_index_settings({"PIP_CONSTRAINT": "https://me:secret@host/c.txt"},
                       config_files=[conf], warn=said.append, applied=["caps.txt"])
    assert len(said) == 1 and "environment variable PIP_CONSTRAINT" in said[0], said
    assert "secret" not in said[0] and "-c https://me:****@host/c.txt" in said[0]
