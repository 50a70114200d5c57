"""What a translator trains and is tested on: an export folder (its train and validation splits) or any pairs file
the readers take; the test set must not share a source with the training pairs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curation.clean.readers import InputSpec, load
from curation.errors import InputError
from curation.pair import dedup_form, digest, split_of


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


@dataclass
class Prepared:
    """What one run trains and is tested on, read and checked: the training data (training pairs whose source is a
    test source left out when `drop_overlap`, else refused), the test pairs and how many pairs were left out."""

    training: TrainingData
    test: list[Example]
    dropped_overlap: int

    def digests(self) -> dict[str, str]:
        """Fingerprints of the three sets (order ignored): a run with the same ones and settings is the same run."""
        sets = {"train": self.training.train, "validation": self.training.validation, "test": self.test}
        return {name: digest((p.source, p.target) for p in pairs) for name, pairs in sets.items()}


def prepare(files: Datasets, validation: float, what: str = "--data", test: list[Example] | None = None) -> Prepared:
    """Read `files` (the test set too, unless given) and apply the overlap rule; every problem is one line that
    names `what` (--data, or the arm of a comparison)."""
    training = read_training(files.data, validation, files.validation, what)
    test = test if test is not None else read_pairs(files.test, "--test")
    kept = without_test_sources(training.train, test)
    shared = len(training.train) - len(kept)
    if shared and not files.drop_overlap:
        raise InputError(
            f"{what} {files.data}: {shared:,} training pair{'s have' if shared != 1 else ' has'} a source that is also "
            f"in --test {files.test}: a model tested on what it trained on measures nothing; pass --drop-overlap to "
            "leave them out of training, or use another test set"
        )
    if shared:
        training.train = kept
        training.validation = without_test_sources(training.validation, test)
        if not training.train:
            raise InputError(
                f"{what} {files.data}: every training pair's source is in --test {files.test}: nothing to train on"
            )
    return Prepared(training, test, shared)


def read_pairs(path: str | Path, what: str = "--data") -> list[Example]:
    """Every pair of a file (tsv/csv/jsonl/parquet, a.en,a.es) with a non-empty source and target."""
    if not Path(str(path).split(",")[0]).exists():
        raise InputError(f"{what} {path} does not exist: give an export folder or a pairs file (source, target)")
    pairs = [Example(p.source, p.target) for p in load(InputSpec(path=str(path)), allow_empty=True)]
    pairs = [p for p in pairs if p.source.strip() and p.target.strip()]
    if not pairs:
        raise InputError(f"{what} {path} holds no pairs with both a source and a target: nothing to train or test on")
    return pairs


def read_training(
    path: str | Path, validation: float, validation_file: str | Path | None = None, what: str = "--data"
) -> TrainingData:
    """An export folder gives its own splits; a pairs file gives up `validation` of its pairs (by a hash of the
    source, so a pair keeps its split) for the learning curve. A `validation_file` is the validation set instead,
    and every pair of `path` trains (the same curve for every arm of a comparison)."""
    if validation_file is not None:
        held = read_pairs(validation_file, "--validation")
        folder = Path(path)
        train_file = folder / "data" / "train.parquet" if folder.is_dir() else folder
        if folder.is_dir() and not train_file.exists():
            raise InputError(f"{what} {path} is a folder without data/train.parquet: give a `curation export` folder")
        return TrainingData(without_test_sources(read_pairs(train_file, what), held), held, str(path))
    folder = Path(path)
    if folder.is_dir():
        train_file = folder / "data" / "train.parquet"
        if not train_file.exists():
            raise InputError(f"{what} {path} is a folder without data/train.parquet: give a `curation export` folder")
        train = read_pairs(train_file, what)
        held = folder / "data" / "validation.parquet"
        rows = list(load(InputSpec(path=str(held)), allow_empty=True)) if held.exists() else []
        return TrainingData(train, [Example(p.source, p.target) for p in rows], str(folder))
    pairs = read_pairs(path, what)
    train, held = [], []
    for p in pairs:
        (held if split_of(dedup_form(p.source), validation) == "validation" else train).append(p)
    if not train:
        raise InputError(f"{what} {path}: every pair went to validation; lower finetune.validation")
    return TrainingData(train, held, str(path))


def without_test_sources(train: list[Example], test: list[Example]) -> list[Example]:
    """The training pairs whose source (in dedup form) is not a test source."""
    sources = {dedup_form(p.source) for p in test}
    return [p for p in train if dedup_form(p.source) not in sources]


def overlap(train: list[Example], test: list[Example]) -> int:
    """Training pairs whose source (in dedup form) is also a test source."""
    return len(train) - len(without_test_sources(train, test))
