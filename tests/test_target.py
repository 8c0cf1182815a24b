"""Targets: Python and platform options become tags, markers and requires-python answers."""

from __future__ import annotations

import pytest
from packaging.tags import Tag

from constrain.errors import UsageError
from constrain.target import TargetEnvironment, expand_platform


@pytest.mark.parametrize(
    ("spec", "fits"),
    [
        (">=3.8,!=3.9.0,!=3.9.1", True),  # supports 3.8 onwards: fits "3.9" (as in uv)
        (">=3.9,!=3.9.0,!=3.9.1", False),  # starts after 3.9.1: not for all of "3.9"
        ("<3.9", False),  # no 3.9 at all
        (">=3.9.2", False),
        ("==3.9.*", True),
        ("!=3.9.*,>=3.8", False),
        (">=3.10", False),
        ("not a specifier", True),  # an index's typo must not hide a release
    ],
)
def test_python_without_patch_reads_requires_python_as_uv(spec: str, fits: bool) -> None:
    assert TargetEnvironment.from_options("3.9", ["manylinux_2_28_x86_64"]).python_matches(spec) is fits


def test_python_with_patch_is_exact() -> None:
    target = TargetEnvironment.from_options("3.9.1", ["manylinux_2_28_x86_64"])
    assert not target.python_matches(">=3.8,!=3.9.0,!=3.9.1")
    assert TargetEnvironment.from_options("3.9.2", ["win_amd64"]).python_matches(">=3.9.2")


def test_manylinux_tag_accepts_older_glibc_and_legacy_aliases() -> None:
    tags = expand_platform("manylinux_2_28_aarch64")
    assert tags[0] == "manylinux_2_28_aarch64"
    assert "manylinux_2_17_aarch64" in tags and "manylinux2014_aarch64" in tags
    assert "manylinux_2_29_aarch64" not in tags
    assert expand_platform("manylinux2014_x86_64")[0] == "manylinux_2_17_x86_64"
    assert "manylinux1_x86_64" in expand_platform("manylinux2014_x86_64")


def test_markers_and_tags_follow_the_target_not_the_host() -> None:
    mac = TargetEnvironment.from_options("3.7", ["macosx_11_0_arm64"])
    assert mac.markers["sys_platform"] == "darwin" and mac.markers["python_version"] == "3.7"
    assert Tag("cp37", "cp37m", "macosx_11_0_arm64") in mac.tags
    win = TargetEnvironment.from_options("3.12", ["win_amd64"])
    assert win.markers["platform_machine"] == "AMD64" and win.markers["os_name"] == "nt"
    assert Tag("cp312", "abi3", "win_amd64") in win.tags
    assert not win.host and "3.12" in win.describe()


def test_bad_python_and_platform_are_usage_errors() -> None:
    with pytest.raises(UsageError) as info:
        TargetEnvironment.from_options("python three")
    assert info.value.hint
    with pytest.raises(UsageError):
        TargetEnvironment.from_options("3.11", ["solaris_sparc"])


@pytest.mark.parametrize(
    ("given", "suggested"),
    [
        ("linux_x86_64_typo", "linux_x86_64"),  # resolved as if it were a platform, before
        ("manylinux_x86_64", "manylinux2014_x86_64"),  # blamed a package, before
        ("manylinux_2_28_amd64", "manylinux_2_28_x86_64"),
        ("win_x86_64", "win_amd64"),
        ("macosx_11_arm64", "macosx_11_0_arm64"),
    ],
)
def test_misspelt_platform_is_refused_with_the_nearest_spelling(given: str, suggested: str) -> None:
    with pytest.raises(UsageError) as info:
        TargetEnvironment.from_options("3.11", [given])
    assert given in info.value.message
    assert info.value.hint.startswith(f"did you mean {suggested}")


@pytest.mark.parametrize(
    "tag",
    ["manylinux_2_28_x86_64", "manylinux2014-aarch64", "manylinux1_i686", "musllinux_1_2_armv7l",
     "linux_s390x", "macosx_10_9_universal2", "macosx_14_0_arm64", "win32", "win_arm64"],
)
def test_every_platform_family_is_accepted(tag: str) -> None:
    target = TargetEnvironment.from_options("3.11", [tag])
    assert tag.replace("-", "_") in target.platform_tags


def test_platform_far_from_any_family_lists_the_families_and_any_is_not_a_platform() -> None:
    with pytest.raises(UsageError) as info:
        TargetEnvironment.from_options("3.11", ["solaris_sparc"])
    assert "did you mean" not in info.value.hint and "manylinux_X_Y_ARCH" in info.value.hint
    with pytest.raises(UsageError) as info:
        TargetEnvironment.from_options("3.11", ["any"])
    assert "names no platform" in info.value.message
