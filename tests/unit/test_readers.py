"""Reading candidates: every format, quoting, control characters, malformed rows, clear errors, streaming."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.clean.pipeline import Tally
from curation.clean.readers import InputError, InputSpec, LoadStats, load

ROWS = [("Where is the station?", "¿Dónde está la estación?"), ('He said "hi".', 'Dijo "hola".')]


def pairs(spec: InputSpec, stats: LoadStats | None = None) -> list[tuple[str, str]]:
    return [(p.source, p.target) for p in load(spec, stats)]


def test_every_format_yields_the_same_pairs(tmp_path):
    (tmp_path / "a.tsv").write_text("source\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in ROWS))
    (tmp_path / "a.csv").write_text(
        'source,target\n"Where is the station?",¿Dónde está la estación?\n"He said ""hi"".","Dijo ""hola""."\n'
    )
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"source": s, "target": t}) + "\n" for s, t in ROWS))
    pq.write_table(pa.table({"source": [s for s, _ in ROWS], "target": [t for _, t in ROWS]}), tmp_path / "a.parquet")
    (tmp_path / "c.en").write_text("".join(s + "\n" for s, _ in ROWS))
    (tmp_path / "c.es").write_text("".join(t + "\n" for _, t in ROWS))
    assert pairs(InputSpec(str(tmp_path / "a.tsv"))) == ROWS  # no quoting: the quotes are text
    assert pairs(InputSpec(str(tmp_path / "a.csv"), quoting="minimal")) == ROWS
    assert pairs(InputSpec(str(tmp_path / "a.jsonl"))) == ROWS
    assert pairs(InputSpec(str(tmp_path / "a.parquet"))) == ROWS
    assert pairs(InputSpec(f"{tmp_path / 'c.en'},{tmp_path / 'c.es'}")) == ROWS


def test_hub_datasets_load_through_datasets_with_nested_columns(tmp_path, monkeypatch):
    """The Hub is unreachable here: a local dataset folder goes through the same `datasets.load_dataset` path."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    folder = tmp_path / "opus-like"
    folder.mkdir()
    rows = [{"translation": {"en": s, "es": t}} for s, t in ROWS]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = InputSpec(str(folder), format="hub", source_column="translation.en", target_column="translation.es")
    assert pairs(spec) == ROWS
    with pytest.raises(InputError, match="no column 'source', 'target' .*'translation'"):
        pairs(InputSpec(str(folder), format="hub"))


def test_missing_columns_name_what_was_found_and_the_config_key(tmp_path):
    (tmp_path / "a.tsv").write_text("en\tes\nHello\tHola\n")
    with pytest.raises(
        InputError, match=r"no column 'source', 'target' \(found: 'en', 'es'\): set input.source_column"
    ):
        pairs(InputSpec(str(tmp_path / "a.tsv")))
    assert pairs(InputSpec(str(tmp_path / "a.tsv"), source_column="en", target_column="es")) == [("Hello", "Hola")]


def test_a_csv_reads_standard_quoting_by_default_and_a_tsv_reads_none(tmp_path):
    (tmp_path / "q.csv").write_text(
        'source,target\n"Excuse me, where is the\ntrain station?","Perdone, ¿dónde está la\nestación de tren?"\n'
    )
    assert pairs(InputSpec(str(tmp_path / "q.csv"))) == [
        ("Excuse me, where is the\ntrain station?", "Perdone, ¿dónde está la\nestación de tren?")
    ]  # commas and newlines inside quotes stay in their field: no fragment pair reaches annotators
    (tmp_path / "q.tsv").write_text('source\ttarget\n"Hi"\t"Hola"\n')
    stats = LoadStats()
    assert pairs(InputSpec(str(tmp_path / "q.tsv")), stats) == [('"Hi"', '"Hola"')]
    assert stats.quoted_looking == 2 and "set input.quoting: minimal" in Tally(load=stats).table()  # one warning
    assert pairs(InputSpec(str(tmp_path / "q.tsv"), quoting="minimal")) == [("Hi", "Hola")]  # config overrides


def test_control_characters_are_removed_on_reading_and_counted(tmp_path):
    (tmp_path / "n.jsonl").write_text(json.dumps({"source": "Hi\u0000 there\u0007", "target": "Hola\u0000"}) + "\n")
    stats = LoadStats()
    assert pairs(InputSpec(str(tmp_path / "n.jsonl")), stats) == [("Hi there", "Hola")]
    assert stats.control_stripped == 1
    tally = Tally(load=stats)
    assert "control characters (NUL and the like) removed: 1" in tally.table()


def test_malformed_rows_are_skipped_and_counted(tmp_path):
    (tmp_path / "a.tsv").write_text("source\ttarget\nHello\tHola\nonly one field\nBye\tAdiós\textra\nYes\tSí\n")
    stats = LoadStats()
    assert pairs(InputSpec(str(tmp_path / "a.tsv")), stats) == [("Hello", "Hola"), ("Yes", "Sí")]
    assert stats.read == 2 and stats.malformed == 2 and "a.tsv:3" in stats.examples[0]
    (tmp_path / "b.jsonl").write_text('{"source": "Hi", "target": "Hola"}\nnot json\n[1]\n')
    stats = LoadStats()
    assert pairs(InputSpec(str(tmp_path / "b.jsonl")), stats) == [("Hi", "Hola")] and stats.malformed == 2


def test_bad_inputs_are_one_clear_error(tmp_path):
    (tmp_path / "latin1.tsv").write_bytes("source\ttarget\nCaf\xe9\tCaf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="is not UTF-8 .*iconv"):
        pairs(InputSpec(str(tmp_path / "latin1.tsv")))
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(InputError, match="is empty"):
        pairs(InputSpec(str(tmp_path / "empty.tsv")))
    (tmp_path / "header.tsv").write_text("source\ttarget\n")
    with pytest.raises(InputError, match="holds no pairs"):
        pairs(InputSpec(str(tmp_path / "header.tsv")))
    with pytest.raises(InputError, match="does not exist"):
        pairs(InputSpec(str(tmp_path / "missing.tsv")))
    (tmp_path / "x.en").write_text("a\nb\n")
    (tmp_path / "x.es").write_text("a\n")
    with pytest.raises(InputError, match="different numbers of lines"):
        pairs(InputSpec(f"{tmp_path / 'x.en'},{tmp_path / 'x.es'}"))
    with pytest.raises(InputError, match="cannot tell the format"):
        pairs(InputSpec(str(tmp_path / "x.txt")))


def test_loading_streams(tmp_path):
    path = tmp_path / "big.tsv"
    path.write_text("source\ttarget\n" + "Hello\tHola\n" * 1000)
    stream = load(InputSpec(str(path)))
    assert next(stream).source == "Hello"  # the first pair comes before the file is read to the end


def test_a_byte_order_mark_is_dropped_in_candidates_and_labels(tmp_path):
    from curation.annotation.labels import read_labels

    (tmp_path / "a.tsv").write_text("\ufeffsource\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in ROWS))
    (tmp_path / "a.csv").write_text("\ufeffsource,target\nHi.,Hola.\n")
    (tmp_path / "a.jsonl").write_text("\ufeff" + json.dumps({"source": "Hi.", "target": "Hola."}) + "\n")
    (tmp_path / "l.tsv").write_text("\ufeffsource\ttarget\tlabel\nHi.\tHola.\tgood\n")
    assert pairs(InputSpec(str(tmp_path / "a.tsv"))) == ROWS
    assert pairs(InputSpec(str(tmp_path / "a.csv"))) == [("Hi.", "Hola.")]
    assert pairs(InputSpec(str(tmp_path / "a.jsonl"))) == [("Hi.", "Hola.")]
    assert [(j.pair.source, j.label) for j in read_labels(tmp_path / "l.tsv")] == [("Hi.", "good")]


def test_lists_objects_and_numbers_never_become_text(tmp_path):
    rows = [{"source": "Hi.", "target": "Hola."}, {"source": ["a", "b"], "target": "x"}, {"source": "1", "target": 7}]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    stats = LoadStats()
    assert pairs(InputSpec(str(tmp_path / "a.jsonl")), stats) == [("Hi.", "Hola.")]
    assert stats.malformed == 2 and stats.examples == [
        "a.jsonl:2: a list where text was expected",
        "a.jsonl:3: a number where text was expected",
    ]
    pq.write_table(pa.table({"source": [["a", "b"]], "target": ["x"]}), tmp_path / "a.parquet")
    with pytest.raises(InputError, match=r"column 'source' of .*a.parquet holds list<.*: string>, not text"):
        pairs(InputSpec(str(tmp_path / "a.parquet")))
