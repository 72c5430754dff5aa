"""The data flows one way: no module imports a later stage, and there is no import cycle.

Imports are read from the source (ast), so the test needs nothing loaded. Every import counts:
inside functions (a lazy import is still a dependency) and inside ``if TYPE_CHECKING:`` blocks (an
annotation is a dependency too). There are no exemptions: the command line is the outermost surface,
the one stage allowed to reach the chat, the evaluations and the benchmarks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("embeddings", "rag", "ui", "evals", "benchmarks")

# Stage of a module: a module may import only modules of its own stage or an earlier one.
STAGES = [
    ("embeddings",),
    ("rag.errors", "rag.lazy", "rag.types", "rag.vietnamese", "rag.config", "rag"),
    ("rag.ingest",),
    ("rag.index",),
    ("rag.search",),
    ("rag.answer",),
    ("rag.pipeline", "rag.chain", "rag.assistant"),
    ("ui", "evals"),
    ("benchmarks",),
    ("ui.cli",),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage(module: str) -> int:
    best, found = -1, None
    for i, prefixes in enumerate(STAGES):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, found = len(p), i
    assert found is not None, f"{module} has no stage in tests/test_architecture.py"
    return found


def imports(path: Path) -> set[str]:
    """The project modules ``path`` imports (relative imports resolved), wherever the import is."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                found.add(target)
                # `from pkg import module` names a module too
                found.update(f"{target}.{a.name}" for a in child.names
                             if (ROOT / target.replace(".", "/") / f"{a.name}.py").exists()
                             or (ROOT / target.replace(".", "/") / a.name / "__init__.py").exists())
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m.split(".")[0] in PACKAGES}


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_no_module_imports_a_later_stage():
    wrong = []
    for path in sources():
        module = module_name(path)
        for target in imports(path):
            if stage(target) > stage(module):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_embeddings_never_imports_rag():
    offenders = [f"{module_name(p)} imports {t}" for p in (ROOT / "embeddings").rglob("*.py")
                 for t in imports(p) if t.split(".")[0] != "embeddings"]
    assert not offenders, offenders


def test_no_import_cycle():
    graph: dict[str, set[str]] = {}
    names = {module_name(p) for p in sources()}
    for path in sources():
        # a package's __init__ importing its own modules is how lazy exports work, not a cycle
        graph[module_name(path)] = {t for t in imports(path) if t in names and t != module_name(path)
                                    and not (path.name == "__init__.py" and t.startswith(module_name(path) + "."))}
    visiting, done, cycles = set(), set(), []

    def walk(node: str, trail: list[str]) -> None:
        if node in done:
            return
        if node in visiting:
            cycles.append(" → ".join(trail[trail.index(node):] + [node]))
            return
        visiting.add(node)
        for nxt in sorted(graph.get(node, ())):
            walk(nxt, [*trail, node])
        visiting.discard(node)
        done.add(node)

    for node in sorted(graph):
        walk(node, [])
    assert not cycles, cycles


def test_the_library_never_imports_a_surface():
    """``rag`` is the library every surface calls: nothing of it reaches the chat, the evaluations or the benchmarks."""
    offenders = [f"{module_name(p)} imports {t}" for p in (ROOT / "rag").rglob("*.py")
                 for t in imports(p) if t.split(".")[0] in ("ui", "evals", "benchmarks")]
    assert not offenders, offenders


@pytest.mark.parametrize("module", ["rag.assistant", "rag.search.query", "rag.answer.cite"])
def test_the_checker_sees_imports(module):
    """The check itself: these modules are known to import project code, so a blind parser fails here."""
    path = ROOT / (module.replace(".", "/") + ".py")
    assert imports(path), module


def test_the_checker_sees_type_checking_imports(tmp_path, monkeypatch):
    """An import needed only by annotations is still seen (a cycle can hide there)."""
    module = tmp_path / "rag" / "probe.py"
    module.parent.mkdir()
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .search.query import analyse\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert imports(module) == {"rag.search.query"}
