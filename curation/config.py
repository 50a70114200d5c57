"""One typed configuration: a YAML file, a few CLI overrides, secrets from the environment. Unknown keys are errors."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from curation.clean.readers import InputSpec
from curation.errors import ConfigError

DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


@dataclass
class DedupConfig:
    near_threshold: float | None = 0.8
    num_perm: int = 64
    memory_mb: float | None = 32  # fixed memory of the dedup state, the rest in temporary files; null: all in memory
    template_cap: int | None = 5  # setup: at most this many pairs differing only in numbers reach annotators; null: all

    def __post_init__(self):
        if self.near_threshold is not None and not (_number(self.near_threshold) and 0 < self.near_threshold <= 1):
            raise ConfigError(f"dedup.near_threshold must be a number in (0, 1] or null, not {self.near_threshold!r}")
        if not (isinstance(self.num_perm, int) and self.num_perm >= 2):
            raise ConfigError(f"dedup.num_perm must be a whole number of at least 2, not {self.num_perm!r}")
        if self.template_cap is not None and not (
            isinstance(self.template_cap, int) and not isinstance(self.template_cap, bool) and self.template_cap >= 1
        ):
            raise ConfigError(
                f"dedup.template_cap must be a whole number of at least 1 or null, not {self.template_cap!r}"
            )
        if self.memory_mb is not None and not (_number(self.memory_mb) and self.memory_mb > 0):
            raise ConfigError(f"dedup.memory_mb must be a positive number of megabytes or null, not {self.memory_mb!r}")


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# what each value may be, said the way the error says it: (description, test)
WHOLE_1 = ("a whole number of at least 1", lambda v: _whole(v) and v >= 1)
WHOLE_0 = ("a whole number of at least 0", lambda v: _whole(v) and v >= 0)
WHOLE_2 = ("a whole number of at least 2", lambda v: _whole(v) and v >= 2)
TEXT = ("a non-empty text", lambda v: isinstance(v, str) and v.strip() != "")
FLAG = ("true or false", lambda v: isinstance(v, bool))
SHARE = ("a number from 0 to 1", lambda v: _number(v) and 0 <= v <= 1)
NUMBER_0 = ("a number of at least 0", lambda v: _number(v) and v >= 0)


def _or_null(rule: tuple) -> tuple:
    return (f"{rule[0]} or null", lambda v: v is None or rule[1](v))


def _check(section: str, obj, rules: dict[str, tuple]) -> None:
    """One clear error for the first value of `obj` that breaks its rule: the key, the value, what is allowed."""
    for name, (allowed, ok) in rules.items():
        value = getattr(obj, name)
        if not ok(value):
            raise ConfigError(f"{section + '.' if section else ''}{name} must be {allowed}, not {value!r}")


@dataclass
class ArgillaConfig:
    workspace: str = "curation"
    dataset: str = "en-es-candidates"
    min_submitted: int = 1  # annotators per pair (overlap): >1 lets agreement be measured
    batch_size: int = 256
    suggestion_batch_size: int = 32  # retrain: records per suggestion write (small: annotators' submits stay fast)
    suggestion_pause: float = 1.0  # retrain: after each write, wait this many times as long as it took
    vectors: bool = True  # a vector field for "find similar" (hashed character n-grams, curation/annotation/schema.py)
    vector_dimensions: int = 256

    def __post_init__(self):
        rules = {"workspace": TEXT, "dataset": TEXT, "min_submitted": WHOLE_1, "batch_size": WHOLE_1}
        rules |= {"suggestion_batch_size": WHOLE_1, "suggestion_pause": NUMBER_0}
        rules |= {"vectors": FLAG, "vector_dimensions": WHOLE_2}
        _check("argilla", self, rules)


@dataclass
class AnnotatorsConfig:
    roster: str = "annotators/roster.yaml"
    guidelines: str = "annotators/guidelines.md"
    passwords: str = "annotators/passwords.json"  # generated passwords, mode 0600, git-ignored


@dataclass
class TrainConfig:
    """The learned filter (train_filter.py, curation score)."""

    base_model: str = "intfloat/multilingual-e5-small"
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    seed: int = 42
    min_per_class: int = 8  # refuse to train with fewer good or fewer bad labels
    folds: int = 5  # stratified cross-validation folds (fewer when a class is small)
    target_precision: float = 0.9  # thresholds: the lowest score whose good precision reaches this (auto-accept,
    # suggested good) and the highest whose bad precision does (suggested bad); no label is suggested in between
    suggest_min_auc: float = 0.6  # below this cross-validated AUC the retrain suggests no labels (scores only)
    regularisation: float = 0.1  # inverse strength C of the logistic head (README: measured 0.1 vs 1.0)
    spline_knots: int = 4  # knots of the per-feature spline before the logistic head
    layer: int = 4  # encoder layer whose token vectors are aligned (README: layers 2-12 measured)
    batch_size: int | None = None  # encoder batch; None: 32 on CPU, 256 on GPU
    setfit_steps: int | None = None  # SetFit contrastive steps on the body; None: 0 on CPU, 200 on GPU
    synthetic_negatives: float = 0.0  # synthetic bad pairs per good label, added to training only (README)
    next_batch: int = 50  # the least certain unlabelled pairs listed as the next ones to label
    models_dir: str = "models"

    def __post_init__(self):
        positive = ("a number above 0", lambda v: _number(v) and v > 0)
        device = ("auto, cpu, cuda, cuda:N or mps", lambda v: isinstance(v, str) and bool(DEVICE.fullmatch(v)))
        rules = {"base_model": TEXT, "device": device, "seed": WHOLE_0, "min_per_class": WHOLE_1}
        rules |= {"folds": WHOLE_2}
        rules |= {"target_precision": ("a number above 0, at most 1", lambda v: _number(v) and 0 < v <= 1)}
        rules |= {"suggest_min_auc": SHARE, "regularisation": positive, "spline_knots": WHOLE_2}
        rules |= {"layer": WHOLE_1, "batch_size": _or_null(WHOLE_1), "setfit_steps": _or_null(WHOLE_0)}
        rules |= {"synthetic_negatives": NUMBER_0}
        rules |= {"next_batch": WHOLE_0, "models_dir": TEXT}
        _check("train", self, rules)


@dataclass
class ExportConfig:
    """The curated set (curation export)."""

    validation: float = 0.1  # share of rows in the validation split (by a hash of the record id)
    chat: bool = False  # also write a `messages` view (user asks for the translation, assistant answers)
    private: bool = True  # Hub repos are created private

    def __post_init__(self):
        below_1 = ("a number from 0 up to (not including) 1", lambda v: _number(v) and 0 <= v < 1)
        _check("export", self, {"validation": below_1, "chat": FLAG, "private": FLAG})


@dataclass
class Config:
    input: InputSpec = field(default_factory=lambda: InputSpec(path="data/sample/candidates.tsv"))
    filters: list[dict[str, dict[str, Any]]] | None = None  # None: every filter with its defaults
    pii: bool = True
    workers: int | None = None  # processes for masking/filters/fingerprints; None: one per core, 1: no pool
    dedup: DedupConfig = field(default_factory=DedupConfig)
    argilla: ArgillaConfig = field(default_factory=ArgillaConfig)
    annotators: AnnotatorsConfig = field(default_factory=AnnotatorsConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    output_dir: str = "outputs"

    def __post_init__(self):
        _check("", self, {"pii": FLAG, "workers": _or_null(WHOLE_1), "output_dir": TEXT})

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
        from curation.clean.filters import build

        for name, params in config.filter_entries():  # each filter's parameters, before any work
            build(name, params)
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

    def filter_entries(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, params) of the configured filters, in order."""
        from curation.clean.filters import REGISTRY

        if self.filters is None:
            return [(name, {}) for name in REGISTRY]
        entries = []
        for entry in self.filters:
            if isinstance(entry, str):
                entries.append((entry, {}))
            elif isinstance(entry, dict) and len(entry) == 1:
                name, params = next(iter(entry.items()))
                entries.append((name, params or {}))
            else:
                raise ConfigError(f"each entry of 'filters' is a name or {{name: {{param: value}}}}, not {entry!r}")
        return entries


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
        nested = {
            "input": InputSpec,
            "dedup": DedupConfig,
            "argilla": ArgillaConfig,
            "annotators": AnnotatorsConfig,
            "train": TrainConfig,
            "export": ExportConfig,
        }
        if cls is Config and name in nested:
            if not isinstance(value, dict):
                raise ConfigError(f"config key {name} must be a mapping")
            if name == "input" and "path" not in value:
                value = {"path": Config().input.path, **value}
            values[name] = _build(nested[name], value, f"{name}.")
        else:
            values[name] = value
    return cls(**values)
