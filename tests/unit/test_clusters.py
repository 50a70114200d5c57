"""Clusters: the automatic k, titles, decisions (drop by id or title, SemDeDup, verdicts within the radius), the
queue, the export's honouring of decisions, and `curation cluster` on a file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from curation.annotation.records import DatasetRecord
from curation.annotation.suggestions import priorities
from curation.cli import main
from curation.clusters.decide import (
    ClusterInfo,
    Member,
    decisions,
    near_duplicates,
    resolve,
    verdicts,
)
from curation.clusters.fit import ClusterModel, fine_k, fit
from curation.clusters.run import cluster
from curation.clusters.settings import ClusterConfig
from curation.clusters.titles import Keywords, title
from curation.errors import ConfigError, InputError
from curation.export.select import select
from curation.pair import batched

pytestmark = pytest.mark.unit


def blobs(groups: int, per: int, dim: int = 24, spread: float = 0.05, seed: int = 0):
    """`groups` tight, well separated groups of unit vectors, and each row's group."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = np.repeat(centres, per, axis=0) + rng.normal(scale=spread, size=(groups * per, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), np.repeat(np.arange(groups), per)


def families(count: int, per: int, background: int, dim: int = 32, spread: float = 0.04, seed: int = 0):
    """What a crawl looks like to the encoder: `count` tight families (boilerplate: alike pairs) of `per` members in
    a diffuse background of `background` unrelated pairs; each row's family (-1: background)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(count, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    members = np.repeat(centres, per, axis=0) + rng.normal(scale=spread, size=(count * per, dim))
    x = np.vstack([rng.normal(size=(background, dim)), members])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), np.concatenate([np.full(background, -1), np.repeat(np.arange(count), per)])


@pytest.mark.parametrize(
    ("count", "per", "background", "seed"), [(6, 60, 1500, 0), (10, 100, 3000, 1), (3, 200, 500, 2)]
)
def test_auto_k_gives_each_family_one_cluster_of_its_own(count, per, background, seed):
    x, truth = families(count, per, background, seed=seed)
    model = fit(x, seed=seed)
    assert model.auto and len(model.fine) == fine_k(len(x)) > model.k  # over-split first, then merged
    labels, _ = model.assign(x)
    for f in range(count):
        mine = set(labels[truth == f])
        assert len(mine) == 1, f"family {f} split over clusters {mine}"
        c = mine.pop()
        assert (truth[labels == c] == f).mean() >= 0.95  # and that cluster is the family
    assert (np.isin(labels, labels[truth >= 0]) & (truth < 0)).mean() < 0.01


def test_auto_k_never_mixes_separate_groups():
    """Round groups (no background) are split finer than they are, as the rule's docstring says, but never mixed."""
    x, truth = blobs(5, 120)
    labels, _ = fit(x).assign(x)
    assert all(len(set(truth[labels == c])) == 1 for c in np.unique(labels))


def test_a_given_k_is_used_and_clusters_are_numbered_largest_first():
    x, _ = blobs(4, 50)
    x = np.vstack([x, blobs(1, 150, seed=3)[0]])
    model = fit(x, k=5)
    labels, _ = model.assign(x)
    sizes = np.bincount(labels)
    assert model.k == 5 and not model.auto
    assert list(sizes) == sorted(sizes, reverse=True) and sizes[0] == 150


def test_k_larger_than_the_pool_is_one_line():
    with pytest.raises(InputError, match=r"clusters.k is 50 but the pool has 10 pairs: lower it"):
        fit(np.eye(10, dtype=np.float32), k=50)
    with pytest.raises(ConfigError, match="clusters.k must be a whole number from 2"):
        ClusterConfig(k=1)
    with pytest.raises(ConfigError, match="clusters.drop and clusters.keep both name 3"):
        ClusterConfig(drop=[3], keep=[3])


def test_assignment_in_blocks_matches_and_the_model_round_trips(tmp_path, monkeypatch):
    x, _ = blobs(5, 80)
    model = fit(x)
    whole = model.assign(x)
    monkeypatch.setattr("curation.clusters.fit.BLOCK", 7)
    blocked = model.assign(x)
    assert np.array_equal(whole[0], blocked[0]) and np.allclose(whole[1], blocked[1])
    model.save(tmp_path / "m.npz")
    again = ClusterModel.load(tmp_path / "m.npz")
    assert np.array_equal(again.assign(x)[0], whole[0])


def test_titles_name_each_cluster_by_its_distinctive_words():
    words = Keywords()
    pairs = [
        ("We use cookies to improve your experience.", "Utilizamos cookies para mejorar su experiencia."),
        ("This website uses cookies.", "Este sitio web utiliza cookies."),
        ("Accept all cookies on this website", "Aceptar todas las cookies de este sitio web"),
        ("The train to the station is late.", "El tren a la estación llega tarde."),
        ("Where is the train station?", "¿Dónde está la estación de tren?"),
        ("The train leaves the station at nine.", "El tren sale de la estación a las nueve."),
    ]
    labels = np.array([0, 0, 0, 1, 1, 1])
    words.add(range(6), [s for s, _ in pairs], [t for _, t in pairs], labels, np.linspace(0.1, 0.6, 6))
    source, target = words.keywords("source"), words.keywords("target")
    assert source[0][0] == "cookies" and "website" in source[0][:3]
    assert {"train", "station"} <= set(source[1][:2]) and "estación" in target[1][:2]
    assert not {"the", "this", "to", "de", "la", "el"} & set(source[0] + source[1] + target[0] + target[1])
    t0 = title(source[0], target[0])
    assert t0.startswith("cookies") and " / " in t0 and "cookies" not in t0.split(" / ")[1]  # said once
    assert [e["row"] for e in words.examples_of(0)] == [0, 1, 2]  # nearest the centre first


def test_cluster_describes_and_applies_decisions():
    x, truth = blobs(3, 40)
    texts = [
        (f"cookies banner {i}", f"banner de cookies {i}") if g == 2 else (f"train {i}", f"tren {i}")
        for i, g in enumerate(truth)
    ]
    result = cluster(x, lambda: batched(texts, 16), ClusterConfig(k=3, drop=["cookies"]))
    assert result.model.k == 3
    cookie = [c.id for c in result.clusters if "cookies" in c.title]
    assert result.dropped == {cookie[0]: "cookies"}
    row = int(np.flatnonzero(truth == 2)[0])
    reason = result.drop_reason(row)
    title = result.clusters[cookie[0]].title
    assert reason == f"clusters: cluster {cookie[0]} ({title}) dropped by the curator (clusters.drop)"
    assert result.drop_reason(0) is None
    assert result.term(row) == f"{cookie[0]} · {title}"


def test_resolve_by_id_title_or_word_and_one_line_for_what_names_nothing():
    infos = [
        ClusterInfo(0, "train · station / tren · estación", 10, [], [], []),
        ClusterInfo(1, "cookies · website / sitio", 5, [], [], []),
    ]
    assert resolve([1], infos) == {1: "1"}
    assert resolve(["Cookies"], infos) == {1: "Cookies"}
    assert resolve(["train · station / tren · estación"], infos) == {0: "train · station / tren · estación"}
    with pytest.raises(InputError, match=r"clusters.drop names cluster 7, which does not exist: .* 0 to 1"):
        resolve([7], infos)
    with pytest.raises(InputError, match=r"clusters.keep names 'casino', which is no cluster's title"):
        resolve(["casino"], infos, "clusters.keep")


def test_semdedup_keeps_the_first_of_near_duplicates_inside_a_cluster_only():
    a = np.array([1.0, 0.0, 0.0])
    x = np.array([a, a + [0, 0.01, 0], [0, 1.0, 0], a + [0, 0, 0.02], a], dtype=np.float32)
    labels = np.array([0, 0, 0, 0, 1])  # row 4 repeats row 0 but lies in another cluster
    dups = near_duplicates(labels, x, 0.99)
    assert dups == {1: 0, 3: 0}  # one kept (row 0) for its copies; row 2 differs; row 4 is not compared
    assert near_duplicates(labels, x, 0.99, order=[3, 0, 1, 2, 4]) == {0: 3, 1: 3}  # input order decides


def test_a_verdict_reaches_only_members_within_the_judged_radius():
    judged = [Member(f"j{i}", 0, 0.1 + 0.02 * i, "bad") for i in range(8)]  # radius 0.24
    near = [Member("near1", 0, 0.05), Member("near2", 0, 0.24)]
    outliers = [Member("far1", 0, 0.25), Member("far2", 0, 0.9)]
    other = [Member(f"o{i}", 1, 0.1, "bad") for i in range(7)] + [Member("o-unjudged", 1, 0.1)]  # 7 < 8
    found = verdicts(judged + near + outliers + other, {0: "casino", 1: "x"}, minimum=8)
    assert len(found) == 1
    v = found[0]
    assert (v.cluster, v.label, v.judged, round(v.radius, 2)) == (0, "bad", 8, 0.24)
    assert sorted(v.within) == ["near1", "near2"] and v.beyond == 2
    assert "8 of 8 judged bad" in v.line() and "propose dropping it" in v.line()
    split = [*judged[:7], Member("g", 0, 0.1, "good"), *near]
    assert verdicts(split, {0: "casino"}, minimum=8) == []  # one good among them: no verdict
    tied = [*judged, Member("t", 0, 0.1, "tie")]
    assert verdicts(tied, {0: "casino"}, minimum=8) == []  # a tie counts against
    assert verdicts(judged + near, {0: "casino"}, minimum=8, keep=[0]) == []  # the curator keeps it


def record(rid: str, cluster: str | None, distance: float = 0.1, votes=None, score=None, agent=None) -> DatasetRecord:
    metadata = {"cluster": cluster, "cluster_distance": distance} if cluster else {}
    return DatasetRecord(
        rid, f"source {rid}", f"target {rid}", metadata, votes=votes or {}, filter_score=score, filter_agent=agent
    )


def test_one_cluster_does_not_fill_the_label_next_queue():
    letters = "abcdefghijklmnopqrstuvwxyz"  # no numbers: these are not copies of one template
    rows = [record(f"a{letters[i]}", "0 · casino", score=0.5) for i in range(20)]
    rows += [record(f"b{letters[i]}", "1 · train", score=0.6) for i in range(5)]
    spread = priorities(rows, [r.filter_score for r in rows])
    top = sorted(range(len(rows)), key=lambda i: -spread[i])[:10]
    assert sum(rows[i].id.startswith("b") for i in top) >= 3  # without the spread: none of cluster 1 in the top 10
    plain = priorities([record(r.id, None, score=r.filter_score) for r in rows], [r.filter_score for r in rows])
    assert not any(rows[i].id.startswith("b") for i in sorted(range(len(rows)), key=lambda i: -plain[i])[:10])


def test_export_honours_a_dropped_cluster_and_an_all_bad_verdict():
    agent = "curation-filter v1"
    rows = [record(f"bad{i}", "3 · casino · bonus / casino", 0.1, votes={"ana": "bad"}) for i in range(8)]
    rows += [record("near", "3 · casino · bonus / casino", 0.05, score=0.95, agent=agent)]
    rows += [record("far", "3 · casino · bonus / casino", 0.5, score=0.95, agent=agent)]
    rows += [record("cookie-good", "4 · cookies / cookies", 0.1, votes={"ana": "good"})]
    rows += [record("cookie-unjudged", "4 · cookies / cookies", 0.1, score=0.99, agent=agent)]
    rows += [record("plain", None, votes={"ana": "good"})]
    labels = {r.id: next(iter(r.votes.values())) for r in rows if r.votes}
    made = decisions(rows, labels, [], drop=["cookies"], keep=[], minimum=8)
    assert made.dropped == {4: "cookies / cookies"} and list(made.propagated_bad) == ["near"]
    chosen = select(rows, 0.9, "v1", 0.0, ClusterConfig(drop=["cookies"]))
    kept = {r["id"] for r in chosen.rows}
    assert kept == {"far", "plain"}  # the outlier beyond the judged radius stays the filter's call
    why = {r["id"]: (r["category"], r["reason"]) for r in chosen.rejected}
    assert why["cookie-good"] == (
        "cluster dropped",
        "cluster 4 (cookies / cookies) dropped by the curator (clusters.drop)",
    )
    assert why["near"][0] == "cluster judged bad" and "8 of 8 judged members bad" in why["near"][1]
    with pytest.raises(InputError, match="no record of the dataset has one: run setup with clusters.enabled"):
        decisions([record("plain", None)], {}, [], drop=[1], keep=[], minimum=8)


def pool(tmp_path, groups=4, per=30):
    x, truth = blobs(groups, per)
    words = ["cookies", "casino", "train", "weather", "music", "football"]
    rows = [(f"{words[g]} sentence {i}", f"frase {words[g]} {i}") for i, g in enumerate(truth)]
    path = tmp_path / "pool.tsv"
    pd.DataFrame(rows, columns=["source", "target"]).to_csv(path, sep="\t", index=False)
    np.save(tmp_path / "emb.npy", x)
    return path, tmp_path / "emb.npy", truth


def test_curation_cluster_writes_assignments_report_map_and_drops(tmp_path):
    path, emb, truth = pool(tmp_path)
    out = tmp_path / "out"
    run = CliRunner().invoke(
        main,
        [
            "cluster",
            "--input",
            str(path),
            "--output",
            str(out),
            "--embeddings",
            str(emb),
            "--k",
            "4",
            "--drop",
            "casino",
        ],
    )
    assert run.exit_code == 0, run.output
    assert "120 pairs in 4 clusters" in run.output
    table = pd.read_parquet(out / "assignments.parquet")
    assert list(table.columns) == ["row", "cluster", "title", "distance"] and list(table["row"]) == list(range(120))
    data = json.loads((out / "clusters.json").read_text())
    assert data["clusters"] == 4 and {"id", "title", "size", "keywords_source", "keywords_target", "examples"} <= set(
        data["items"][0]
    )
    casino = next(i for i in data["items"] if i["title"].startswith("casino"))
    assert casino["decision"] == "drop" and casino["size"] == 30
    dropped = [json.loads(line) for line in (out / "dropped.jsonl").read_text().splitlines()]
    assert len(dropped) == 30 and all(d["source"].startswith("casino") for d in dropped)
    assert dropped[0]["reason"].startswith(f"clusters: cluster {casino['id']} (casino")
    assert (out / "map.png").stat().st_size > 10_000 and (out / "clusters.md").read_text().count("\n| ") == 5
    args = ["cluster", "--input", str(path), "--output", str(out), "--embeddings", str(emb), "--k", "4"]
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and not (out / "dropped.jsonl").exists()  # no decision now: no stale drops


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--k", "500"], "clusters.k is 500 but the pool has 120 pairs: lower it"),
        (["--drop", "77"], "clusters.drop names cluster 77, which does not exist"),
        (["--embeddings", "WRONG"], "holds a float32 array of shape (10, 24), not 120 rows"),
        (["--embeddings", "MISSING"], "does not exist: write one row per pair"),
        (["--base-model", "/nowhere/model"], "no embeddings for these pairs and no model to make them"),
    ],
)
def test_curation_cluster_bad_input_is_one_line(tmp_path, extra, message):
    path, emb, _ = pool(tmp_path)
    np.save(tmp_path / "wrong.npy", np.zeros((10, 24), dtype=np.float32))
    swap = {"WRONG": str(tmp_path / "wrong.npy"), "MISSING": str(tmp_path / "missing.npy")}
    args = ["cluster", "--input", str(path), "--output", str(tmp_path / "out")]
    if "--embeddings" not in extra and "--base-model" not in extra:
        args += ["--embeddings", str(emb)]
    run = CliRunner().invoke(main, args + [swap.get(a, a) for a in extra])
    assert run.exit_code == 1
    assert run.output.startswith("Error: ") and message in run.output and run.output.count("\n") == 1, run.output


def test_embeddings_are_kept_when_features_are_computed_and_read_back_without_a_pass(tiny_model, tmp_path):
    from curation.model.encoder import build_encoder
    from curation.model.settings import TrainConfig

    encoder = build_encoder(TrainConfig(base_model=str(tiny_model), models_dir=str(tmp_path)))
    pairs = [("Where is the station?", "¿Dónde está la estación?"), ("I like tea.", "Me gusta el té.")]
    encoder.features(pairs)
    keys = [__import__("curation.model.feature_cache", fromlist=["pair_key"]).pair_key(*p) for p in pairs]
    stored = encoder.cache.get_embeddings(keys, encoder.model.config.hidden_size)
    assert len(stored) == 2
    calls = []
    encoder._encode = lambda texts: calls.append(texts)  # any forward pass now would be a second one
    encoder._recent.clear()
    got = encoder.embeddings(pairs)
    assert calls == [] and np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-2)
    assert np.allclose(got[0], stored[keys[0]])


def test_embeddings_on_disk_are_read_by_blocks_as_numpy_reads_them(tmp_path):
    from curation.clusters.embed import from_file

    x = np.random.default_rng(0).normal(size=(9000, 5)).astype(np.float16)
    np.save(tmp_path / "x.npy", x)
    rows = from_file(tmp_path / "x.npy", 9000)
    assert rows.shape == (9000, 5) and len(rows) == 9000
    assert np.array_equal(rows[4090:4200], x[4090:4200].astype(np.float32))
    picked = np.array([8999, 0, 4097, 4096, 12])  # unsorted, across read spans
    assert np.array_equal(rows[picked], x[picked].astype(np.float32))
    np.save(tmp_path / "ints.npy", np.zeros((9000, 5), dtype=np.int64))
    with pytest.raises(InputError, match="holds a int64 array of shape"):
        from_file(tmp_path / "ints.npy", 9000)
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(InputError, match="is not a numpy .npy array"):
        from_file(tmp_path / "junk.npy", 9000)


def test_setup_refuses_a_dropped_id_whose_cluster_changed_since_the_report(tiny_model, tmp_path):
    """Ids follow the pool: when it changes, cluster 3 may be another cluster. A drop by id whose title differs from
    the last report's is one line, before anything reaches Argilla; a drop by title is not affected."""
    from curation.clusters.pool import cluster_pool
    from curation.model.settings import TrainConfig
    from curation.pair import Pair

    train = TrainConfig(base_model=str(tiny_model), models_dir=str(tmp_path / "models"), depth=None, layer=1)
    words = ["casino", "cookies", "train", "weather"]
    pairs = lambda: [Pair(f"{w} news {i}", f"noticias {w} {i}", f"t:{i}") for w in words for i in range(15)]  # noqa: E731
    kept, done = cluster_pool(pairs(), [], ClusterConfig(k=4), train, tmp_path)
    report = json.loads((tmp_path / "clusters" / "clusters.json").read_text())
    assert len(kept) == 60 and all(p.measures["cluster"].split(" · ")[0].isdigit() for p in kept)
    again, _ = cluster_pool(pairs(), [], ClusterConfig(k=4, drop=[0]), train, tmp_path)  # the same pool: fine
    assert len(again) == 60 - report["items"][0]["size"]
    report["items"][0]["title"] = "something else"
    (tmp_path / "clusters" / "clusters.json").write_text(json.dumps(report))
    with pytest.raises(InputError, match=r"clusters.drop names cluster 0, which was 'something else' in the last"):
        cluster_pool(pairs(), [], ClusterConfig(k=4, drop=[0]), train, tmp_path)
    report = json.loads((tmp_path / "clusters" / "clusters.json").read_text())  # the new report, written anyway
    title = report["items"][0]["title"]
    report["items"][0]["title"] = "something else"
    (tmp_path / "clusters" / "clusters.json").write_text(json.dumps(report))
    rejected: list = []
    still, _ = cluster_pool(pairs(), rejected, ClusterConfig(k=4, drop=[title]), train, tmp_path)
    assert len(still) + len(rejected) == 60 and rejected[0][1].startswith("clusters: cluster 0 (")
