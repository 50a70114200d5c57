"""`curation demo`: the main job on the embedded default, on the sample data written for this project."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from curation.annotation.connect import connect
from curation.cli import annotation, export, model
from curation.cli.common import data_dir_option, friendly, load_config, port_option
from curation.export.run import AutoAccept, Destination
from curation.server.login import default_data_dir
from curation.server.stack import Stack


@click.command()
@data_dir_option
@port_option
@friendly
def demo(data_dir: Path, port: int):
    """The main job on the embedded default, on the sample data written for this project.

    Starts Argilla, cleans data/sample/candidates.tsv into a dataset for the annotators in annotators/roster.yaml,
    imports data/sample/judged.tsv as the curator's labels, trains the learned filter on them (the real
    multilingual-e5-small, built offline when the Hub is out of reach), writes its suggestions back and exports
    the curated set to outputs/curated/.
    """
    stack = Stack(data_dir, port=port)
    credentials = stack.start(log=lambda line: click.echo(f"  {line}", err=True))
    client = connect(stack.url, credentials.api_key)
    sample = Path(__file__).resolve().parents[2] / "data" / "sample"
    config = load_config(None)
    config = config.with_overrides(input=replace(config.input, path=str(sample / "candidates.tsv"), format=None))
    config = config.with_overrides(**{"clusters.enabled": True})  # the cluster report and Argilla's cluster filter
    annotation.run(config, str(sample / "judged.tsv"), client=client)
    click.echo("")
    model.run(config, client=client)
    click.echo("")
    export.run(
        config.with_overrides(**{"export.chat": True}),
        Destination(Path("outputs/curated"), overwrite=True, include_rejected=True),
        AutoAccept("models", enabled=True),
        client=client,
    )
    click.echo(f"Argilla web UI: {stack.url}  (owner login in {stack.credentials_path})")
    click.echo(
        "Annotator logins: annotators/passwords.json   Reports: outputs/filter_report.txt, outputs/train_report.md"
        "   Model: models/latest/README.md"
    )
    where = "" if Path(data_dir).resolve() == Path(default_data_dir()).resolve() else f" --data-dir {data_dir}"
    click.echo(
        f"Use it from Python: export ARGILLA_API_URL={stack.url} ARGILLA_API_KEY=<api_key from that file>   "
        f"Stop it with: .venv/bin/curation server stop{where}"
    )
    click.echo(
        "Next, does curation pay? .venv/bin/curation compare --export outputs/curated --raw data/sample/candidates.tsv"
        " --test YOUR_TEST.tsv (the sample's 340 pairs are too few to train a translator on: use your own pool, or"
        " see README, 'Does curation pay?')"
    )
