"""The layering rules of docs/architecture.md, checked on the code's imports (lazy ones included).

Each rule names a package and what it must never import. A failure names the file, the line and
the import, so a change that breaks the shape is caught before review.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"

# package (dotted) -> module prefixes it must not import
RULES: dict[str, tuple[str, ...]] = {
    # the domain is pure: no AWS, no ML, no other layer
    "diarist.domain": (
        "boto3",
        "botocore",
        "torch",
        "diarist.services",
        "diarist.adapters",
        "diarist.engine",
        "diarist.local",
        "diarist.worker",
        "diarist.cli",
        "functions",
    ),
    # services are use cases over ports: adapters are handed to them, never imported
    "diarist.services": (
        "boto3",
        "botocore",
        "torch",
        "diarist.adapters",
        "diarist.local",
        "diarist.cli",
        "functions",
    ),
    # adapters wrap AWS for the ports; they know nothing above them
    "diarist.adapters": ("diarist.services", "diarist.local", "diarist.cli", "diarist.worker", "functions"),
    # the engine is a library: no service, no AWS wiring
    "diarist.engine": (
        "boto3",
        "diarist.services",
        "diarist.adapters",
        "diarist.local",
        "diarist.cli",
        "functions",
    ),
    # handlers reach AWS only through adapters built by their wiring
    "functions": ("boto3", "botocore.client", "diarist.local", "diarist.cli"),
}

# deliberate exceptions, each with its reason
EXCEPTIONS: dict[str, tuple[str, ...]] = {
    # the engine's input fetcher streams s3:// inputs to disk (``diarist diarize s3://...``, the worker)
    "src/diarist/engine/fetch.py": ("boto3",),
}

# modules that must import without torch (the Lambdas use them)
TORCH_FREE = ("diarist.engine.formats", "diarist.engine.clustering", "diarist.domain")


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC if path.is_relative_to(SRC) else REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _files(package: str) -> Iterator[Path]:
    root = (SRC if package.startswith("diarist") else REPO) / Path(*package.split("."))
    if root.with_suffix(".py").is_file():
        yield root.with_suffix(".py")
    yield from sorted(root.rglob("*.py"))


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:  # `from diarist import adapters` names a module too
                yield node.lineno, f"{module}.{alias.name}"


def _breaks(module: str, forbidden: tuple[str, ...]) -> str | None:
    for prefix in forbidden:
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    return None


@pytest.mark.parametrize("package", sorted(RULES))
def test_layer_imports_only_what_it_may(package: str) -> None:
    problems = []
    for path in _files(package):
        for line, module in _imports(path):
            hit = _breaks(module, RULES[package])
            if hit and hit not in EXCEPTIONS.get(str(path.relative_to(REPO)), ()):
                problems.append(
                    f"{path.relative_to(REPO)}:{line} imports {module} ({package} must not import {hit})"
                )
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_rules_see_imports() -> None:
    """The checker itself: a forbidden import in a sample is found, lazy and relative ones too."""
    sample = REPO / "src" / "diarist" / "services" / "_architecture_sample.py"
    code = "def f():\n    import boto3\n    from ..adapters import aws\n"
    sample.write_text(code, encoding="utf-8")
    try:
        found = [m for _, m in _imports(sample) if _breaks(m, RULES["diarist.services"])]
    finally:
        sample.unlink()
    assert found == ["boto3", "diarist.adapters", "diarist.adapters.aws"]


@pytest.mark.parametrize("module", TORCH_FREE)
def test_lambda_side_modules_import_without_torch(module: str) -> None:
    import subprocess
    import sys

    code = f"import sys, importlib; importlib.import_module({module!r}); assert 'torch' not in sys.modules"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
