"""The on-disk cache (cache/store.py): atomic entries, sidecars published after their bodies,
owner-only files, misses on damage, and ``~`` in its location."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from constrain.cache import Cache, default_cache_dir
from constrain.errors import CacheError

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import sys, time
from constrain.cache import Cache
cache = Cache(sys.argv[1])
n = 0
while True:
    n += 1
    body = (f"page {n} " * 2000).encode()  # a body and its own validator, in step
    cache.put("pages", "k" * 40, body, {"etag": f"e{n}", "fetched": n})
    if n == 1:
        print("ready", flush=True)
    time.sleep(0.0005)  # other work between writes, as in a real run
"""


def test_a_kill_never_pairs_a_sidecar_with_another_body(tmp_path):
    # Before: the sidecar (validators) was renamed into place before the body; a kill
    # between the two left the new ETag beside the old page, and every revalidation (304)
    # kept the stale page for good.
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    cache = Cache(tmp_path / "cache")
    checked = 0
    for round_ in range(40):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(cache.root)],
                                stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.05 + (round_ % 7) * 0.013)  # somewhere in the write loop
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        body, meta = cache.get("pages", "k" * 40), cache.get_meta("pages", "k" * 40)
        if body is not None and meta is not None:
            n = int(body.split()[1])
            assert meta["etag"] == f"e{n}", (round_, meta, n)
            checked += 1
    assert checked > 0, "no kill landed outside a write"


def test_put_then_get_and_meta(tmp_path):
    cache = Cache(tmp_path)
    path = cache.put("pages", "ab" + "c" * 38, b"body", {"etag": '"x"'})
    assert path == tmp_path / "pages-v1" / "ab" / ("ab" + "c" * 38)
    assert cache.get("pages", "ab" + "c" * 38) == b"body"
    assert cache.get_meta("pages", "ab" + "c" * 38) == {"etag": '"x"'}
    cache.touch_meta("pages", "ab" + "c" * 38, {"etag": '"y"', "fetched": time.time()})
    assert cache.get_meta("pages", "ab" + "c" * 38)["etag"] == '"y"'
    assert 0 <= cache.age("pages", "ab" + "c" * 38) < 3600


def test_a_new_body_without_meta_keeps_no_stale_sidecar_when_meta_is_given(tmp_path):
    cache = Cache(tmp_path)
    cache.put("pages", "k1", b"old", {"etag": "old"})
    cache.put("pages", "k1", b"new", {"etag": "new"})
    assert (cache.get("pages", "k1"), cache.get_meta("pages", "k1")) == (b"new", {"etag": "new"})


def test_missing_and_damaged_entries_are_misses(tmp_path):
    cache = Cache(tmp_path)
    assert cache.get("pages", "nothing") is None and cache.get_meta("pages", "nothing") is None
    cache.put("pages", "k2", b"x", {"etag": "e"})
    cache.path("pages", "k2").with_name("k2.meta").write_text("{not json")
    assert cache.get_meta("pages", "k2") is None and cache.age("pages", "k2") is None


def test_keys_that_could_leave_the_bucket_are_refused(tmp_path):
    cache = Cache(tmp_path)
    for key in ("", "../x", ".hidden", "a/b"):
        with pytest.raises(ValueError):
            cache.path("pages", key)


def test_entries_are_readable_by_their_owner_only(tmp_path):
    cache = Cache(tmp_path)
    cache.put("pages", "k3", b"a page of an authenticated index", {"url": "http://h/simple/"})
    with cache.writer("files", "k4") as (tmp, _final):
        tmp.write_bytes(b"wheel")
    for path in (cache.path("pages", "k3"), cache.path("pages", "k3").with_name("k3.meta"),
                 cache.path("files", "k4")):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_a_failed_stream_write_leaves_nothing(tmp_path):
    cache = Cache(tmp_path)
    with pytest.raises(RuntimeError), cache.writer("files", "k5") as (tmp, _final):
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert cache.get("files", "k5") is None
    assert [p.name for p in cache.path("files", "k5").parent.iterdir()] == []


def test_an_unwritable_cache_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    cache = Cache(tmp_path / "file" / "cache")
    with pytest.raises(CacheError) as err:
        cache.put("pages", "k6", b"x", {"etag": "e"})
    assert "cannot write to the cache" in str(err.value)
    assert "--cache-dir" in (err.value.hint or "")


def test_the_cache_location_expands_a_tilde(tmp_path):
    env = {"CONSTRAIN_CACHE_DIR": "~/elsewhere", "HOME": str(tmp_path)}
    # os.path.expanduser reads HOME from the process environment
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(tmp_path)
    try:
        assert default_cache_dir(env) == tmp_path / "elsewhere"
    finally:
        if old is not None:
            os.environ["HOME"] = old


def test_entries_round_trip_json_sidecars(tmp_path):
    cache = Cache(tmp_path)
    meta = {"url": "http://h/simple/a/", "etag": None, "fetched": 1.5, "max_age": None}
    cache.put("listings", "k7", b"\x00\x01", meta)
    assert cache.get_meta("listings", "k7") == json.loads(json.dumps(meta))
