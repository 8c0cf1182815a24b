"""The floor of a cold install in Python: download every wheel of an install set over HTTP/2
with httpx, check its hash, unzip it. Nothing else.

    python benchmarks/floor_cold.py --report REPORT.json [--repeat N] [--uv UV --pins F --index-url URL]

A cold install, whatever else it does (pages, metadata, the resolve, building sdists, linking,
RECORD, the journal), must download each wheel, check it and decompress every file. This
script does only that, in a fresh child process, for the wheels of ``REPORT.json`` (``constrain
resolve --format json`` of the install set: each file's URL and sha256), with the HTTP stack
constrain uses (httpx on HTTP/2, one connection per host, all requests at once) and zipfile
for the unpacking, in two threads beside the downloads (zlib releases the GIL). sdists are
left out (a build is not a floor). So its wall time bounds from below what ``constrain install``
can do on this machine with these libraries; its CPU shows how much of two cores that takes.

With ``--uv`` it runs ``uv pip install -r PINS`` into a fresh venv from an empty cache between
the floor's runs, so both figures come from the same minutes.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import asyncio, hashlib, io, json, sys, zipfile
from concurrent.futures import ThreadPoolExecutor
import httpx

report, dest = sys.argv[1], sys.argv[2]
wheels = [(i["download_info"]["url"], i["download_info"]["archive_info"]["hashes"]["sha256"])
          for i in json.load(open(report))["install"]
          if i["download_info"]["url"].endswith(".whl")]
pool = ThreadPoolExecutor(2)
size = [0]

def unpack(n, data, sha):
    if hashlib.sha256(data).hexdigest() != sha:
        raise SystemExit(f"hash mismatch: {wheels[n][0]}")
    zipfile.ZipFile(io.BytesIO(data)).extractall(f"{dest}/{n}")

async def main():
    futures = []
    async with httpx.AsyncClient(http2=True, timeout=120) as client:
        async def one(n, url, sha):
            r = await client.get(url)
            r.raise_for_status()
            size[0] += len(r.content)
            futures.append(pool.submit(unpack, n, r.content, sha))
        await asyncio.gather(*(one(n, u, s) for n, (u, s) in enumerate(wheels)))
    for f in futures:
        f.result()

asyncio.run(main())
print(len(wheels), size[0])
"""


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run_floor(report: str, scratch: str) -> tuple[float, float, str]:
    dest = tempfile.mkdtemp(dir=scratch)
    cpu, start = _children_cpu(), time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, report, dest], check=True,
                         capture_output=True, text=True).stdout
    took, used = time.perf_counter() - start, _children_cpu() - cpu
    shutil.rmtree(dest)
    return took, used, out.strip()


def _run_uv(uv: str, pins: str, index_url: str | None, scratch: str) -> tuple[float, float]:
    venv, cache = os.path.join(scratch, "uv-venv"), os.path.join(scratch, "uv-cache")
    for path in (venv, cache):
        shutil.rmtree(path, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    cpu, start = _children_cpu(), time.perf_counter()
    subprocess.run([uv, "pip", "install", "--quiet", "-r", pins, "--python",
                    os.path.join(venv, "bin", "python"), "--cache-dir", cache,
                    *(["--index-url", index_url] if index_url else [])], check=True)
    return time.perf_counter() - start, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", required=True,
                        help="`constrain resolve --format json` of the install set")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--uv", help="a uv binary, to time `uv pip install` cold too")
    parser.add_argument("--pins", help="the pins file for uv")
    parser.add_argument("--index-url", help="the index URL for uv")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="floor-cold-")
    rows: dict[str, list[tuple[float, float]]] = {}
    made = ""
    try:
        for _ in range(args.repeat):
            took, used, made = _run_floor(args.report, scratch)
            rows.setdefault("python floor (download, hash, unzip)", []).append((took, used))
            if args.uv and args.pins:
                rows.setdefault("uv pip install, cold", []).append(
                    _run_uv(args.uv, args.pins, args.index_url, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    wheels, size = made.split()
    print(f"{wheels} wheels, {int(size) / 1e6:.1f} MB per run")
    for mode, values in rows.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        print(f"  {mode:<38} wall median {statistics.median(walls):.2f} s "
              f"({' '.join(f'{w:.2f}' for w in walls)}), CPU median "
              f"{statistics.median(cpus):.2f} s")


if __name__ == "__main__":
    main()
