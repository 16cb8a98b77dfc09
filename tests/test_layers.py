"""The import graph of Carnet's packages: layers that only point down, and no circle.

Every import statement of every module is read with `ast` (those inside functions and under
`if TYPE_CHECKING` included), resolved to the module it names, and checked against the layers
below, written once, bottom to top. A module may import from its own layer and the layers below;
circles between modules are refused anywhere, inside a layer too.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Bottom to top. A module belongs to the layer of the longest name it starts with.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("carnet_core",),  # the shared vocabulary: imports nothing of ours
    ("profiles",),
    ("smart_auth",),
    ("consent",),
    # fhir_server, bottom to top: its own vocabulary, search-value extraction, storage, search,
    # then the interactions, Bundles and the HTTP layer.
    ("fhir_server.resources", "fhir_server.jsonio"),
    ("fhir_server.indexing",),
    ("fhir_server.store",),
    ("fhir_server.search",),
    ("fhir_server",),
    ("ingestion",),
    ("carnet",),  # the composition root
)
PACKAGES = sorted({prefix.split(".")[0] for layer in LAYERS for prefix in layer})
# Top-level directories that are not part of the product.
NOT_PRODUCT = {"tests", "bench", "examples", "scripts"}


def _modules() -> dict[str, Path]:
    """Every product module by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The product modules `module` imports, wherever its import statements are."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            # `from a import b` names the module a.b when there is one, else a name in a.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                yield name


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {module: set(_imported(module, path, modules)) for module, path in modules.items()}


def _layer(module: str) -> int:
    matches = [
        (len(prefix), index)
        for index, layer in enumerate(LAYERS)
        for prefix in layer
        if module == prefix or module.startswith(prefix + ".")
    ]
    return max(matches)[1]


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        circles.append(sorted(component))
    return circles


def test_every_product_package_has_a_layer():
    packages = {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in NOT_PRODUCT
    }
    assert packages <= set(PACKAGES), f"give these packages a layer: {packages - set(PACKAGES)}"


def test_imports_only_point_down():
    upward = [
        f"{module} (layer {_layer(module)}) imports {target} (layer {_layer(target)})"
        for module, targets in sorted(_graph().items())
        for target in sorted(targets)
        if _layer(target) > _layer(module)
    ]
    assert upward == []


def test_no_module_imports_itself_through_others():
    assert _circles(_graph()) == []


def test_the_graph_is_read_whole(tmp_path):
    """The checks above see imports inside functions and under TYPE_CHECKING, and relative ones."""
    path = tmp_path / "x.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from b import c\n"
        "def f():\n    import d.e\n"
        "from . import g\n",
        encoding="utf-8",
    )
    modules = {name: Path() for name in ("a", "a.x", "a.g", "b", "b.c", "d")}
    assert set(_imported("a.x", path, modules)) == {"b.c", "d", "a.g"}
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
