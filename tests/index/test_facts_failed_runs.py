"""The facts snapshot across runs that fail or are interrupted (index/facts.py): such a run never
leaves the next one less than it had at hand."""

from __future__ import annotations

import pytest

from constrain.cache.store import Cache
from constrain.cli import main as cli_main
from constrain.index.facts import load_snapshot
from tests.support.builders import PackageSpec

SPECS = [
    PackageSpec("foo", "1.0", requires_dist=["bar"]),
    PackageSpec("bar", "2.0"),
    *(PackageSpec("qux", f"1.{n}") for n in range(12)),  # most of the snapshot's cost
    PackageSpec("zed", "1.0"),
]


def _held(cache: Cache) -> dict[str, int]:
    """The projects of the only snapshot in ``cache``, with the number of files lists (one per
    version looked at) each holds."""
    keys = [p.name for p in cache.root.glob("facts-v*/*/*") if not p.name.endswith(".meta")]
    assert len(keys) == 1
    found = load_snapshot(cache.get("facts", keys[0]) or b"")
    assert found is not None
    return {name: len(record.files) for name, record in found[0].items()}


@pytest.mark.parametrize("failing", ["twice, nothing new read", "once, a listing read anew"])
def test_a_failed_resolve_leaves_the_snapshot_whole(make_index, tmp_path, capsys, monkeypatch,
                                                    failing):
    """A resolve that fails (here: no version fits) reads only a part of what the snapshot
    holds. Once the snapshot was trimmed to that part (after two such runs, or at once when
    the run read a listing the snapshot lacked), so the next good run read the rest from the
    cache's entries again; it is left whole, with what the failed run read added."""
    monkeypatch.setenv("CONSTRAIN_NO_REMEMBER", "1")  # every run resolves
    index = make_index(SPECS)
    cache = Cache(tmp_path / "cache")
    common = ["--python", "3.11", "--index-url", index.index_url, "--cache-dir", str(cache.root),
              "--airflow-constraints", "off", "-o", str(tmp_path / "out.txt")]
    assert cli_main(["resolve", "foo", "qux", "zed", *common]) == 0  # fetched
    for _ in range(2):  # the snapshot written, then read
        assert cli_main(["resolve", "foo", "qux", "zed", *common, "--offline"]) == 0
    whole = _held(cache)
    assert set(whole) == {"foo", "bar", "qux", "zed"} and whole["qux"] >= 10
    if failing == "twice, nothing new read":
        failed = ["resolve", "foo", "bar>=9", *common, "--offline"]
        runs = 2
    else:  # a project new to the index: its page and metadata fetched
        index.add([PackageSpec("new", "1.0")])
        failed = ["resolve", "foo", "new", "bar>=9", *common]
        runs = 1
    for _ in range(runs):
        assert cli_main(failed) != 0
    capsys.readouterr()
    held = _held(cache)
    assert all(held.get(name, 0) >= count for name, count in whole.items()), (held, whole)
    if failing != "twice, nothing new read":
        assert "new" in held
    assert cli_main(["resolve", "foo", "qux", "zed", *common, "--offline"]) == 0
    held = _held(cache)
    assert all(held.get(name, 0) >= count for name, count in whole.items()), (held, whole)
