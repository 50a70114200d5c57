"""`curation score` and `curation slice`: a trained filter over a corpus of any size, and the slice worth labelling."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import click

from curation.clean.readers import InputSpec
from curation.cli.common import config_option, friendly, gather, load_config, trust_pickle_option
from curation.corpus.settings import ModelSpec, RayOptions


def _ray_options(engine: str, **options) -> RayOptions | None:
    """--engine ray with its options; None: the local engine."""
    return RayOptions(**options) if engine == "ray" else None


@click.command()
@click.option("--model", "model_dir", help="A model version folder, or a models folder (its latest).")
@click.option(
    "--input",
    "input_path",
    required=True,
    help="Pairs: a file (tsv/csv/jsonl/parquet, a.en,a.es, Hub id), or shards: a folder or a glob pattern.",
)
@click.option(
    "--output",
    required=True,
    type=click.Path(),
    help="A .jsonl/.csv/.tsv file, or a folder of Parquet shards (needed with shards, --clean or --engine ray).",
)
@click.option(
    "--clean",
    is_flag=True,
    help="Heuristic filters and dedup first (config: filters, pii, dedup); "
    "dropped pairs are written with their reason and no score.",
)
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--ray-address", help="Ray cluster (ray://host:10001); default RAY_ADDRESS, else a local Ray.")
@click.option("--replicas", type=int, help="Ray: model replicas (default one per GPU, else one per 4 CPUs).")
@click.option("--gpus-per-replica", type=float, help="Ray: GPUs per model replica (default 1 when there are GPUs).")
@click.option("--cpus-per-replica", type=float, default=1, show_default=True, help="Ray: CPUs per model replica.")
@config_option()
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file or folder.")
@click.option("--source-column", default="source", show_default=True)
@click.option("--target-column", default="target", show_default=True)
@click.option("--quoting", help="csv/tsv input: none or minimal (default: minimal for .csv, none for .tsv).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--batch-size", type=int, help="Encoder batch size (default 32 on CPU, 256 on GPU).")
@click.option(
    "--clusters",
    "clusters_dir",
    type=click.Path(file_okay=False),
    help="A `curation cluster` output folder: each scored pair gets its cluster (shards only).",
)
@trust_pickle_option
@friendly
@gather(
    "model",
    ModelSpec,
    path="model_dir",
    device="device",
    batch_size="batch_size",
    trust_pickle="trust_pickle",
    clusters="clusters_dir",
)
@gather(
    "spec",
    InputSpec,
    path="input_path",
    source_column="source_column",
    target_column="target_column",
    quoting="quoting",
)
@gather(
    "ray",
    _ray_options,
    engine="engine",
    address="ray_address",
    replicas="replicas",
    gpus_per_replica="gpus_per_replica",
    cpus_per_replica="cpus_per_replica",
)
def score(model: ModelSpec, spec: InputSpec, output, clean, ray: RayOptions | None, config_path, overwrite):
    """Score pairs with a trained filter: one row per pair, in input order, with P(good).

    \b
    Examples:
        curation score --model models/latest --input candidates.tsv --output scored.jsonl
        curation score --model models/latest --input shards/ --output scored/ --clean --engine ray
    """
    from tqdm import tqdm

    from curation.corpus.score import FileScored, is_folder, run  # pyarrow and Ray's glue: +0.28 s, only to score

    if not model.path and not clean:
        raise click.UsageError("give --model (to score), --clean (to filter and dedup), or both")
    if not is_folder(output) and (clean or ray is not None or model.clusters):
        raise click.UsageError(
            f"with --clean, --clusters or --engine ray, --output is a folder (Parquet shards), not {output}"
        )
    if model.clusters and not model.path:
        raise click.UsageError("--clusters tags the pairs a model scores: give --model too")
    cleaning = replace(load_config(config_path).cleaning(), input=spec)
    with tqdm(desc="scoring", unit=" pairs", disable=None if ray is None else True) as bar:
        result = run(cleaning, output, model=model, clean=clean, overwrite=overwrite, ray=ray, progress=bar.update)
    if isinstance(result, FileScored):
        click.echo(f"{result.written} pairs scored with {result.version} -> {output}")
        if result.stats.malformed:
            click.echo(f"{result.stats.malformed} malformed rows skipped, e.g. {result.stats.examples[0]}")
        for warning in result.stats.warnings():
            click.echo(warning)
        return
    summary = result
    engine = "local" if ray is None else "ray"
    click.echo(
        f"{summary.rows:,} pairs from {summary.shards} shards in {summary.seconds:.0f} s "
        f"({summary.pairs_per_s:,.0f} pairs/s, {engine}): {summary.kept:,} kept -> {summary.output}"
    )
    for reason, n in summary.reasons.items():
        click.echo(f"  dropped {n:,}: {reason}")
    if summary.malformed:
        example = summary.malformed[0]["examples"][0]
        click.echo(
            f"  malformed rows skipped: {summary.malformed_rows:,} in {len(summary.malformed)} shards, listed in "
            f"{summary.output / '_malformed_rows.json'} (e.g. {example})"
        )
    for failure in summary.failed:
        click.echo(f"  shard FAILED, skipped: {failure['shard']} ({failure['error']})", err=True)


@click.command("slice")
@click.option("--scored", required=True, type=click.Path(exists=True), help="The output folder of `curation score`.")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="Parquet (or .jsonl) for setup.")
@click.option("--uncertain", default=1000, show_default=True, help="Rows of the uncertain band, closest to 0.5 first.")
@click.option("--band", nargs=2, type=float, default=(0.3, 0.7), show_default=True, help="The uncertain band.")
@click.option("--per-stratum", default=100, show_default=True, help="Sampled rows per score range.")
@click.option("--strata", default=10, show_default=True, help="Equal score ranges over [0, 1].")
@friendly
def slice_command(scored, output, uncertain, band, per_stratum, strata):
    """The slice of a scored corpus worth human time: the uncertain band plus a stratified sample.

    \b
    Example:
        curation slice --scored scored/ --output to_label.parquet
        python setup_workspace.py --input to_label.parquet
    """
    from curation.corpus.slice import select, write  # pyarrow: +0.36 s on every command, only to slice

    table = select(scored, uncertain, band[0], band[1], per_stratum, strata)
    path = write(table, output)
    parts = Counter(p.split(" ")[0] for p in table.column("part").to_pylist())
    click.echo(f"{len(table):,} pairs -> {path} (uncertain {parts['uncertain']:,}, stratified {parts['stratum']:,})")
