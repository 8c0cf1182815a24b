"""OSV ECOSYSTEM ranges read as the OSV schema says, for any versions: an ``introduced`` /
``fixed`` pair is the half-open interval, ``last_affected`` the closed one, and several ranges
of one entry are their union."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from constrain.review.osv import load_database

versions = st.builds(
    lambda parts, pre: ".".join(map(str, parts)) + pre,
    st.lists(st.integers(0, 12), min_size=1, max_size=3),
    st.sampled_from(["", "", "", "rc1", "a2", ".post1", ".dev0"]),
)


def entry_for(tmp_path_factory, events_per_range: list[list[dict]]):
    directory = tmp_path_factory.mktemp("osv")
    record = {"id": "PYSEC-0000-1", "modified": "2026-01-01T00:00:00Z", "affected": [{
        "package": {"ecosystem": "PyPI", "name": "pkg"},
        "ranges": [{"type": "ECOSYSTEM", "events": ev} for ev in events_per_range]}]}
    (directory / "r.json").write_text(json.dumps(record), encoding="utf-8")
    return load_database(directory)


@settings(max_examples=40)
@given(bounds=st.lists(versions, min_size=2, max_size=2, unique_by=Version), probe=versions,
       closed=st.booleans())
def test_one_range_is_the_interval_it_names(tmp_path_factory, bounds, probe, closed):
    low, high = sorted(bounds, key=Version)
    kind = "last_affected" if closed else "fixed"
    db = entry_for(tmp_path_factory, [[{kind: high}, {"introduced": low}]])  # any order
    v, lo, hi = Version(probe), Version(low), Version(high)
    expected = lo <= v and (v <= hi if closed else v < hi)
    assert bool(db.lookup("PKG", probe)) == expected


@settings(max_examples=40)
@given(points=st.lists(versions, min_size=4, max_size=4, unique_by=Version), probe=versions)
def test_two_ranges_are_their_union(tmp_path_factory, points, probe):
    a, b, c, d = sorted(points, key=Version)
    db = entry_for(tmp_path_factory, [[{"introduced": a}, {"fixed": b}],
                                      [{"introduced": c}, {"fixed": d}]])
    v = Version(probe)
    expected = Version(a) <= v < Version(b) or Version(c) <= v < Version(d)
    hits = db.lookup("pkg", probe)
    assert bool(hits) == expected
    if hits:  # the entry lists every fix; audit offers only those above the pin
        assert set(hits[0].fixed) == {str(Version(b)), str(Version(d))}


def test_a_range_with_a_version_packaging_cannot_read_is_set_aside(tmp_path_factory):
    db = entry_for(tmp_path_factory, [[{"introduced": "0"}, {"fixed": "1.0 final"}],
                                      [{"introduced": "2.0"}, {"fixed": "2.1"}]])
    assert db.lookup("pkg", "0.5") == []  # the unreadable range is not used...
    assert [a.fixed for a in db.lookup("pkg", "2.0.1")] == [("2.1",)]  # ...the other is
    assert db.unreadable == 1
