"""`curation cluster` on any pairs file: read as setup reads it, embedded (or embeddings given), clustered, written."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from curation.clean.readers import load
from curation.clusters import embed, report
from curation.clusters.fit import encoder_key
from curation.clusters.run import Clustering, cluster
from curation.clusters.settings import ClusterConfig
from curation.files import check_writable, staged_file, write_jsonl
from curation.pair import batched
from curation.progress import Progress


@dataclass
class FileClusters:
    """What `curation cluster` did with a pairs file."""

    result: Clustering
    paths: dict
    pairs: int


def cluster_file(
    spec,
    out_dir: str | Path,
    settings: ClusterConfig,
    train=None,
    embeddings: str | Path | None = None,
    *,
    progress: Progress | None = None,
) -> FileClusters:
    """`curation cluster`: the pairs of `spec` (an `InputSpec`, read as setup reads it, in order) clustered with
    `embeddings` (a .npy, one row per pair) or the learned filter's encoder (`train`), written to `out_dir`:
    assignments.parquet, clusters.json, clusters.md, map.png, and dropped.jsonl when `settings` drops any."""
    progress = progress or Progress()
    out = Path(out_dir)
    existing = next(p for p in (out, *out.resolve().parents) if p.exists())
    check_writable(existing / "clusters.json")  # probed where it can be, before any work; made once there is work

    def texts():
        return batched(((p.source, p.target) for p in load(spec)), 4096)

    n = sum(len(chunk) for chunk in texts())  # counts rows, checks the input before any model loads
    with tempfile.TemporaryDirectory(prefix="curation-embeddings-") as tmp:  # float16, 768 bytes a pair
        if embeddings is not None:
            x = embed.from_file(embeddings, n)
            made_by = f"file {Path(embeddings).name}"
        else:
            encoder = embed.encoder_for(train)
            x = embed.from_encoder(encoder, texts(), tmp, progress.bar("embedding"))
            made_by = encoder_key(train.base_model, train.depth)
        result = cluster(x, texts, settings)
        result.model.encoder = made_by
        paths = report.write(result, out, x, projection=settings.map)
        paths["model.npz"] = out / "model.npz"  # for `curation score --clusters`: every pair of a corpus assigned
        with staged_file(paths["model.npz"]) as partial:
            result.model.save(partial)
        del x
    if result.dropped or result.duplicates:
        paths["dropped.jsonl"] = out / "dropped.jsonl"
        rows = (
            {"row": i, "source": s, "target": t, "reason": reason}
            | ({"kept_row": result.duplicates[i]} if i in result.duplicates else {})
            for i, (s, t) in enumerate(pair for chunk in texts() for pair in chunk)
            if (reason := result.drop_reason(i)) is not None
        )
        write_jsonl(paths["dropped.jsonl"], rows)
    else:
        (out / "dropped.jsonl").unlink(missing_ok=True)  # an earlier run's decisions must not pass for this one's
    return FileClusters(result, paths, n)
