"""Key sets larger than memory: the storage under dedup."""

from __future__ import annotations


def test_keyset_answers_like_a_python_set_across_many_batches():
    import numpy as np

    from curation.clean.keysets import KeySet

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

    from curation.clean.keysets import KeySet

    index = KeySet()
    index.add(np.array([5, 9, 5], dtype=np.uint64), [1, 2, 3])
    index.add(np.array([9, 7], dtype=np.uint64), [4, 5])
    for _ in range(5):  # merges keep the pairing of keys and values
        index.add(np.arange(100, 140, dtype=np.uint64) + np.uint64(_ * 40), list(range(40)))
    assert index.lookup(np.array([5, 9, 7, 8, 101], dtype=np.uint64)).tolist() == [1, 2, 5, -1, 1]


def test_keyset_spilled_to_files_answers_like_a_python_set(tmp_path):
    import numpy as np

    from curation.clean.keysets import KeySet

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
