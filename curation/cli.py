"""The `curation` command line: a thin layer over the library. Errors surface here as one `Error: ...` line."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import click

from curation.errors import ConfigError, CurationError
from curation.server.stack import DEFAULT_PORT, Credentials, Stack, default_data_dir


def friendly(fn):
    """A command whose `CurationError`s (and faults of its surroundings: a path the system refuses, Argilla going
    away) print as one `Error: ...` line; anything else is a bug and keeps its traceback. Adds `--debug`, which
    (like CURATION_DEBUG=1) shows the traceback of every error."""

    @functools.wraps(fn)
    def wrapper(*args, debug: bool = False, **kwargs):
        debug = debug or os.environ.get("CURATION_DEBUG", "") not in ("", "0")
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            message = None if debug else _one_line(e)
            if message is None:
                raise
            raise click.ClickException(message) from None

    return click.option("--debug", is_flag=True, help="Show the full traceback of any error.")(wrapper)


def _one_line(e: Exception) -> str | None:
    """The one line for an error the user can act on; None for a bug."""
    import httpx

    from curation.annotation.connect import transient

    if isinstance(e, CurationError):
        return str(e)
    if _disk_full(e):
        where = f" writing {e.filename}" if getattr(e, "filename", None) else ""
        return (
            f"the disk is full{where} ({e}): free some space (or write elsewhere: --output, output_dir, "
            "--models-dir, --data-dir) and run the command again; what is stored is kept, and every file is written "
            "whole or not at all"
        )
    if isinstance(e, OSError) and e.filename is not None:  # the system refused a path: not ours to trace
        return f"{e.strerror or e.__class__.__name__}: {e.filename}"
    if transient(e) and (isinstance(e, httpx.TransportError) or _from_argilla(e)):
        reason = getattr(e, "status_code", None) or e.__class__.__name__
        return (
            f"Argilla stopped answering or failed ({reason}): start it again (curation server start) and re-run the "
            "command; what is stored stays as it is"
        )
    if getattr(e, "status_code", None) == 401 and _from_argilla(e):
        return (
            "Argilla refused the API key: set ARGILLA_API_KEY to a valid key (or unset it to use the embedded stack's)"
        )
    return None


def _disk_full(e: BaseException) -> bool:
    """No space left: the system's ENOSPC or EDQUOT (with or without a file name), or SQLite's "database or disk is
    full", also when another error was raised while handling it."""
    import errno
    import sqlite3

    seen = 0
    while e is not None and seen < 5:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(e, sqlite3.OperationalError) and "database or disk is full" in str(e):
            return True
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False


def _from_argilla(e: Exception) -> bool:
    return type(e).__module__.startswith("argilla.")


@click.group()
@click.version_option(package_name="curation")
def main():
    """Curate machine-translation candidates into a clean EN→ES training set with Argilla and SetFit."""


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_data_dir,
    show_default="$CURATION_DATA_DIR or ~/.local/share/curation/argilla",
    help="Where the database, search index, credentials and logs live.",
)
port_option = click.option("--port", type=int, default=DEFAULT_PORT, show_default=True, help="HTTP port of Argilla.")


def config_option(section: str = "see README"):
    return click.option("--config", "config_path", type=click.Path(dir_okay=False), help=f"YAML config ({section}).")


def dataset_options(fn):
    """--workspace and --dataset: which Argilla dataset a command works on."""
    fn = click.option("--dataset", help="Argilla dataset (config: argilla.dataset).")(fn)
    return click.option("--workspace", help="Argilla workspace (config: argilla.workspace).")(fn)


trust_pickle_option = click.option(
    "--trust-pickle", is_flag=True, help="Load a model folder from before plain-number heads (pickles can run code)."
)


def _config(config_path, workspace=None, dataset=None, **flags):
    """The config file with the command's flags over it (dotted config keys; None keeps the file's value)."""
    from curation.config import Config

    return Config.load(config_path).with_overrides(
        **{"argilla.workspace": workspace, "argilla.dataset": dataset, **flags}
    )


@main.group()
def server():
    """The embedded Argilla stack (argilla-server + SQLite + embedded search + Redis), no Docker needed.

    \b
    Example:
        curation server start            # http://127.0.0.1:6900
        curation server status
        curation server stop
    """


@server.command()
@data_dir_option
@port_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 to share).")
@click.option(
    "--database",
    help="sqlite (a new stack's default), postgresql (a cluster of the stack's own, for teams) or a postgresql:// URL "
    "(config: server.database). A data directory keeps the database it was made with.",
)
@click.option("--workers", type=int, help="argilla-server worker processes, 1 to 4 (config: server.workers; 1).")
@config_option("server: database, workers")
@friendly
def start(data_dir: Path, port: int, host: str, database: str | None, workers: int | None, config_path):
    """Start the stack in the background and wait until Argilla answers. Starting twice is a no-op."""
    settings = _config(config_path, **{"server.database": database, "server.workers": workers}).server
    stack = Stack(data_dir, port=port, host=host, workers=settings.workers, database=settings.database)
    if stack.pid("api") and stack.is_up():
        click.echo(f"Argilla is already running at {stack.url}")
    else:
        stack.start(log=lambda line: click.echo(f"  {line}", err=True))
        click.echo(f"Argilla is running at {stack.url} (database: {stack.kind})")
    click.echo(f"Owner login and API key: {stack.credentials_path}")
    click.echo(f"Logs: {data_dir / 'logs'}")


@server.command()
@data_dir_option
@friendly
def stop(data_dir: Path):
    """Stop the processes `curation server start` started (nothing else)."""
    stopped = Stack(data_dir).stop()
    click.echo(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")


@server.command()
@data_dir_option
@port_option
@friendly
def status(data_dir: Path, port: int):
    """Show which processes run and whether Argilla answers."""
    stack = Stack(data_dir, port=port)
    if stack.credentials_path.exists():
        stack = Stack(data_dir, port=int(Credentials.load(stack.credentials_path).url.rsplit(":", 1)[1]))
    for component, pid in stack.status().items():
        click.echo(f"{component:7} {'running (pid ' + str(pid) + ')' if pid else 'stopped'}")
    up = stack.is_up()
    click.echo(f"api     {stack.url} {'answers' if up else 'does not answer'}")
    if not up:
        raise SystemExit(1)


@server.command()
@data_dir_option
@friendly
def reindex(data_dir: Path):
    """Rebuild the search index from Argilla's database (safe while the server runs)."""
    counts = Stack(data_dir).reindex()
    for name, n in counts.items():
        click.echo(f"{name}: {n} records indexed")
    if not counts:
        click.echo("no published datasets")


@server.command()
@data_dir_option
@click.option("--to", "to", type=click.Choice(["postgresql"]), required=True, help="The database to move to.")
@friendly
def migrate(data_dir: Path, to: str):
    """Move a stopped SQLite stack's data into a PostgreSQL cluster of its own (counts compared table by table).

    argilla.db is kept as it was until you delete it; `curation server start` then runs on PostgreSQL.
    """
    from curation.server.migrate import to_postgresql

    moved = to_postgresql(data_dir, log=lambda line: click.echo(f"  {line}", err=True))
    for row in moved:
        click.echo(f"{row.table:20} {row.before:>9,} rows in argilla.db  {row.after:>9,} in PostgreSQL")
    click.echo(f"{data_dir} now runs on PostgreSQL: start it with `curation server start --data-dir {data_dir}`")
    click.echo(f"argilla.db is kept as it was: delete {Path(data_dir) / 'argilla.db'} once you no longer need it")


@main.command()
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
    from dataclasses import replace

    from curation.annotation.connect import connect

    stack = Stack(data_dir, port=port)
    credentials = stack.start(log=lambda line: click.echo(f"  {line}", err=True))
    client = connect(stack.url, credentials.api_key)
    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    config = _config(None)
    config = config.with_overrides(input=replace(config.input, path=str(sample / "candidates.tsv"), format=None))
    _setup(config, str(sample / "judged.tsv"), client=client)
    click.echo("")
    _train(config, client=client)
    click.echo("")
    _export(
        config.with_overrides(**{"export.chat": True}),
        client=client,
        output=Path("outputs/curated"),
        model_dir="models",
        auto_accept=True,
        overwrite=True,
        include_rejected=True,
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


@main.command()
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
    from dataclasses import replace

    config = _config(config_path, workspace, dataset)
    if input_path:
        config = config.with_overrides(input=replace(config.input, path=input_path, format=None))
    _setup(config, labels, dry_run)


def _setup(config, labels=None, dry_run: bool = False, client=None) -> None:
    from curation.annotation.setup import run_setup

    _quiet_sdk()
    bars = _Bars()
    result = run_setup(config, labels, dry_run=dry_run, log=bars.echo, progress=bars.new, client=client)
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
        kept = (
            f", {result.kept} kept as they are in Argilla (that annotator had answered already)" if result.kept else ""
        )
        added = (
            f" ({result.added} of them not among the cleaned candidates: added with their labels)"
            if result.added
            else ""
        )
        click.echo(
            f"{result.imported} judged pairs in {labels}{added}: {result.responses} responses imported as submitted "
            f"by the file's annotators (the UI counts them as their work){kept}"
        )
    click.echo(f"New annotators' passwords: {config.annotators.passwords} (keep it private)")


@main.command()
@config_option()
@dataset_options
@click.option("--labels", type=click.Path(dir_okay=False), help="Train from a judged file instead (no Argilla).")
@click.option("--models-dir", help="Where model versions go (config: train.models_dir).")
@click.option("--base-model", help="Encoder: Hub id or folder (config: train.base_model).")
@click.option("--device", help="auto, cpu, cuda, cuda:N or mps (config: train.device).")
@click.option("--force", is_flag=True, help="Make the new model latest even if it ranks backwards (AUC < 0.5).")
@friendly
def train(config_path, workspace, dataset, labels, models_dir, base_model, device, force):
    """Train the learned filter on judged pairs and pre-rank the rest in Argilla (train_filter.py).

    \b
    Example:
        python train_filter.py                        # labels from Argilla, suggestions back
        python train_filter.py --labels judged.tsv    # a local judged file, no Argilla
    The server comes from ARGILLA_API_URL / ARGILLA_API_KEY, else the embedded stack's credentials.
    """
    overrides = {"models_dir": models_dir, "base_model": base_model, "device": device}
    config = _config(config_path, workspace, dataset, **{f"train.{k}": v for k, v in overrides.items()})
    _train(config, labels, force)


def _train(config, labels=None, force: bool = False, client=None) -> None:
    from curation import cycle
    from curation.model.card import quality_lines

    _quiet_sdk()
    bars = _Bars()
    try:
        result = cycle.run(config, labels, client, log=bars.echo, progress=bars.new, force=force)
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


@main.command()
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
@trust_pickle_option
@friendly
def score(
    model_dir,
    input_path,
    output,
    clean,
    engine,
    ray_address,
    replicas,
    gpus_per_replica,
    cpus_per_replica,
    config_path,
    overwrite,
    source_column,
    target_column,
    quoting,
    device,
    batch_size,
    trust_pickle,
):
    """Score pairs with a trained filter: one row per pair, in input order, with P(good).

    \b
    Examples:
        curation score --model models/latest --input candidates.tsv --output scored.jsonl
        curation score --model models/latest --input shards/ --output scored/ --clean --engine ray
    """
    from tqdm import tqdm

    from curation.clean.readers import InputSpec
    from curation.corpus.score import FileScored, RayOptions, is_folder, run

    if not model_dir and not clean:
        raise click.UsageError("give --model (to score), --clean (to filter and dedup), or both")
    if not is_folder(output) and (clean or engine == "ray"):
        raise click.UsageError(f"with --clean or --engine ray, --output is a folder (Parquet shards), not {output}")
    spec = InputSpec(path=input_path, source_column=source_column, target_column=target_column, quoting=quoting)
    with tqdm(desc="scoring", unit=" pairs", disable=None if engine == "local" else True) as bar:
        result = run(
            _config(config_path),
            spec,
            output,
            model_dir=model_dir,
            clean=clean,
            engine=engine,
            overwrite=overwrite,
            device=device,
            batch_size=batch_size,
            trust_pickle=trust_pickle,
            ray=RayOptions(ray_address, replicas, gpus_per_replica, cpus_per_replica),
            progress=bar.update,
        )
    if isinstance(result, FileScored):
        click.echo(f"{result.written} pairs scored with {result.version} -> {output}")
        if result.stats.malformed:
            click.echo(f"{result.stats.malformed} malformed rows skipped, e.g. {result.stats.examples[0]}")
        for warning in result.stats.warnings():
            click.echo(warning)
        return
    summary = result
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


@main.command("slice")
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
    from collections import Counter

    from curation.corpus.slice import select, write

    table = select(scored, uncertain, band[0], band[1], per_stratum, strata)
    path = write(table, output)
    parts = Counter(p.split(" ")[0] for p in table.column("part").to_pylist())
    click.echo(f"{len(table):,} pairs -> {path} (uncertain {parts['uncertain']:,}, stratified {parts['stratum']:,})")


@main.command()
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
@friendly
def finetune(
    data, test_path, output, config_path, base_model, steps, seed, device, drop_overlap, validation, overwrite
):
    """Train an English->Spanish translator on one dataset and evaluate it on a test set (chrF2, BLEU, copies,
    not Spanish, length ratio): metrics.json, translations.tsv and a card in the model folder.

    \b
    Example:
        curation finetune --data outputs/export --test test.tsv --output outputs/translator
    """
    from curation.finetune.run import finetune as run_finetune

    overrides = {"base_model": base_model, "steps": steps, "seed": seed, "device": device}
    config = _config(config_path, **{f"finetune.{k}": v for k, v in overrides.items()})
    result = run_finetune(
        config.finetune,
        data,
        test_path,
        output,
        overwrite=overwrite,
        drop_overlap=drop_overlap,
        validation=validation,
        log=click.echo,
    )
    if result.evaluation:
        click.echo(result.evaluation.line())
    click.echo(f"{result.steps:,} steps in {result.seconds:.0f} s -> {result.folder}")


@main.command()
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
@click.option("--drop-overlap", is_flag=True, help="Leave out training pairs whose source is in the test set.")
@click.option("--validation", help="One validation set for every arm's learning curve (default: a share of each).")
@click.option("--overwrite", is_flag=True, help="Replace an earlier comparison in --output.")
@friendly
def compare(arms, export_dir, raw, test_path, output, config_path, seeds, steps, drop_overlap, validation, overwrite):
    """Train the same translator on each arm and compare them on one test set: the first arm against each other
    one, with chrF differences and paired bootstrap p-values, and test sources translated side by side.

    \b
    Example:
        curation compare --arm curated=outputs/export --arm raw=candidates.tsv --test test.tsv
    """
    from curation.finetune.compare import compare as run_compare
    from curation.finetune.compare import parse_arms

    if seeds < 1:
        raise ConfigError(f"--seeds must be a whole number of at least 1, not {seeds}")
    named = parse_arms(list(arms))
    config = _config(config_path, **{"finetune.steps": steps})
    summary = run_compare(
        config.finetune,
        named,
        test_path,
        output,
        seeds=seeds,
        overwrite=overwrite,
        drop_overlap=drop_overlap,
        validation=validation,
        export=export_dir,
        raw=raw,
        log=click.echo,
    )
    for name, arm in summary["arms"].items():
        click.echo(f"{name}: chrF2 {arm['chrf']:.1f} (sd {arm['chrf_sd']:.1f}), {arm['pairs']:,} pairs")
    for key, d in summary["differences"].items():
        click.echo(f"{key}: {d['chrf']:+.1f} chrF2, p = {d['p']:.4f}")
    click.echo(f"report: {output / 'report.md'}")


@main.command("export")
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
def export_command(config_path, workspace, dataset, chat, **options):
    """Export the curated set: human-approved pairs (+ model-trusted ones) with a dataset card.

    \b
    Example:
        curation export --output curated/                          # human-approved only
        curation export --output curated/ --model models --auto-accept --include-rejected
        HF_TOKEN=... curation export --to-hub me/en-es-curated --model models --auto-accept
    """
    _export(_config(config_path, workspace, dataset, **{"export.chat": chat}), **options)


def _export(config, client=None, **options) -> None:
    from curation.export.run import run
    from curation.export.select import TOO_FEW

    _quiet_sdk()
    result = run(config, log=click.echo, client=client, **options)
    output, repo_id = options.get("output"), options.get("repo_id")
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


class _Bars:
    """Progress bars a library function asks for by name (`progress(desc)` returns the bar's update)."""

    def __init__(self):
        self.bars: list = []

    def new(self, desc: str):
        from tqdm import tqdm

        bar = tqdm(desc=desc, unit=" pairs", disable=None)
        self.bars.append(bar)
        return bar.update

    def close(self) -> None:
        for bar in self.bars:
            bar.close()
        self.bars = []

    def echo(self, line: str) -> None:
        """A line of the command's report: the bars before it are finished, so it never lands inside one."""
        self.close()
        click.echo(line)


def _quiet_sdk() -> None:
    """The SDK's "not found" warnings (for what a command is about to create) would bury its report."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning, module="argilla")
    logging.getLogger("argilla.sdk").setLevel(logging.ERROR)
