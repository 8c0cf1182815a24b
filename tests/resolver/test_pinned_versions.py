"""An exact pin's versions found by binary search are the ones a scan of every release finds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from constrain.policies.filters import VersionFiles
from constrain.resolver.matches import public, with_public_version

# spellings that sort next to each other or compare equal: a local label, trailing zeros,
# pre, post and dev releases, an epoch
_PARTS = st.tuples(
    st.integers(0, 1), st.integers(0, 3), st.integers(0, 2),
    st.sampled_from(["", ".0", "a1", "b2", "rc1", ".post1", ".dev0", ".post1.dev2"]),
    st.sampled_from(["", "+cpu", "+cu118", "+1.local"]),
)


def _version(parts: tuple[int, int, int, str, str]) -> Version:
    epoch, major, minor, suffix, local = parts
    return Version(f"{'1!' if epoch else ''}{major}.{minor}{suffix}{local}")


@given(st.lists(_PARTS, max_size=40), _PARTS)
def test_the_pinned_versions_are_those_of_a_scan(releases, pinned) -> None:
    # a listing: one entry per distinct version, highest first (as group_versions makes it)
    versions = [VersionFiles(v, ()) for v in sorted({_version(p) for p in releases},
                                                       reverse=True)]
    pin = public(_version(pinned))
    scanned = tuple(vf for vf in versions if public(vf.version) == pin)
    assert with_public_version(versions, pin) == scanned
    for vf in versions:  # every pin the listing has finds its own versions
        p = public(vf.version)
        assert with_public_version(versions, p) == tuple(
            x for x in versions if public(x.version) == p)
