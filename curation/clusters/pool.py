"""Setup's cluster step: the cleaned pool clustered with the learned filter's encoder, the curator's decisions
applied (audited in `dropped.jsonl`), each kept pair tagged with its cluster for Argilla, the report written.

The encoder computes the filter's whole features here (cached under `train.models_dir`), not only the embeddings:
`train_filter.py` then finds every pair's features in the cache, so the pool is encoded once, by setup.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation.clusters import embed, report
from curation.clusters.fit import check_k
from curation.clusters.run import Clustering, cluster
from curation.clusters.settings import ClusterConfig
from curation.errors import InputError
from curation.model.settings import TrainConfig
from curation.pair import Pair, batched
from curation.progress import Progress

CLUSTER = "cluster"  # Pair.measures keys, written as Argilla metadata (curation.annotation.schema)
DISTANCE = "cluster_distance"
CHUNK = 512


@dataclass
class PoolClusters:
    result: Clustering
    paths: dict[str, Path]
    dropped: int = 0  # pairs a curator's cluster decision dropped
    near_duplicates: int = 0  # pairs SemDeDup dropped


def cluster_pool(
    kept: list[Pair],
    rejected: list,
    settings: ClusterConfig,
    train,
    out_dir: str | Path,
    *,
    judged: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> tuple[list[Pair], PoolClusters]:
    """The pairs still kept, and what clustering did (`train`: the learned filter's settings; None: the defaults).
    Dropped pairs join `rejected` with a reason that names the cluster and its title (a near-duplicate also names
    the pair kept in its place). `judged`: pair id -> label from a labels file, for the report's judged shares."""
    progress = progress or Progress()
    check_k(settings.k, len(kept))  # before the encoder loads
    encoder = embed.encoder_for(train or TrainConfig(), embed.FOR_SETUP)
    pairs = [(p.source, p.target) for p in kept]
    bar = progress.bar("encoding for clusters (the filter's features, cached for train_filter.py)")
    for features in encoder.stream(batched(pairs, CHUNK)):
        bar(len(features))
    if not pairs:
        return kept, PoolClusters(None, {})
    folder = Path(out_dir) / "clusters"
    before = _titles_in(folder / "clusters.json")  # the report the curator's ids were read from
    with tempfile.TemporaryDirectory(prefix="curation-embeddings-") as tmp:  # on disk: memory stays flat
        x = embed.from_encoder(encoder, batched(pairs, CHUNK), tmp)  # from the cache the features filled
        result = cluster(x, lambda: batched(pairs, CHUNK), settings)
        stats = _stats(kept, result, rejected, encoder, judged or {})
        still, dropped, duplicates = [], 0, 0
        for i, pair in enumerate(kept):
            reason = result.drop_reason(i)
            if reason is None:
                pair.measures[CLUSTER] = result.term(i)
                pair.measures[DISTANCE] = float(result.distances[i])
                still.append(pair)
                continue
            if i in result.duplicates:
                pair.extra["kept"] = [kept[result.duplicates[i]].origin]
                duplicates += 1
            else:
                dropped += 1
            rejected.append((pair, reason))
        paths = report.write(result, folder, x, stats, settings.map)
    by_id = [c for c, entry in result.dropped.items() if entry == str(c)]  # a title names what it names now
    moved = [
        (c, before[c], result.clusters[c].title)
        for c in by_id
        if before.get(c, result.clusters[c].title) != result.clusters[c].title
    ]
    if moved:
        c, was, now = moved[0]
        raise InputError(
            f"clusters.drop names cluster {c}, which was '{was}' in the last cluster report and is '{now}' now (the "
            f"pool changed, and the ids with it): check {paths['clusters.md']} and name the clusters again, by id or "
            "title; nothing was sent to Argilla"
        )
    return still, PoolClusters(result, paths, dropped, duplicates)


def _titles_in(path: Path) -> dict[int, str]:
    """Cluster id -> title of an earlier report (none: {})."""
    try:
        return {int(i["id"]): str(i["title"]) for i in json.loads(path.read_text(encoding="utf-8"))["items"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _stats(kept: list[Pair], result: Clustering, rejected: list, encoder, judged: dict[str, str]) -> dict[int, dict]:
    """Per cluster: the share of its pairs the heuristic filters dropped (those pairs assigned to their nearest
    cluster), the share flagged by the toxicity word lists, and judged good/bad from the labels file."""
    k = result.model.k
    sizes = np.bincount(result.labels, minlength=k)
    heuristics = [p for p, reason in rejected if not reason.startswith(("dedup", "templates", "clusters"))]
    dropped = np.zeros(k)
    if heuristics:
        texts = [(p.source, p.target) for p in heuristics]
        for chunk in batched(texts, CHUNK):
            labels, _ = result.model.assign(encoder.embeddings(chunk))
            dropped += np.bincount(labels, minlength=k)
    toxic = np.zeros(k)
    good, bad = Counter(), Counter()
    for i, pair in enumerate(kept):
        c = int(result.labels[i])
        toxic[c] += str(pair.measures.get("toxicity", "none")) not in ("none", "")
        label = judged.get(pair.id)
        good[c] += label == "good"
        bad[c] += label == "bad"
    out = {}
    for c in range(k):
        seen = sizes[c] + dropped[c]
        out[c] = {
            "heuristics_dropped_share": round(float(dropped[c] / seen), 3) if seen else None,
            "toxic_share": round(float(toxic[c] / sizes[c]), 3) if sizes[c] else None,
        }
        if judged:
            out[c] |= {"judged_good": good[c], "judged_bad": bad[c]}
    return out
