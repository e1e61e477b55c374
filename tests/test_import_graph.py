"""The import graph of the project's own modules, read with `ast` (nothing is run): no cycles, and the
arrows of the design only (annotator <- pipeline <- qc; training reads the export record, the Export and
Job rows and the job mechanism; the home pages sit above everything and nothing imports them)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("annotator", "config", "home", "pipeline", "qc", "training")

# (importer's top package, imported top package) pairs that are never allowed.
FORBIDDEN = {
    ("annotator", "pipeline"),
    ("annotator", "qc"),
    ("annotator", "training"),
    ("pipeline", "qc"),
    ("pipeline", "training"),
    ("qc", "training"),
    ("training", "annotator"),
    ("training", "qc"),
    *((top, "home") for top in PACKAGES if top not in ("home", "config")),
}
# What training may read of pipeline: the export record format, the Export/Job rows, the job mechanism,
# and the OpenAI-compatible LLM client (limits, retries, backoff) that the judge and the endpoint
# evaluation reuse (issue 13), through training.evaluation.llm only.
TRAINING_MAY_IMPORT = ("pipeline.export.record", "pipeline.models", "pipeline.jobs", "pipeline.paraphrase.llm")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" not in path.parts:
                modules[module_name(root, path)] = path
    return modules


def imports_of(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """Project modules that `name` imports (at any depth: lazy imports inside functions count too)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # `from a import b` imports the module a.b when there is one, else a name of a
            targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in known else source for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` where a.b.c is a module's attribute
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target, node.lineno


def graph(root: Path, packages: tuple[str, ...]) -> dict[str, dict[str, int]]:
    known = project_modules(root, packages)
    edges: dict[str, dict[str, int]] = {m: {} for m in known}
    for name, path in known.items():
        for target, line in imports_of(name, path, known):
            edges[name].setdefault(target, line)
    return edges


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def forbidden_arrows(edges: dict[str, dict[str, int]]) -> list[str]:
    bad = []
    for source, targets in sorted(edges.items()):
        top = source.split(".")[0]
        for target, line in sorted(targets.items()):
            other = target.split(".")[0]
            allowed_for_training = top == "training" and other == "pipeline" and target.startswith(TRAINING_MAY_IMPORT)
            if (top, other) in FORBIDDEN or (top == "training" and other == "pipeline" and not allowed_for_training):
                bad.append(f"{source} (line {line}) imports {target}")
    return bad


def assert_clean(edges: dict[str, dict[str, int]]) -> None:
    found, bad = cycles(edges), forbidden_arrows(edges)
    assert found == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)
    assert bad == [], "forbidden imports:\n" + "\n".join(bad)


def test_the_project_has_no_import_cycle_and_follows_the_designs_arrows():
    assert_clean(graph(ROOT, PACKAGES))


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_check_sees_a_cycle_and_a_forbidden_arrow_in_a_synthetic_tree(tmp_path: Path):
    _write(
        tmp_path,
        {
            "annotator/__init__.py": "",
            "annotator/models.py": "def f():\n    from pipeline.models import Sample  # lazy, still an arrow\n",
            "pipeline/__init__.py": "",
            "pipeline/models.py": "from annotator.models import f\n",
            "pipeline/imports/__init__.py": "",
            "pipeline/imports/importer.py": "from . import tasks\n",
            "pipeline/imports/tasks.py": "from pipeline.imports.importer import run\n",
            "training/__init__.py": "",
            "training/data.py": "from pipeline.export.record import decode_line\nfrom pipeline.imports import tasks\n",
            "pipeline/export/__init__.py": "",
            "pipeline/export/record.py": "",
        },
    )
    edges = graph(tmp_path, ("annotator", "pipeline", "training"))
    assert cycles(edges) == [
        ["annotator.models", "pipeline.models"],
        ["pipeline.imports.importer", "pipeline.imports.tasks"],
    ]
    assert forbidden_arrows(edges) == [
        "annotator.models (line 2) imports pipeline.models",
        "training.data (line 2) imports pipeline.imports.tasks",
    ]
    with pytest.raises(AssertionError, match=r"annotator\.models <-> pipeline\.models"):
        assert_clean(edges)
