"""The docs cannot drift: docs/cli.md equals the text generated from the argparse parsers, and every
shell command in a ```bash block of docs/*.md and README.md is exercised.

How a command is exercised (the documented substitutions; docs/index.md points here):

- in the docs this project's front page owns (README.md, docs/index.md, cli.md, validation.md,
  howto.md, sweeps.md, plots.md) ``rram-sim`` commands *run* for real, in a temporary folder that
  holds a link to ``rram_sim/`` (so ``rram_sim/examples/...`` paths resolve), with every
  ```yaml block whose first line is ``# FILE.yaml`` written to ``FILE.yaml`` first (and every
  ```python block whose first line is ``# FILE.py`` to ``FILE.py``);
- in the end-to-end pages (:data:`RUN_PRUNE`: docs/walkthrough.md) ``rram-prune`` commands run
  for real too, in order, so the page's whole walk from a model file to PDF figures is checked;
- every other ``rram-sim`` / ``rram-prune`` command (other docs, and the long-running ``rram-prune``
  jobs: ``demo``, ``realprune``, ``autoprune``, ``train``) is *parsed* by the real parser, so a
  renamed command or option fails here; ``rram-prune demo --quick`` itself runs in test_demo.py;
- ``bash run.sh CMD ARGS``: ``CMD`` must be a case of run.sh, and ``demo`` ARGS parse as
  ``rram-prune demo`` (``bash run.sh test`` is this very suite);
- ``python -m MODULE`` must name an importable module, ``python FILE.py`` an existing file;
- ``pip install``, ``git clone``, ``cd`` and ``export`` lines are setup, checked to be well formed;
- a usage synopsis's optional parts in square brackets (``[--rounds 10]``) are dropped first.

``python tests/test_docs.py`` rewrites docs/cli.md.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CLI_MD = DOCS / "cli.md"
OWN = {"README.md", "index.md", "cli.md", "validation.md", "howto.md", "sweeps.md", "plots.md",
       "walkthrough.md"}
RUN_PRUNE = {"walkthrough.md"}
RUN_SUBCOMMANDS = {"chips", "chip", "layout", "verify", "simulate", "plot", "sweep"}
SETUP_PREFIXES = ("pip install", "git clone", "cd ", "export ")


# ---------------------------------------------------------------------------------------------
# docs/cli.md generator
# ---------------------------------------------------------------------------------------------

def _subparsers(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield name, sub


def cli_markdown() -> str:
    """The CLI reference, from the parsers' own help text (80 columns)."""
    from pruning.cli import build_parser as prune_parser
    from rram_sim.cli import build_parser as sim_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"
    try:
        parts = ["# Command-line reference", "",
                 "Generated from the argparse parsers by `python tests/test_docs.py`; a test "
                 "checks this file equals the generated text. Every command prints one line on "
                 "stderr and exits with status 2 on a user mistake.", ""]
        for title, parser in (("rram-sim", sim_parser()), ("rram-prune", prune_parser())):
            parts += [f"## {title}", "", "```text", parser.format_help().rstrip(), "```", ""]
            for name, sub in _subparsers(parser):
                parts += [f"### {title} {name}", "", "```text", sub.format_help().rstrip(),
                          "```", ""]
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    return "\n".join(parts)


def test_cli_md_is_generated_from_the_parsers():
    assert CLI_MD.read_text() == cli_markdown(), "docs/cli.md is stale: python tests/test_docs.py"


# ---------------------------------------------------------------------------------------------
# Commands in the docs
# ---------------------------------------------------------------------------------------------

def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def commands(text: str) -> list[str]:
    """Shell commands of the ```bash blocks: comments dropped, continuations joined."""
    out = []
    for block in blocks(text, "bash"):
        for cmd in block.replace("\\\n", " ").splitlines():
            cmd = cmd.split(" #")[0].strip()
            while re.search(r"\[[^\[\]]*\]", cmd):   # usage synopsis: optional parts
                cmd = re.sub(r"\s*\[[^\[\]]*\]", "", cmd)
            if cmd and not cmd.startswith("#"):
                out.append(cmd)
    return out


def _run_sh_cases() -> set[str]:
    text = (ROOT / "run.sh").read_text()
    return set(re.findall(r"^\s+(\w+)\)", text, flags=re.M))


def _parse(parser, argv: list[str], cmd: str) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            if exc.code:
                pytest.fail(f"docs command does not parse: {cmd!r}: {err.getvalue().strip()}")


def exercise(cmd: str, own: bool, run_prune: bool = False) -> None:
    from pruning.cli import build_parser as prune_parser
    from pruning.cli import main as prune_main
    from rram_sim.cli import build_parser as sim_parser
    from rram_sim.cli import main as sim_main

    argv = shlex.split(cmd)
    if argv[0] == "rram-sim":
        if own and len(argv) > 1 and argv[1] in RUN_SUBCOMMANDS:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = sim_main(argv[1:])
            assert rc == 0, f"docs command failed: {cmd!r}"
        else:
            _parse(sim_parser(), argv[1:], cmd)
    elif argv[0] == "rram-prune" and run_prune:
        with contextlib.redirect_stdout(io.StringIO()):
            rc = prune_main(argv[1:])
        assert rc == 0, f"docs command failed: {cmd!r}"
    elif argv[0] == "rram-prune":
        _parse(prune_parser(), argv[1:], cmd)
    elif argv[:2] == ["bash", "run.sh"]:
        sub = argv[2] if len(argv) > 2 else "demo"
        assert sub in _run_sh_cases(), f"{cmd!r}: run.sh has no '{sub}' case"
        if sub == "demo":
            _parse(prune_parser(), ["demo", *argv[3:]], cmd)
    elif argv[0] in ("python", "python3"):
        if argv[1] == "-m":
            assert importlib.util.find_spec(argv[2]) is not None, f"{cmd!r}: no module {argv[2]}"
        else:
            assert (ROOT / argv[1]).is_file(), f"{cmd!r}: no file {argv[1]}"
    elif cmd.startswith(SETUP_PREFIXES):
        assert len(argv) >= 2, f"{cmd!r}: incomplete setup command"
    else:
        pytest.fail(f"docs command of an unknown kind (teach tests/test_docs.py): {cmd!r}")


def test_docs_have_commands():
    assert commands((ROOT / "README.md").read_text())[:2] == ["bash run.sh demo",
                                                             "bash run.sh test"]
    for name in ("index.md", "sweeps.md", "plots.md"):
        assert commands((DOCS / name).read_text()), name


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.name)
def test_every_docs_command_is_exercised(path, tmp_path, monkeypatch):
    text = path.read_text()
    cmds = commands(text)
    if not cmds:
        return
    own = path.name in OWN
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rram_sim").symlink_to(ROOT / "rram_sim")
    for lang, ext in (("yaml", r"ya?ml"), ("python", "py")):
        for block in blocks(text, lang):
            first = block.splitlines()[0]
            m = re.fullmatch(rf"#\s*([\w.-]+\.{ext})\s*", first)
            if m:
                (tmp_path / m.group(1)).write_text(block)
    for cmd in cmds:
        exercise(cmd, own, path.name in RUN_PRUNE)


def test_docs_links_resolve():
    for path in doc_files():
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", path.read_text()):
            assert (path.parent / target).is_file(), f"{path.name}: broken link {target}"


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from rram_sim.fileio import atomic_write_text

    atomic_write_text(CLI_MD, cli_markdown())
    print(f"wrote {CLI_MD}")
