"""The import graph of rram_sim/ and pruning/: no cycles; rram_sim never imports torch or pruning.

Every module's imports are read with ``ast`` (imports inside functions count; imports under
``if TYPE_CHECKING:`` do not, as they never run; dynamic ``importlib.import_module`` calls are not
seen). Relative imports are resolved against the module's package. An import of ``a.b.c`` is an edge
to ``a.b.c`` and to the packages ``a`` and ``a.b`` whose ``__init__`` it runs, except packages that
contain the importing module itself (they are already being imported when it runs; an explicit
``import pkg`` or ``from pkg import name`` of such a package is still an edge, see below).

``from pkg import name``:

- ``name`` a submodule of ``pkg``: an edge to ``pkg.name``;
- ``name`` re-exported by ``pkg/__init__.py`` from a submodule (``from pkg.sub import name``): an
  edge to ``pkg.sub`` (where it is defined), since a name is looked up where it is defined;
- otherwise (``pkg/__init__.py`` defines ``name`` itself): an edge to ``pkg``.

So a package ``__init__`` that imports its submodules, and submodules that import their siblings
(directly or through the package's re-exports), form no cycle; a submodule that needs a name the
package ``__init__`` defines itself does, and is reported.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rram_sim", "pruning")
FORBIDDEN_IN_SIM = ("torch", "pruning")


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Module name -> file, for every .py file of the packages (``pkg/__init__.py`` is ``pkg``)."""
    out = {}
    for pkg in packages:
        for f in sorted((root / pkg).rglob("*.py")):
            parts = f.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def _runtime_nodes(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node except the bodies of ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _base(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute module a (possibly relative) ``from ... import`` names."""
    if level == 0:
        return target or ""
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    parts = parts[:len(parts) - (level - 1)]
    return ".".join(parts + ([target] if target else []))


def raw_imports(module: str, path: Path) -> list[tuple[str, str | None]]:
    """``(base, name)`` per imported thing: ``import a.b`` -> ``("a.b", None)``; ``from a import
    x`` -> ``("a", "x")``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    out: list[tuple[str, str | None]] = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, is_package, node.level, node.module)
            out += [(base, a.name) for a in node.names]
    return out


def _reexports(modules: dict[str, Path]) -> dict[str, dict[str, str]]:
    """Package -> {name: absolute module it is imported from} for its __init__'s top-level
    ``from X import name`` statements."""
    out: dict[str, dict[str, str]] = {}
    for mod, path in modules.items():
        if path.name != "__init__.py":
            continue
        table = out.setdefault(mod, {})
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom):
                base = _base(mod, True, node.level, node.module)
                for a in node.names:
                    table[a.asname or a.name] = (f"{base}.{a.name}" if f"{base}.{a.name}" in modules
                                                 else base)
    return out


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph(modules: dict[str, Path]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(edges between the modules, external top-level packages each module imports)."""
    reexports = _reexports(modules)
    edges: dict[str, set[str]] = {m: set() for m in modules}
    external: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        own = set(_ancestors(mod))
        for base, name in raw_imports(mod, path):
            targets = []
            if name is not None and f"{base}.{name}" in modules:
                targets.append(f"{base}.{name}")
            elif name is not None and name in reexports.get(base, {}):
                seen = set()
                target, nm = base, name
                # follow re-export chains to the defining module
                while nm in reexports.get(target, {}) and (target, nm) not in seen:
                    seen.add((target, nm))
                    src = reexports[target][nm]
                    target = src
                    if src.endswith(f".{nm}") and src in modules:
                        break
                targets.append(target)
            else:
                targets.append(base)
            for t in targets:
                if t not in modules:
                    external[mod].add(t.split(".")[0])
                    continue
                if t != mod:
                    edges[mod].add(t)
                # the package __init__s the import runs first, except the importer's own
                edges[mod].update(a for a in _ancestors(t) if a not in own and a != mod)
    return edges, external


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a path back to its start) per strongly connected component of 2+ modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    sccs: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:   # Tarjan; the graphs here are small enough to recurse
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            strongconnect(v)
    cycles = []
    for comp in sccs:
        members = set(comp)
        start = comp[0]
        # breadth-first search for the shortest path from start back to start inside the SCC
        prev: dict[str, str] = {}
        frontier, found = [start], None
        while frontier and found is None:
            nxt = []
            for v in frontier:
                for w in sorted(edges[v] & members):
                    if w == start:
                        found = v
                        break
                    if w not in prev:
                        prev[w] = v
                        nxt.append(w)
                if found is not None:
                    break
            frontier = nxt
        path = [start]
        v = found
        while v is not None and v != start:
            path.insert(1, v)
            v = prev.get(v)
        cycles.append(path + [start])
    return cycles


def test_no_import_cycles():
    edges, _ = import_graph(module_files(ROOT, PACKAGES))
    cycles = find_cycles(edges)
    text = "\n".join("  " + " -> ".join(c) for c in cycles)
    print(text)
    assert not cycles, f"import cycles:\n{text}"


def test_simulator_never_imports_torch_or_pruning():
    edges, external = import_graph(module_files(ROOT, PACKAGES))
    bad = sorted(f"{m} imports {p}" for m in edges if m.split(".")[0] == "rram_sim"
                 for p in (external[m] | {e.split(".")[0] for e in edges[m]})
                 if p in FORBIDDEN_IN_SIM)
    assert not bad, "\n".join(bad)


# ---------------------------------------------------------------------------------------------
# The analysis itself, on small packages written for the purpose
# ---------------------------------------------------------------------------------------------

def _write(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return module_files(root, {rel.split("/")[0] for rel in files})


def test_package_reexports_and_sibling_imports_are_no_cycle(tmp_path):
    mods = _write(tmp_path, {
        "p/__init__.py": "from p.a import A\nfrom p.b import B\nfrom p import c\n",
        "p/a.py": "A = 1\n",
        "p/b.py": "from p import A\nfrom p.a import A as A2\nfrom . import c\nB = 2\n",
        "p/c.py": "import p.a\nfrom .a import A\n",
    })
    edges, _ = import_graph(mods)
    assert edges["p"] == {"p.a", "p.b", "p.c"}
    assert edges["p.b"] == {"p.a", "p.c"}
    assert edges["p.c"] == {"p.a"}
    assert find_cycles(edges) == []


def test_real_cycles_are_found(tmp_path):
    mods = _write(tmp_path, {
        "q/__init__.py": "from q.m import f\nX = 1\n",
        "q/m.py": "def f():\n    from q import X\n    return X\n",      # needs the __init__'s own X
        "q/sub/__init__.py": "",
        "q/sub/s.py": "import q.t\n",
        "q/t.py": "from .sub import s\n",
        "r/__init__.py": "",
        "r/u.py": "import torch\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                  "    from r import v\n",
        "r/v.py": "from r import u\n",
    })
    edges, external = import_graph(mods)
    cycles = find_cycles(edges)
    as_sets = sorted(sorted(set(c)) for c in cycles)
    assert as_sets == [["q", "q.m"], ["q.sub.s", "q.t"]]
    for c in cycles:
        assert c[0] == c[-1] and all(b in edges[a] for a, b in zip(c, c[1:]))
    assert edges["q.t"] == {"q.sub", "q.sub.s"}          # q.sub's __init__ runs first
    assert edges["q.sub.s"] == {"q.t"}                   # q is its own package: no edge
    assert edges["r.u"] == set() and external["r.u"] == {"torch", "typing"}   # TYPE_CHECKING


def test_not_torch_skips_torch_modules_without_importing_them(tmp_path):
    """conftest.py: ``-m "not torch"`` never imports a test module that imports torch or pruning;
    without it, such a module's tests carry the ``torch`` marker."""
    _write(tmp_path, {"tests/conftest.py": (ROOT / "tests" / "conftest.py").read_text(),
                      "tests/test_uses_torch.py": "import json\n\n\ndef test_a():\n"
                                                  "    from pruning import masks  # noqa\n",
                      "tests/test_plain.py": "def test_b():\n    pass\n"})
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\nmarkers =\n    torch: needs PyTorch\n")

    def collect(*args: str) -> str:
        code = ("import sys, pytest\n"
                f"rc = pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', *{args!r},"
                " 'tests'])\n"
                "print('IMPORTED', 'torch' in sys.modules, 'pruning' in sys.modules)\n"
                "sys.exit(rc)\n")
        proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300, env={"PYTHONPATH": str(ROOT),
                                                           "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    out = collect("-m", "not torch")
    assert "IMPORTED False False" in out
    assert "test_plain.py::test_b" in out and "test_uses_torch" not in out
    out = collect("-m", "torch")
    assert "test_uses_torch.py::test_a" in out and "test_plain" not in out
