"""What a curator reads: `clusters.json`, a table (`clusters.md`), the 2D map (`map.png`) and every pair's cluster
(`assignments.parquet`), in one folder (`outputs/clusters/` for setup)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from curation.clusters.run import Clustering
from curation.errors import ConfigError
from curation.files import staged_file

LARGEST, TIGHTEST = 8, 6  # clusters named on the map: the largest, and the tightest of 10+ pairs (alike pairs:
# templates, boilerplate), besides every dropped one
MAP_POINTS = 20_000  # points drawn on the map at most (a sample: the map is read at a glance, not counted)


def cluster_objects(result: Clustering, stats: dict[int, dict] | None = None) -> list[dict]:
    """One object per cluster: id, title, size, keywords, examples, and the stats known so far."""
    stats = stats or {}
    out = []
    for c in result.clusters:
        obj = asdict(c)
        obj["decision"] = "drop" if c.id in result.dropped else "keep" if c.id in result.kept else None
        obj.update(stats.get(c.id, {}))
        out.append(obj)
    return out


def write(
    result: Clustering, out_dir: str | Path, x=None, stats: dict[int, dict] | None = None, projection="pca"
) -> dict:
    """Writes the folder; `x` (the embeddings) draws the map. Returns the paths written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("clusters.json", "clusters.md", "assignments.parquet")}
    objects = cluster_objects(result, stats)
    summary = {
        "clusters": len(result.clusters),
        "pairs": int(len(result.labels)),
        "k": "auto" if result.model.auto else "clusters.k",
        "first_split": int(len(result.model.fine)),
        "dropped": sorted(result.dropped),
        "near_duplicates": len(result.duplicates),
        "seconds": result.seconds,
    }
    with staged_file(paths["clusters.json"]) as partial:
        partial.write_text(json.dumps({**summary, "items": objects}, indent=1, ensure_ascii=False), encoding="utf-8")
    with staged_file(paths["clusters.md"]) as partial:
        partial.write_text(table(objects, summary), encoding="utf-8")
    titles = np.array([c.title for c in result.clusters], dtype=object)
    with staged_file(paths["assignments.parquet"]) as partial:
        schema = pa.schema(
            [("row", pa.int64()), ("cluster", pa.int32()), ("title", pa.string()), ("distance", pa.float32())]
        )
        with pq.ParquetWriter(partial, schema) as writer:
            for start in range(0, len(result.labels), 100_000):
                labels = result.labels[start : start + 100_000]
                writer.write_table(
                    pa.table(
                        {
                            "row": np.arange(start, start + len(labels), dtype=np.int64),
                            "cluster": labels,
                            "title": titles[labels],
                            "distance": result.distances[start : start + 100_000],
                        },
                        schema=schema,
                    )
                )
    if x is not None and len(result.labels) >= 3:
        paths["map.png"] = out / "map.png"
        draw_map(result, x, paths["map.png"], projection)
    return paths


def _cell(value, digits=2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(objects: list[dict], summary: dict) -> str:
    """The cluster report: one row per cluster, largest first, with the stats known so far."""
    how = f"chosen from the pool (first split {summary['first_split']})" if summary["k"] == "auto" else "clusters.k"
    columns = "mean filter score | dropped by heuristics | judged good / bad | toxic | decision | examples"
    lines = [
        f"# Clusters: {summary['pairs']:,} pairs in {summary['clusters']} clusters",
        "",
        f"k: {how}. Drop a cluster by id or title: `clusters.drop` in the config, or "
        "`curation cluster --drop ID,TITLE`.",
        "",
        f"| id | size | title | {columns} |",
        "|---:|---:|---|---:|---:|---|---:|---|---|",
    ]
    for o in objects:
        judged = f"{o['judged_good']} / {o['judged_bad']}" if "judged_good" in o else "—"
        examples = " ◦ ".join(f"{e['source'][:50]} → {e['target'][:50]}" for e in o["examples"])
        examples = examples.replace("|", "\\|")
        lines.append(
            f"| {o['id']} | {o['size']:,} | {o['title'].replace('|', '/')} | {_cell(o.get('mean_filter_score'))} | "
            f"{_cell(o.get('heuristics_dropped_share'))} | {judged} | {_cell(o.get('toxic_share'))} | "
            f"{o.get('decision') or ''} | {examples} |"
        )
    return "\n".join(lines) + "\n"


def project(x, projection: str = "pca", points: np.ndarray | None = None) -> np.ndarray:
    """2D coordinates of the rows `points` of `x`: PCA (instant) or UMAP (umap-learn, slower)."""
    rows = np.asarray(x[points] if points is not None else x, dtype=np.float32)
    if projection == "umap":
        try:
            import umap
        except ImportError:
            raise ConfigError(
                "clusters.map is umap, but umap-learn is not installed: pip install umap-learn, or use pca"
            ) from None
        return umap.UMAP(n_components=2, random_state=0).fit_transform(rows)
    from sklearn.decomposition import PCA

    return PCA(2, random_state=0).fit_transform(rows)


def draw_map(result: Clustering, x, path: Path, projection: str = "pca") -> None:
    """Points coloured by cluster: the largest clusters, the tightest (where templates and boilerplate gather) and
    the dropped ones (crossed), each named in a box that does not overlap another, joined to the cluster's middle."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(result.labels)
    rng = np.random.default_rng(0)
    points = np.sort(rng.choice(n, MAP_POINTS, replace=False)) if n > MAP_POINTS else np.arange(n)
    xy = project(x, projection, points)
    labels = result.labels[points]
    fig, ax = plt.subplots(figsize=(14, 9), dpi=110)
    palette = plt.get_cmap("tab20")
    colours = [palette(i) for i in range(20) if i not in (14, 15)]  # no greys: grey is the unnamed clusters
    largest = [c.id for c in sorted(result.clusters, key=lambda c: -c.size)[:LARGEST]]
    tight = [
        c.id for c in sorted(result.clusters, key=lambda c: c.mean_distance) if c.size >= 10 and c.id not in largest
    ]
    chosen = list(dict.fromkeys([*largest, *tight[:TIGHTEST], *sorted(result.dropped)]))[:20]
    ax.scatter(xy[:, 0], xy[:, 1], s=7, c="#d4d4d4", linewidths=0)
    low, high = xy.min(0), xy.max(0)
    span = np.where(high - low > 0, high - low, 1)
    placed: list[np.ndarray] = []
    for rank, c in enumerate(chosen):
        mine = labels == c
        if not mine.any():
            continue
        colour = colours[rank % len(colours)]
        dropped = c in result.dropped
        ax.scatter(xy[mine, 0], xy[mine, 1], s=22 if dropped else 14, color=colour, marker="x" if dropped else "o",
                   linewidths=1.0 if dropped else 0)  # fmt: skip
        middle = np.median(xy[mine], axis=0)
        spot = (middle - low) / span  # in axes fractions, moved down until no other box is near
        while any(abs(spot[0] - p[0]) < 0.2 and abs(spot[1] - p[1]) < 0.07 for p in placed):
            spot = spot + [0, -0.075] if spot[1] > 0.1 else np.array([min(spot[0] + 0.21, 0.9), 0.95])
        placed.append(spot)
        name = f"{c}: {result.clusters[c].title}"
        name = name if len(name) <= 46 else name[:45] + "…"
        ax.annotate(
            f"{name}\n{result.clusters[c].size:,} pairs{' · dropped' if dropped else ''}",
            middle,
            xytext=spot,
            textcoords="axes fraction",
            fontsize=8,
            ha="center",
            va="center",
            bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": colour, "alpha": 0.9},
            arrowprops={"arrowstyle": "-", "color": colour, "lw": 0.8},
        )
    ax.set_title(
        f"{n:,} pairs in {len(result.clusters)} clusters ({projection.upper()} of the pair embeddings): in colour the "
        f"{LARGEST} largest, the {TIGHTEST} tightest (alike pairs) and any dropped (crossed); the rest grey",
        fontsize=10,
    )
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    with staged_file(path) as partial:
        fig.savefig(partial, format="png")
    plt.close(fig)
