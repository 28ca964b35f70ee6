"""The package's folders follow the data flow: each layer imports only the layers below it,
no module imports itself back through others, and no module grows past what a reader holds.

Read from the source with ``ast`` (nothing is imported), so a violation names the file and
line that must change. The layers are documented in docs/development.md, "Architecture".
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sqla_partition"

#: Lower numbers are lower layers; a module may import its own sub-package and lower layers.
LAYERS = {
    "errors": 0,
    "version": 0,
    "sql": 1,
    "declaration": 2,
    "catalog": 3,
    "planning": 4,
    "migration": 5,
    "cron": 5,
    "actor": 5,
    "tools": 6,
    "cli": 7,
    "testing": 7,  # the pruning guard for applications' test suites
    "": 8,  # the package itself: the public surface, above everything
}
#: Modules the cron path loads: none of them may import SQLAlchemy or Alembic at all.
LIGHT = ("sql", "catalog", "planning", "cron", "errors")
LIGHT_MODULES = (
    "declaration.policies",
    "declaration.audit",
    "declaration.periods",
    "declaration.schedule",
)
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(name: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported module inside the package, line, typing only) for every import in ``path``,
    module-level or inside functions, resolved the way Python resolves it."""
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    here = name.split(".") if name else []
    package = here if is_package else here[:-1]
    out: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.body:
                    visit_node(sub, True)
                for sub in child.orelse:
                    visit_node(sub, typing_only)
                continue
            visit_node(child, typing_only)

    def visit_node(child: ast.AST, typing_only: bool) -> None:
        if isinstance(child, ast.ImportFrom):
            if child.level:
                base = package[: max(0, len(package) - (child.level - 1))]
            elif child.module and child.module.split(".")[0] == "sqla_partition":
                base = []
            else:
                return
            module = child.module or ""
            if not child.level:
                module = module.removeprefix("sqla_partition").lstrip(".")
            target = [*base, *module.split(".")] if module else base
            for alias in child.names:
                sub = ".".join([*target, alias.name])
                out.append((sub if sub in MODULES else ".".join(target), child.lineno, typing_only))
        elif isinstance(child, ast.Import):
            for alias in child.names:
                if alias.name.split(".")[0] == "sqla_partition":
                    inner = alias.name.removeprefix("sqla_partition").lstrip(".")
                    out.append((inner, child.lineno, typing_only))
        else:
            visit(child, typing_only)

    visit(tree, False)
    return out


def _layer(module: str) -> str:
    return module.split(".")[0] if module else ""


def test_every_module_belongs_to_a_layer():
    assert {_layer(m) for m in MODULES} <= set(LAYERS), set(map(_layer, MODULES)) - set(LAYERS)


def test_lower_layers_never_import_higher_ones():
    wrong = []
    for name, path in MODULES.items():
        mine = _layer(name)
        for target, line, _ in _imports(name, path):
            theirs = _layer(target)
            if theirs != mine and LAYERS[theirs] >= LAYERS[mine]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_no_import_circles():
    graph = {
        name: {t for t, _, typing_only in _imports(name, path) if not typing_only and t != name}
        for name, path in MODULES.items()
    }
    circles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                circles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert not circles, "\n".join(circles)


@pytest.mark.parametrize("name", sorted(MODULES), ids=lambda n: n or "sqla_partition")
def test_modules_stay_small(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name].name}: {lines} lines; split it by subject"


def test_the_cron_path_modules_import_neither_sqlalchemy_nor_alembic():
    heavy = []
    for name, path in MODULES.items():
        if _layer(name) not in LIGHT and name not in LIGHT_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            heavy += [
                f"{name}:{node.lineno} imports {n}"
                for n in names
                if n.split(".")[0] in ("sqlalchemy", "alembic")
            ]
    assert not heavy, "\n".join(heavy)


def test_the_checker_sees_a_violation(tmp_path):
    """The rules above would catch an upward import (the checker itself can fail)."""
    module = tmp_path / "runner.py"
    module.write_text("def late():\n    from ..migration.ops import CreatePartitionedTableOp\n")
    (target, _, _), *_ = _imports("cron.runner", module)
    assert target == "migration.ops"
    assert LAYERS[_layer(target)] >= LAYERS["cron"]
