"""The pylock.toml format: valid PEP 751, one target, no credentials."""

from __future__ import annotations

import dataclasses
import tomllib

import pytest
from packaging.pylock import Pylock

from constrain.errors import OutputError
from constrain.output import render
from constrain.target import TargetEnvironment

from .conftest import fake_file, make_pin


def load(text: str) -> tuple[dict, Pylock]:
    data = tomllib.loads(text)
    return data, Pylock.from_dict(data)


def test_lock_is_valid_pep751_with_every_pin(synthetic_set):
    data, lock = load(render(synthetic_set, "pylock"))
    assert data["lock-version"] == "1.0"
    assert data["created-by"] == "constrain"
    assert data["requires-python"] == "==3.11.*"
    assert [(p.name, str(p.version)) for p in lock.packages] == [
        ("apache-airflow", "2.10.5"), ("greenlet", "3.0.3"), ("sqlalchemy", "1.4.52")]


def test_files_hashes_sizes_and_upload_times_are_recorded(synthetic_set):
    _data, lock = load(render(synthetic_set, "pylock"))
    sqla = next(p for p in lock.packages if p.name == "sqlalchemy")
    pin = synthetic_set.pin("sqlalchemy")
    wheel = next(f for f in pin.files if f.is_wheel)
    sdist = next(f for f in pin.files if not f.is_wheel)
    assert [w.name for w in sqla.wheels] == [wheel.filename]
    assert dict(sqla.wheels[0].hashes) == {"sha256": wheel.sha256}
    assert sqla.wheels[0].size == 1234
    assert sqla.wheels[0].upload_time == wheel.upload_time
    assert sqla.sdist.name == sdist.filename
    assert dict(sqla.sdist.hashes) == {"sha256": sdist.sha256}
    airflow = next(p for p in lock.packages if p.name == "apache-airflow")
    assert str(airflow.requires_python) == ">=3.9"


def test_no_credentials_or_fragments_in_urls(synthetic_set):
    text = render(synthetic_set, "pylock")
    assert "s3cr3t" not in text and "deploy@" not in text and "#sha256" not in text
    _data, lock = load(text)
    for package in lock.packages:
        assert package.index == "https://pkgs.internal.test/simple/"
        for wheel in package.wheels:
            assert wheel.url.startswith("https://pkgs.internal.test/files/")


def test_environments_select_the_target_and_refuse_others(synthetic_set):
    _data, lock = load(render(synthetic_set, "pylock"))
    [marker] = lock.environments
    target_env = synthetic_set.target.markers
    assert marker.evaluate(target_env)
    for other in ("win_amd64", "macosx_11_0_arm64", "manylinux_2_28_aarch64"):
        env = TargetEnvironment(python_version=(3, 11, 0), platforms=(other,)).markers
        assert not marker.evaluate(env), other
    py312 = TargetEnvironment(python_version=(3, 12, 0), platforms=("manylinux_2_28_x86_64",))
    assert not marker.evaluate(py312.markers)


def test_one_environment_per_target_platform(synthetic_set):
    two = TargetEnvironment(
        python_version=(3, 11, 0), platforms=("manylinux_2_28_x86_64", "manylinux_2_28_aarch64")
    )
    _data, lock = load(render(dataclasses.replace(synthetic_set, target=two), "pylock"))
    assert len(lock.environments) == 2
    for platform in two.platforms:
        env = TargetEnvironment(python_version=(3, 11, 0), platforms=(platform,)).markers
        assert sum(m.evaluate(env) for m in lock.environments) == 1, platform
    windows = TargetEnvironment(python_version=(3, 11, 0), platforms=("win_amd64",)).markers
    assert not any(m.evaluate(windows) for m in lock.environments)


def test_find_links_files_have_no_index(real_set):
    _data, lock = load(render(real_set, "pylock"))
    assert all(p.index is None for p in lock.packages)
    assert all(w.url.startswith("file://") for p in lock.packages for w in p.wheels)


def test_unhashed_files_are_left_out_and_a_pin_with_none_is_an_error(synthetic_set):
    mixed = make_pin("mixed", "1.0", [fake_file("mixed", "1.0", sha256=""),
                                      fake_file("mixed", "1.0", sdist=True)])
    _data, lock = load(render(dataclasses.replace(synthetic_set, pins=(mixed,)), "pylock"))
    assert lock.packages[0].wheels is None and lock.packages[0].sdist is not None

    bare = make_pin("bare", "1.0", [fake_file("bare", "1.0", sha256="")])
    with pytest.raises(OutputError) as info:
        render(dataclasses.replace(synthetic_set, pins=(bare,)), "pylock")
    assert "bare==1.0" in info.value.message and info.value.hint


def test_header_is_toml_comments(synthetic_set):
    text = render(synthetic_set, "pylock", notes=["hello"])
    head = text.split("lock-version")[0]
    assert "# Note: hello" in head
    assert all(not ln or ln.startswith("#") for ln in head.splitlines())
