"""The infra modules depend on each other in one direction only: no import cycle, and the cdk-nag
helpers know no construct of the service (each construct suppresses its own findings)."""

from __future__ import annotations

import ast

from infra.packaging import REPO_ROOT


def _infra_imports() -> dict[str, set[str]]:
    """Module name -> the infra modules it imports (module level or not)."""
    graph = {}
    for path in sorted((REPO_ROOT / "infra").rglob("*.py")):
        name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "infra":
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported |= {a.name for a in node.names if a.name.split(".")[0] == "infra"}
        graph[name] = imported
    return graph


def test_infra_modules_form_no_import_cycle() -> None:
    graph = _infra_imports()
    done: set[str] = set()

    def visit(module: str, chain: tuple[str, ...]) -> None:
        assert module not in chain, f"import cycle: {' -> '.join((*chain, module))}"
        if module in done:
            return
        for imported in graph.get(module, ()):
            visit(imported, (*chain, module))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_nag_helpers_import_no_infra_module() -> None:
    assert _infra_imports()["infra.nag"] == set()
