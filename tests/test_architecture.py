"""Import contracts from DESIGN.md, checked on the source text: data flows one way, every
package and top-level module says what it may import, no import cycles, only the CLI prints.

Imports are read with ``ast`` from every ``.py`` file under ``src/constrain`` and
``benchmarks/``: module-level and function-level imports count alike (a lazy import is still a
dependency). Imports under ``if TYPE_CHECKING:`` are left out: they never run, and annotations
naming a type from a layer above are allowed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "constrain"
BENCH = ROOT / "benchmarks"

# ------------------------------------------------------------------------------ contracts
# Each package or top-level module of src/constrain ("unit": the first name after
# ``constrain.``; ``__init__`` is the package's own __init__.py) -> the other units it may
# import. A unit missing here, or named here but gone, fails test_every_unit_has_a_contract.
BASE = frozenset({"errors", "models", "records", "target", "reporting"})  # the vocabulary everyone shares
CONTRACTS: dict[str, frozenset[str]] = {
    "__init__": frozenset(),
    "__main__": frozenset({"cli"}),
    # base modules: nothing above them
    "records": frozenset(),  # classes as @dataclass makes them, without compiling code
    "errors": frozenset({"records"}),
    "reporting": frozenset(),
    "processes": frozenset(),
    "locks": frozenset(),
    "heap": frozenset(),
    "models": frozenset({"errors", "records"}),
    "ports": frozenset({"models"}),  # the resolver's Protocol: imported for type checkers only
    "target": frozenset({"errors", "records"}),
    "config": frozenset({"errors", "records"}),  # pip's settings
    "settings": frozenset({"errors", "index"}),  # constrain's own; index: the default deadline
    # domain packages: never the orchestration (app) or the CLI
    "cache": frozenset({"errors"}),
    "policies": BASE,
    "constraints": BASE,
    "resolver": BASE | {"heap", "policies"},
    "output": BASE | {"__init__"},
    "index": BASE | {"build", "cache", "config", "heap", "processes"},
    "build": BASE | {"cache", "constraints", "heap", "index", "output", "policies", "processes",
                     "resolver"},
    "install": BASE | {"build", "cache", "heap", "index", "locks", "processes"},
    "download": BASE | {"__init__", "build", "cache", "index", "locks", "output", "review"},
    "refresh": BASE | {"constraints", "output", "policies", "review"},
    # licences, SBOM, provenance, OSV audit, consistency across targets
    "review": BASE | {"constraints", "download", "output", "policies"},
    # Airflow's published files, reconstruction, layering: through a Protocol, not app's Session
    "airflow": BASE | {"cache", "config", "constraints", "index", "install", "output",
                       "policies", "settings"},
    # orchestration: one pipeline per command over the domain packages
    "app": BASE | {"__init__", "airflow", "build", "cache", "config", "constraints",
                   "download", "heap", "index", "install", "output", "processes", "refresh",
                   "resolver", "review", "settings"},
    # parsing and printing
    # (heap: the imports of a command's pipeline are long-lived, heap.long_lived)
    "cli": BASE | {"__init__", "app", "config", "heap", "processes", "refresh", "review",
                   "settings"},
}

# Import cycles allowed, each the set of modules that import one another (a strongly connected
# component of the module graph); none today. Here TYPE_CHECKING imports count: two modules
# naming each other's types are still tangled. The test fails on a cycle not listed AND on a
# listed one that is gone or changed: this set only shrinks.
KNOWN_CYCLES: set[frozenset[str]] = set()

# Modules over MAX_LINES today; the entry must go once the module is split (only shrinks).
MAX_LINES = 500
TOO_LONG_TODAY: set[str] = set()

# The one home of imports of httpcore/h2/hyperframe: the transport's network layer on asyncio
# (an httpcore backend) and patches.py, every patch of those libraries' internals.
HTTP_INTERNALS = ("httpcore", "h2", "hyperframe")
HTTP_INTERNALS_HOME = {"index/transport/netstream.py", "index/transport/patches.py"}

# importlib.import_module and friends hide a dependency from every check here; reading
# package data (importlib.resources) and distribution metadata (importlib.metadata) do not.
IMPORTLIB_ALLOWED = ("importlib.resources", "importlib.metadata")
# module -> what it loads by name today (edges for the cycle check); only shrinks
DYNAMIC_IMPORT_TODAY: dict[str, set[str]] = {}

NO_NETWORK = ("constraints", "policies", "resolver", "output", "cache")
NETWORK_MODULES = ("httpx", "httpcore", "h2", "hyperframe", "socket", "http", "urllib.request",
                   "ssl")
NO_HOST = ("constraints", "policies", "resolver")


# ------------------------------------------------------------------------------ reading
@dataclass(frozen=True)
class Import:
    """One import statement's target: ``module`` absolute, ``names`` as in ``from m import``."""

    module: str
    names: tuple[str, ...]
    line: int
    absolute: bool  # written ``import x`` / ``from x import``, not relative


def _module_name(path: Path, root: Path, prefix: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([prefix, *parts]) if prefix else ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, typing: bool = False) -> Iterator[ast.AST]:
    """Every node below ``node``; the bodies of ``if TYPE_CHECKING:`` only with ``typing``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test) and not typing:
            for other in child.orelse:
                yield other
                yield from _walk(other, typing)
            continue
        yield child
        yield from _walk(child, typing)


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


@cache
def _imports(path: Path, package: tuple[str, ...], typing: bool = False) -> list[Import]:
    """The imports of ``path`` (a module of dotted package ``package``), relative ones made
    absolute; those under ``if TYPE_CHECKING:`` only with ``typing``."""
    out = []
    for node in _walk(_tree(path), typing):
        if isinstance(node, ast.Import):
            out += [Import(a.name, (), node.lineno, True) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = tuple(a.name for a in node.names)
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                module = ".".join(base + ([node.module] if node.module else []))
                out.append(Import(module, names, node.lineno, False))
            else:
                out.append(Import(node.module or "", names, node.lineno, True))
    return out


@dataclass(frozen=True)
class Module:
    name: str  # dotted: constrain.index.client, benchmarks.harness.runner
    path: Path
    package: tuple[str, ...]  # the package its relative imports start from

    @property
    def rel(self) -> str:
        """Path below its root (src/constrain or benchmarks), with '/'."""
        root = SRC if self.name.split(".")[0] == "constrain" else BENCH
        return self.path.relative_to(root).as_posix()

    @property
    def unit(self) -> str:
        """The package or top-level module of src/constrain it belongs to."""
        parts = self.path.relative_to(SRC).parts
        return parts[0].removesuffix(".py")


def _collect(root: Path, prefix: str) -> dict[str, Module]:
    mods = {}
    for path in sorted(root.rglob("*.py")):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue  # benchmarks/.work: the harness's venvs and caches, not its code
        name = _module_name(path, root, prefix)
        parts = tuple(name.split("."))
        package = parts if path.name == "__init__.py" else parts[:-1]
        mods[name] = Module(name, path, package)
    return mods


@cache
def src_modules() -> dict[str, Module]:
    return _collect(SRC, "constrain")


@cache
def bench_modules() -> dict[str, Module]:
    """benchmarks/ as its scripts see it: run.py puts benchmarks/ on sys.path, so ``harness``
    is a top-level package; names are given a ``benchmarks.`` prefix here."""
    return _collect(BENCH, "benchmarks")


def _targets(imp: Import, known: dict[str, Module], strip: str = "") -> set[str]:
    """The modules of ``known`` that ``imp`` loads: ``from a import b`` is module ``a.b``
    when that is a module, else ``a``."""
    module = imp.module
    if strip and not module.startswith(strip) and imp.absolute:
        module = strip + module  # benchmarks: ``from harness import x`` is benchmarks.harness
    out = set()
    for name in imp.names or ("",):
        full = f"{module}.{name}" if name else module
        if full in known:
            out.add(full)
        elif module in known:
            out.add(module)
    return out


def graph(mods: dict[str, Module], strip: str = "") -> dict[str, set[str]]:
    """Module -> the modules it imports, TYPE_CHECKING imports and DYNAMIC_IMPORT_TODAY's
    lookups included."""
    edges = {
        name: {t for imp in _imports(m.path, m.package, typing=True)
               for t in _targets(imp, mods, strip)} - {name}
        for name, m in mods.items()
    }
    for m in mods.values():
        if m.name.startswith("constrain."):
            edges[m.name] |= {t for t in DYNAMIC_IMPORT_TODAY.get(m.rel, ()) if t in mods}
    return edges


def cycles(edges: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _third_party(m: Module) -> Iterator[Import]:
    for imp in _imports(m.path, m.package):
        if imp.absolute and not imp.module.startswith("constrain"):
            yield imp
            # ``from urllib import request`` loads urllib.request
            yield from (Import(f"{imp.module}.{n}", (), imp.line, True) for n in imp.names)


def _is(module: str, names: tuple[str, ...]) -> bool:
    return any(module == n or module.startswith(n + ".") for n in names)


# ------------------------------------------------------------------------------ tests
def test_every_unit_has_a_contract() -> None:
    units = {m.unit for m in src_modules().values()}
    assert not units - set(CONTRACTS), f"no contract for {sorted(units - set(CONTRACTS))}"
    assert not set(CONTRACTS) - units, f"contract for what is gone: {sorted(set(CONTRACTS) - units)}"
    unknown = {u: sorted(a - set(CONTRACTS)) for u, a in CONTRACTS.items() if a - set(CONTRACTS)}
    assert not unknown, f"contracts naming no unit: {unknown}"


@pytest.mark.parametrize("unit", sorted(CONTRACTS))
def test_imports_keep_the_contract(unit: str) -> None:
    mods = src_modules()
    bad = []
    for m in (m for m in mods.values() if m.unit == unit):
        for imp in _imports(m.path, m.package):
            for target in _targets(imp, mods):
                other = mods[target].unit
                if other != unit and other not in CONTRACTS[unit]:
                    bad.append(f"{m.rel}:{imp.line} imports {target} ({unit} -> {other})")
    assert not bad, "\n".join(bad)


def test_imports_inside_src_are_relative() -> None:
    """``from constrain import index`` or ``import constrain.x`` inside the package: an import
    that works only when the installed package is the one on sys.path."""
    bad = [
        f"{m.rel}:{imp.line} " + (f"from {imp.module} import {', '.join(imp.names)}"
                                   if imp.names else f"import {imp.module}")
        for m in src_modules().values()
        for imp in _imports(m.path, m.package)
        if imp.absolute and _is(imp.module, ("constrain",))
    ]
    assert not bad, "absolute self-imports (use relative ones):\n" + "\n".join(bad)


def _dynamic(imp: Import) -> bool:
    if imp.module == "importlib":
        return not imp.names or not set(imp.names) <= {"resources", "metadata"}
    return _is(imp.module, ("importlib",)) and not _is(imp.module, IMPORTLIB_ALLOWED)


def test_no_dynamic_imports() -> None:
    found = set()
    bad = set()
    for m in src_modules().values():
        lines = [imp.line for imp in _third_party(m) if _dynamic(imp)]
        lines += [node.lineno for node in _walk(_tree(m.path))
                  if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__"]
        if lines:
            found.add(m.rel)
            if m.rel not in DYNAMIC_IMPORT_TODAY:
                bad |= {f"{m.rel}:{line}" for line in lines}
    assert not bad, "importlib or __import__ hides a dependency: " + ", ".join(sorted(bad))
    gone = set(DYNAMIC_IMPORT_TODAY) - found
    assert not gone, f"no longer importing dynamically, drop from DYNAMIC_IMPORT_TODAY: {gone}"


def test_http_internals_stay_in_the_transport() -> None:
    found = set()
    bad = []
    for m in src_modules().values():
        for imp in _third_party(m):
            if _is(imp.module, HTTP_INTERNALS):
                found.add(m.rel)
                if m.rel not in HTTP_INTERNALS_HOME:
                    bad.append(f"{m.rel}:{imp.line} imports {imp.module}")
    assert not bad, (f"httpcore/h2/hyperframe outside {sorted(HTTP_INTERNALS_HOME)}:\n"
                     + "\n".join(bad))
    gone = HTTP_INTERNALS_HOME - found
    assert not gone, f"no longer importing them, drop from HTTP_INTERNALS_HOME: {gone}"


def test_no_urllib_request() -> None:
    """Every request goes through the index client (pip's proxies, certificates, retries)."""
    bad = [
        f"{m.rel}:{imp.line} imports {imp.module}"
        for m in src_modules().values()
        for imp in _third_party(m)
        if _is(imp.module, ("urllib.request",))
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", NO_NETWORK)
def test_pure_layers_do_no_network(package: str) -> None:
    bad = [
        f"{m.rel}:{imp.line} imports {imp.module}"
        for m in src_modules().values()
        if m.unit == package
        for imp in _third_party(m)
        if _is(imp.module, NETWORK_MODULES)
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", NO_HOST)
def test_target_is_a_parameter(package: str) -> None:
    """Nothing that decides versions reads the host: the target is passed in."""
    bad = [
        f"{m.rel}:{imp.line} imports {imp.module}"
        for m in src_modules().values()
        if m.unit == package
        for imp in _third_party(m)
        if imp.module in ("sys", "platform", "os", "sysconfig")
    ]
    assert not bad, "\n".join(bad)


def test_no_import_cycles() -> None:
    found = cycles(graph(src_modules())) | cycles(graph(bench_modules(), strip="benchmarks."))
    new = found - KNOWN_CYCLES
    gone = KNOWN_CYCLES - found
    assert not new, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in new)
    assert not gone, ("gone (or changed), drop from KNOWN_CYCLES: "
                      + "; ".join(" <-> ".join(sorted(c)) for c in gone))


def test_modules_stay_small() -> None:
    sizes = {m.rel: len(m.path.read_text(encoding="utf-8").splitlines())
             for m in src_modules().values()}
    over = {rel for rel, n in sizes.items() if n > MAX_LINES}
    new = sorted(f"{rel} ({sizes[rel]} lines)" for rel in over - TOO_LONG_TODAY)
    assert not new, f"over {MAX_LINES} lines, split them: {new}"
    fixed = sorted(TOO_LONG_TODAY - over)
    assert not fixed, f"no longer over {MAX_LINES} lines, drop from TOO_LONG_TODAY: {fixed}"


def test_no_test_hooks_in_src() -> None:
    """Tests reach faults from outside (a kill at an observed point, a stalled server, a
    read-only directory): nothing in src reads a ``CONSTRAIN_TEST*`` variable."""
    bad = [
        f"{m.rel}:{node.lineno}"
        for m in src_modules().values()
        for node in ast.walk(_tree(m.path))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and "CONSTRAIN_TEST" in node.value
    ]
    assert not bad, "test hooks in src: " + ", ".join(bad)


def test_only_cli_prints() -> None:
    bad = []
    for m in src_modules().values():
        if m.unit in ("cli", "__main__"):
            continue
        for node in ast.walk(_tree(m.path)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                bad.append(f"{m.rel}:{node.lineno}")
    assert not bad, "print() outside the CLI: " + ", ".join(bad)


def test_every_module_states_its_job() -> None:
    missing = []
    for m in src_modules().values():
        doc = ast.get_docstring(_tree(m.path))
        if not doc or not doc.strip().splitlines()[0].strip():
            missing.append(m.rel)
    assert not missing, "modules without a first docstring line: " + ", ".join(missing)
