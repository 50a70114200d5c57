"""`curation score --engine ray` against the local engine, on a real local Ray runtime (2 CPUs) and a tiny model.

Input: a few thousand pairs in many shards (JSONL, Parquet, TSV), with repeats across shards, near-duplicates,
pairs the filters drop, PII, an empty shard and a shard that cannot be parsed.
"""

from __future__ import annotations

import json
import random
import socket

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray
from tiny_model import COPIES, GOOD

from curation.config import Config
from curation.corpus.local import run_local
from curation.corpus.ray import run_ray
from curation.corpus.settings import ModelSpec
from curation.corpus.shards import Job, find_shards
from curation.cycle import Labelled, fit_and_save
from curation.errors import ScaleError
from curation.progress import Progress


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def model(tiny_model, tmp_path_factory):
    from curation.model.encoder import PairEncoder, load_body

    config = Config()
    config.train.base_model = str(tiny_model)
    config.train.layer = 1
    config.train.min_per_class = 4
    config.train.models_dir = str(tmp_path_factory.mktemp("models"))
    encoder = PairEncoder(load_body(str(tiny_model), "cpu"), layer=1, batch_size=16)
    _, stored = fit_and_save(
        Labelled(GOOD + COPIES, [1] * 16 + [0] * 16, "test"), config.train, encoder=encoder, progress=Progress.quiet()
    )
    return str(stored.path)


def corpus(rows: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    for i in range(rows):
        source, target = GOOD[i % len(GOOD)]
        kind = rng.random()
        if kind < 0.55:
            pair = (f"{source} ({i})", f"{target} ({i})")
        elif kind < 0.65 and pairs:
            pair = rng.choice(pairs)  # an exact repeat, often from another shard
        elif kind < 0.7 and pairs:
            s, t = rng.choice(pairs)
            pair = (s + " Thanks.", t)  # same target
        elif kind < 0.8:
            pair = (f"{source} Room {i}, floor two please", f"{target} Habitación {i}, segundo piso por favor")
        elif kind < 0.85:
            pair = (f"{source} ({i})", f"{source} ({i})")  # untranslated
        elif kind < 0.88:
            pair = (f"Write to guest{i}@example.com ({i})", f"Escriba a guest{i}@example.com ({i})")
        elif kind < 0.89:
            pair = (f"{source} ({i})", f"{target}, joder ({i})")  # added toxicity: dropped
        elif kind < 0.9:
            pair = (f"{source}, you idiot ({i})", f"{target}, idiota ({i})")  # balanced: flagged, kept
        else:
            pair = (source, target)  # the base pairs again
        pairs.append(pair)
    return pairs


def write_shards(folder, pairs, shards: int) -> None:
    folder.mkdir()
    size = -(-len(pairs) // shards)
    for n in range(shards):
        part = pairs[n * size : (n + 1) * size]
        if n % 3 == 0:
            pq.write_table(
                pa.table({"source": [s for s, _ in part], "target": [t for _, t in part]}),
                folder / f"part-{n:03d}.parquet",
            )
        elif n % 3 == 1:
            lines = "".join(json.dumps({"source": s, "target": t}, ensure_ascii=False) + "\n" for s, t in part)
            (folder / f"part-{n:03d}.jsonl").write_text(lines, encoding="utf-8")
        else:
            (folder / f"part-{n:03d}.tsv").write_text(
                "source\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in part), encoding="utf-8"
            )
    (folder / "part-500-empty.jsonl").write_text("")
    (folder / "part-501-broken.parquet").write_bytes(b"PAR1 this is not parquet")


def table(folder) -> list[dict]:
    rows = pq.read_table(folder).to_pylist()
    return sorted(rows, key=lambda r: (r["shard"], r["row"]))


def test_ray_engine_writes_what_the_local_engine_writes(local_ray, model, tmp_path):
    pairs = corpus(3000)
    write_shards(tmp_path / "in", pairs, shards=14)
    shards = find_shards(str(tmp_path / "in"))
    assert len(shards) == 16
    config = Config()
    config.dedup.near_threshold = 0.7
    local = run_local(Job(shards=shards, output=tmp_path / "local", cleaning=config.cleaning(), model=ModelSpec(model)))
    on_ray = run_ray(Job(shards=shards, output=tmp_path / "ray", cleaning=config.cleaning(), model=ModelSpec(model)))

    a, b = table(tmp_path / "local"), table(tmp_path / "ray")
    assert len(a) == len(b) == len(pairs) == local.rows == on_ray.rows  # every readable row, nothing lost
    for x, y in zip(a, b, strict=True):
        assert (x["shard"], x["row"], x["source"], x["target"], x["reason"], x["toxicity"]) == (
            y["shard"],
            y["row"],
            y["source"],
            y["target"],
            y["reason"],
            y["toxicity"],
        )
        assert (x["score"] is None) == (y["score"] is None) == (x["reason"] is not None)
        if x["score"] is not None:
            assert abs(x["score"] - y["score"]) < 1e-5
    assert local.reasons == on_ray.reasons and local.kept == on_ray.kept
    # the run did real work: every dedup kind, filter drops, PII masked, a spread of scores
    for reason in ("dedup: duplicate pair", "dedup: duplicate target", "dedup: near-duplicate pair", "identical"):
        assert local.reasons.get(reason, 0) > 20, local.reasons
    assert local.reasons.get("toxicity", 0) > 10, local.reasons  # the added-toxicity pairs
    flagged = [r for r in a if r["toxicity"] == "balanced"]
    assert len(flagged) > 10 and all(r["reason"] is None or r["reason"].startswith("dedup") for r in flagged)
    assert not any("@example.com" in r["source"] + r["target"] for r in a)
    scores = np.array([r["score"] for r in a if r["score"] is not None])
    assert len(scores) == local.kept > 1000 and scores.std() > 0.01
    # the broken shard is listed (path and error) by both engines; the empty one is not a failure
    for summary in (local, on_ray):
        assert [f["shard"].split("/")[-1] for f in summary.failed] == ["part-501-broken.parquet"]
        assert summary.failed[0]["rows_read"] == 0 and summary.failed[0]["error"]
    failed = json.loads((tmp_path / "ray" / "_failed_shards.json").read_text())
    assert failed[0]["shard"].endswith("part-501-broken.parquet")


def test_the_local_engine_keeps_what_setup_workspace_keeps(tmp_path):
    """The cleaning of `curation score --clean` is the cleaning of setup_workspace (pipeline.clean)."""
    from curation.clean.pipeline import Tally, clean
    from curation.clean.readers import InputSpec

    pairs = corpus(1500, seed=1)
    (tmp_path / "all.jsonl").write_text(
        "".join(json.dumps({"source": s, "target": t}, ensure_ascii=False) + "\n" for s, t in pairs), encoding="utf-8"
    )
    config = Config(input=InputSpec(str(tmp_path / "all.jsonl")))
    config.workers = 1
    expected = [(p.source, p.target) for p in clean(config.cleaning(), Tally())]
    summary = run_local(Job(shards=[str(tmp_path / "all.jsonl")], output=tmp_path / "out", cleaning=config.cleaning()))
    rows = table(tmp_path / "out")
    assert [(r["source"], r["target"]) for r in rows if r["reason"] is None] == expected
    assert summary.kept == len(expected) and all(r["score"] is None for r in rows)


def test_an_unreachable_ray_address_fails_fast_with_what_to_do(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    (tmp_path / "a.jsonl").write_text(json.dumps({"source": "Hello there.", "target": "Hola."}) + "\n")
    with pytest.raises(ScaleError, match=rf"cannot reach Ray at ray://127.0.0.1:{port} .*ray start --head"):
        run_ray(Job(shards=[str(tmp_path / "a.jsonl")], output=tmp_path / "out"), address=f"ray://127.0.0.1:{port}")
    assert not (tmp_path / "out").exists()


def test_a_model_missing_on_the_workers_is_one_clear_error(local_ray, tmp_path, monkeypatch):
    from pathlib import Path

    from curation.model import store

    # the driver believes the model is there (as on a cluster whose head node has it); the workers, separate
    # processes that import curation afresh, look for it for real and do not find it
    monkeypatch.setattr(store, "resolve", lambda path: Path(path))
    (tmp_path / "in").mkdir()
    pairs = corpus(50, seed=2)
    (tmp_path / "in" / "a.jsonl").write_text("".join(json.dumps({"source": s, "target": t}) + "\n" for s, t in pairs))
    job = Job(
        shards=find_shards(str(tmp_path / "in")),
        output=tmp_path / "out",
        cleaning=Config().cleaning(),
        model=ModelSpec(str(tmp_path / "models-here-only")),
    )
    with pytest.raises(ScaleError, match="model could not be loaded on a Ray worker.*models-here-only does not exist"):
        run_ray(job)
    assert not (tmp_path / "out").exists()


def test_score_command_cleans_shards_into_a_folder_and_says_what_is_wrong(tmp_path):
    from click.testing import CliRunner

    from curation.cli import main

    write_shards(tmp_path / "in", corpus(400, seed=3), shards=3)
    run = CliRunner().invoke
    out = tmp_path / "out"
    result = run(main, ["score", "--input", str(tmp_path / "in"), "--output", str(out), "--clean"])
    assert result.exit_code == 0, result.output
    assert "400 pairs from 5 shards" in result.output and "dropped" in result.output
    assert "shard FAILED, skipped: " in result.output and "part-501-broken.parquet" in result.output
    assert pq.read_table(out).num_rows == 400
    again = run(main, ["score", "--input", str(tmp_path / "in"), "--output", str(out), "--clean"])
    assert again.exit_code != 0 and "exists: pass --overwrite" in again.output
    assert pq.read_table(out).num_rows == 400  # the earlier result is untouched
    wrong = run(main, ["score", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "x.jsonl"), "--clean"])
    assert wrong.exit_code != 0 and "--output is a folder" in wrong.output
    neither = run(main, ["score", "--input", str(tmp_path / "in"), "--output", str(out)])
    assert neither.exit_code != 0 and "give --model" in neither.output
    nothing = run(main, ["score", "--input", str(tmp_path / "none"), "--output", str(tmp_path / "o"), "--clean"])
    assert nothing.exit_code != 0 and "does not exist" in nothing.output


def test_score_command_on_ray_without_cleaning_scores_every_pair_like_the_local_engine(local_ray, model, tmp_path):
    from click.testing import CliRunner

    from curation.cli import main

    write_shards(tmp_path / "in", corpus(300, seed=4), shards=3)
    outputs = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        args = ["score", "--model", model, "--input", str(tmp_path / "in"), "--output", str(out), "--engine", engine]
        result = CliRunner().invoke(main, [*args, "--replicas", "1"] if engine == "ray" else args)
        assert result.exit_code == 0, result.output
        assert "300 pairs from 5 shards" in result.output and f"pairs/s, {engine})" in result.output
        outputs[engine] = table(out)
    a, b = outputs["local"], outputs["ray"]
    assert len(a) == len(b) == 300 and all(r["reason"] is None for r in a + b)  # no cleaning: every pair scored
    assert all(abs(x["score"] - y["score"]) < 1e-5 for x, y in zip(a, b, strict=True))
    assert [(r["shard"], r["row"]) for r in a] == [(r["shard"], r["row"]) for r in b]


def test_both_engines_tag_every_scored_pair_with_the_clusters_fitted_once(local_ray, model, tiny_model, tmp_path):
    """Issue 37: `curation cluster` fits the clusters once (on a sample), `curation score --clusters` assigns every
    pair of every shard to them, from the embeddings the scoring computed, the same on either engine."""
    from click.testing import CliRunner

    from curation.cli import main

    pairs = corpus(1200, seed=3)
    write_shards(tmp_path / "in", pairs, shards=5)
    sample = tmp_path / "sample.tsv"
    sample.write_text("source\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in pairs[:400]), encoding="utf-8")
    (tmp_path / "config.yaml").write_text(f"train:\n  base_model: {tiny_model}\n  depth: null\n  layer: 1\n")
    fitted = CliRunner().invoke(
        main,
        [
            "cluster",
            "--config",
            str(tmp_path / "config.yaml"),
            "--input",
            str(sample),
            "--output",
            str(tmp_path / "clusters"),
        ],
    )
    assert fitted.exit_code == 0, fitted.output
    titles = {i["id"]: i["title"] for i in json.loads((tmp_path / "clusters" / "clusters.json").read_text())["items"]}
    shards = find_shards(str(tmp_path / "in"))
    spec = ModelSpec(model, clusters=str(tmp_path / "clusters"))
    run_local(Job(shards=shards, output=tmp_path / "local", cleaning=Config().cleaning(), model=spec, clean=False))
    run_ray(Job(shards=shards, output=tmp_path / "ray", cleaning=Config().cleaning(), model=spec, clean=False))
    a, b = table(tmp_path / "local"), table(tmp_path / "ray")
    assert len(a) == len(b) == len(pairs)
    assert all(r["cluster"] in titles and r["cluster_title"] == titles[r["cluster"]] for r in a)
    assert [r["cluster"] for r in a] == [r["cluster"] for r in b]
    assert len({r["cluster"] for r in a}) > 1

    (tmp_path / "other.yaml").write_text(f"train:\n  base_model: {tiny_model}\n  depth: 1\n  layer: 1\n")
    CliRunner().invoke(
        main,
        ["cluster", "--config", str(tmp_path / "other.yaml"), "--input", str(sample), "--output", str(tmp_path / "c1")],
    )
    with pytest.raises(Exception, match="the clusters were fitted on embeddings of .* depth=1, the filter scores with"):
        run_local(
            Job(
                shards=shards,
                output=tmp_path / "x",
                cleaning=Config().cleaning(),
                model=ModelSpec(model, clusters=str(tmp_path / "c1")),
                clean=False,
            )
        )
