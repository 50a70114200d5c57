"""The dedup rule (exact, target and near duplicates) and the key sets under it (in memory and spilled to files)."""

from __future__ import annotations

from curation.data import Pair
from curation.dedup import Deduplicator


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
