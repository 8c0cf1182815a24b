"""Loading and running a resolver scenario file (TOML): index, target, request, expectations.

Format::

    description = "what this checks"
    [target]            python = "3.11", platform = "manylinux_2_17_x86_64" (defaults)
    [[packages]]        see tests.support.memory_index
    [request]
    requirements = ["foo>=1", { line = "bar", origin = "req.txt:2" }]
    constraints = ["baz<2", { line = "qux==1.0", origin = "c.txt:3" }]
    prerelease = "if-necessary-or-explicit"; exclude_newer = "2024-01-01T00:00:00Z"
    only_binary = false
    [expect]
    pins = { foo = "1.0" }                      # exactly these pins
    error_contains = ["..."]                    # or: the rendered error contains these
    warnings_contain = ["..."]
    required_by = { bar = ["foo==1.0 (bar>=1)"] }
    extras = { foo = ["postgres"] }
    constraint_origins = { baz = ["c.txt:3"] }
    files = { foo = "foo-1.0-py3-none-any.whl" } # the best file of the pin
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from constrain.models import COMMAND_LINE, Origin
from constrain.resolver import ResolveOptions
from constrain.target import TargetEnvironment
from tests.support.memory_index import MemoryIndex


def _origin(text: str | None, default: Origin) -> Origin:
    if not text:
        return default
    source, _, line = text.rpartition(":")
    if source and line.isdigit():
        return Origin(source, int(line))
    return Origin(text)


def _lines(items: list[Any], default_source: str | None) -> list[tuple[Requirement, Origin]]:
    out = []
    for i, item in enumerate(items, start=1):
        line, origin = (item["line"], item.get("origin")) if isinstance(item, dict) else (item, None)
        default = Origin(default_source, i, line) if default_source else COMMAND_LINE
        out.append((Requirement(line), _origin(origin, default)))
    return out


@dataclass
class Scenario:
    path: Path
    description: str
    packages: list[dict[str, Any]]
    target: TargetEnvironment
    requirements: list[tuple[Requirement, Origin]]
    constraints: list[tuple[Requirement, Origin]]
    options: ResolveOptions
    expect: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Scenario:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        target = data.get("target", {})
        platforms = target.get("platform", "manylinux_2_17_x86_64")
        request = data.get("request", {})
        cutoff = request.get("exclude_newer")
        if isinstance(cutoff, str):
            cutoff = datetime.fromisoformat(cutoff.replace("Z", "+00:00"))
        return cls(
            path=path,
            description=data["description"],
            packages=data.get("packages", []),
            target=TargetEnvironment.from_options(
                str(target.get("python", "3.11")),
                [platforms] if isinstance(platforms, str) else platforms,
            ),
            requirements=_lines(request.get("requirements", []), None),
            constraints=_lines(request.get("constraints", []), "constraints.txt"),
            options=ResolveOptions(
                prerelease=request.get("prerelease", "if-necessary-or-explicit"),
                exclude_newer=cutoff,
                only_binary=request.get("only_binary", False),
                max_rounds=request.get("max_rounds", 200_000),
            ),
            expect=data.get("expect", {}),
        )

    def index(self) -> MemoryIndex:
        return MemoryIndex(self.packages)
