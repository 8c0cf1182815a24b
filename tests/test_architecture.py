"""Import contracts from DESIGN.md: data flows one way, and only cli.py prints."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "constrain"

# package -> project modules it must never import (relative to constrain.)
FORBIDDEN = {
    "cache": ("index", "resolver", "constraints", "policies", "output", "install", "download",
              "app", "cli", "target", "config"),
    "constraints": ("index", "resolver", "install", "download", "app", "cli"),
    "policies": ("index", "install", "download", "app", "cli"),
    "resolver": ("index", "install", "download", "app", "cli", "config"),
    "index": ("resolver", "install", "download", "output", "app", "cli"),
    "output": ("index", "resolver", "install", "download", "app", "cli"),
    "review": ("resolver", "install", "app", "cli"),
}
NO_NETWORK = ("constraints", "policies", "resolver", "output")
NO_HOST = ("constraints", "policies", "resolver")


def _imports(path: Path) -> set[str]:
    """Absolute module names imported by ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel_pkg = path.relative_to(SRC.parent).with_suffix("").parts
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel_pkg[: len(rel_pkg) - node.level])
                mod = ".".join(base + ([node.module] if node.module else []))
                out.add(mod)
                if not node.module:
                    out.update(f"{mod}.{a.name}" for a in node.names)
            else:
                out.add(node.module or "")
    return out


def _modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_one_way(package: str) -> None:
    bad = []
    for path in _modules(package):
        for mod in _imports(path):
            for other in FORBIDDEN[package]:
                if mod == f"constrain.{other}" or mod.startswith(f"constrain.{other}."):
                    bad.append(f"{path.relative_to(SRC)} imports {mod}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", NO_NETWORK)
def test_pure_layers_do_no_network(package: str) -> None:
    bad = [
        f"{p.relative_to(SRC)} imports {m}"
        for p in _modules(package)
        for m in _imports(p)
        if m.split(".")[0] in ("httpx", "urllib.request", "socket", "http")
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", NO_HOST)
def test_target_is_a_parameter(package: str) -> None:
    """Nothing that decides versions reads the host: the target is passed in."""
    bad = [
        f"{p.relative_to(SRC)} imports {m}"
        for p in _modules(package)
        for m in _imports(p)
        if m in ("sys", "platform", "os", "sysconfig")
    ]
    assert not bad, "\n".join(bad)


def test_only_cli_prints() -> None:
    bad = []
    for path in SRC.rglob("*.py"):
        if path.name in ("cli.py", "__main__.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                bad.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not bad, "print() outside cli.py: " + ", ".join(bad)


def test_every_module_states_its_job() -> None:
    missing = []
    for path in SRC.rglob("*.py"):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        if not doc or not doc.strip().splitlines()[0].strip():
            missing.append(str(path.relative_to(SRC)))
    assert not missing, "modules without a first docstring line: " + ", ".join(missing)
