"""The package tree tells the stages, and the imports keep to it: nothing below a stage imports the stage."""

from __future__ import annotations

import ast
from pathlib import Path

import curation

ROOT = Path(curation.__file__).parent
BASE = {"pair", "errors", "files", "checks"}
STAGES = {"clean", "annotation", "model", "export", "finetune", "corpus", "server"}
# what each layer may import at run time (imports under `if TYPE_CHECKING:` are for type checkers only), from the
# bottom up; every module of the package belongs to one
ALLOWED = {
    "base": BASE,
    "server": BASE | {"server"},
    "clean": BASE | {"clean"},
    "model": BASE | {"clean", "model"},
    "annotation": BASE | {"clean", "annotation", "server"},
    "export": BASE | {"clean", "annotation", "model", "export"},
    "finetune": BASE | {"clean", "model", "export", "finetune"},
    "cycle": BASE | {"clean", "annotation", "model", "cycle"},
    "config": BASE | {"clean", "annotation", "model", "export", "finetune", "server", "config"},
    "corpus": BASE | {"clean", "model", "config", "corpus"},
    "cli": BASE | STAGES | {"cycle", "config", "cli"},
}
TOP = {"__init__": "base", "__main__": "cli", "config": "config", "cycle": "cycle", "cli": "cli"} | {
    m: "base" for m in BASE
}


def _runtime_imports(path: Path) -> set[str]:
    """The curation modules a file imports when it runs (top level and inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "curation":
            parts = node.module.split(".")
            found |= {f"curation.{a.name}" for a in node.names} if len(parts) == 1 else {node.module}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "curation"}
    return found


def _layer(path: Path) -> str | None:
    rel = path.relative_to(ROOT)
    if len(rel.parts) > 1:
        return rel.parts[0] if rel.parts[0] in STAGES else None
    return TOP.get(rel.stem)


def test_every_module_has_a_layer():
    assert [str(p.relative_to(ROOT)) for p in sorted(ROOT.rglob("*.py")) if _layer(p) is None] == []


def test_a_new_module_without_a_layer_is_seen():
    assert _layer(ROOT / "helpers.py") is None and _layer(ROOT / "tools" / "x.py") is None
    assert _layer(ROOT / "export" / "select.py") == "export" and _layer(ROOT / "pair.py") == "base"


def test_each_stage_imports_only_what_is_below_it():
    broken = []
    for path in sorted(ROOT.rglob("*.py")):
        for name in _runtime_imports(path):
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
    assert _runtime_imports(reaching) == {"curation.model.learned", "curation.cycle"}


def test_the_stages_are_packages():
    for stage in STAGES:
        assert (ROOT / stage / "__init__.py").exists()
    flat = sorted(p.stem for p in ROOT.glob("*.py") if p.stem not in {"__init__", "__main__"})
    assert flat == ["checks", "cli", "config", "cycle", "errors", "files", "pair"]
