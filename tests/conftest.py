"""Shared fixtures, and the ``torch`` marker.

Every test module that imports ``torch`` or ``pruning`` (anywhere in the file, imports inside
functions included) is marked ``torch`` (registered in setup.cfg).
``python -m pytest -m "not torch"`` runs the simulator's suite alone: when the mark expression
deselects ``torch``, those modules are skipped while collecting the test folder, so PyTorch is
never imported (deselecting after collection would import it). A test file named explicitly on
the command line is always collected (pytest consults no ignore hook for it).

Fixtures:

- ``run_cli``: run ``rram-sim`` in-process, return ``(exit code, stdout, stderr)``;
- ``example_bundles``: the shipped example bundles loaded once per session (do not mutate them);
- ``digits_data``: scikit-learn's digits as ``pruning.data`` loads them (batch 128, seed 0).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TORCH_PACKAGES = ("torch", "pruning")


@functools.cache
def imports_torch(path: Path) -> bool:
    """Whether the Python file imports torch or pruning (top level or inside a function)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(n.split(".")[0] in TORCH_PACKAGES for n in names):
            return True
    return False


def _torch_deselected(config: pytest.Config) -> bool:
    """Whether ``-m`` deselects a test that carries only the ``torch`` marker."""
    markexpr = config.getoption("markexpr", default="") or ""
    if not markexpr:
        return False
    from _pytest.mark.expression import Expression  # pytest's own -m parser

    return not Expression.compile(markexpr).evaluate(lambda name, **kw: name == "torch")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if (collection_path.suffix == ".py" and collection_path.name.startswith("test_")
            and _torch_deselected(config) and imports_torch(collection_path)):
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if imports_torch(Path(item.path)):
            item.add_marker(pytest.mark.torch)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``run_cli("chip", "isaac")``: run ``rram-sim`` with those arguments in-process."""
    from rram_sim.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return rc, out, err

    return run


@pytest.fixture(scope="session")
def example_bundles() -> dict[str, Any]:
    """Scheme -> the shipped example bundle (rram_sim/examples/SCHEME), loaded once."""
    from rram_sim.bundle import load_bundle
    from rram_sim.examples import example_path
    from rram_sim.layout import SCHEMES

    return {s: load_bundle(example_path(s)) for s in SCHEMES}


@pytest.fixture(scope="session")
def digits_data() -> Any:
    """scikit-learn's digits as ``pruning.data.get_data`` loads them (batch 128, seed 0)."""
    from pruning.data import get_data

    return get_data("digits", batch_size=128, seed=0)
