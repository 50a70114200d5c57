"""`curation train` (train_filter.py): the learned filter trained on judged pairs, the rest pre-ranked in Argilla."""

from __future__ import annotations

import click

from curation import cycle
from curation.cli.common import Bars, config_option, dataset_options, friendly, gather, load_config, quiet_sdk
from curation.config import Config
from curation.model.card import quality_lines


@click.command()
@config_option()
@dataset_options
@click.option("--labels", type=click.Path(dir_okay=False), help="Train from a judged file instead (no Argilla).")
@click.option("--models-dir", help="Where model versions go (config: train.models_dir).")
@click.option("--base-model", help="Encoder: Hub id or folder (config: train.base_model).")
@click.option("--device", help="auto, cpu, cuda, cuda:N or mps (config: train.device).")
@click.option("--force", is_flag=True, help="Make the new model latest even if it ranks backwards (AUC < 0.5).")
@friendly
@gather("overrides", dict, models_dir="models_dir", base_model="base_model", device="device")
def train(config_path, workspace, dataset, labels, overrides: dict, force):
    """Train the learned filter on judged pairs and pre-rank the rest in Argilla (train_filter.py).

    \b
    Example:
        python train_filter.py                        # labels from Argilla, suggestions back
        python train_filter.py --labels judged.tsv    # a local judged file, no Argilla
    The server comes from ARGILLA_API_URL / ARGILLA_API_KEY, else the embedded stack's credentials.
    """
    config = load_config(config_path, workspace, dataset, **{f"train.{k}": v for k, v in overrides.items()})
    run(config, labels, force)


def run(config: Config, labels=None, force: bool = False, client=None) -> None:
    quiet_sdk()
    bars = Bars()
    try:
        settings = cycle.CycleSettings(config.train, config.argilla, config.output_dir, config.clusters)
        result = cycle.run(settings, labels, client=client, progress=bars.progress(), force=force)
    finally:
        bars.close()
    ev = result.evaluation
    click.echo(f"Model {result.model.version} (card: {result.model.path / 'README.md'}):")
    for line in quality_lines(ev.quality()):
        click.echo(f"  {line}")
    if not labels:
        good_at, bad_at = ev.thresholds
        bands = [f"good at or above {good_at:.3f}" if good_at is not None else "never good"]
        bands.append(f"bad at or below {bad_at:.3f}" if bad_at is not None else "never bad")
        click.echo(
            f"{result.suggested} of {result.scored} unjudged pairs got a quality suggestion ({', '.join(bands)}; "
            "the uncertain rest get scores only)"
        )
        click.echo("Outputs: " + ", ".join(f"{name} {path}" for name, path in result.outputs.items()))
        click.echo(f"Label next (pending pairs, least certain first): {result.queue}")
