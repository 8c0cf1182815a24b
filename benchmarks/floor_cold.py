"""The floor of a cold install in Python: download every wheel of an install set over HTTP/2
with httpx, check its hash, unzip it -- and, with ``--index-url``, first find each wheel on its
project's JSON page. Nothing else.

    python benchmarks/floor_cold.py --report REPORT.json [--repeat N] [--index-url URL [--uv UV --pins F]]

A cold install, whatever else it does (the resolve, building sdists, linking, RECORD, the
journal), must download each wheel, check it and decompress every file. The first row does
only that, in a fresh child process, for the wheels of ``REPORT.json`` (``constrain resolve
--format json`` of the install set: each file's URL and sha256), with the HTTP stack constrain
uses (httpx on HTTP/2, one connection per host, all requests at once) and zipfile for the
unpacking, in two threads beside the downloads (zlib releases the GIL).

A pins file names no URL: an installer must also fetch each pinned project's page (PEP 691
JSON) and read the file's URL and hash from it. With ``--index-url`` a second row does that
too: each wheel's download starts once its page is fetched and parsed (``json.loads``, in a
separate process so that parsing does not hold the HTTP thread's GIL). sdists are left out of
both rows (a build is not a floor). So their wall times bound from below what ``constrain
install`` can do on this machine with these libraries; their CPU shows how much of two cores
that takes.

With ``--uv`` it runs ``uv pip install -r PINS`` into a fresh venv from an empty cache between
the floor's runs, so all figures come from the same minutes.
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
import asyncio, hashlib, io, json, re, sys, zipfile
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from urllib.parse import urljoin
import httpx


def find(content, filename):
    files = json.loads(content)["files"]
    return next(f["url"] for f in files if f["filename"] == filename)


def unpack(dest, n, data, sha, url):
    if hashlib.sha256(data).hexdigest() != sha:
        raise SystemExit(f"hash mismatch: {url}")
    zipfile.ZipFile(io.BytesIO(data)).extractall(f"{dest}/{n}")


async def main(report, dest, index):
    wheels = [(i["metadata"]["name"], i["download_info"]["url"],
               i["download_info"]["archive_info"]["hashes"]["sha256"])
              for i in json.load(open(report))["install"]
              if i["download_info"]["url"].endswith(".whl")]
    pool, parsers = ThreadPoolExecutor(2), ProcessPoolExecutor(1)
    loop, futures, size = asyncio.get_running_loop(), [], [0, 0]
    async with httpx.AsyncClient(http2=True, timeout=120) as client:
        async def one(n, name, url, sha):
            if index:
                page_url = index.rstrip("/") + "/" + re.sub(r"[-_.]+", "-", name).lower() + "/"
                page = await client.get(page_url, headers={
                    "Accept": "application/vnd.pypi.simple.v1+json"})
                page.raise_for_status()
                size[1] += len(page.content)
                found = await loop.run_in_executor(parsers, find, page.content,
                                                   url.rsplit("/", 1)[1])
                url = urljoin(str(page.url), found)
            r = await client.get(url)
            r.raise_for_status()
            size[0] += len(r.content)
            futures.append(pool.submit(unpack, dest, n, r.content, sha, url))
        await asyncio.gather(*(one(n, *w) for n, w in enumerate(wheels)))
    for f in futures:
        f.result()
    parsers.shutdown()
    print(len(wheels), size[0], size[1])


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3], sys.argv[3] if len(sys.argv) > 3 else ""))
"""


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run_floor(report: str, scratch: str, index: str = "") -> tuple[float, float, str]:
    dest = tempfile.mkdtemp(dir=scratch)
    child = os.path.join(scratch, "floor_child.py")  # a file: the parsing process imports it
    with open(child, "w") as fh:
        fh.write(CHILD)
    cpu, start = _children_cpu(), time.perf_counter()
    out = subprocess.run([sys.executable, child, report, dest, *([index] if index else [])],
                         check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, _children_cpu() - cpu, out.strip()


def _run_uv(uv: str, pins: str, index_url: str | None, scratch: str) -> tuple[float, float]:
    venv, cache = tempfile.mkdtemp(dir=scratch), tempfile.mkdtemp(dir=scratch)
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
    parser.add_argument("--index-url",
                        help="the index whose JSON pages the second row reads (and uv's index)")
    args = parser.parse_args()
    # Every run writes into new directories, all deleted at the end: on some file systems a
    # large deletion slows the file creation of the runs that follow it.
    scratch = tempfile.mkdtemp(prefix="floor-cold-")
    rows: dict[str, list[tuple[float, float]]] = {}
    made = paged = ""
    try:
        for _ in range(args.repeat):
            took, used, made = _run_floor(args.report, scratch)
            rows.setdefault("python floor (download, hash, unzip)", []).append((took, used))
            if args.index_url:
                took, used, paged = _run_floor(args.report, scratch, args.index_url)
                rows.setdefault("python floor, each URL from its page", []).append((took, used))
            if args.uv and args.pins:
                rows.setdefault("uv pip install, cold", []).append(
                    _run_uv(args.uv, args.pins, args.index_url, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    wheels, size, _ = made.split()
    print(f"{wheels} wheels, {int(size) / 1e6:.1f} MB per run")
    if args.index_url:
        print(f"  and {int(paged.split()[2]) / 1e6:.1f} MB of JSON pages in the second row")
    for mode, values in rows.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        print(f"  {mode:<38} wall median {statistics.median(walls):.2f} s "
              f"({' '.join(f'{w:.2f}' for w in walls)}), CPU median "
              f"{statistics.median(cpus):.2f} s")


if __name__ == "__main__":
    main()
