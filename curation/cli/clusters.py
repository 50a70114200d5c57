"""`curation cluster`: group the pairs of any file into clusters of similar pairs, titled, mapped, decided on."""

from __future__ import annotations

from dataclasses import replace

import click

from curation.cli.common import Bars, config_option, friendly, gather, load_config
from curation.clusters.file import cluster_file
from curation.clusters.settings import parse_ids


@click.command("cluster")
@config_option()
@click.option(
    "--input", "input_path", required=True, help="Pairs: a file (tsv/csv/jsonl/parquet), a.en,a.es, or a Hub id."
)
@click.option("--output", required=True, type=click.Path(file_okay=False), help="Folder for the clusters and the map.")
@click.option(
    "--embeddings", type=click.Path(dir_okay=False), help="A .npy of one row per pair (else the filter's encoder)."
)
@click.option("--k", type=int, help="Number of clusters (config: clusters.k; default: chosen from the pool).")
@click.option("--drop", help="Clusters to drop: ids or titles, comma-separated (config: clusters.drop).")
@click.option("--keep", help="Clusters to keep whatever annotators' verdicts say (config: clusters.keep).")
@click.option(
    "--dedup-cosine",
    type=float,
    help="Near-duplicates inside a cluster at this cosine (config: clusters.dedup_cosine).",
)
@click.option("--base-model", help="Encoder for the embeddings: Hub id or folder (config: train.base_model).")
@click.option("--models-dir", help="Where the encoder's cache is (config: train.models_dir).")
@friendly
@gather("flags", dict, k="k", drop="drop", keep="keep", dedup_cosine="dedup_cosine")
@gather("encoder", dict, base_model="base_model", models_dir="models_dir")
def cluster(config_path, input_path, output, embeddings, flags: dict, encoder: dict):
    """Group the pairs of a file into clusters of similar pairs: assignments.parquet (row, cluster, title, distance),
    clusters.json, clusters.md (the report) and map.png in --output.

    \b
    Example:
        curation cluster --input data/sample/candidates.tsv --output outputs/clusters-sample
        curation cluster --input pool.tsv --output out/ --drop 12,cookies   # dropped.jsonl says why
    """
    for name in ("drop", "keep"):
        flags[name] = parse_ids(flags[name]) if flags[name] else None
    overrides = {f"clusters.{k}": v for k, v in flags.items()} | {f"train.{k}": v for k, v in encoder.items()}
    config = load_config(config_path, **overrides)
    spec = replace(config.input, path=input_path, format=None)
    bars = Bars()
    try:
        done = cluster_file(spec, output, config.clusters, config.train, embeddings, progress=bars.progress())
    finally:
        bars.close()
    result = done.result
    how = f"chosen from the pool, first split {len(result.model.fine)}" if result.model.auto else "--k"
    click.echo(f"{done.pairs:,} pairs in {result.model.k} clusters ({how}); the largest:")
    for c in sorted(result.clusters, key=lambda c: -c.size)[:10]:
        click.echo(f"  {c.id:>4}  {c.size:>7,}  {c.title}")
    if result.dropped or result.duplicates:
        dropped = sum(result.clusters[c].size for c in result.dropped)
        click.echo(
            f"dropped: {dropped:,} pairs of clusters {', '.join(map(str, sorted(result.dropped)))}"
            f"{'' if not result.duplicates else f'; {len(result.duplicates):,} near-duplicates'} "
            f"(with reasons: {done.paths['dropped.jsonl']})"
        )
    click.echo("Written: " + ", ".join(str(p) for p in done.paths.values()))
