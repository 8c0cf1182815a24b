"""``constrain cache info`` and ``constrain cache prune`` on a cache filled by real commands
against a local index (resolve, install into a real venv), aged with ``os.utime``."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from constrain.cache.store import BUCKETS
from constrain.cli import main
from tests.support.builders import PackageSpec

LISTINGS = f"listings-v{BUCKETS['listings']}"

DAY = 86400.0
SPECS = [
    PackageSpec("alpha", "1.0", requires_dist=["beta>=1"],
                wheel_options={"files": {"alpha/__init__.py": "A = 1\n"}}),
    PackageSpec("beta", "1.0", wheel_options={"files": {"beta/__init__.py": "B = 1\n",
                                                        "beta/big.py": "#" * 200_000}}),
]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def info(capsys, cache: Path) -> dict:
    code, out, _ = cli(capsys, "cache", "info", "--cache-dir", str(cache), "--json")
    assert code == 0
    return json.loads(out)


def age(paths, days: float) -> None:
    """Last used ``days`` ago: access and modification times of every file set back."""
    when = time.time() - days * DAY
    for top in paths:
        for p in [top, *top.rglob("*")] if top.is_dir() else [top]:
            os.utime(p, (when, when), follow_symlinks=False)


def files_of(cache: Path) -> set[str]:
    return {str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()}


@pytest.fixture
def filled(make_index, tmp_path, capsys):
    """A cache filled by a resolve and an install (pages, listings, metadata, a remembered
    resolution, downloaded wheels, unpacked trees), and the command that refills it."""
    server = make_index(SPECS, pep658=True)
    cache = tmp_path / "cache"
    venv = tmp_path / "V"
    resolve = ["resolve", "alpha", "--index-url", server.index_url, "--cache-dir", str(cache)]
    install = ["install", "alpha", "--index-url", server.index_url, "--cache-dir", str(cache),
               "--venv", str(venv)]
    assert cli(capsys, *resolve)[0] == 0
    code, _, err = cli(capsys, *install)
    assert code == 0, err
    return cache, resolve, install, venv


def test_info_lists_every_kind_a_real_run_fills(filled, capsys):
    cache, *_ = filled
    (cache / "metadata-v1" / "ab").mkdir(parents=True)  # a bucket of an older format
    (cache / "metadata-v1" / "ab" / "abc").write_bytes(b"x" * 5000)
    report = info(capsys, cache)
    kinds = report["kinds"]
    assert report["location"] == str(cache) and report["exists"] is True
    for kind in ("pages", "metadata", "files", "unpacked", "memos"):
        assert kinds[kind]["entries"] >= 1, kind
    trees = list((cache / "unpacked-v1").glob("*/*"))  # alpha, beta, and the venv's pip
    assert kinds["files"]["entries"] == 2 and kinds["unpacked"]["entries"] == len(trees) >= 2
    assert kinds["old formats"]["entries"] == 1
    assert report["size"] == sum(k["size"] for k in kinds.values())
    # what du counts: every file's blocks, once per inode (the unpacked files are linked
    # into the venv too)
    seen, blocks = set(), 0
    for p in cache.rglob("*"):
        st = p.lstat()
        if p.is_file() and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            blocks += st.st_blocks * 512
    assert report["size"] == blocks

    code, out, _ = cli(capsys, "cache", "info", "--cache-dir", str(cache))
    assert code == 0 and out.startswith(f"cache: {cache}\n")
    assert any(line.split()[:2] == ["unpacked", str(len(trees))] for line in out.splitlines())
    # one entry of an older format: the count reads as English
    assert any(line.split()[:4] == ["old", "formats", "1", "entry"] for line in out.splitlines())
    code, out, _ = cli(capsys, "cache", "info", "--cache-dir", str(cache / "none"))
    assert code == 0 and "(does not exist yet)" in out


def test_prune_older_than_removes_what_was_not_used_and_the_rerun_refills_it(filled, capsys):
    cache, resolve, install, venv = filled
    unpacked = sorted((cache / "unpacked-v1").glob("*/*"))
    pages = sorted((cache / "pages-v1").glob("*/*")) + sorted((cache / LISTINGS).glob("*/*"))
    age(unpacked, 40)
    age(pages, 40)
    before = files_of(cache)

    code, out, _ = cli(capsys, "cache", "prune", "--older-than", "30d", "--dry-run",
                       "--cache-dir", str(cache))
    assert code == 0 and out.startswith("would remove ")
    assert files_of(cache) == before  # a dry run removes nothing

    code, out, _ = cli(capsys, "cache", "prune", "--older-than", "30d", "--cache-dir", str(cache))
    assert code == 0, out
    assert f"unpacked {len(unpacked)} " in out and "pages " in out
    assert not any((cache / "unpacked-v1").glob("*/*"))
    assert not any((cache / LISTINGS).glob("*/*"))
    assert info(capsys, cache)["kinds"]["files"]["entries"] == 2  # used today: kept
    # nothing half-removed: no sidecar without its body, no trash left
    left = files_of(cache)
    assert all(f[: -len(".meta")] in left for f in left if f.endswith(".meta"))
    assert not [f for f in left if ".trash-" in f]

    # the venv does not depend on the cache's trees; a rerun fetches and unpacks again
    assert subprocess.run([str(venv / "bin/python"), "-c", "import beta.big"],
                          check=False).returncode == 0
    assert cli(capsys, *resolve)[0] == 0
    code, _, err = cli(capsys, *install)
    assert code == 0, err


def test_prune_max_size_removes_least_recently_used_first_and_keeps_recent(filled, capsys):
    cache, resolve, *_ = filled
    trees = sorted((cache / "unpacked-v1").glob("*/*"))
    files = sorted((cache / "files-v1").glob("*/*"))
    everything = [p for p in cache.iterdir() if p.name != "locks"]
    age(everything, 10)
    age(files, 20)  # the downloaded wheels are the least recently used
    total = info(capsys, cache)["size"]
    files_size = info(capsys, cache)["kinds"]["files"]["size"]

    code, out, _ = cli(capsys, "cache", "prune", "--max-size", str(total - files_size // 2),
                       "--cache-dir", str(cache))
    assert code == 0
    assert out.startswith(("removed 1 entry,", "removed 2 entries,")), out
    assert "files " in out and "unpacked" not in out
    assert len(list((cache / "files-v1").glob("*/*"))) < 2
    assert all(t.is_dir() for t in trees)

    # used within the last day: kept whatever the size asked
    age(everything, 0)
    code, out, _ = cli(capsys, "cache", "prune", "--max-size", "0", "--cache-dir", str(cache))
    assert code == 0 and out.startswith("removed 0 entries")
    assert "kept " in out and "still above --max-size 0" in out
    assert cli(capsys, *resolve, "--offline")[0] == 0


def test_prune_skips_an_entry_a_running_constrain_is_writing_and_old_formats_go(filled, capsys):
    cache, *_ = filled
    tree = min((cache / "unpacked-v1").glob("*/*"))
    old = cache / "build-envs-v1" / "envs" / "x"
    old.mkdir(parents=True)
    (old / "f").write_text("old")
    (cache / "stranger.txt").write_text("not ours")
    shard = next((cache / LISTINGS).iterdir())
    (shard / ".tmp-abc123").write_bytes(b"half a page")  # a killed writer's temporary
    killed = cache / ".tmp-workers-abc"  # a killed install's unpacking scratch (was "other")
    (killed / "tree").mkdir(parents=True)
    (killed / "tree" / "half.py").write_text("x = ")
    age([p for p in cache.iterdir() if p.name != "locks"], 3)
    running = cache / ".tmp-workers-def"  # a running install's: in use now
    running.mkdir()
    (running / "tree.py").write_text("x = 1")
    lock = cache / "locks" / f"unpack-{tree.name[:40]}.lock"
    with open(lock, "a+b") as fh:  # what Cache.lock holds while unpacking that wheel
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        code, out, _ = cli(capsys, "cache", "prune", "--older-than", "1d",
                           "--cache-dir", str(cache))
    assert code == 0
    assert "skipped 1 entry a running constrain is writing or began to use" in out
    assert tree.is_dir() and (tree / "manifest.json").is_file()
    assert not (cache / "build-envs-v1").exists()
    assert (cache / "stranger.txt").is_file() and lock.is_file()
    assert not (shard / ".tmp-abc123").exists()
    assert not killed.exists() and running.is_dir()


def test_an_entry_a_run_reads_after_the_scan_stays(filled):
    from constrain.cache.prune import plan, remove
    from constrain.cache.usage import scan

    cache, *_ = filled
    age([p for p in cache.iterdir() if p.name != "locks"], 3)
    chosen = plan(scan(cache), older_than=DAY)
    tree = next(e for e in chosen.remove if e.kind == "unpacked").paths[-1]
    (tree / "manifest.json").read_bytes()  # what an install does first with a cached tree
    if time.time() - (tree / "manifest.json").stat().st_atime > DAY:
        pytest.skip("this file system does not record reads (noatime)")
    outcome = remove(cache, chosen.remove)
    assert [e.paths[-1] for e in outcome.busy] == [tree] and tree.is_dir()
    assert len(outcome.removed) == len(chosen.remove) - 1


def test_every_directory_constrain_writes_has_a_kind():
    from constrain.build.envs import ENVS_DIR
    from constrain.build.log import LOGS_DIR
    from constrain.cache.store import BUCKETS
    from constrain.cache.usage import BUILD_ENVS, BUILD_LOGS, KINDS

    assert (BUILD_ENVS, BUILD_LOGS) == (ENVS_DIR, LOGS_DIR)
    named = {d for dirs in KINDS.values() for d in dirs}
    assert set(BUCKETS) | {ENVS_DIR, LOGS_DIR} <= named


def test_prune_options_are_checked(tmp_path, capsys):
    code, _, err = cli(capsys, "cache", "prune", "--cache-dir", str(tmp_path))
    assert code == 2 and "--older-than AGE, --max-size SIZE" in err
    code, _, err = cli(capsys, "cache", "prune", "--older-than", "soon", "--cache-dir",
                       str(tmp_path))
    assert code == 2 and "'soon' is not an age" in err and "30d" in err
    # a bare number was seconds: "--older-than 30" emptied all but the last half minute
    code, _, err = cli(capsys, "cache", "prune", "--older-than", "30", "--cache-dir",
                       str(tmp_path))
    assert code == 2 and "--older-than 30 has no unit" in err and "30d for days" in err
    code, _, err = cli(capsys, "cache", "prune", "--max-size", "2X", "--cache-dir",
                       str(tmp_path))
    assert code == 2 and "not a size" in err
    code, _, err = cli(capsys, "cache")
    assert code == 2 and "cache info" in err
    proc = subprocess.run([sys.executable, "-m", "constrain", "cache", "prune", "--older-than",
                           "30d", "--cache-dir", str(tmp_path / "empty")],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("removed 0 entries, 0 B")


def test_a_prune_killed_anywhere_leaves_only_whole_entries(tmp_path):
    """SIGKILL at different moments of a prune of 400 entries: after each, every entry still
    under its name is whole (a page with its body, a tree with all its files), and the next
    prune finishes the job, leaving no trash."""
    from constrain.cache import Cache

    cache = Cache(tmp_path / "cache")
    for i in range(200):
        cache.put("pages", f"{i:040d}", b"page %d" % i, {"etag": f"e{i}", "fetched": 0})
        tree = cache.path("unpacked", f"{i:064x}-l2")
        (tree / "purelib" / "pkg").mkdir(parents=True)
        for n in range(20):
            (tree / "purelib" / "pkg" / f"m{n}.py").write_text("x = 1\n" * 50)
        (tree / "manifest.json").write_text("{}")
    age([p for p in cache.root.iterdir()], 40)

    def whole() -> None:
        for shard in (cache.root / "pages-v1").iterdir():
            names = {p.name for p in shard.iterdir()}
            assert all(n[: -len(".meta")] in names for n in names if n.endswith(".meta"))
        for tree in (cache.root / "unpacked-v1").glob("*/*"):
            if not tree.name.startswith("."):
                assert (tree / "manifest.json").is_file()
                assert len(list((tree / "purelib" / "pkg").iterdir())) == 20

    cmd = [sys.executable, "-m", "constrain", "cache", "prune", "--older-than", "30d",
           "--cache-dir", str(cache.root)]
    for round_ in range(8):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3 + round_ * 0.1)  # somewhere in the prune, or after it
        proc.kill()
        proc.wait(timeout=60)
        whole()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert not list((cache.root / "unpacked-v1").glob("*/*"))
    assert not [p for p in cache.root.rglob("*") if p.name.startswith((".trash-", ".gone-"))]


def test_a_build_environment_unused_for_long_goes_though_a_scan_reads_its_pointer(
        tmp_path, capsys):
    # Before: every scan (cache info, a dry run, the prune itself) read the pins pointer
    # first, which set its access time to now: build environments never looked unused.
    cache = tmp_path / "cache"
    root = cache / "build-envs-v3"
    env = root / "envs" / "env-old"
    (env / "lib").mkdir(parents=True)
    (env / "lib" / "backend.py").write_text("x = 1\n" * 1000)
    (env / ".ready").write_text("")
    (root / "pins").mkdir()
    (root / "pins" / ("ab" * 32)).write_text("env-old\n")
    age([root], 40)
    assert cli(capsys, "cache", "info", "--cache-dir", str(cache))[0] == 0
    code, out, _ = cli(capsys, "cache", "prune", "--older-than", "30d", "--dry-run",
                       "--cache-dir", str(cache))
    assert code == 0 and "build envs 1 " in out, out
    code, out, _ = cli(capsys, "cache", "prune", "--older-than", "30d", "--cache-dir", str(cache))
    assert code == 0 and "build envs 1 " in out, out
    assert not env.exists() and not any((root / "pins").iterdir())


def test_two_prunes_of_the_same_entries_count_each_entry_once(filled):
    # Before: prunes running at once each counted every entry they chose, also those the
    # other removed first: 430 MiB "removed" from a 314 MiB cache.
    from constrain.cache.prune import plan, remove
    from constrain.cache.usage import scan

    cache, *_ = filled
    age([p for p in cache.iterdir() if p.name != "locks"], 3)
    chosen = plan(scan(cache), older_than=DAY).remove
    assert chosen
    first, second = remove(cache, chosen), remove(cache, chosen)  # both chose the same
    assert len(first.removed) == len(chosen) and not second.removed and not second.busy
