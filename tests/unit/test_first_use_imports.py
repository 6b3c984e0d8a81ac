"""Imports on first use, one at a time (pipelines/lazy.py): the lock on real threads, and a
check that the app's entry points import through it. (The collision it prevents depends on
two threads reaching the import machinery within microseconds of each other: it was seen in
a test run, as pipelines/lazy.py tells, and cannot be made to happen on demand.)"""

from __future__ import annotations

import ast
import textwrap
import threading
from pathlib import Path

import pytest

from pipelines import lazy
from tests.service import ROOT


def test_first_use_is_one_reentrant_lock_for_both_forms() -> None:
    # GIVEN a thread holding first_use() (and, inside it, load: it is re-entrant)
    held, release, entered = threading.Event(), threading.Event(), threading.Event()

    def holder() -> None:
        with lazy.first_use():
            lazy.load("json")
            held.set()
            release.wait(5)

    def other() -> None:
        lazy.load("json")
        entered.set()

    threading.Thread(target=holder).start()
    assert held.wait(5)
    threading.Thread(target=other).start()
    # THEN another thread's load waits for it, and goes on once it is released
    assert not entered.wait(0.2)
    release.set()
    assert entered.wait(5)


ENTRY_MODULES = sorted((ROOT / "pipelines").glob("*/functions.py"))


def imports_outside_first_use(source: str) -> list[int]:
    """Lines of the import statements inside functions of `source` that no `with first_use():` holds."""
    outside: list[int] = []

    def visit(node: ast.AST, held: bool, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            holds = held or (isinstance(child, ast.With) and any(
                isinstance(item.context_expr, ast.Call) and getattr(item.context_expr.func, "id", "") == "first_use"
                for item in child.items))
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import | ast.ImportFrom) and inside and not holds:
                outside.append(child.lineno)
            visit(child, holds, inside)

    visit(ast.parse(source), held=False, in_function=False)
    return outside


@pytest.mark.parametrize("path", ENTRY_MODULES, ids=lambda p: str(p.parent.name))
def test_the_functions_import_on_first_use_through_the_lock(path: Path) -> None:
    # The app's functions (pipelines/*/functions.py, what the Functions worker calls on its
    # thread pool) import their work on first use: every such import holds the lock
    assert imports_outside_first_use(path.read_text(encoding="utf-8")) == [], path


def test_the_check_finds_an_import_no_lock_holds() -> None:
    # GIVEN module-level imports (the app's load), a function importing bare, one holding the lock
    source = textwrap.dedent("""
        import json
        def bare():
            from pipelines import text
        def held():
            with first_use():
                from pipelines import text
        def nested():
            def inner():
                import os
    """)
    # THEN the bare and the nested imports are found, and nothing else
    assert imports_outside_first_use(source) == [4, 10]
