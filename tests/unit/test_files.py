"""The one way the tool writes files: whole or not at all, one JSONL and one TSV spelling."""

from __future__ import annotations

import json
import stat

import pytest

from curation.clean.readers import InputSpec, load
from curation.files import staged_file, staged_folder, write_jsonl, write_private_json, write_tsv


def test_a_staged_file_appears_only_when_complete_and_a_failure_leaves_nothing(tmp_path):
    out = tmp_path / "scores.jsonl"
    with pytest.raises(RuntimeError), staged_file(out) as partial:
        partial.write_text("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with staged_file(out) as partial:
        partial.write_text("whole")
        assert not out.exists()
    assert out.read_text() == "whole" and list(tmp_path.iterdir()) == [out]


def test_a_staged_folder_replaces_only_when_asked_and_a_failure_keeps_the_old_one(tmp_path):
    out = tmp_path / "curated"
    with staged_folder(out) as tmp:
        (tmp / "a.txt").write_text("first")
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    with pytest.raises(RuntimeError), staged_folder(out, replace=True) as tmp:
        (tmp / "a.txt").write_text("second")
        raise RuntimeError("interrupted")
    assert (out / "a.txt").read_text() == "first" and [p.name for p in tmp_path.iterdir()] == ["curated"]
    with staged_folder(out, replace=True) as tmp:
        (tmp / "b.txt").write_text("second")
    assert [p.name for p in out.iterdir()] == ["b.txt"]


def test_jsonl_and_tsv_read_back_as_the_pairs_written(tmp_path):
    pairs = [("Tab\there", "Línea\nnueva"), ("Ünïcode “quotes”", "¿Qué?\r\n")]
    rows = [{"source": s, "target": t} for s, t in pairs]
    write_jsonl(tmp_path / "p.jsonl", rows, sort_keys=True)
    text = (tmp_path / "p.jsonl").read_text(encoding="utf-8")
    assert "Línea" in text and [json.loads(line) for line in text.splitlines()] == rows  # no \u escapes
    write_tsv(tmp_path / "p.tsv", ["source", "target"], [list(p) for p in pairs])
    back = [(p.source, p.target) for p in load(InputSpec(str(tmp_path / "p.tsv")))]
    assert back == [("Tab here", "Línea nueva"), ("Ünïcode “quotes”", "¿Qué? ")]  # one row per pair, no quoting


def test_private_json_is_0600_even_when_the_file_was_readable_before(tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text("{}")
    path.chmod(0o644)
    write_private_json(path, {"api_key": "k"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and json.loads(path.read_text()) == {"api_key": "k"}
