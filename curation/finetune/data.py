"""What a translator trains and is tested on: an export folder (its train and validation splits) or any pairs file
the readers take; the test set must not share a source with the training pairs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curation.clean.readers import InputSpec, load
from curation.errors import InputError
from curation.pair import dedup_form, split_of


@dataclass(frozen=True)
class Example:
    source: str
    target: str


@dataclass
class TrainingData:
    train: list[Example]
    validation: list[Example]
    origin: str  # what was read: the export folder or the pairs file


@dataclass
class Datasets:
    """The files a translator is trained and tested on: training pairs (`data`: a pairs file or a `curation export`
    folder), the test set, a validation set for the learning curve (None: a share of `data`), and whether training
    pairs whose source is in the test set are left out (`drop_overlap`) rather than refused."""

    data: str | Path
    test: str | Path
    validation: str | Path | None = None
    drop_overlap: bool = False


def read_pairs(path: str | Path, what: str = "--data") -> list[Example]:
    """Every pair of a file (tsv/csv/jsonl/parquet, a.en,a.es) with a non-empty source and target."""
    if not Path(str(path).split(",")[0]).exists():
        raise InputError(f"{what} {path} does not exist: give an export folder or a pairs file (source, target)")
    pairs = [Example(p.source, p.target) for p in load(InputSpec(path=str(path)), allow_empty=True)]
    pairs = [p for p in pairs if p.source.strip() and p.target.strip()]
    if not pairs:
        raise InputError(f"{what} {path} holds no pairs with both a source and a target: nothing to train or test on")
    return pairs


def read_training(path: str | Path, validation: float, validation_file: str | Path | None = None) -> TrainingData:
    """An export folder gives its own splits; a pairs file gives up `validation` of its pairs (by a hash of the
    source, so a pair keeps its split) for the learning curve. A `validation_file` is the validation set instead,
    and every pair of `path` trains (the same curve for every arm of a comparison)."""
    if validation_file is not None:
        held = read_pairs(validation_file, "--validation")
        folder = Path(path)
        train_file = folder / "data" / "train.parquet" if folder.is_dir() else folder
        if folder.is_dir() and not train_file.exists():
            raise InputError(f"--data {path} is a folder without data/train.parquet: give a `curation export` folder")
        return TrainingData(without_test_sources(read_pairs(train_file), held), held, str(path))
    folder = Path(path)
    if folder.is_dir():
        train_file = folder / "data" / "train.parquet"
        if not train_file.exists():
            raise InputError(f"--data {path} is a folder without data/train.parquet: give a `curation export` folder")
        train = read_pairs(train_file)
        held = folder / "data" / "validation.parquet"
        rows = list(load(InputSpec(path=str(held)), allow_empty=True)) if held.exists() else []
        return TrainingData(train, [Example(p.source, p.target) for p in rows], str(folder))
    pairs = read_pairs(path)
    train, held = [], []
    for p in pairs:
        (held if split_of(dedup_form(p.source), validation) == "validation" else train).append(p)
    if not train:
        raise InputError(f"--data {path}: every pair went to validation; lower finetune.validation")
    return TrainingData(train, held, str(path))


def without_test_sources(train: list[Example], test: list[Example]) -> list[Example]:
    """The training pairs whose source (in dedup form) is not a test source."""
    sources = {dedup_form(p.source) for p in test}
    return [p for p in train if dedup_form(p.source) not in sources]


def overlap(train: list[Example], test: list[Example]) -> int:
    """Training pairs whose source (in dedup form) is also a test source."""
    return len(train) - len(without_test_sources(train, test))
