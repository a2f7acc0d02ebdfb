"""The project's import rules: the import-linter contracts (pyproject.toml) hold, no import
loop exists anywhere (function-local imports included), and the AWS code stays in its
package."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["bench", "config", "core", "eventbus", "shop", "cart", "notifications"]
AWS_PACKAGE = ROOT / "eventbus" / "aws"


def test_the_import_linter_contracts_are_kept():
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# --- The import graph, every import statement wherever it stands -----------------------------


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files(root: Path, packages: list[str]) -> Iterator[Path]:
    for package in packages:
        yield from sorted((root / package).rglob("*.py"))


def imported_modules(path: Path, root: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports: at module level, in functions, under
    TYPE_CHECKING alike, with the packages Python runs on the way (``a`` for ``a.b``)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in known else base)
    found = set()
    for target in targets:
        parts = target.split(".")
        for end in range(1, len(parts) + 1):
            candidate = ".".join(parts[:end])
            if candidate in known and candidate != name:
                found.add(candidate)
    # A module's own packages run before it; importing them back is no loop of its own.
    return {target for target in found if not name.startswith(f"{target}.")}


def import_graph(root: Path, packages: list[str]) -> dict[str, set[str]]:
    files = list(python_files(root, packages))
    known = {module_name(path, root) for path in files}
    return {module_name(path, root): imported_modules(path, root, known) for path in files}


def import_loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                lowlink[node] = min(lowlink[node], lowlink[target])
            elif target in on_stack:
                lowlink[node] = min(lowlink[node], index[target])
        if lowlink[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                loops.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return loops


def test_no_import_loop_anywhere_not_even_through_function_local_imports():
    graph = import_graph(ROOT, PACKAGES)
    assert len(graph) > 100  # the whole project was read
    assert "cart.handlers" in graph["cart.apps"]  # an import inside a function counts
    assert import_loops(graph) == []


def test_a_loop_hidden_in_a_function_local_import_is_found(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "outbox.py").write_text("from pkg.delivery import retry_delay\n")
    (package / "delivery.py").write_text(
        "def replay():\n    from pkg.outbox import relay  # dodges the loop at import time\n"
    )
    (package / "other.py").write_text("from . import outbox\n")

    graph = import_graph(tmp_path, ["pkg"])

    assert graph["pkg.other"] == {"pkg.outbox"}
    assert import_loops(graph) == [["pkg.delivery", "pkg.outbox"]]


# --- The AWS code in its package ------------------------------------------------------------


def _module_files_outside_aws() -> Iterator[Path]:
    for path in python_files(ROOT, PACKAGES):
        if AWS_PACKAGE not in path.parents:
            yield path


def test_outside_the_aws_package_no_module_imports_boto3():
    importers = []
    for path in _module_files_outside_aws():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] in ("boto3", "botocore") for name in names):
                importers.append(module_name(path, ROOT))
    assert importers == []


def test_outside_the_aws_package_no_module_reads_the_backend_options():
    """Settings define ``EVENT_BUS["OPTIONS"]`` and the backend registry hands them, unread,
    to the backend's constructor (as Django's cache handler does with ``CACHES``); nothing
    else looks inside them."""
    mentions: dict[str, int] = {}
    for path in _module_files_outside_aws():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value == "OPTIONS":
                name = module_name(path, ROOT)
                mentions[name] = mentions.get(name, 0) + 1
    assert set(mentions) <= {"config.settings", "eventbus.backend"}
    assert mentions["eventbus.backend"] == 1
    registry = (ROOT / "eventbus" / "backend.py").read_text()
    assert 'backend_class(**config.get("OPTIONS", {}))' in registry
