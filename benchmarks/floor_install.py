"""The floor of a warm install in Python: hard-link every file of the cached unpacked trees.

    python benchmarks/floor_install.py --cache DIR [--repeat N] [--threads 1,2,4] [--uv UV --pins F --uv-cache D --index-url URL]

An install from a warm cache, whatever else it does, must start an interpreter, read which files
each unpacked wheel has, make the directories and hard-link every file into the environment.
This script does only that, in a fresh child process (``python -S``, no ``site``), for every
tree in a constrain cache's ``unpacked-v1`` bucket (``--cache``; fill it with one ``constrain
install``; of two trees of one distribution, two builds of one sdist, the newer), into a new
directory on the cache's file system: no journal, no RECORD, no scripts, no checks of any kind.
So its time is a lower bound for ``constrain install --offline`` on the same trees (constrain's
own time includes its resolve, the checks and the journal).

A second floor, ``python + checks``, adds what constrain promises and uv does not do, and
nothing else: the interpreter starts with ``site`` and imports ``packaging`` (requirements,
tags, versions: any installer reading a requirements file imports them), every file of every
tree is checked against its manifest first (size, inode, mtime: the check by which an edit
through an installed hard link is never linked again), and each distribution gets its RECORD.
The distance from this floor to constrain is what its resolve, plan, journal and scripts cost.

With ``--threads`` it splits the trees among threads (``os.link`` and ``os.mkdir`` release the
GIL: the kernel work of two threads can overlap on two cores). With ``--uv`` and ``--pins`` it
runs ``uv pip install --offline -r PINS`` (``--uv-cache``, ``--index-url``) into a fresh venv between the floor's runs (uv's own
cache must be warm for those pins), so the two figures come from the same minutes.

It prints, per mode, the median wall time of the child processes, and the files and
directories made.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, os, sys, threading
cache, dest, nthreads, checks = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
if checks:  # what any installer reading requirements and wheel tags imports
    import packaging.requirements, packaging.tags, packaging.version  # noqa: F401
bucket = os.path.join(cache, "unpacked-v1")
# one tree per distribution: a cache can hold two builds of one sdist (a build is not
# reproducible byte for byte), and both would link the same files; the newest is kept
newest = {}
for a in os.listdir(bucket):
    for b in os.listdir(os.path.join(bucket, a)):
        tree = os.path.join(bucket, a, b)
        try:
            with open(os.path.join(tree, "manifest.json"), "rb") as fh:
                manifest = json.loads(fh.read())
            when = os.stat(os.path.join(tree, "manifest.json")).st_mtime_ns
        except (OSError, ValueError):
            continue
        key = manifest["dist_info"]
        if key not in newest or newest[key][0] < when:
            newest[key] = (when, tree, manifest)
# each manifest is read once, here: the floor's time holds one read of each, as an install's
trees = sorted(((tree, manifest) for _, tree, manifest in newest.values()),
               key=lambda pair: pair[0])
site = os.path.join(dest, "site-packages")
os.mkdir(site)
made = {site}
lock = threading.Lock()
counts = [0, 0]

def link(tree, manifest):
    files = manifest["files"]
    if checks:  # the cheap check that no file of the tree changed since it was unpacked
        for (scheme, rel, _d, size, _x), (ino, mtime) in zip(files, manifest["stat"]):
            st = os.stat(f"{tree}/{scheme}/{rel}")
            if st.st_size != size or st.st_ino != ino or st.st_mtime_ns != mtime:
                raise SystemExit(f"{tree}/{scheme}/{rel} changed")
    rows = []
    for scheme, rel, digest, size, _x in files:
        if scheme not in ("purelib", "platlib"):
            continue
        target = os.path.join(site, rel)
        parent = os.path.dirname(target)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            with lock:
                made.add(parent)
                counts[1] += 1
        os.link(os.path.join(tree, scheme, rel), target)
        rows.append(f"{rel},{digest},{size}\n")
        counts[0] += 1
    if checks:  # the distribution's RECORD
        record = os.path.join(site, manifest["dist_info"], "RECORD")
        with open(record + ".new", "w", encoding="utf-8") as fh:
            fh.write("".join(rows))
        os.replace(record + ".new", record)

def work(part):
    for tree, manifest in part:
        link(tree, manifest)

parts = [trees[i::nthreads] for i in range(nthreads)]
threads = [threading.Thread(target=work, args=(p,)) for p in parts[1:]]
for t in threads:
    t.start()
work(parts[0])
for t in threads:
    t.join()
print(len(trees), counts[0], counts[1])
"""


def _run_floor(cache: str, threads: int, scratch: str, checks: bool = False
               ) -> tuple[float, str]:
    dest = tempfile.mkdtemp(dir=scratch)
    start = time.perf_counter()
    # the bare floor runs without ``site``; with the checks it imports packaging, as an
    # installer must, so it starts as constrain does
    flags = [] if checks else ["-S"]
    out = subprocess.run([sys.executable, *flags, "-c", CHILD, cache, dest, str(threads),
                          "1" if checks else "0"],
                         check=True, capture_output=True, text=True).stdout
    took = time.perf_counter() - start
    shutil.rmtree(dest)
    return took, out.strip()


def _run_uv(uv: str, pins: str, scratch: str, extra: list[str]) -> float:
    venv = os.path.join(scratch, "uv-venv")
    if os.path.exists(venv):
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    start = time.perf_counter()
    subprocess.run([uv, "pip", "install", "--quiet", "--offline", "-r", pins, "--python",
                    os.path.join(venv, "bin", "python"), *extra], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", required=True, help="a constrain cache after an install")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", default="1,2", help="thread counts to try (comma list)")
    parser.add_argument("--uv", help="a uv binary, to time `uv pip install --offline` too")
    parser.add_argument("--pins", help="the pins file for uv")
    parser.add_argument("--uv-cache", help="uv's cache directory (warm for the pins)")
    parser.add_argument("--index-url", help="the index URL uv's cache was filled from")
    args = parser.parse_args()
    counts = [int(t) for t in args.threads.split(",")]
    # on the cache's file system: hard links cannot cross file systems
    scratch = tempfile.mkdtemp(prefix="floor-install-", dir=os.path.dirname(
        os.path.abspath(args.cache)))
    times: dict[str, list[float]] = {}
    made = ""
    try:
        for _ in range(args.repeat):
            for n in counts:
                took, made = _run_floor(args.cache, n, scratch)
                times.setdefault(f"python, {n} thread(s)", []).append(took)
            took, made = _run_floor(args.cache, 1, scratch, checks=True)
            times.setdefault("python + checks, 1 thread", []).append(took)
            if args.uv and args.pins:
                extra = [*(["--cache-dir", args.uv_cache] if args.uv_cache else []),
                         *(["--index-url", args.index_url] if args.index_url else [])]
                times.setdefault("uv pip install --offline", []).append(
                    _run_uv(args.uv, args.pins, scratch, extra))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    trees, files, dirs = made.split()
    print(f"{trees} trees, {files} files linked, {dirs} directories made per run")
    for mode, values in times.items():
        print(f"  {mode:<30} median {statistics.median(values):.3f} s  "
              f"({' '.join(f'{v:.3f}' for v in values)})")


if __name__ == "__main__":
    main()
