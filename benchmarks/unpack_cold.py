"""The unpacking side of a cold install alone: a cache's wheels into a fresh ``unpacked`` bucket.

    python benchmarks/unpack_cold.py --wheels CACHE/files-v1 --out SCRATCH \
        [--src A/src --src B/src] [--pairs 6] [--workers 2]

Every ``.whl`` under ``--wheels`` (a cache's ``files-v1``: ``<sha256>_<filename>``, verified
when it was stored) is unpacked into a new cache under ``--out`` through the path a cold install
takes: a pool of ``--workers`` unpacking processes (``processes.spawn_pool``, niced), each wheel
queued largest first with the identity its download would have handed on (so it is not hashed
again, as in an install). Each run is a fresh child process of the constrain found in its
``--src`` (default: this checkout's ``src``); with several ``--src`` the runs alternate, one of
each per pair. A line per run: wall, the workers' user and system CPU, files created; then the
medians. Use new ``--out`` directories (deleting big trees slows file creation for minutes on
this machine's file system) and compare CPU, not walls, on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import os, resource, sys, time
src, wheeldir, out, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, src)
from constrain.processes import spawn_pool
from constrain.install.unpack import background_worker, unpack_in_worker

wheels = []
for sub in sorted(os.listdir(wheeldir)):
    for name in sorted(os.listdir(os.path.join(wheeldir, sub))):
        if name.endswith(".whl") and "_" in name:
            path = os.path.join(wheeldir, sub, name)
            st = os.stat(path)
            sha, filename = name.split("_", 1)
            identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            wheels.append((st.st_size, path, sha, filename, identity))
os.makedirs(out)
start = time.perf_counter()
pool = spawn_pool(workers, background_worker)
futures = [pool.submit(unpack_in_worker, path, sha, out, filename, identity, priority=-size)
           for size, path, sha, filename, identity in wheels]
for future in futures:
    future.result()
pool.shutdown(wait=True)
wall = time.perf_counter() - start
used = resource.getrusage(resource.RUSAGE_CHILDREN)
files = sum(len(names) for _, _, names in os.walk(os.path.join(out, "unpacked-v1")))
print(len(wheels), f"{wall:.3f}", f"{used.ru_utime:.3f}", f"{used.ru_stime:.3f}", files)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheels", required=True, help="a cache's files-v1 directory")
    parser.add_argument("--out", required=True, help="a new scratch directory")
    parser.add_argument("--src", action="append", help="a constrain src directory (repeatable)")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sources = args.src or [str(HERE.parent / "src")]
    out = Path(args.out)
    results: dict[str, list[tuple[float, float, float]]] = {s: [] for s in sources}
    for n in range(args.pairs):
        for k, src in enumerate(sources):
            dest = out / f"run{n}-{k}"
            done = subprocess.run(
                [sys.executable, "-c", CHILD, src, args.wheels, str(dest), str(args.workers)],
                capture_output=True, text=True, check=True)
            wheels, wall, user, system, files = done.stdout.split()
            results[src].append((float(wall), float(user), float(system)))
            print(f"{src}: {wheels} wheels, wall {wall} s, workers user {user} s "
                  f"sys {system} s, {files} files", flush=True)
    for src, runs in results.items():
        walls, users, systems = zip(*runs, strict=True)
        print(f"median {src}: wall {statistics.median(walls):.3f} s, user "
              f"{statistics.median(users):.3f} s, sys {statistics.median(systems):.3f} s, "
              f"CPU {statistics.median(u + s for u, s in zip(users, systems, strict=True)):.3f} s")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
