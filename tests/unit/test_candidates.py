"""Loaders, PII masking, dedup, config and the cleaning pipeline on small files written by the tests."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.config import Config, ConfigError
from curation.data import Pair
from curation.dedup import Deduplicator
from curation.loaders import InputError, InputSpec, LoadStats, load
from curation.pii import mask, mask_text
from curation.pipeline import Report, clean

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
    assert stats.quoted_looking == 2 and "set input.quoting: minimal" in Report(load=stats).table()  # one warning
    assert pairs(InputSpec(str(tmp_path / "q.tsv"), quoting="minimal")) == [("Hi", "Hola")]  # config overrides


def test_control_characters_are_removed_on_reading_and_counted(tmp_path):
    (tmp_path / "n.jsonl").write_text(json.dumps({"source": "Hi\u0000 there\u0007", "target": "Hola\u0000"}) + "\n")
    stats = LoadStats()
    assert pairs(InputSpec(str(tmp_path / "n.jsonl")), stats) == [("Hi there", "Hola")]
    assert stats.control_stripped == 1
    report = Report(load=stats)
    assert "control characters (NUL and the like) removed: 1" in report.table()


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


def test_pii_is_masked_on_both_sides_with_the_same_placeholder():
    pair = Pair(
        "Mail ana.garcia@example.com or call +34 612 345 678.",
        "Escriba a ana.garcia@example.com o llame al +34 612 345 678.",
    )
    assert mask(pair) == 4
    assert pair.source == "Mail <EMAIL> or call <PHONE>." and pair.target == "Escriba a <EMAIL> o llame al <PHONE>."
    assert mask_text("Room 101 costs 80 euros, open 9:00-17:00 in 2024.") == (
        "Room 101 costs 80 euros, open 9:00-17:00 in 2024.",
        0,
    )
    assert mask_text("Card 4111 1111 1111 1111, server 10.0.0.12")[0] == "Card <CARD>, server <IP>"


def test_dedup_keeps_the_first_of_exact_target_and_near_duplicates():
    dedup = Deduplicator(near_threshold=0.5, num_perm=64)
    first = Pair(
        "Where is the train station in the old town please?",
        "¿Dónde está la estación de tren del casco antiguo, por favor?",
    )
    assert dedup.check(first) is None
    assert dedup.check(Pair(first.source.upper(), "  " + first.target)) == "duplicate pair"
    assert dedup.check(Pair("Where's the station?", first.target)) == "duplicate target"
    near = Pair(
        "Where is the train station in the old town, please?",
        "¿Dónde está la estación de tren del casco antiguo, por favor, señor?",
    )
    assert dedup.check(near) == "near-duplicate pair"
    assert dedup.check(Pair("The museum is closed on Mondays.", "El museo cierra los lunes.")) is None
    # exact dedup comes first and depends only on first occurrences: a copy of the near-duplicate repeats it
    assert dedup.check(near) == "duplicate pair"
    assert dedup.check(Pair("Is the station near?", near.target)) == "duplicate target"


def test_record_ids_are_deterministic_from_the_normalised_pair():
    assert Pair("Hello  world", "Hola mundo").id == Pair("hello world", "Hola  Mundo").id
    assert Pair("Hello", "Hola").id != Pair("Hello", "Adiós").id


def test_config_rejects_unknown_keys_and_reads_sections(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("input:\n  path: x.tsv\n  sourcecolumn: en\n")
    with pytest.raises(ConfigError, match="unknown config key input.sourcecolumn: input takes .*source_column"):
        Config.load(path)
    path.write_text("argilla:\n  dataset: d\n  min_submitted: 2\nfilters:\n  - empty\n  - length: {max_chars: 50}\n")
    config = Config.load(path)
    assert config.argilla.dataset == "d" and config.argilla.min_submitted == 2
    assert config.filter_entries() == [("empty", {}), ("length", {"max_chars": 50})]
    path.write_text("colour: blue\n")
    with pytest.raises(ConfigError, match="unknown config key colour"):
        Config.load(path)
    with pytest.raises(ConfigError, match="does not exist"):
        Config.load(tmp_path / "nope.yaml")
    path.write_text("dedup: {memory_mb: 0}\n")
    with pytest.raises(ConfigError, match="dedup.memory_mb must be a positive number of megabytes or null, not 0"):
        Config.load(path)
    path.write_text("dedup: {near_threshold: 80}\n")
    with pytest.raises(ConfigError, match="dedup.near_threshold must be a number in"):
        Config.load(path)
    path.write_text("dedup: {memory_mb: null, near_threshold: null}\n")
    assert Config.load(path).dedup.memory_mb is None


def test_the_pipeline_counts_every_decision_and_keeps_the_rejects(tmp_path):
    rows = [
        ("Where is the train station?", "¿Dónde está la estación de tren?"),
        ("Where is the train station?", "¿Dónde está la estación de tren?"),
        ("Thank you very much, sir.", "Thank you very much, sir."),
        ("Call me on +34 612 345 678.", "Llámeme al +34 612 345 678."),
        ("x" * 2000, "y" * 2000),
    ]
    (tmp_path / "c.tsv").write_text("source\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in rows))
    report, rejected = Report(), []
    kept = list(clean(Config(input=InputSpec(str(tmp_path / "c.tsv"))), report, rejected))
    assert [p.target for p in kept] == ["¿Dónde está la estación de tren?", "Llámeme al <PHONE>."]
    assert sorted(reason for _, reason in rejected) == [
        "dedup: duplicate pair",
        "identical: target identical to source",
        "length: too long (> 1000 chars)",
    ]
    assert report.pii_masked == 2 and report.kept == 2 and report.load.read == 5
    assert "identical" in report.table() and kept[0].scores["length_ratio"] > 0


def test_worker_processes_give_exactly_the_single_process_result(tmp_path, monkeypatch):
    """Filters and fingerprints in 2 worker processes, dedup decisions in order: same kept, drops, counts."""
    import random

    rng = random.Random(7)
    words = [
        "the",
        "a",
        "train",
        "station",
        "hotel",
        "museum",
        "coffee",
        "ticket",
        "room",
        "night",
        "bus",
        "beach",
        "doctor",
        "card",
        "flight",
        "car",
    ]
    palabras = [
        "el",
        "la",
        "tren",
        "estación",
        "hotel",
        "museo",
        "café",
        "billete",
        "habitación",
        "noche",
        "autobús",
        "playa",
        "médico",
    ]
    rows = []
    for i in range(12_000):  # more than PARALLEL_AFTER, so the pool starts
        source = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + f" {i % 3000}"
        target = " ".join(rng.choice(palabras) for _ in range(rng.randint(3, 12))) + f" {i % 3000}"
        kind = i % 10
        if kind == 0:
            target = source  # untranslated
        elif kind == 1:
            target += " write to ana@example.com"
        elif kind == 2:
            target = "<b>" + target + "</b>"
        rows.append(f"{source}\t{target}\n")
    path = tmp_path / "many.tsv"
    path.write_text("source\ttarget\n" + "".join(rows), encoding="utf-8")

    def run(workers: int):
        config = Config(input=InputSpec(str(path)))
        config.workers = workers
        config.filters = [name for name, _ in config.filter_entries() if name != "language"]
        report, rejected = Report(), []
        kept = [(p.source, p.target, p.origin, p.scores) for p in clean(config, report, rejected)]
        return kept, report.to_dict(), [(p.origin, reason) for p, reason in rejected]

    import curation.pipeline as pipeline

    pools = []
    real = pipeline.multiprocessing.get_context
    monkeypatch.setattr(pipeline.multiprocessing, "get_context", lambda kind: pools.append(kind) or real(kind))
    single = run(1)
    assert pools == []
    pooled = run(2)
    assert pools == ["spawn"]
    assert pooled[0] == single[0] and pooled[1] == single[1]
    assert sorted(pooled[2]) == sorted(single[2])
    assert 1000 < len(single[0]) < 12_000 and single[1]["pii_masked"] > 0


def test_keyset_answers_like_a_python_set_across_many_batches():
    import numpy as np

    from curation.dedup import KeySet

    rng = np.random.default_rng(3)
    keys, reference = KeySet(), set()
    for _ in range(60):
        batch = rng.integers(0, 5000, size=rng.integers(0, 300), dtype=np.uint64)
        batch[: len(batch) // 3] |= np.uint64(1 << 63)  # keys above 2**63 too
        expected = np.array([int(k) in reference for k in batch], dtype=bool)
        np.testing.assert_array_equal(keys.contains(batch), expected)
        keys.add(batch)
        reference.update(int(k) for k in batch)
    assert len(keys) == len(reference) and len(keys.runs) <= 12


def test_keyset_with_values_keeps_the_first_value_of_each_key():
    import numpy as np

    from curation.dedup import KeySet

    index = KeySet()
    index.add(np.array([5, 9, 5], dtype=np.uint64), [1, 2, 3])
    index.add(np.array([9, 7], dtype=np.uint64), [4, 5])
    for _ in range(5):  # merges keep the pairing of keys and values
        index.add(np.arange(100, 140, dtype=np.uint64) + np.uint64(_ * 40), list(range(40)))
    assert index.lookup(np.array([5, 9, 7, 8, 101], dtype=np.uint64)).tolist() == [1, 2, 5, -1, 1]


def test_keyset_spilled_to_files_answers_like_a_python_set(tmp_path):
    import numpy as np

    from curation.dedup import KeySet

    rng = np.random.default_rng(5)
    keys, reference = KeySet(memory=2048, directory=lambda: tmp_path), {}
    keys.SPILL = 50  # a file every 50 keys: many spills and streamed merges
    for _ in range(80):
        batch = rng.integers(0, 4000, size=rng.integers(0, 120), dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        values = rng.integers(0, 1000, size=len(batch))
        expected = [reference.get(int(k), -1) for k in batch]
        assert keys.lookup(batch).tolist() == expected
        keys.add(batch, values)
        for k, v in zip(batch.tolist(), values.tolist(), strict=True):
            reference.setdefault(k, v)
    assert len(keys) == len(reference) > 2000
    assert 1 < len(keys.disk) <= 8 and sum(len(k) for k, _ in keys.runs) <= 50
    assert len(list(tmp_path.glob("*.keys"))) == len(keys.disk)  # merged files are removed


def test_dedup_decisions_do_not_change_when_its_state_goes_to_files(monkeypatch):
    import random

    import curation.dedup as dedup_module
    from curation.dedup import KeySet

    rng = random.Random(2)
    words = [
        "the",
        "a",
        "station",
        "train",
        "museum",
        "ticket",
        "hotel",
        "room",
        "open",
        "closed",
        "near",
        "far",
        "city",
        "river",
        "bridge",
    ]
    pairs = []
    for _ in range(3000):
        if pairs and rng.random() < 0.3:  # exact, target-only and near repeats of earlier pairs
            s, t = rng.choice(pairs)
            pairs.append(rng.choice([(s, t), (s + " now", t), (s, t + " ya"), (s.upper(), t)]))
        else:
            sentence = " ".join(rng.choice(words) for _ in range(rng.randint(4, 12)))
            pairs.append((sentence, sentence[::-1]))
    monkeypatch.setattr(KeySet, "SPILL", 64)
    monkeypatch.setattr(dedup_module, "SIGNATURE_BLOCK", 128)
    in_memory = Deduplicator(near_threshold=0.7, memory_mb=None)
    on_disk = Deduplicator(near_threshold=0.7, memory_mb=0.05)
    for start in range(0, len(pairs), 100):
        batch = [Pair(s, t) for s, t in pairs[start : start + 100]]
        assert on_disk.check_batch(batch) == in_memory.check_batch(batch)
    folder = on_disk._spill.path
    assert on_disk.pairs_seen.disk and on_disk._buckets[0].disk and (folder / "signatures.u16").stat().st_size > 0
    assert not in_memory.pairs_seen.disk and in_memory._spill is None
    verdicts = set(in_memory.check_batch([Pair(s, t) for s, t in pairs[:50]]))
    assert verdicts <= {"duplicate pair", "duplicate target", "near-duplicate pair"}
    del on_disk
    assert not folder.exists()  # the spilled state goes with the Deduplicator
