"""`curation finetune` and `curation compare`: does curation pay? A translator trained on each dataset, side by side."""

from __future__ import annotations

from pathlib import Path

import click

from curation.cli.common import config_option, friendly, gather, load_config
from curation.errors import ConfigError
from curation.export.write import check_hub, push
from curation.finetune.compare import Arms, parse_arms
from curation.finetune.compare import compare as run_compare
from curation.finetune.data import Datasets
from curation.finetune.report import WEAK_MEANING, difference_line
from curation.finetune.run import finetune as run_finetune
from curation.progress import Progress


def _arms(named: tuple[str, ...], **plan) -> Arms:
    """--arm NAME=PATH (each checked) with the test, export, raw and validation options."""
    return Arms(parse_arms(list(named)), **plan)


@click.command()
@click.option("--data", required=True, help="Training pairs: a `curation export` folder or a pairs file.")
@click.option("--test", "test_path", required=True, help="Test pairs (source, target) the model never trains on.")
@click.option("--output", required=True, type=click.Path(file_okay=False, path_type=Path), help="The model folder.")
@config_option("section finetune")
@click.option(
    "--base-model",
    help="e5-decoder, scratch, or a seq2seq / causal-LM Hub id, folder or .gguf file (config: finetune.base_model).",
)
@click.option("--steps", type=int, help="Optimiser steps (config: finetune.steps).")
@click.option("--seed", type=int, help="Seed (config: finetune.seed).")
@click.option("--device", help="auto, cpu, cuda, cuda:N or mps (config: finetune.device).")
@click.option("--drop-overlap", is_flag=True, help="Leave out training pairs whose source is in the test set.")
@click.option("--validation", help="Validation pairs for the learning curve (default: a share of --data).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output model folder.")
@click.option("--push-to-hub", "repo_id", help="Also upload the model folder to this Hub model repo (token: HF_TOKEN).")
@click.option("--public", is_flag=True, help="With --push-to-hub: a public repo (private by default).")
@friendly
@gather("files", Datasets, data="data", test="test_path", validation="validation", drop_overlap="drop_overlap")
@gather("overrides", dict, base_model="base_model", steps="steps", seed="seed", device="device")
def finetune(files: Datasets, output, config_path, overrides: dict, overwrite, repo_id, public):
    """Train an English->Spanish translator on one dataset and evaluate it on a test set (chrF2, BLEU, copies,
    not Spanish, length ratio): metrics.json, translations.tsv and a card in the model folder.

    \b
    Example:
        curation finetune --data outputs/export --test test.tsv --output outputs/translator
        HF_TOKEN=... curation finetune --data outputs/export --test test.tsv --output t --push-to-hub me/en-es
    """
    config = load_config(config_path, **{f"finetune.{k}": v for k, v in overrides.items()})
    token = check_hub(repo_id, "--push-to-hub") if repo_id else None  # before any work
    result = run_finetune(config.finetune, files, output, overwrite=overwrite, progress=Progress(click.echo))
    if result.evaluation:
        click.echo(result.evaluation.line())
    click.echo(f"{result.steps:,} steps in {result.seconds:.0f} s -> {result.folder}")
    if token and result.interrupted:
        click.echo(f"not pushed to {repo_id}: training was stopped before the end (the folder is not evaluated)")
    elif token:
        click.echo(f"pushed to the Hub: {push(result.folder, repo_id, token, private=not public, kind='model')}")


@click.command()
@click.option("--arm", "arms", multiple=True, help="NAME=PATH (an export folder or pairs file); 2+ without --export.")
@click.option(
    "--export",
    "export_dir",
    type=click.Path(file_okay=False),
    help="A `curation export` folder: arms curated, raw, random (and rejected) built with --raw.",
)
@click.option("--raw", help="The raw pool the export was curated from (with --export).")
@click.option("--test", "test_path", required=True, help="Test pairs (source, target) no arm trains on.")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("outputs/compare"),
    show_default=True,
    help="report.md, summary.json, chrf.png, curves.png and each arm's models.",
)
@config_option("section finetune")
@click.option("--seeds", type=int, default=2, show_default=True, help="Seeds per arm (from finetune.seed on).")
@click.option("--steps", type=int, help="Optimiser steps per run (config: finetune.steps).")
@click.option("--base-model", help="The translator every arm trains (config: finetune.base_model).")
@click.option("--drop-overlap", is_flag=True, help="Leave out training pairs whose source is in the test set.")
@click.option("--validation", help="One validation set for every arm's learning curve (default: a share of each).")
@click.option(
    "--overwrite", is_flag=True, help="Start again: replace an earlier comparison in --output (else it is resumed)."
)
@friendly
@gather(
    "plan",
    _arms,
    named="arms",
    test="test_path",
    export="export_dir",
    raw="raw",
    validation="validation",
    drop_overlap="drop_overlap",
)
def compare(plan: Arms, output, config_path, seeds, steps, base_model, overwrite):
    """Train the same translator on each arm and compare them on one test set: the first arm against each other
    one, with chrF differences and paired bootstrap p-values, and test sources translated side by side.

    \b
    Example:
        curation compare --arm curated=outputs/export --arm raw=candidates.tsv --test test.tsv
    """
    if seeds < 1:
        raise ConfigError(f"--seeds must be a whole number of at least 1, not {seeds}")
    config = load_config(config_path, **{"finetune.steps": steps, "finetune.base_model": base_model})
    summary = run_compare(
        config.finetune, plan, output, seeds=seeds, overwrite=overwrite, progress=Progress(click.echo)
    )
    for name, arm in summary["arms"].items():
        spread = f"sd {arm['chrf_sd']:.1f}" if arm["chrf_sd"] is not None else "1 seed: spread not measured"
        weak = f"; too weak to judge ({', '.join(arm['too_weak'])})" if arm["too_weak"] else ""
        click.echo(
            f"{name}: chrF2 {arm['chrf']:.1f} ({spread}), length ratio {arm['length_ratio']:.2f}, "
            f"{arm['pairs']:,} pairs{weak}"
        )
    for key, d in summary["differences"].items():
        click.echo(difference_line(key, d))
    if any(arm["too_weak"] for arm in summary["arms"].values()):
        click.echo(f"({WEAK_MEANING})")
    click.echo(f"report: {output / 'report.md'}")
