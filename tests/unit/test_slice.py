"""The slice worth human time, from a scored corpus written here (the columns of `curation score`)."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curation.cli import main
from curation.corpus.slice import select


def scored_rows(n: int = 3000, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        dropped = i % 7 == 0
        rows.append(
            {
                "shard": f"s{i % 5}",
                "row": i,
                "source": f"Sentence {i}.",
                "target": f"Frase {i}.",
                "reason": "length: too short" if dropped else None,
                "score": None if dropped else rng.random(),
            }
        )
    return rows


def write(folder, rows, shards: int) -> None:
    folder.mkdir()
    for k in range(shards):
        pq.write_table(pa.Table.from_pylist(rows[k::shards]), folder / f"part-{k}.parquet")


def test_the_slice_is_the_uncertain_band_plus_a_stratified_sample(tmp_path):
    rows = scored_rows()
    write(tmp_path / "scored", rows, shards=3)
    table = select(tmp_path / "scored", uncertain=50, low=0.4, high=0.6, per_stratum=20, strata=5)
    got = table.to_pylist()
    kept = [r for r in rows if r["reason"] is None]
    band = [r for r in got if r["part"] == "uncertain"]
    expected = sorted((r for r in kept if 0.4 <= r["score"] <= 0.6), key=lambda r: abs(r["score"] - 0.5))[:50]
    assert [r["row"] for r in band] == [r["row"] for r in expected]
    for k in range(5):
        stratum = [r for r in got if r["part"] == f"stratum {k + 1}/5"]
        assert 15 <= len(stratum) <= 20  # 20 drawn, minus those already in the band
        assert all(k / 5 <= r["score"] < (k + 1) / 5 for r in stratum)
    assert len({(r["shard"], r["row"]) for r in got}) == len(got)  # nothing twice
    assert not any(r["row"] % 7 == 0 for r in got)  # dropped pairs never go to annotators


def test_the_slice_does_not_depend_on_sharding_or_order(tmp_path):
    rows = scored_rows(seed=1)
    write(tmp_path / "a", rows, shards=1)
    shuffled = rows[:]
    random.Random(9).shuffle(shuffled)
    write(tmp_path / "b", shuffled, shards=7)
    a = select(tmp_path / "a", uncertain=30, per_stratum=10)
    b = select(tmp_path / "b", uncertain=30, per_stratum=10)
    assert a.to_pylist() == b.to_pylist()


def test_slice_command_writes_what_setup_workspace_reads(tmp_path):
    from curation.clean.readers import InputSpec, load

    write(tmp_path / "scored", scored_rows(500), shards=2)
    out = tmp_path / "to_label.parquet"
    result = CliRunner().invoke(
        main,
        [
            "slice",
            "--scored",
            str(tmp_path / "scored"),
            "--output",
            str(out),
            "--uncertain",
            "40",
            "--per-stratum",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "-> " in result.output and "uncertain 40" in result.output
    pairs = list(load(InputSpec(str(out))))
    assert len(pairs) == pq.read_metadata(out).num_rows > 40


def test_a_folder_that_is_not_scored_output_is_one_clear_error(tmp_path):
    (tmp_path / "x").mkdir()
    pq.write_table(pa.table({"source": ["a"], "target": ["b"]}), tmp_path / "x" / "p.parquet")
    with pytest.raises(ValueError, match="has no column reason, score: give the output of `curation score`"):
        select(tmp_path / "x")


def test_a_small_scored_folder_whose_strata_fall_in_the_band_slices(tmp_path):
    """Every row of a stratum already in the uncertain band (an empty stratum was a null-typed column and an
    ArrowInvalid before)."""
    rows = [r for r in scored_rows(40) if r["score"] is None or 0.4 <= r["score"] <= 0.6]
    write(tmp_path / "scored", rows, shards=1)
    table = select(tmp_path / "scored", uncertain=1000, low=0.3, high=0.7, per_stratum=5, strata=10)
    assert table.column("part").type == pa.string()
    assert set(table.column("part").to_pylist()) == {"uncertain"}
    assert len(table) == sum(r["reason"] is None for r in rows)
