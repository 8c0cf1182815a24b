"""The floor of a cold install in Python: download every wheel of an install set over HTTP/2
with httpx, check its hash, unzip it -- and, with ``--index-url``, first find each wheel on its
project's JSON page, then also build the set's sdists in the least way PEP 517 allows. Nothing
else.

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
both rows. So their wall times bound from below what ``constrain install`` can do on this
machine with these libraries; their CPU shows how much of two cores that takes.

An install of the set must also build its sdists (python-nvd3 0.16.0 in Airflow's has no
wheel). The third row, "pages, wheels and the sdists built" (with ``--index-url``), is the
second plus the least a PEP 517 build needs, for each sdist of the report (a ``.tar.gz`` or
``.zip`` URL), started as soon as its page is parsed and run beside the wheels: download the
sdist and check its sha256; read ``[build-system]`` from its pyproject.toml (none: PEP 517's
fallback, ``setuptools>=40.8.0`` and ``setuptools.build_meta:__legacy__``); make a fresh venv
(``venv.EnvBuilder``, no pip, symlinked as ``python -m venv`` makes it here); unzip the newest
py3-none-any wheel of each build requirement that fits (its JSON page fetched once per run --
setuptools' as soon as the first sdist's page is parsed -- the wheel hash-checked) straight into
the venv's site-packages, with no RECORD and no scripts; call the backend's ``build_wheel`` once
through ``pyproject_hooks`` with the venv's python (``get_requires_for_build_wheel`` skipped:
setuptools asks for nothing more here) and unzip the built wheel like the others. It installs
nothing but setuptools and wheel: an sdist whose build requires anything else (or extras, or a
URL) makes it refuse, and the script prints why in place of the row (the other rows stand). It
prints the names of the wheels it built.

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

_REFUSED = 3  # the child's exit status when it refuses a build (REFUSED in CHILD)

CHILD = r"""
import asyncio, hashlib, io, json, os, re, subprocess, sys, sysconfig, tarfile, tomllib, venv, zipfile
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from urllib.parse import urljoin
import httpx
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version
from pyproject_hooks import BuildBackendHookCaller, quiet_subprocess_runner

REFUSED = 3  # the exit status of a build this floor will not do (the message on stderr)
TOOLS = {"setuptools", "wheel"}  # all the third row installs into a build environment
LEGACY = "setuptools.build_meta:__legacy__"  # PEP 517's fallback, with setuptools>=40.8.0


class Refused(Exception):
    pass


def find(content, filename):
    files = json.loads(content)["files"]
    return next(f["url"] for f in files if f["filename"] == filename)


def unpack(dest, n, data, sha, url):
    if hashlib.sha256(data).hexdigest() != sha:
        raise SystemExit(f"hash mismatch: {url}")
    zipfile.ZipFile(io.BytesIO(data)).extractall(f"{dest}/{n}")


def tool_wheels(content, python):
    # the py3-none-any wheels of a build tool's JSON page that this Python may use, newest first
    found = []
    for f in json.loads(content)["files"]:
        sha = f.get("hashes", {}).get("sha256")
        if not f["filename"].endswith(".whl") or f.get("yanked") or not sha:
            continue
        try:
            _, version, _, tags = parse_wheel_filename(f["filename"])
            if not SpecifierSet(f.get("requires-python") or "").contains(python, prereleases=True):
                continue
        except (InvalidWheelFilename, InvalidSpecifier):
            continue
        if any((t.interpreter, t.abi, t.platform) == ("py3", "none", "any") for t in tags):
            found.append((version, f["url"], sha))
    return [(str(v), url, sha) for v, url, sha in sorted(found, key=lambda f: f[0], reverse=True)]


def unpack_sdist(data, url, where):
    # unpack a checked sdist: its tree and its pyproject.toml's [build-system] (None: none)
    if url.endswith(".zip"):
        zipfile.ZipFile(io.BytesIO(data)).extractall(where)
    else:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(where, filter="data")
    top = os.listdir(where)
    if len(top) != 1 or not os.path.isdir(os.path.join(where, top[0])):
        raise Refused(f"{url}: not one top-level directory in the sdist")
    tree = os.path.join(where, top[0])
    try:
        with open(os.path.join(tree, "pyproject.toml"), "rb") as fh:
            return tree, tomllib.load(fh).get("build-system")
    except FileNotFoundError:
        return tree, None


def build_system(table, what):
    # [build-system] -> (requirements by tool, backend, backend-path); refuses what it cannot do
    if table is None:
        table = {"requires": ["setuptools>=40.8.0"]}
    requires = table.get("requires")
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise Refused(f"{what}: [build-system] has no list of strings for requires (PEP 518)")
    try:
        wanted = [r for r in map(Requirement, requires) if not r.marker or r.marker.evaluate()]
    except InvalidRequirement as e:
        raise Refused(f"{what}: [build-system] requires: {e}") from None
    other = [str(r) for r in wanted if canonicalize_name(r.name) not in TOOLS or r.extras or r.url]
    if other:
        raise Refused(f"{what} needs {', '.join(other)} to build; this floor's third row installs "
                      f"only {' and '.join(sorted(TOOLS))} (without extras) into a build environment")
    tools = {}
    for r in wanted:
        tools[canonicalize_name(r.name)] = tools.get(canonicalize_name(r.name), SpecifierSet()) & r.specifier
    return tools, table.get("build-backend", LEGACY), table.get("backend-path")


def make_venv(where):
    # a fresh venv without pip (symlinked, as `python -m venv` makes it here): its python, site-packages
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(where)
    purelib = sysconfig.get_path("purelib", "venv", vars={"base": where, "platbase": where})
    return os.path.join(where, "bin", "python"), purelib


def unzip(data_or_path, where):
    zipfile.ZipFile(io.BytesIO(data_or_path) if isinstance(data_or_path, bytes)
                    else data_or_path).extractall(where)


def check(data, sha, url):
    if hashlib.sha256(data).hexdigest() != sha:
        raise SystemExit(f"hash mismatch: {url}")
    return data


def build(caller, out, what):
    try:
        return caller.build_wheel(out)
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"building {what} failed:\n{e.output.decode(errors='replace')}") from None


async def main(report, dest, index="", work=""):
    items = json.load(open(report))["install"]
    wheels = [(i["metadata"]["name"], i["download_info"]["url"],
               i["download_info"]["archive_info"]["hashes"]["sha256"])
              for i in items if i["download_info"]["url"].endswith(".whl")]
    sdists = [(f"sdist-{n}", i["metadata"]["name"], i["download_info"]["url"],
               i["download_info"]["archive_info"]["hashes"]["sha256"])
              for n, i in enumerate(items) if not i["download_info"]["url"].endswith(".whl")] \
        if work else []
    for _, _, url, _ in sdists:
        if not url.endswith((".tar.gz", ".zip")):
            sys.exit(f"{url}: neither a wheel nor a .tar.gz or .zip sdist")
    pool, parsers = ThreadPoolExecutor(2), ProcessPoolExecutor(1)
    loop, futures, size, built = asyncio.get_running_loop(), [], [0, 0], []
    python = ".".join(map(str, sys.version_info[:3]))
    work = os.path.abspath(work) if work else ""  # the build hook runs in the sdist's tree
    async with httpx.AsyncClient(http2=True, timeout=120) as client:
        async def page_of(name):
            page_url = index.rstrip("/") + "/" + re.sub(r"[-_.]+", "-", name).lower() + "/"
            page = await client.get(page_url, headers={
                "Accept": "application/vnd.pypi.simple.v1+json"})
            page.raise_for_status()
            size[1] += len(page.content)
            return page

        async def one(n, name, url, sha):
            if index:
                page = await page_of(name)
                found = await loop.run_in_executor(parsers, find, page.content,
                                                   url.rsplit("/", 1)[1])
                url = urljoin(str(page.url), found)
            r = await client.get(url)
            r.raise_for_status()
            size[0] += len(r.content)
            futures.append(pool.submit(unpack, dest, n, r.content, sha, url))

        # the third row: each build tool's page fetched once per run, each wheel downloaded once
        tool_pages, tool_downloads, prefetch = {}, {}, []

        async def tool_page(tool):
            page = await page_of(tool)
            return [(v, urljoin(str(page.url), u), sha) for v, u, sha in
                    await loop.run_in_executor(parsers, tool_wheels, page.content, python)]

        async def download(url, sha):
            r = await client.get(url)
            r.raise_for_status()
            size[0] += len(r.content)
            return await loop.run_in_executor(None, check, r.content, sha, url)

        def tool_wheel(url, sha):
            if url not in tool_downloads:
                tool_downloads[url] = asyncio.ensure_future(download(url, sha))
            return tool_downloads[url]

        def start(tool):
            if tool not in tool_pages:
                tool_pages[tool] = asyncio.ensure_future(tool_page(tool))
            return tool_pages[tool]

        async def newest_setuptools():  # started with the first sdist's page: most builds need it
            found = await start("setuptools")
            if found:
                await tool_wheel(*found[0][1:])

        async def sdist(n, name, url, sha):
            filename = url.rsplit("/", 1)[1]
            page = await page_of(name)
            url = urljoin(str(page.url), await loop.run_in_executor(parsers, find, page.content,
                                                                   filename))
            if not prefetch:
                prefetch.append(asyncio.ensure_future(newest_setuptools()))
            env = loop.run_in_executor(None, make_venv, f"{work}/{n}-env")
            data = await download(url, sha)
            tree, table = await loop.run_in_executor(None, unpack_sdist, data, url,
                                                     f"{work}/{n}-src")
            tools, backend, backend_path = build_system(table, f"{name} ({filename})")
            wanted = []
            for tool, spec in tools.items():
                fit = [(v, u, s) for v, u, s in await start(tool) if spec.contains(Version(v))]
                if not fit:
                    raise Refused(f"{name} ({filename}) needs {tool}{spec}: no py3 wheel of it "
                                  f"on the index for Python {python}")
                wanted.append(tool_wheel(*fit[0][1:]))
            python_exe, site = await env
            for wheel in await asyncio.gather(*wanted):
                await loop.run_in_executor(None, unzip, wheel, site)
            out = f"{work}/{n}-out"
            os.mkdir(out)
            caller = BuildBackendHookCaller(tree, backend, backend_path,
                                            runner=quiet_subprocess_runner,
                                            python_executable=python_exe)
            wheel = await loop.run_in_executor(None, build, caller, out, f"{name} ({filename})")
            built.append(wheel)
            futures.append(pool.submit(unzip, os.path.join(out, wheel), f"{dest}/{n}"))

        await asyncio.gather(*(one(n, *w) for n, w in enumerate(wheels)),
                             *(sdist(*s) for s in sdists))
        await asyncio.gather(*prefetch)
    for f in futures:
        f.result()
    parsers.shutdown()
    print(len(wheels), size[0], size[1], *built)


if __name__ == "__main__":
    try:
        asyncio.run(main(*sys.argv[1:5]))
    except Refused as e:
        print(e, file=sys.stderr)
        sys.exit(REFUSED)
"""


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class _Refused(Exception):
    """The third row's child will not build an sdist of the set (its message says why)."""


def _run_floor(report: str, scratch: str, index: str = "",
               build: bool = False) -> tuple[float, float, str]:
    dest = tempfile.mkdtemp(dir=scratch)
    child = os.path.join(scratch, "floor_child.py")  # a file: the parsing process imports it
    with open(child, "w") as fh:
        fh.write(CHILD)
    extra = [index, tempfile.mkdtemp(dir=scratch)] if build else [index] if index else []
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, child, report, dest, *extra],
                          capture_output=True, text=True)
    took, used = time.perf_counter() - start, _children_cpu() - cpu
    if done.returncode == _REFUSED:
        raise _Refused(done.stderr.strip())
    if done.returncode:
        raise SystemExit(f"floor_cold: the floor's child failed (exit {done.returncode}):\n"
                         f"{done.stderr.strip()}")
    return took, used, done.stdout.strip()


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
                        help="the index whose JSON pages the second and third rows read "
                             "(and uv's index)")
    args = parser.parse_args()
    # Every run writes into new directories, all deleted at the end: on some file systems a
    # large deletion slows the file creation of the runs that follow it.
    scratch = tempfile.mkdtemp(prefix="floor-cold-")
    rows: dict[str, list[tuple[float, float]]] = {}
    made = paged = built = refused = ""
    try:
        for _ in range(args.repeat):
            took, used, made = _run_floor(args.report, scratch)
            rows.setdefault("python floor (download, hash, unzip)", []).append((took, used))
            if args.index_url:
                took, used, paged = _run_floor(args.report, scratch, args.index_url)
                rows.setdefault("python floor, each URL from its page", []).append((took, used))
            if args.index_url and not refused:
                try:
                    took, used, built = _run_floor(args.report, scratch, args.index_url, True)
                    rows.setdefault("pages, wheels and the sdists built", []).append((took, used))
                except _Refused as e:
                    refused = str(e)
            if args.uv and args.pins:
                rows.setdefault("uv pip install, cold", []).append(
                    _run_uv(args.uv, args.pins, args.index_url, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    wheels, size, _ = made.split()
    print(f"{wheels} wheels, {int(size) / 1e6:.1f} MB per run")
    if args.index_url:
        print(f"  and {int(paged.split()[2]) / 1e6:.1f} MB of JSON pages in the second row")
    if built:
        _, got, pages, *names = built.split()
        print(f"  the third row also built {len(names)} sdist(s) ({', '.join(names) or 'none'}), "
              f"{(int(got) - int(size)) / 1e6:.1f} MB more downloaded (sdists and build tools), "
              f"{(int(pages) - int(paged.split()[2])) / 1e6:.1f} MB more pages")
    if refused:
        print(f"  no third row: {refused}")
    for mode, values in rows.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        print(f"  {mode:<38} wall median {statistics.median(walls):.2f} s "
              f"({' '.join(f'{w:.2f}' for w in walls)}), CPU median "
              f"{statistics.median(cpus):.2f} s")


if __name__ == "__main__":
    main()
