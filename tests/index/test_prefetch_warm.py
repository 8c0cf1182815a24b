"""Prefetching when the cache can answer: an online run whose pages are fresh reads no more
metadata than the same run offline (a read-ahead of metadata already at hand would only cost
CPU under the GIL and, for versions the resolve never takes, rewrite the facts snapshot)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.builders import PackageSpec


def _stats(argv: list[str], env: dict[str, str], stats) -> dict:
    r = subprocess.run([sys.executable, "-m", "constrain", *argv], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(stats.read_text())


def test_an_online_run_with_fresh_pages_reads_only_the_metadata_it_uses(index_server,
                                                                        tmp_path):
    # the read-ahead picks lib 3.0 (the highest); the resolve takes lib 1.0 (other: lib<2)
    server = index_server([
        PackageSpec("app", "1.0", requires_dist=["lib", "other"]),
        PackageSpec("other", "1.0", requires_dist=["lib<2"]),
        PackageSpec("lib", "1.0"), PackageSpec("lib", "2.0"), PackageSpec("lib", "3.0"),
    ])
    stats = tmp_path / "stats.json"
    env = {**os.environ, "CONSTRAIN_STATS_FILE": str(stats), "CONSTRAIN_NO_REMEMBER": "1"}
    argv = ["resolve", "app", "--index-url", server.index_url, "--python", "3.11",
            "--platform", "manylinux_2_28_x86_64", "--airflow-constraints", "off", "--quiet",
            "-o", str(tmp_path / "pins.txt"), "--cache-dir", str(tmp_path / "cache")]
    cold = _stats(argv, env, stats)  # fills the cache (the read-ahead included)
    assert cold["requests"] > 0
    offline = _stats([*argv, "--offline"], env, stats)
    assert "lib==1.0" in (tmp_path / "pins.txt").read_text()

    online = _stats(argv, env, stats)  # within the pages' freshness: nothing to ask
    assert online["requests"] == 0
    assert online["metadata_fetched"] == offline["metadata_fetched"] < cold["metadata_fetched"]
    assert "lib==1.0" in (tmp_path / "pins.txt").read_text()
