"""One typed configuration: a YAML file, a few CLI overrides, secrets from the environment. Unknown keys are errors.

Plain data composed of each stage's own section (`clean.settings`, `annotation.settings`, `model.settings`,
`export.settings`, `server.settings`, `clean.readers.InputSpec`), each checked when it is built. No stage imports
this module: the command line hands each stage its sections (`Config.cleaning()` gathers the cleaning stage's keys,
which sit at the top level of the file).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from curation.annotation.settings import AnnotatorsConfig, ArgillaConfig
from curation.checks import FLAG, TEXT, WHOLE_1, check, or_null
from curation.clean.readers import InputSpec
from curation.clean.settings import Cleaning, DedupConfig, check_filters, filter_entries
from curation.clusters.settings import ClusterConfig
from curation.errors import ConfigError
from curation.export.settings import ExportConfig
from curation.finetune.settings import FinetuneConfig
from curation.model.settings import TrainConfig
from curation.server.settings import ServerConfig

SECTIONS = {
    "input": InputSpec,
    "dedup": DedupConfig,
    "clusters": ClusterConfig,
    "argilla": ArgillaConfig,
    "annotators": AnnotatorsConfig,
    "train": TrainConfig,
    "export": ExportConfig,
    "finetune": FinetuneConfig,
    "server": ServerConfig,
}


@dataclass
class Config(Cleaning):
    """The cleaning stage's keys (`input`, `filters`, `pii`, `workers`, `dedup`, from `Cleaning`) sit at the top level
    of the file, beside the other stages' sections."""

    clusters: ClusterConfig = field(default_factory=ClusterConfig)
    argilla: ArgillaConfig = field(default_factory=ArgillaConfig)
    annotators: AnnotatorsConfig = field(default_factory=AnnotatorsConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    output_dir: str = "outputs"

    def __post_init__(self):
        check("", self, {"pii": FLAG, "workers": or_null(WHOLE_1), "output_dir": TEXT})

    @classmethod
    def load(cls, path: str | Path | None = None) -> Config:
        if path is None:
            return cls()
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise ConfigError(f"config file {path} is not valid YAML{where}: {problem}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {path} must hold a mapping of sections, not {type(raw).__name__}")
        config = _build(cls, raw, "")
        check_filters(config.filters)  # each filter's parameters, before any work
        return config

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_overrides(self, **flags: Any) -> Config:
        """A copy with command-line flags over the config: keys are dotted config keys passed as
        `**{"argilla.dataset": value}`; a flag left out (None) keeps the config's value. Each value is checked like
        the config's own."""
        import copy

        config = copy.deepcopy(self)
        for key, value in flags.items():
            if value is None:
                continue
            section, _, name = key.rpartition(".")
            owner = getattr(config, section) if section else config
            if not dataclasses.is_dataclass(owner) or name not in {f.name for f in dataclasses.fields(owner)}:
                raise ConfigError(f"unknown config key {key}")
            setattr(owner, name, value)
            if hasattr(owner, "__post_init__"):
                owner.__post_init__()
        return config

    def cleaning(self) -> Cleaning:
        """The cleaning stage's section alone: its input, filters, PII masking, workers and dedup."""
        return Cleaning(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Cleaning)})

    def filter_entries(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, params) of the configured filters, in order."""
        return filter_entries(self.filters)


def _build(cls, raw: dict[str, Any], prefix: str):
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(raw) - set(known)
    if unknown:
        raise ConfigError(
            f"unknown config key {', '.join(prefix + k for k in sorted(unknown))}: "
            f"{prefix.rstrip('.') or 'the top level'} takes {', '.join(sorted(known))}"
        )
    values = {}
    for name, value in raw.items():
        if cls is Config and name in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"config key {name} must be a mapping")
            if name == "input" and "path" not in value:
                value = {"path": Config().input.path, **value}
            values[name] = _build(SECTIONS[name], value, f"{name}.")
        else:
            values[name] = value
    return cls(**values)
