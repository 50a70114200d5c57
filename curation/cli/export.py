"""`curation export`: the curated set with its dataset card, to a folder and/or the Hub."""

from __future__ import annotations

from pathlib import Path

import click

from curation.cli.common import (
    config_option,
    dataset_options,
    friendly,
    gather,
    load_config,
    quiet_sdk,
    trust_pickle_option,
)
from curation.config import Config
from curation.export.run import AutoAccept, Destination, ExportSettings
from curation.export.run import run as export
from curation.export.select import TOO_FEW
from curation.progress import Progress


@click.command("export")
@config_option()
@dataset_options
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), help="Local folder: Parquet, JSONL, card.")
@click.option("--to-hub", "repo_id", help="Hugging Face dataset repo (namespace/name); token from HF_TOKEN.")
@click.option("--model", "model_dir", help="Trained filter (version folder or models folder) for --auto-accept.")
@click.option("--auto-accept", is_flag=True, help="Add unjudged pairs whose filter score clears the threshold.")
@click.option("--threshold", type=float, help="Auto-accept threshold (default: the one stored with the model).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file or folder.")
@click.option("--include-rejected", is_flag=True, help="Also write rejected.jsonl (pairs left out, with reasons).")
@click.option("--chat", is_flag=True, default=None, help="Also write a chat `messages` view (config: export.chat).")
@click.option("--public", is_flag=True, help="Create the Hub repo public (default private).")
@trust_pickle_option
@friendly
@gather(
    "to",
    Destination,
    output="output",
    repo_id="repo_id",
    overwrite="overwrite",
    include_rejected="include_rejected",
    public="public",
)
@gather(
    "accept",
    AutoAccept,
    model_dir="model_dir",
    enabled="auto_accept",
    threshold="threshold",
    trust_pickle="trust_pickle",
)
def export_command(config_path, workspace, dataset, chat, to: Destination, accept: AutoAccept):
    """Export the curated set: human-approved pairs (+ model-trusted ones) with a dataset card.

    \b
    Example:
        curation export --output curated/                          # human-approved only
        curation export --output curated/ --model models --auto-accept --include-rejected
        HF_TOKEN=... curation export --to-hub me/en-es-curated --model models --auto-accept
    """
    run(load_config(config_path, workspace, dataset, **{"export.chat": chat}), to, accept)


def run(config: Config, to: Destination, accept: AutoAccept, client=None) -> None:
    quiet_sdk()
    settings = ExportSettings(config.argilla, config.export, config.output_dir, config.clusters)
    result = export(settings, to, accept, progress=Progress(click.echo), client=client)
    output, repo_id = to.output, to.repo_id
    c = result.selection.counts
    small = f" ({TOO_FEW}: raise export.validation)" if result.validation_too_small else ""
    reached = ": the model reached no auto-accept threshold" if result.no_threshold else ""
    click.echo(
        f"{len(result.selection.rows)} pairs: train {sum(c['train'].values())}, validation "
        f"{sum(c['validation'].values())}{small} (human {c['train']['human'] + c['validation']['human']}, model "
        f"{c['train']['model'] + c['validation']['model']}{reached}); {len(result.selection.rejected)} left out"
    )
    if output:
        click.echo(f"Curated set: {output} (card: {output / 'README.md'})")
    if repo_id:
        click.echo(f"Pushed to the Hub: {repo_id} ({result.url})")
