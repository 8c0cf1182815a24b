"""How long the pages of a pins file take to arrive on constrain's HTTP client while other
threads of the same process keep its GIL busy.

    python benchmarks/gil_pages.py --index-url URL --pins PINS [--busy N] [--switch-interval S]
                                   [--watch PROJECT]

Every page (PEP 691 JSON) is asked for at once, as the resolve asks for them, and read whole;
``--busy N`` starts N threads that only add numbers (a stand-in for the resolver, the page
parsing and the workers' answers, which share the resolving process's GIL);
``--switch-interval`` sets :func:`sys.setswitchinterval`. It prints the wall time until the
last page, when ``--watch``'s page (default python-nvd3, the sdist of Airflow's set) arrived,
and the bytes read. Each TLS record the event loop reads gives the GIL away
(``SSLObject.read`` releases it), and a busy thread then keeps it for up to a switch interval:
this shows how much that costs (benchmarks/README.md, session of 2026-12-07, eighth).
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))


def _names(pins: Path) -> list[str]:
    out = []
    for line in pins.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            out.append(re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-url", required=True)
    parser.add_argument("--pins", type=Path, required=True)
    parser.add_argument("--busy", type=int, default=0)
    parser.add_argument("--switch-interval", type=float)
    parser.add_argument("--watch", default="python-nvd3")
    args = parser.parse_args()
    from constrain.index.transport.client import HttpClient

    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    stop = threading.Event()

    def busy() -> None:
        total = 0
        while not stop.is_set():
            for i in range(1000):
                total += i

    for _ in range(args.busy):
        threading.Thread(target=busy, daemon=True).start()
    client = HttpClient()
    index = args.index_url.rstrip("/")
    start = time.perf_counter()
    pending = {name: client.start_get(f"{index}/{name}/",
                                      {"Accept": "application/vnd.pypi.simple.v1+json"})
               for name in _names(args.pins)}
    arrived: dict[str, float] = {}
    received = 0

    def note(name: str) -> None:
        arrived[name] = time.perf_counter() - start

    for name, request in pending.items():
        if request is not None:
            request.when_done(lambda name=name: note(name))
    for request in pending.values():
        if request is not None:
            received += len(request.result().content)
    wall = time.perf_counter() - start
    stop.set()
    watched = arrived.get(args.watch)
    print(f"{len(pending)} pages, {received / 2**20:.1f} MB, last at {wall:.2f} s; "
          f"{args.watch} at {'-' if watched is None else f'{watched:.2f} s'}; "
          f"{args.busy} busy thread(s), switch interval {sys.getswitchinterval() * 1000:g} ms")
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
