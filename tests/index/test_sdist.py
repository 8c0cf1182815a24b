"""Sdists: safe unpacking, PKG-INFO, PEP 517 metadata and wheel builds in isolated environments."""

from __future__ import annotations

import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from constrain.cache.store import Cache
from constrain.errors import BuildError
from constrain.build.sdist import (
    DEFAULT_BACKEND,
    BuildEnvs,
    build_wheel,
    pip_environ,
    prepare_metadata,
    read_build_system,
    read_pkg_info,
    unpack,
)
from constrain.reporting import CollectingReporter
from tests.support.builders import PackageSpec, make_sdist, metadata_text, write_tar


_tar = write_tar


# A backend with build_wheel only: prepare_metadata must fall back to building the wheel.
_WHEEL_ONLY_BACKEND = '''
import os, zipfile
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "minimal-0.5-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        zf.writestr("minimal-0.5.dist-info/METADATA",
                    "Metadata-Version: 2.1\\nName: minimal\\nVersion: 0.5\\nRequires-Dist: dep-from-wheel\\n\\n")
        zf.writestr("minimal-0.5.dist-info/WHEEL", "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
        zf.writestr("minimal-0.5.dist-info/RECORD", "")
    return name
'''
_PYPROJECT = '[build-system]\nrequires = []\nbuild-backend = "be"\nbackend-path = ["."]\n'


@dataclass
class Settings:
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)


def test_read_pkg_info_tar_and_zip(tmp_path):
    sdist = make_sdist(tmp_path, "foo", "1.0", requires_dist=["bar"])
    assert b"Requires-Dist: bar" in read_pkg_info(sdist)
    zpath = tmp_path / "foo-1.0.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("foo-1.0/foo.egg-info/PKG-INFO", "wrong one")
        zf.writestr("foo-1.0/PKG-INFO", metadata_text("foo", "1.0"))
    assert read_pkg_info(zpath).startswith(b"Metadata-Version: 2.1")
    assert read_pkg_info(_tar(tmp_path / "x.tar.gz", {"x/setup.py": ""})) is None
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    assert read_pkg_info(tmp_path / "junk.tar.gz") is None


def test_unpack_rejects_tar_path_traversal(tmp_path):
    evil = _tar(tmp_path / "evil-1.0.tar.gz", {"evil-1.0/PKG-INFO": "", "../escaped.txt": "x"})
    (tmp_path / "out").mkdir()
    with pytest.raises(BuildError, match=r"cannot unpack evil-1\.0\.tar\.gz"):
        unpack(evil, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()


def test_unpack_rejects_zip_path_traversal(tmp_path):
    path = tmp_path / "evil-1.0.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("evil-1.0/PKG-INFO", "")
        zf.writestr("evil-1.0/../../escaped.txt", "x")
    (tmp_path / "out").mkdir()
    with pytest.raises(BuildError, match="unsafe path"):
        unpack(path, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()


def test_unpack_returns_single_top_directory(tmp_path):
    sdist = make_sdist(tmp_path, "foo", "1.0")
    (tmp_path / "out").mkdir()
    tree = unpack(sdist, tmp_path / "out")
    assert tree.name == "foo-1.0" and (tree / "pyproject.toml").is_file()


def test_build_system_defaults_and_errors(tmp_path):
    assert read_build_system(tmp_path, "x").backend == DEFAULT_BACKEND
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    system = read_build_system(tmp_path, "x")
    assert system.backend == DEFAULT_BACKEND and system.requires == ["setuptools>=40.8.0"]
    (tmp_path / "pyproject.toml").write_text("[build-system]\nbuild-backend = 'b'\n")
    with pytest.raises(BuildError, match="no valid 'requires'"):
        read_build_system(tmp_path, "x-1.tar.gz")
    (tmp_path / "pyproject.toml").write_text("[build-system\n")
    with pytest.raises(BuildError, match=r"pyproject\.toml of x-1\.tar\.gz is invalid"):
        read_build_system(tmp_path, "x-1.tar.gz")


def test_pip_environ():
    assert pip_environ(None) == {}
    env = pip_environ(Settings("http://127.0.0.1:1/simple", ["http://127.0.0.1:2/simple",
                                                              "http://127.0.0.1:3/simple"],
                               ["/wheels"]))  # fmt: skip
    assert env == {
        "PIP_INDEX_URL": "http://127.0.0.1:1/simple",
        "PIP_EXTRA_INDEX_URL": "http://127.0.0.1:2/simple http://127.0.0.1:3/simple",
        "PIP_FIND_LINKS": "/wheels",
    }


def test_prepare_metadata_runs_the_backend(tmp_path):
    sdist = make_sdist(tmp_path, "foo", "1.0", requires_dist=["built-dep"],
                       dynamic=["Requires-Dist"], pkg_info_requires_dist=["decoy"])  # fmt: skip
    data = prepare_metadata(sdist)
    assert b"Requires-Dist: built-dep" in data and b"decoy" not in data


def test_prepare_metadata_falls_back_to_build_wheel(tmp_path):
    sdist = _tar(tmp_path / "minimal-0.5.tar.gz", {
        "minimal-0.5/pyproject.toml": _PYPROJECT,
        "minimal-0.5/be.py": _WHEEL_ONLY_BACKEND,
    })  # fmt: skip
    assert b"Requires-Dist: dep-from-wheel" in prepare_metadata(sdist)


def test_backend_import_error_is_a_build_error(tmp_path):
    sdist = _tar(tmp_path / "broken-1.0.tar.gz", {
        "broken-1.0/pyproject.toml": _PYPROJECT,
        "broken-1.0/be.py": "raise ImportError('backend is broken here')\n",
    })  # fmt: skip
    with pytest.raises(BuildError) as exc:
        prepare_metadata(sdist)
    assert "broken-1.0.tar.gz" in exc.value.message
    assert any("backend is broken here" in line for line in exc.value.details)


def test_failing_backend_output_tail(tmp_path):
    sdist = make_sdist(tmp_path, "foo", "1.0", fail_build=True)
    with pytest.raises(BuildError) as exc:
        prepare_metadata(sdist)
    assert "foo-1.0.tar.gz" in exc.value.message
    assert any("failed on purpose for foo 1.0" in line for line in exc.value.details)
    assert len(exc.value.details) <= 21


def test_build_wheel(tmp_path):
    sdist = make_sdist(tmp_path, "foo", "1.0", requires_dist=["bar"])
    wheel = build_wheel(sdist, tmp_path / "out")
    assert wheel == tmp_path / "out" / "foo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        assert b"Requires-Dist: bar" in zf.read("foo-1.0.dist-info/METADATA")


def test_build_requirements_come_from_the_given_index(tmp_path, make_index):
    """get_requires_for_build_wheel's answer is installed by pip from ``build_index`` only."""
    server = make_index([PackageSpec("helper-tool", "1.0")])
    sdist = make_sdist(tmp_path, "foo", "1.0", build_requires=["helper-tool==1.0"],
                       dynamic=["Requires-Dist"])  # fmt: skip
    reporter = CollectingReporter()
    data = prepare_metadata(sdist, build_index=Settings(server.index_url), reporter=reporter)
    assert data.startswith(b"Metadata-Version")
    assert server.requests_to("/simple/helper-tool/")
    assert any("helper-tool==1.0" in i for i in reporter.infos)


def test_build_requirement_missing_from_index_is_a_build_error(tmp_path, make_index):
    server = make_index([PackageSpec("other", "1.0")])
    sdist = make_sdist(tmp_path, "foo", "1.0", build_requires=["no-such-helper"])
    with pytest.raises(BuildError) as exc:
        prepare_metadata(sdist, build_index=Settings(server.index_url))
    assert "could not install the backend requirements of foo-1.0.tar.gz" in exc.value.message
    assert any("no-such-helper" in line for line in exc.value.details)


# ---------------------------------------------------------------------------- captured output

# A backend that talks: prints on stdout and stderr and raises a warning in every hook, and
# fails when the project is called "noisy-fail".
_NOISY_BACKEND = '''
import os, sys, warnings
def _talk(hook):
    print(f"NOISY-STDOUT from {hook}")
    print(f"NOISY-STDERR from {hook}", file=sys.stderr)
    warnings.warn(f"NOISY-WARNING from {hook}")
def get_requires_for_build_wheel(config_settings=None):
    _talk("get_requires")
    return []
def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _talk("prepare_metadata")
    name = os.path.basename(os.getcwd()).rsplit("-", 1)[0]
    if name == "noisy-fail":
        sys.exit("NOISY-FAILURE: cannot build this")
    d = os.path.join(metadata_directory, "noisy-1.0.dist-info")
    os.makedirs(d)
    with open(os.path.join(d, "METADATA"), "w") as fh:
        fh.write("Metadata-Version: 2.1\\nName: noisy\\nVersion: 1.0\\n\\n")
    return "noisy-1.0.dist-info"
'''


def _noisy_sdist(tmp_path: Path, name: str) -> Path:
    return _tar(tmp_path / f"{name}-1.0.tar.gz", {
        f"{name}-1.0/pyproject.toml": _PYPROJECT,
        f"{name}-1.0/be.py": _NOISY_BACKEND,
    })  # fmt: skip


def test_backend_output_and_warnings_never_reach_the_user(tmp_path, capfd):
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        data = prepare_metadata(_noisy_sdist(tmp_path, "noisy"))
    assert data.startswith(b"Metadata-Version: 2.1\nName: noisy")
    out, err = capfd.readouterr()
    assert "NOISY" not in out and "NOISY" not in err
    assert not [w for w in raised if "NOISY" in str(w.message)]


def test_captured_output_of_a_failing_backend_is_in_the_build_error(tmp_path, capfd):
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        with pytest.raises(BuildError) as exc:
            prepare_metadata(_noisy_sdist(tmp_path, "noisy-fail"))
    out, err = capfd.readouterr()
    assert "NOISY" not in out and "NOISY" not in err
    # the backend's warnings are not raised here (others may be: a finaliser of an earlier
    # test's object can warn on any thread while this block runs)
    assert not [w for w in raised if "NOISY" in str(w.message)]
    details = "\n".join(exc.value.details)
    assert "prepare_metadata_for_build_wheel" in exc.value.message
    assert "NOISY-FAILURE: cannot build this" in details
    assert "NOISY-STDERR from prepare_metadata" in details
    assert "NOISY-STDOUT from get_requires" in details
    assert "NOISY-WARNING from get_requires" in details  # warnings of earlier hooks too


# ---------------------------------------------------------------------------- build environments

# A backend that needs the build requirement "helper-tool" importable, and reports the version
# it found in the metadata it writes. get_requires_for_build_wheel asks for what EXTRA lists.
_HELPER_BACKEND = '''
import os, re
EXTRA = []
def get_requires_for_build_wheel(config_settings=None):
    return EXTRA
def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    import helper_tool
    extra = ""
    for name in EXTRA:
        project = re.split("[<>=!~ ]", name)[0]
        mod = __import__(project.replace("-", "_"))
        extra += f"Requires-Dist: seen-{project}=={mod.__version__}\\n"
    project = os.path.basename(os.getcwd()).rsplit("-", 1)[0]
    d = os.path.join(metadata_directory, f"{project}-1.0.dist-info")
    os.makedirs(d)
    with open(os.path.join(d, "METADATA"), "w") as fh:
        fh.write(f"Metadata-Version: 2.1\\nName: {project}\\nVersion: 1.0\\n"
                 f"Requires-Dist: seen-helper=={helper_tool.__version__}\\n{extra}\\n")
    return f"{project}-1.0.dist-info"
'''


def _helper_sdist(tmp_path: Path, name: str, extra: list[str] = ()) -> Path:
    pyproject = ('[build-system]\nrequires = ["helper-tool>=1"]\n'
                 'build-backend = "be"\nbackend-path = ["."]\n')  # fmt: skip
    backend = _HELPER_BACKEND.replace("EXTRA = []", f"EXTRA = {list(extra)!r}")
    return _tar(tmp_path / f"{name}-1.0.tar.gz", {
        f"{name}-1.0/pyproject.toml": pyproject,
        f"{name}-1.0/be.py": backend,
    })  # fmt: skip


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file() and not p.is_symlink()}  # fmt: skip


def test_build_environments_are_reused_across_builds_and_runs(tmp_path, make_index):
    server = make_index([PackageSpec("helper-tool", "1.0"), PackageSpec("helper-tool", "1.1")])
    settings = Settings(server.index_url)
    cache = Cache(tmp_path / "cache")
    reporter = CollectingReporter()
    envs = BuildEnvs(cache, build_index=settings, reporter=reporter)
    first = prepare_metadata(_helper_sdist(tmp_path, "one"), build_index=settings, envs=envs)
    assert b"Requires-Dist: seen-helper==1.1" in first  # the newest, like pip
    created = [i for i in reporter.infos if "creating a build environment" in i]
    assert len(created) == 1 and "helper-tool>=1" in created[0]
    (env_dir,) = (cache.root / "build-envs-v3" / "envs").iterdir()
    before = _snapshot(env_dir)
    assert any(name.endswith(".pyc") for name in before)  # byte-compiled once, at install

    server.reset_log()
    second = prepare_metadata(_helper_sdist(tmp_path, "two"), build_index=settings, envs=envs)
    assert b"Name: two" in second and b"seen-helper==1.1" in second
    # a later run (a new BuildEnvs on the same cache) reuses it too
    again = BuildEnvs(cache, build_index=settings, reporter=reporter)
    prepare_metadata(_helper_sdist(tmp_path, "three"), build_index=settings, envs=again)
    assert server.requests == []  # no pip run at all: nothing resolved, nothing installed
    assert len([i for i in reporter.infos if "creating a build environment" in i]) == 1
    assert _snapshot(env_dir) == before  # builds never write into a ready environment


def test_backend_requirements_get_their_own_environment(tmp_path, make_index):
    server = make_index([PackageSpec("helper-tool", "1.0"), PackageSpec("extra-tool", "2.0")])
    settings = Settings(server.index_url)
    cache = Cache(tmp_path / "cache")
    envs = BuildEnvs(cache, build_index=settings)
    prepare_metadata(_helper_sdist(tmp_path, "base"), build_index=settings, envs=envs)
    (base_env,) = (cache.root / "build-envs-v3" / "envs").iterdir()
    before = _snapshot(base_env)
    data = prepare_metadata(_helper_sdist(tmp_path, "more", ["extra-tool"]),
                            build_index=settings, envs=envs)  # fmt: skip
    assert b"seen-helper==1.0" in data and b"seen-extra-tool==2.0" in data
    assert _snapshot(base_env) == before
    assert len(list((cache.root / "build-envs-v3" / "envs").iterdir())) == 2
    # an added requirement the environment already satisfies needs no other environment
    prepare_metadata(_helper_sdist(tmp_path, "same", ["helper-tool<2"]),
                     build_index=settings, envs=envs)  # fmt: skip
    assert len(list((cache.root / "build-envs-v3" / "envs").iterdir())) == 2


def test_concurrent_builds_share_one_new_environment(tmp_path, make_index):
    server = make_index([PackageSpec("helper-tool", "1.0")])
    settings = Settings(server.index_url)
    cache = Cache(tmp_path / "cache")
    reporter = CollectingReporter()
    envs = [BuildEnvs(cache, build_index=settings, reporter=reporter) for _ in range(2)]
    sdists = [_helper_sdist(tmp_path, f"p{i}") for i in range(2)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(
            lambda i: prepare_metadata(sdists[i], build_index=settings, envs=envs[i]), range(2)
        ))  # fmt: skip
    assert all(b"seen-helper==1.0" in r for r in results)
    assert len([i for i in reporter.infos if "creating a build environment" in i]) == 1
    assert len(list((cache.root / "build-envs-v3" / "envs").iterdir())) == 1


def test_an_interrupted_environment_is_never_used(tmp_path, make_index):
    server = make_index([PackageSpec("helper-tool", "1.0")])
    settings = Settings(server.index_url)
    cache = Cache(tmp_path / "cache")
    prepare_metadata(_helper_sdist(tmp_path, "a"), build_index=settings,
                     envs=BuildEnvs(cache, build_index=settings))  # fmt: skip
    (env_dir,) = (cache.root / "build-envs-v3" / "envs").iterdir()
    (env_dir / ".ready").unlink()  # as if the creating process had been killed
    reporter = CollectingReporter()
    data = prepare_metadata(_helper_sdist(tmp_path, "b"), build_index=settings,
                            envs=BuildEnvs(cache, build_index=settings, reporter=reporter))  # fmt: skip
    assert b"seen-helper==1.0" in data
    assert any("creating a build environment" in i for i in reporter.infos)


# get_requires_for_build_wheel waits (up to a minute) for prepare_metadata_for_build_wheel to
# start, and says in the metadata whether it did: the two hooks run side by side.
_OVERLAP_BACKEND = '''
import os, time
FLAG = {flag!r}
def get_requires_for_build_wheel(config_settings=None):
    deadline = time.monotonic() + 60
    while not os.path.exists(FLAG) and time.monotonic() < deadline:
        time.sleep(0.01)
    with open(FLAG + ".seen", "w") as fh:
        fh.write("yes" if os.path.exists(FLAG) else "no")
    return []
def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    open(FLAG, "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists(FLAG + ".seen") and time.monotonic() < deadline:
        time.sleep(0.01)
    d = os.path.join(metadata_directory, "overlap-1.0.dist-info")
    os.makedirs(d)
    with open(os.path.join(d, "METADATA"), "w") as fh:
        fh.write("Metadata-Version: 2.1\\nName: overlap\\nVersion: 1.0\\n")
        fh.write("Summary: " + open(FLAG + ".seen").read() + "\\n\\n")
    return "overlap-1.0.dist-info"
'''


def test_metadata_hook_runs_beside_get_requires(tmp_path):
    # Each hook is a new interpreter importing the backend: when the backend asks for nothing
    # more, the metadata comes from a run started at the same time, not after.
    flag = str(tmp_path / "prepare-started")
    sdist = _tar(tmp_path / "overlap-1.0.tar.gz", {
        "overlap-1.0/pyproject.toml": _PYPROJECT,
        "overlap-1.0/be.py": _OVERLAP_BACKEND.format(flag=flag),
    })  # fmt: skip
    data = prepare_metadata(sdist)
    assert b"Summary: yes" in data


# get_requires_for_build_wheel stays a second, then leaves a mark; build_wheel names in its
# wheel's Summary whether that mark was there when it started (after) or not (beside).
_ORDER_BACKEND = '''
import os, time, zipfile
MARK = {mark!r}
def get_requires_for_build_wheel(config_settings=None):
    time.sleep(1)
    open(MARK, "w").close()
    return []
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    when = "after" if os.path.exists(MARK) else "beside"
    name = "order-1.0-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        zf.writestr("order-1.0.dist-info/METADATA",
                    "Metadata-Version: 2.1\\nName: order\\nVersion: 1.0\\nSummary: " + when + "\\n\\n")
        zf.writestr("order-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
        zf.writestr("order-1.0.dist-info/RECORD", "")
    return name
'''


def test_wheel_hook_waits_for_get_requires_without_speculation(tmp_path):
    # An install whose other work keeps every core busy builds without the early run: the
    # wheel hook then starts once get_requires_for_build_wheel has answered, never beside it
    # (on speculation it would start at once, while get_requires sleeps).
    sdist = _tar(tmp_path / "order-1.0.tar.gz", {
        "order-1.0/pyproject.toml": _PYPROJECT,
        "order-1.0/be.py": _ORDER_BACKEND.format(mark=str(tmp_path / "requires-done")),
    })  # fmt: skip
    wheel = build_wheel(sdist, tmp_path / "out", speculate=False)
    with zipfile.ZipFile(wheel) as zf:
        assert "Summary: after" in zf.read("order-1.0.dist-info/METADATA").decode()


# Each hook marks itself running in a shared directory, stays a second, and records the most
# hooks it saw running beside it meanwhile.
_CROWD_BACKEND = '''
import os, time
DIR = {crowd!r}
NAME = {name!r}
def _run(hook):
    me = NAME + "-" + hook
    open(os.path.join(DIR, me), "w").close()
    most = 0
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        most = max(most, len([n for n in os.listdir(DIR) if not n.startswith("seen-")]) - 1)
        time.sleep(0.01)
    os.remove(os.path.join(DIR, me))
    with open(os.path.join(DIR, "seen-" + me), "w") as fh:
        fh.write(str(most))
def get_requires_for_build_wheel(config_settings=None):
    _run("requires")
    return []
def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _run("metadata")
    d = os.path.join(metadata_directory, NAME + "-1.0.dist-info")
    os.makedirs(d)
    with open(os.path.join(d, "METADATA"), "w") as fh:
        fh.write("Metadata-Version: 2.1\\nName: " + NAME + "\\nVersion: 1.0\\n\\n")
    return NAME + "-1.0.dist-info"
'''


def test_concurrent_builds_run_two_hooks_at_most(tmp_path):
    # Each hook is an interpreter running the sdist's setup code. Two builds at once, each
    # running its metadata hook beside get_requires, used to run four at once; the hooks a
    # build needs take turns, and one early hook may run beside them.
    crowd = tmp_path / "running"
    crowd.mkdir()
    sdists = []
    for name in ("crowd-a", "crowd-b"):
        mod = name.replace("-", "_")
        sdists.append(_tar(tmp_path / f"{mod}-1.0.tar.gz", {
            f"{mod}-1.0/pyproject.toml": _PYPROJECT,
            f"{mod}-1.0/be.py": _CROWD_BACKEND.format(crowd=str(crowd), name=mod),
        }))  # fmt: skip
    envs = BuildEnvs(Cache(tmp_path / "cache"))
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda p: prepare_metadata(p, envs=envs), sdists))
    assert [b"Name: crowd_a" in results[0], b"Name: crowd_b" in results[1]] == [True, True]
    seen = {p.name: int(p.read_text()) for p in crowd.iterdir()}
    assert sorted(seen) == [f"seen-crowd_{x}-{h}" for x in "ab" for h in ("metadata", "requires")]
    assert max(seen.values()) <= 1


# build_wheel marks itself started, then waits (up to a minute) for the other sdist's to start
# too, and says in its wheel's Summary whether it saw it: the two ran at the same time.
_MEET_BACKEND = '''
import os, time, zipfile
DIR = {meet!r}
NAME = {name!r}
OTHER = {other!r}
def get_requires_for_build_wheel(config_settings=None):
    return []
def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    d = os.path.join(metadata_directory, NAME + "-1.0.dist-info")
    os.makedirs(d)
    with open(os.path.join(d, "METADATA"), "w") as fh:
        fh.write("Metadata-Version: 2.1\\nName: " + NAME + "\\nVersion: 1.0\\n\\n")
    return NAME + "-1.0.dist-info"
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    open(os.path.join(DIR, NAME), "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists(os.path.join(DIR, OTHER)) and time.monotonic() < deadline:
        time.sleep(0.01)
    met = "met" if os.path.exists(os.path.join(DIR, OTHER)) else "alone"
    wheel = NAME + "-1.0-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as zf:
        zf.writestr(NAME + "-1.0.dist-info/METADATA", "Metadata-Version: 2.1\\nName: " + NAME
                    + "\\nVersion: 1.0\\nSummary: " + met + "\\n\\n")
        zf.writestr(NAME + "-1.0.dist-info/WHEEL",
                    "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
        zf.writestr(NAME + "-1.0.dist-info/RECORD", "")
    return wheel
'''


@pytest.mark.parametrize("speculate", [True, False], ids=["speculate", "install-on-2-cores"])
def test_wheel_builds_whose_requirements_are_known_run_two_at_once(tmp_path, speculate):
    # A command that built two sdists' metadata knows what their backends need; their wheel
    # builds then have no get_requires_for_build_wheel to run beside, and one runs beside the
    # other instead of after it (each is one interpreter: two cores, not one) -- also for an
    # install that runs no hook twice on speculation.
    meet = tmp_path / "started"
    meet.mkdir()
    sdists = []
    for name, other in (("meet_a", "meet_b"), ("meet_b", "meet_a")):
        sdists.append(_tar(tmp_path / f"{name}-1.0.tar.gz", {
            f"{name}-1.0/pyproject.toml": _PYPROJECT,
            f"{name}-1.0/be.py": _MEET_BACKEND.format(meet=str(meet), name=name, other=other),
        }))  # fmt: skip
    envs = BuildEnvs(Cache(tmp_path / "cache"))
    for sdist in sdists:  # the metadata first, one after the other, as a resolve asks
        prepare_metadata(sdist, envs=envs)
    with ThreadPoolExecutor(2) as pool:
        wheels = list(pool.map(lambda p: build_wheel(p, tmp_path / "out", envs=envs,
                                                     speculate=speculate), sdists))
    for wheel, name in zip(wheels, ("meet_a", "meet_b"), strict=True):
        with zipfile.ZipFile(wheel) as zf:
            assert "Summary: met" in zf.read(f"{name}-1.0.dist-info/METADATA").decode()


# Every hook grows to 150 MB resident (a setup.py that compiles as it is imported) and counts
# its starts and ends in a log; the first metadata hook then stays (half a minute at most).
_HEAVY_BACKEND = '''
import os, time
LOG = {log!r}
def _grow(hook):
    with open(LOG, "a") as fh:
        fh.write("start " + hook + "\\n")
    ballast = b"x" * (150 * 1024 * 1024)
    with open(LOG) as fh:
        first = fh.read().count("start " + hook) == 1
    if first and hook == "metadata":  # the early run: held until ended (at most 30 s)
        time.sleep(30)
    with open(LOG, "a") as fh:
        fh.write("end " + hook + "\\n")
    return len(ballast)
def get_requires_for_build_wheel(config_settings=None):
    _grow("requires")
    return []
def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _grow("metadata")
    d = os.path.join(metadata_directory, "heavy-1.0.dist-info")
    os.makedirs(d)
    with open(os.path.join(d, "METADATA"), "w") as fh:
        fh.write("Metadata-Version: 2.1\\nName: heavy\\nVersion: 1.0\\n\\n")
    return "heavy-1.0.dist-info"
'''


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_large_early_hook_gives_way_and_runs_again_after(tmp_path):
    # the early metadata hook is ended once it passes 100 MB resident (so two large hooks are
    # never in memory together), and runs again after get_requires: the build still succeeds
    log = tmp_path / "hooks.log"
    sdist = _tar(tmp_path / "heavy-1.0.tar.gz", {
        "heavy-1.0/pyproject.toml": _PYPROJECT,
        "heavy-1.0/be.py": _HEAVY_BACKEND.format(log=str(log)),
    })  # fmt: skip
    data = prepare_metadata(sdist)
    assert b"Name: heavy" in data
    lines = log.read_text().splitlines()
    assert lines.count("start metadata") == 2 and lines.count("end metadata") == 1
    assert lines.count("start requires") == 1 and lines.count("end requires") == 1
