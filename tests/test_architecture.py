"""The package's shape: imports run one way, no module reaches into another's private names, small modules.

The layer order (README, "Layout") is the contract that lets a lower layer be read, tested and reused without
the ones above it. Imports inside functions count too: a lazy import upward is still a dependency upward.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "polytag"

# errors → data (with tokenization, splitter) → formats/evaluation/io → datasets → embeddings → nn → models
#   → training/export → config → cli
LAYERS = {
    "errors": 0,
    "data": 1,
    "tokenization": 1,
    "splitter": 1,
    "formats": 2,
    "evaluation": 2,
    "io": 2,
    "datasets": 3,
    "embeddings": 4,
    "nn": 5,
    "models": 6,
    "training": 7,
    "export": 7,
    "config": 8,
    "cli": 9,
    "demo": 9,
    "__main__": 9,
}
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
REASON_MARK = (
    "# long:"  # a function over the limit says why on the line above its def (or its first decorator)
)


def _modules() -> list[tuple[str, Path, ast.Module]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join(parts), path, ast.parse(path.read_text(encoding="utf-8"))))
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "polytag" and len(parts) > 1 else None


def _imports(module: str, path: Path, tree: ast.Module) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, imported names) for every import statement, relative ones resolved."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target, [alias.name for alias in node.names]))
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_imports_follow_the_layer_order() -> None:
    upward = []
    for module, path, tree in _modules():
        own = _layer(module)
        if own not in LAYERS:
            continue  # the package root and Flair's top-level paths (polytag.trainers) may import any layer
        for line, target, _names in _imports(module, path, tree):
            other = _layer(target)
            if other in LAYERS and LAYERS[other] > LAYERS[own]:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({own}) imports {target} ({other})")
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_no_module_imports_another_modules_private_names() -> None:
    reaching = []
    for module, path, tree in _modules():
        for line, target, names in _imports(module, path, tree):
            if not target.startswith("polytag"):
                continue
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            reaching += [f"{where} imports {target}.{name}" for name in names if _private(name)]
            if (
                any(_private(part) for part in target.split("."))
                and target.rsplit(".", 1)[0] != module.rsplit(".", 1)[0]
            ):
                reaching.append(f"{where} imports the private module {target} from outside its package")
    assert not reaching, "private names used across modules:\n" + "\n".join(reaching)


@pytest.mark.parametrize("limit", [MAX_MODULE_LINES])
def test_modules_stay_small(limit: int) -> None:
    large = [
        f"{path.relative_to(PACKAGE.parent)}: {count} lines"
        for _module, path, _tree in _modules()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > limit
    ]
    assert not large, f"modules over {limit} lines:\n" + "\n".join(large)


def test_long_functions_say_why() -> None:
    unexplained = []
    for _module, path, tree in _modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length <= MAX_FUNCTION_LINES:
                continue
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            above = lines[first - 2].strip() if first >= 2 else ""
            if not above.startswith(REASON_MARK):
                unexplained.append(
                    f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({length} lines)"
                )
    assert not unexplained, (
        f"functions over {MAX_FUNCTION_LINES} lines without a '{REASON_MARK} ...' line above them:\n"
        + "\n".join(unexplained)
    )


def test_the_checks_see_a_violation() -> None:
    """The walkers above must actually find imports and private names (a guard against a vacuous pass)."""
    tree = ast.parse("from polytag.models.base import _hidden\nimport polytag.cli.main\n")
    found = _imports("polytag.data.x", PACKAGE / "data" / "x.py", tree)
    assert (1, "polytag.models.base", ["_hidden"]) in found
    assert (2, "polytag.cli.main", []) in found
    assert _private("_hidden") and not _private("__all__")
