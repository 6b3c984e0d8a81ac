"""A step script's interpreter imports `pipelines.runtime` and nothing else of the app:
the runtime needs the standard library only (its own modules aside)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "pipelines" / "runtime"


def test_the_runtime_imports_only_the_standard_library_and_itself() -> None:
    found: dict[str, set[str]] = {}
    for path in sorted(RUNTIME.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            for name in names:
                top = name.split(".")[0]
                if name.startswith("pipelines.runtime") or top in sys.stdlib_module_names or top == "__future__":
                    continue
                if path.name == "datasets.py" and top == "pandas":
                    continue  # imported inside to_pandas_dataframe(), only when a script asks for it
                found.setdefault(path.name, set()).add(name)
    assert found == {}
