"""The cleaning pipeline: every decision counted, rejects kept, worker processes equal to one process."""

from __future__ import annotations

import json

from curation.clean.pipeline import Tally, clean
from curation.clean.readers import InputSpec
from curation.config import Config


def test_the_pipeline_counts_every_decision_and_keeps_the_rejects(tmp_path):
    rows = [
        ("Where is the train station?", "¿Dónde está la estación de tren?"),
        ("Where is the train station?", "¿Dónde está la estación de tren?"),
        ("Thank you very much, sir.", "Thank you very much, sir."),
        ("Call me on +34 612 345 678.", "Llámeme al +34 612 345 678."),
        ("x" * 2000, "y" * 2000),
    ]
    (tmp_path / "c.tsv").write_text("source\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in rows))
    tally, rejected = Tally(), []
    kept = list(clean(Config(input=InputSpec(str(tmp_path / "c.tsv"))).cleaning(), tally, rejected))
    assert [p.target for p in kept] == ["¿Dónde está la estación de tren?", "Llámeme al [PHONE]."]
    assert sorted(reason for _, reason in rejected) == [
        "dedup: duplicate pair",
        "identical: target identical to source",
        "length: too long (> 1000 chars)",
    ]
    assert tally.pii_masked == 2 and tally.kept == 2 and tally.load.read == 5
    assert "identical" in tally.table() and kept[0].measures["length_ratio"] > 0


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
        tally, rejected = Tally(), []
        kept = [(p.source, p.target, p.origin, p.measures) for p in clean(config.cleaning(), tally, rejected)]
        return kept, tally.to_dict(), [(p.origin, reason) for p, reason in rejected]

    import curation.clean.pipeline as pipeline

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


def test_the_good_twin_of_a_misaligned_pair_reaches_annotators_and_dropped_pairs_name_the_kept_ones(tmp_path):
    """The sample's lines 68 and 223: a misaligned pair came first with the target of a good one, which dedup
    dropped as "duplicate target" without saying which pair it repeated."""
    from curation.clean.pipeline import Tally, clean, regroup_twins, write_outputs
    from curation.config import Config

    rows = [
        ("How often do the buses run at night?", "Necesito un recibo para mi empresa."),  # misaligned, first
        ("The museum is closed on Mondays.", "El museo cierra los lunes."),
        ("I need a receipt for my company.", "Necesito un recibo para mi empresa."),  # the good twin, later
        ("I need a receipt for my firm.", "Necesito un recibo para mi empresa."),  # a third: over the group
        ("The museum is closed on Mondays .", "El museo cierra los lunes ."),  # the same pair, spaced
    ]
    path = tmp_path / "in.tsv"
    path.write_text("source\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in rows), encoding="utf-8")
    config = Config()
    config.input.path, config.filters = str(path), []
    tally, rejected = Tally(), []
    kept = regroup_twins(list(clean(config.cleaning(), tally, rejected)), rejected, 2, tally)
    assert [p.source for p in kept] == [rows[0][0], rows[2][0], rows[1][0]]  # twins together, in input order
    assert tally.twins_kept == 1 and tally.kept == 3 and "target twins" in tally.table()
    dropped = {p.origin: (reason, p.extra.get("kept")) for p, reason in rejected}
    assert dropped == {
        "in.tsv:5": ("dedup: duplicate target", ["in.tsv:2", "in.tsv:4"]),
        "in.tsv:6": ("dedup: duplicate pair", ["in.tsv:3"]),
    }
    paths = write_outputs(tmp_path / "out", tally, rejected)
    lines = [json.loads(line) for line in paths["dropped"].read_text().splitlines()]
    assert {line["origin"]: line["kept"] for line in lines} == {
        "in.tsv:5": ["in.tsv:2", "in.tsv:4"],
        "in.tsv:6": ["in.tsv:3"],
    }
