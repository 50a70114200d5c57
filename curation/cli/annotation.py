"""`curation setup` (setup_workspace.py): clean candidates and put them in front of annotators."""

from __future__ import annotations

from dataclasses import replace

import click

from curation.annotation.setup import SetupSettings, run_setup
from curation.cli.common import Bars, config_option, dataset_options, friendly, load_config, quiet_sdk
from curation.config import Config


@click.command()
@config_option()
@click.option("--input", "input_path", help="Candidates: a file (tsv/csv/jsonl/parquet), a.en,a.es, or a Hub id.")
@dataset_options
@click.option("--labels", type=click.Path(dir_okay=False), help="Judged pairs (source, target, label) to import.")
@click.option("--dry-run", is_flag=True, help="Clean and print the filter table; do not touch Argilla.")
@friendly
def setup(config_path, input_path, workspace, dataset, labels, dry_run):
    """Clean candidates and put them in front of annotators in Argilla (setup_workspace.py).

    \b
    Example:
        python setup_workspace.py --input data/sample/candidates.tsv --labels data/sample/judged.tsv
    The server comes from ARGILLA_API_URL / ARGILLA_API_KEY, else the embedded stack's credentials.
    """
    config = load_config(config_path, workspace, dataset)
    if input_path:
        config = config.with_overrides(input=replace(config.input, path=input_path, format=None))
    run(config, labels, dry_run)


def run(config: Config, labels=None, dry_run: bool = False, client=None) -> None:
    quiet_sdk()
    bars = Bars()
    settings = SetupSettings(
        config.cleaning(), config.argilla, config.annotators, config.output_dir, config.clusters, config.train
    )
    result = run_setup(settings, labels, dry_run=dry_run, progress=bars.progress(), client=client)
    bars.close()
    if dry_run:
        return
    by_outcome: dict[str, list[str]] = {}
    for username, outcome in result.users.items():
        by_outcome.setdefault(outcome, []).append(username)
    click.echo("Users: " + "; ".join(f"{', '.join(names)}: {outcome}" for outcome, names in by_outcome.items()))
    where = f"{config.argilla.workspace}/{config.argilla.dataset}"
    now = "" if result.total is None else f" ({result.total} records in it now)"
    click.echo(f"{result.logged} candidate pairs logged to {where}{now}")
    if labels:
        got = result.labels
        kept = f", {got.kept} kept as they are in Argilla (that annotator had answered already)" if got.kept else ""
        added = f" ({got.added} of them not among the cleaned candidates: added with their labels)" if got.added else ""
        click.echo(
            f"{got.pairs} judged pairs in {labels}{added}: {got.responses} responses imported as submitted "
            f"by the file's annotators (the UI counts them as their work){kept}"
        )
    click.echo(f"New annotators' passwords: {config.annotators.passwords} (keep it private)")
