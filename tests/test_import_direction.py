"""The dependency direction of the design card, checked on the source text (AST):

- gate imports nothing of ours and no framework (no FastAPI, SQLAlchemy, httpx, pyscard, nfcpy);
- reader_agent and firmware_config never import api;
- nothing but tests (and the CLI composition root, mynagate_cli) imports api;
- mynagate_i18n (the display and mail catalogs) imports nothing of ours.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = {"gate", "reader_agent", "api", "firmware_config", "mynagate_cli", "mynagate_i18n"}
FRAMEWORKS = {"fastapi", "starlette", "sqlalchemy", "alembic", "httpx", "uvicorn", "smartcard",
              "nfc", "gpiozero", "pydantic", "typer"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_gate_imports_nothing_of_ours_nor_frameworks():
    files = sources("gate")
    assert files, "gate/ has no sources"
    for f in files:
        bad = imported_roots(f) & ((OURS - {"gate"}) | FRAMEWORKS)
        assert not bad, f"{f.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_catalog_package_imports_nothing_of_ours():
    """mynagate_i18n is the neutral home of the display and mail catalogs: the reader agent
    and the service both load it, so it may depend on neither."""
    for f in sources("mynagate_i18n"):
        bad = imported_roots(f) & (OURS - {"mynagate_i18n"})
        assert not bad, f"{f.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_tests_and_the_cli_import_api():
    for package in ("gate", "reader_agent", "firmware_config"):
        for f in sources(package):
            assert "api" not in imported_roots(f), f"{f.relative_to(ROOT)} imports api"


def test_checker_sees_a_violation(tmp_path: Path):
    """The checker itself can fail: a file importing api is caught."""
    f = tmp_path / "x.py"
    f.write_text("from api.db import Database\nimport sqlalchemy.orm\n")
    assert {"api", "sqlalchemy"} <= imported_roots(f)


# --- import cycles ------------------------------------------------------------------------------
# Every import counts, also one inside a function: such an import only hides a cycle from the
# interpreter's load order, it does not remove it. An ``api`` domain is ``api.<name>``.

def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def our_modules() -> dict[str, Path]:
    return {module_name(p): p for package in sorted(OURS) for p in sources(package)
            if "migrations" not in p.parts}


def imported_modules(name: str, path: Path, known: set[str]) -> set[tuple[str, bool]]:
    """(module, inside a function) for every import of one of ``known`` in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[tuple[str, bool]] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = package[:len(package) - child.level + 1] if child.level else []
                module = ".".join(base + ([child.module] if child.module else []))
                targets = [module] + [f"{module}.{a.name}" for a in child.names]
            else:
                targets = []
            found.update((t, in_function) for t in targets if t in known and t != name)
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(tree, False)
    return found


def import_graph() -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    """Module → modules it imports, and the (importer, imported) pairs inside functions."""
    modules = our_modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    inner: set[tuple[str, str]] = set()
    for name, path in modules.items():
        for target, in_function in imported_modules(name, path, set(modules)):
            graph[name].add(target)
            if in_function:
                inner.add((name, target))
    return graph, inner


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.add(frozenset(component))
    return found


def domain_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def api_domain_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    domains: dict[str, set[str]] = {}
    for source, targets in graph.items():
        for target in targets:
            if (source.startswith("api.") and target.startswith("api.")
                    and domain_of(source) != domain_of(target)):
                domains.setdefault(domain_of(source), set()).add(domain_of(target))
    return domains


def test_no_import_cycle_outside_api():
    graph, _ = import_graph()
    found = {c for c in cycles(graph) if not all(m.startswith("api.") for m in c)}
    assert not found, f"import cycles: {[sorted(c) for c in found]}"


def test_no_import_cycle_between_api_domains():
    graph, _ = import_graph()
    found = cycles(api_domain_graph(graph)) | {c for c in cycles(graph)
                                               if all(m.startswith("api.") for m in c)}
    assert not found, f"import cycles: {[sorted(c) for c in found]}"


def test_no_import_inside_a_function_hides_a_cycle():
    """An import inside a function is allowed only where it closes no cycle (optional drivers
    loaded by URI, the CLI's composition root)."""
    graph, inner = import_graph()
    module_cycles = cycles(graph)
    domain_cycles = cycles(api_domain_graph(graph))
    hiding = sorted(
        (a, b) for a, b in inner
        if any({a, b} <= c for c in module_cycles)
        or any({domain_of(a), domain_of(b)} <= c for c in domain_cycles if domain_of(a)
               != domain_of(b)))
    assert hiding == []


def test_cycle_checker_sees_a_cycle(tmp_path: Path):
    """The checker itself can fail: a cycle hidden in a function is found."""
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from a import x\n")
    assert imported_modules("b", tmp_path / "b.py", {"a", "b"}) == {("a", True)}
    assert imported_modules("a", tmp_path / "a.py", {"a", "b"}) == {("b", False)}
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == {frozenset({"a", "b"})}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == set()
