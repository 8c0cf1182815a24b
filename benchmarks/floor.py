"""How much of a full resolve is resolvelib's own loop: the floor a Python resolver cannot go under.

    python benchmarks/floor.py [--repeat N] -- <constrain resolve arguments>

Runs ``constrain resolve`` once in this process (remembered answers off, as the benchmark's full
resolve rows), keeping the provider and the root requirements it gave resolvelib. Then it
replays the same resolve N times against a provider whose every answer is a dictionary look-up
of the first run's answers (identify, find_matches, get_dependencies, is_satisfied_by,
get_preference), so what is left is resolvelib's own bookkeeping. It prints, in CPU seconds:
the real resolve (imports excluded), the replays' median (which includes the look-up provider's own calls, so it is an upper
bound of resolvelib's share), the number of distinct provider
answers and of provider calls, and the start-up of an interpreter that imports only what any
resolver on packaging and resolvelib must import. Start-up + imports + replay is the floor of
a full resolve in Python on resolvelib; compare it with ``uv pip compile --offline``.

Example (workload 1 of benchmarks/run.py, warm cache)::

    python benchmarks/floor.py -- 'apache-airflow[postgres]==2.10.5' --python 3.11 \\
        --exclude-newer 2026-11-01T00:00:00Z --airflow-constraints off --offline -o /tmp/out.txt
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from typing import Any

MINIMAL_IMPORTS = (
    "import packaging.requirements, packaging.specifiers, packaging.version, "
    "packaging.markers, packaging.utils, resolvelib, marshal"
)


class Replay:
    """A resolvelib provider answering from the first run's answers, keyed by object identity
    (the replay hands resolvelib the very objects the first run produced, so keys match)."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider
        self.answers: dict[tuple, Any] = {}
        self.calls: Counter[str] = Counter()

    def _answer(self, key: tuple, compute: Any) -> Any:
        self.calls[key[0]] += 1
        try:
            return self.answers[key]
        except KeyError:
            found = self.answers[key] = compute()
            return found

    def identify(self, requirement_or_candidate: Any) -> str:
        x = requirement_or_candidate
        return self._answer(("identify", id(x)), lambda: self.provider.identify(x))

    def get_preference(self, identifier, resolutions, candidates, information, backtrack_causes):
        key = ("get_preference", identifier, identifier in resolutions,
               tuple(id(i.requirement) for i in information[identifier]),
               tuple(id(c) for c in backtrack_causes))
        return self._answer(key, lambda: self.provider.get_preference(
            identifier, resolutions, candidates, information, backtrack_causes))

    def narrow_requirement_selection(self, identifiers, resolutions, candidates, information,
                                     backtrack_causes):
        return identifiers

    def find_matches(self, identifier, requirements, incompatibilities):
        key = ("find_matches", identifier, tuple(id(r) for r in requirements[identifier]),
               tuple(id(c) for c in incompatibilities[identifier]))

        def compute() -> list:
            found = self.provider.find_matches(identifier, requirements, incompatibilities)
            return list(found() if callable(found) else found)

        return self._answer(key, compute)

    def is_satisfied_by(self, requirement: Any, candidate: Any) -> bool:
        return self._answer(("is_satisfied_by", id(requirement), id(candidate)),
                            lambda: self.provider.is_satisfied_by(requirement, candidate))

    def get_dependencies(self, candidate: Any) -> list:
        return self._answer(("get_dependencies", id(candidate)),
                            lambda: list(self.provider.get_dependencies(candidate)))


def startup_cpu(repeat: int) -> float:
    """Median CPU seconds of an interpreter that imports only packaging and resolvelib."""
    samples = []
    for _ in range(repeat):
        before = os.times()
        subprocess.run([sys.executable, "-c", MINIMAL_IMPORTS], check=True)
        after = os.times()
        samples.append(after.children_user + after.children_system
                       - before.children_user - before.children_system)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/floor.py", description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("resolve_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    resolve_args = [a for a in args.resolve_args if a != "--"]
    os.environ["CONSTRAIN_NO_REMEMBER"] = "1"

    import resolvelib

    from constrain.cli import main as constrain_main  # imported before timing
    from constrain.resolver import loop

    captured: dict[str, Any] = {}
    real_resolver = resolvelib.Resolver
    real_class = loop.resolver_class

    class Capturing(real_class()):  # type: ignore[misc]
        def resolve(self, requirements, max_rounds=100):
            captured["provider"], captured["roots"] = self.provider, list(requirements)
            started = time.process_time()
            try:
                return super().resolve(requirements, max_rounds)
            finally:
                captured["cpu"] = time.process_time() - started

    # constrain.resolver.resolve looks the class up at call time
    loop.resolver_class = lambda: Capturing  # type: ignore[assignment]
    started = time.process_time()
    code = constrain_main(["resolve", *resolve_args, "--quiet"])
    command_cpu = time.process_time() - started
    loop.resolver_class = real_class
    if code != 0 or "provider" not in captured:
        print(f"the resolve failed (exit {code})", file=sys.stderr)
        return 1
    replay = Replay(captured["provider"])
    real_resolver(replay, resolvelib.BaseReporter()).resolve(captured["roots"], max_rounds=100_000)
    first_calls = sum(replay.calls.values())
    samples = []
    for _ in range(args.repeat):
        started = time.process_time()
        result = real_resolver(replay, resolvelib.BaseReporter()).resolve(
            captured["roots"], max_rounds=100_000)
        samples.append(time.process_time() - started)
    startup = startup_cpu(args.repeat)
    replayed = statistics.median(samples)
    print(f"command (in process, after importing constrain.cli): {command_cpu:.3f} s CPU")
    print(f"  of which resolvelib.resolve with constrain's provider: {captured['cpu']:.3f} s")
    print(f"replay with a look-up provider: {replayed:.3f} s CPU (median of {args.repeat}), "
          f"{len(result.mapping)} pins")
    print(f"  distinct provider answers: {len(replay.answers)}; calls per resolve: {first_calls}"
          f" ({', '.join(f'{k} {v // (args.repeat + 1)}' for k, v in sorted(replay.calls.items()))})")
    print(f"interpreter + packaging + resolvelib imports: {startup:.3f} s CPU")
    print(f"floor of a full resolve on resolvelib: {startup + replayed:.3f} s CPU (an upper bound "
          "of the floor: the replay includes the look-up provider's own calls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
