"""`curation score`: the one entry point over the three ways pairs get scored. One file in, one file out, in input
order (`model.predict.score_file`); shards, with cleaning in front if asked, here (`local.run_local`) or on a Ray
cluster (`ray.run_ray`). Everything that can be checked without work is checked first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curation.clean.readers import LoadStats
from curation.clean.settings import Cleaning
from curation.corpus.local import run_local
from curation.corpus.ray import run_ray
from curation.corpus.settings import ModelSpec, RayOptions
from curation.corpus.shards import Job, Summary, find_shards
from curation.errors import ConfigError, OutputError
from curation.files import check_output
from curation.model.learned import LearnedFilter
from curation.model.predict import output_format, score_file
from curation.progress import Bar


@dataclass
class FileScored:
    """One file scored: how many rows went out, by which model version, and what the reader skipped."""

    output: Path
    written: int
    version: str
    stats: LoadStats


def is_folder(output: str | Path) -> bool:
    """Shards go to a folder (no suffix); a .jsonl/.csv/.tsv name is one file."""
    return not Path(output).suffix


def run(
    cleaning: Cleaning,
    output: str | Path,
    *,
    model: ModelSpec,
    clean: bool = False,
    overwrite: bool = False,
    ray: RayOptions | None = None,
    progress: Bar | None = None,
) -> FileScored | Summary:
    """Score (and with `clean`, filter and dedup first) the pairs `cleaning.input` names with the filter `model`
    names; shards on a Ray cluster with `ray`, else here."""
    if model.batch_size is not None and model.batch_size < 1:
        raise ConfigError(f"--batch-size must be a whole number of at least 1, not {model.batch_size}")
    if not is_folder(output):
        return _one_file(cleaning, Path(output), model, overwrite, progress)
    job = Job(shards=find_shards(cleaning.input.path), output=Path(output), cleaning=cleaning, model=model, clean=clean)
    if ray is not None:
        return run_ray(
            job,
            address=ray.address,
            overwrite=overwrite,
            replicas=ray.replicas,
            gpus_per_replica=ray.gpus_per_replica,
            cpus_per_replica=ray.cpus_per_replica,
        )
    return run_local(job, overwrite=overwrite, progress=progress)


def _one_file(cleaning: Cleaning, output: Path, model: ModelSpec, overwrite: bool, progress) -> FileScored:
    output_format(output)  # a bad output name fails before the model loads
    check_output(output, overwrite)
    if not output.resolve().parent.is_dir():
        raise OutputError(f"the folder of --output {output} does not exist: create it or choose another --output")
    flt = LearnedFilter.load(model.path, model.device, model.batch_size, trust_pickle=model.trust_pickle)
    written, stats = score_file(flt, cleaning.input, output, progress=progress)
    return FileScored(output, written, flt.version, stats)
