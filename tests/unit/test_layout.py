"""The package tree tells the stages, and the imports keep to it: nothing below a stage imports the stage."""

from __future__ import annotations

import ast
from pathlib import Path

import curation

ROOT = Path(curation.__file__).parent
BASE = {"pair", "errors", "files", "checks", "progress"}
STAGES = {"clean", "clusters", "annotation", "model", "export", "finetune", "corpus", "server"}
# what each layer may import at run time (imports under `if TYPE_CHECKING:` are for type checkers only), from the
# bottom up; every module of the package belongs to one
ALLOWED = {
    "base": BASE,
    "server": BASE | {"server"},
    "clean": BASE | {"clean"},
    "model": BASE | {"clean", "model"},
    "clusters": BASE | {"clean", "model", "clusters"},
    "annotation": BASE | {"clean", "clusters", "annotation", "server"},
    "export": BASE | {"clean", "clusters", "annotation", "model", "export"},
    "finetune": BASE | {"clean", "model", "export", "finetune"},
    "cycle": BASE | {"clean", "clusters", "annotation", "model", "cycle"},
    "config": BASE | {"clean", "clusters", "annotation", "model", "export", "finetune", "server", "config"},
    "corpus": BASE | {"clean", "clusters", "model", "corpus"},
    "cli": BASE | STAGES | {"cycle", "config", "cli"},
}
TOP = {"__init__": "base", "__main__": "cli", "config": "config", "cycle": "cycle"} | {m: "base" for m in BASE}


def _is_module(name: str, root: Path = ROOT) -> bool:
    rel = Path(*name.split(".")[1:])
    return (root / rel).with_suffix(".py").exists() or (root / rel / "__init__.py").exists()


def _imported(node: ast.AST, root: Path = ROOT) -> set[str]:
    """The curation modules one import statement names: `from curation.x import y` names the module curation.x.y
    where y is one, else curation.x."""
    if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "curation":
        subs = (f"{node.module}.{alias.name}" for alias in node.names)
        return {sub if _is_module(sub, root) else node.module for sub in subs}
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name.split(".")[0] == "curation"}
    return set()


def _imports(path: Path, root: Path = ROOT) -> set[str]:
    """The curation modules a file imports: at the top, inside functions and for type checkers alike (an import under
    `if TYPE_CHECKING:` is a dependency a reader has to follow too)."""
    return set().union(*(_imported(node, root) for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))))


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(("curation", *parts))


def _layer(path: Path) -> str | None:
    rel = path.relative_to(ROOT)
    if len(rel.parts) > 1:
        return "cli" if rel.parts[0] == "cli" else rel.parts[0] if rel.parts[0] in STAGES else None
    return TOP.get(rel.stem)


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle among modules, each once (depth-first search, an edge back to the path is a circle)."""
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                circle = path[path.index(nxt) :]
                turn = circle.index(min(circle))
                canonical = circle[turn:] + circle[:turn]
                if canonical not in found:
                    found.append(canonical)
            elif nxt not in done:
                visit(nxt, [*path, nxt])
        done.add(node)

    for start in sorted(graph):
        if start not in done:
            visit(start, [start])
    return found


def test_every_module_has_a_layer():
    assert [str(p.relative_to(ROOT)) for p in sorted(ROOT.rglob("*.py")) if _layer(p) is None] == []


def test_a_new_module_without_a_layer_is_seen():
    assert _layer(ROOT / "helpers.py") is None and _layer(ROOT / "tools" / "x.py") is None
    assert _layer(ROOT / "export" / "select.py") == "export" and _layer(ROOT / "pair.py") == "base"
    assert _layer(ROOT / "cli" / "corpus.py") == "cli"


def test_each_stage_imports_only_what_is_below_it():
    broken = []
    for path in sorted(ROOT.rglob("*.py")):
        for name in _imports(path):
            top = name.split(".")[1]
            if top not in ALLOWED[_layer(path) or "base"]:
                broken.append(f"{path.relative_to(ROOT)} imports {name}")
    assert broken == []


def test_the_layers_have_no_circle():
    """A layer never imports one that may import it back."""
    back = [(a, b) for a in ALLOWED for b in ALLOWED[a] - {a} if b in ALLOWED and a in ALLOWED[b]]
    assert back == []


def test_the_check_sees_a_stage_reaching_up(tmp_path):
    reaching = tmp_path / "clean" / "bad.py"
    reaching.parent.mkdir()
    reaching.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from curation.config import Config\n"
        "def f():\n    from curation.model.learned import LearnedFilter\n    from curation import cycle\n"
    )
    assert _imports(reaching) == {"curation.config", "curation.model.learned", "curation.cycle"}


def test_no_stage_reads_the_whole_config():
    """Each stage gets its own sections from the command line (config.py composes them); none imports the whole."""
    readers = [
        str(path.relative_to(ROOT))
        for path in sorted(ROOT.rglob("*.py"))
        if _layer(path) in STAGES | {"cycle"} and "curation.config" in _imports(path)
    ]
    assert readers == []


def test_no_module_imports_itself_round_a_circle():
    """Module by module, type-only imports included: a circle hides which of two modules is the base of the other."""
    graph = {_module(p): _imports(p) - {_module(p)} for p in sorted(ROOT.rglob("*.py"))}
    assert _circles(graph) == []


def test_the_circle_check_finds_circles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": {"e"}}
    assert _circles(graph) == [["a", "b", "c"], ["e", "e2"]]


def test_the_stages_are_packages():
    for stage in STAGES:
        assert (ROOT / stage / "__init__.py").exists()
    flat = sorted(p.stem for p in ROOT.glob("*.py") if p.stem not in {"__init__", "__main__"})
    assert flat == ["checks", "config", "cycle", "errors", "files", "pair", "progress"]


# own modules imported inside a function, each for a start-up cost measured (issue 38) or an order the server needs
LAZY = {
    ("cli/corpus.py", "curation.corpus.score"): "pyarrow and Ray's glue, +0.28 s on every command",
    ("cli/corpus.py", "curation.corpus.slice"): "pyarrow, +0.36 s on every command",
    ("finetune/bases.py", "curation.finetune.hf"): "transformers, +1.2 s, only for a Hugging Face base",
    ("finetune/bases.py", "curation.finetune.e5_decoder"): "torch, +1.4 s, only for the e5 recipe",
    ("finetune/bases.py", "curation.finetune.legacy"): "torch, +1.4 s, only for a folder of the earlier e5 decoder",
    ("finetune/compare.py", "curation.finetune.e5_decoder"): "torch, +1.4 s, only for the e5 recipe",
    ("server/run.py", "curation.server.engine"): "argilla-server, +3.6 s, in the server's processes, in order",
    ("server/run.py", "curation.server.null_engine"): "argilla-server, the benchmark's engine, in order",
    ("server/run.py", "curation.server.patches"): "the patches, after the engine is loaded",
    ("server/run.py", "curation.server.reindex"): "argilla-server, +3.3 s, after the patches",
}


def _imports_in_functions(path: Path) -> set[str]:
    functions = (
        fn
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
    )
    return {name for fn in functions for node in ast.walk(fn) for name in _imported(node)}


def test_own_modules_are_imported_at_the_top_unless_a_measured_cost_says_otherwise():
    """A dependency hidden in a function is one a reader misses: only the measured exceptions in LAZY."""
    lazy = {
        (str(path.relative_to(ROOT)), name)
        for path in sorted(ROOT.rglob("*.py"))
        for name in _imports_in_functions(path)
    }
    assert sorted(lazy - set(LAZY)) == []
    assert sorted(set(LAZY) - lazy) == []  # an exception no longer needed goes from the list too


def test_no_module_is_too_long_to_hold_in_ones_head():
    """500 lines at most: a module that grows past it splits along what it holds (as server/store.py did)."""
    long = {str(p.relative_to(ROOT)): n for p in ROOT.rglob("*.py") if (n := len(p.read_text().splitlines())) > 500}
    assert long == {}
