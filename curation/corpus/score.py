"""`curation score`: the one entry point over the three ways pairs get scored. One file in, one file out, in input
order (`model.predict.score_file`); shards, with cleaning in front if asked, here (`local.run_local`) or on a Ray
cluster (`ray.run_ray`). Everything that can be checked without work is checked first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from curation.clean.readers import InputSpec, LoadStats
from curation.config import Config
from curation.corpus.shards import Job, Summary, find_shards
from curation.errors import ConfigError, OutputError
from curation.files import check_output


@dataclass
class RayOptions:
    """Where and how wide the Ray engine runs."""

    address: str | None = None  # ray://host:10001; None: RAY_ADDRESS, else a local Ray
    replicas: int | None = None  # model actors (None: one per GPU, else one per 4 CPUs)
    gpus_per_replica: float | None = None  # None: 1 when the cluster has GPUs
    cpus_per_replica: float = 1


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
    config: Config,
    spec: InputSpec,
    output: str | Path,
    *,
    model_dir: str | None = None,
    clean: bool = False,
    engine: str = "local",
    overwrite: bool = False,
    device: str = "auto",
    batch_size: int | None = None,
    trust_pickle: bool = False,
    ray: RayOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> FileScored | Summary:
    """Score (and with `clean`, filter and dedup first) the pairs `spec` names with the filter in `model_dir`."""
    if batch_size is not None and batch_size < 1:
        raise ConfigError(f"--batch-size must be a whole number of at least 1, not {batch_size}")
    if not is_folder(output):
        return _one_file(spec, Path(output), model_dir, overwrite, device, batch_size, trust_pickle, progress)
    job = Job(
        shards=find_shards(spec.path),
        output=Path(output),
        config=replace(config, input=spec),
        model=model_dir,
        clean=clean,
        device=device,
        batch_size=batch_size,
        trust_pickle=trust_pickle,
    )
    if engine == "ray":
        from curation.corpus.ray import run_ray

        ray = ray or RayOptions()
        return run_ray(
            job,
            address=ray.address,
            overwrite=overwrite,
            replicas=ray.replicas,
            gpus_per_replica=ray.gpus_per_replica,
            cpus_per_replica=ray.cpus_per_replica,
        )
    from curation.corpus.local import run_local

    return run_local(job, overwrite=overwrite, progress=progress)


def _one_file(spec, output: Path, model_dir, overwrite, device, batch_size, trust_pickle, progress) -> FileScored:
    from curation.model.learned import LearnedFilter
    from curation.model.predict import output_format, score_file

    output_format(output)  # a bad output name fails before the model loads
    check_output(output, overwrite)
    if not output.resolve().parent.is_dir():
        raise OutputError(f"the folder of --output {output} does not exist: create it or choose another --output")
    flt = LearnedFilter.load(model_dir, device, batch_size, trust_pickle=trust_pickle)
    written, stats = score_file(flt, spec, output, progress=progress)
    return FileScored(output, written, flt.version, stats)
