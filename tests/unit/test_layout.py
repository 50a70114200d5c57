"""The package tree tells the stages, and the imports keep to it: nothing below a stage imports the stage."""

from __future__ import annotations

import ast
from pathlib import Path

import curation

ROOT = Path(curation.__file__).parent
BASE = {"pair", "errors", "files", "checks"}
# what each layer may import at run time (imports under `if TYPE_CHECKING:` are for type checkers only)
ALLOWED = {
    "base": BASE,
    "clean": BASE | {"clean"},
    "annotation": BASE | {"clean", "annotation", "server"},
    "model": BASE | {"clean", "model"},
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
        return rel.parts[0] if rel.parts[0] in ALLOWED else None
    return "base" if rel.stem in BASE else None


def test_each_stage_imports_only_what_is_below_it():
    broken = []
    for path in sorted(ROOT.rglob("*.py")):
        layer = _layer(path)
        if layer is None:
            continue
        for name in _runtime_imports(path):
            top = name.split(".")[1]
            if top not in ALLOWED[layer]:
                broken.append(f"{path.relative_to(ROOT)} imports {name}")
    assert broken == []


def test_the_check_sees_a_stage_reaching_up(tmp_path):
    reaching = tmp_path / "clean" / "bad.py"
    reaching.parent.mkdir()
    reaching.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from curation.config import Config\n"
        "def f():\n    from curation.model.learned import LearnedFilter\n    from curation import cycle\n"
    )
    assert _runtime_imports(reaching) == {"curation.model.learned", "curation.cycle"}


def test_the_four_stages_are_packages():
    for stage in ("clean", "annotation", "model", "corpus", "server"):
        assert (ROOT / stage / "__init__.py").exists()
    flat = sorted(p.stem for p in ROOT.glob("*.py") if p.stem not in {"__init__", "__main__"})
    assert flat == ["checks", "cli", "config", "cycle", "errors", "files", "pair"]
