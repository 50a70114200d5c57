"""The Argilla dataset annotators work in: fields, questions, metadata, guidelines, overlap.

Vectors for Argilla's "find similar": hashed character n-grams of both sides, offline and instant.

They find pairs worded alike (the same template, the same error repeated by an MT system). They are the only
vectors setup writes: nothing replaces them with sentence embeddings today.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from curation.annotation.settings import AnnotatorsConfig, ArgillaConfig
from curation.pair import Pair, normalise

QUALITY = "quality"


ERRORS = "errors"


CORRECTION = "correction"


ERROR_LABELS = {
    "mistranslation": "mistranslation",
    "omission_addition": "omission / addition",
    "grammar": "grammar",
    "literal": "literal / unnatural",
    "terminology": "terminology",
    "wrong_language": "untranslated / wrong language",
    "offensive": "offensive (insult, slur, obscenity)",
    "dangerous": "dangerous (threat, self-harm, weapons)",
    "other": "other",
}


# heuristic filters' measurements kept as float metadata (name -> the title annotators read in the UI's sort and
# filter menus); the language pair and the input file as terms
MEASURES = {
    "length": "length (characters, longer side)",
    "length_ratio": "length ratio (longer / shorter side)",
    "special_chars": "special characters (share)",
    "repeated_ngrams": "repeated words (share)",
    "markup": "markup tags",
    "urls": "URLs",
    "numbers": "numbers missing from the target",
}


TERMS = {
    "source_lang": "source language",
    "target_lang": "target language",
    "toxicity": "toxicity (word lists): added / removed / balanced / none",
    "cluster": "cluster (id · title): similar pairs, judge them together",
    "batch": "input file",
}


# the toxicity filter's matches per side (curation.clean.toxicity), as integer metadata
TOXIC_COUNTS = {"toxic_source": "offensive words in the source", "toxic_target": "offensive words in the target"}
# how far a pair lies from its cluster's centre (curation.clusters): label propagation's radius is measured in it
CLUSTER_DISTANCE = {"cluster_distance": "distance to the cluster's centre"}
HIDDEN = {"batch", "cluster_distance"}  # where a pair came from: for curators, not something an annotator judges by


def titles() -> dict[str, str]:
    """Every metadata property setup writes, with its title."""
    return {**MEASURES, **TOXIC_COUNTS, **TERMS, **CLUSTER_DISTANCE}


def setup_properties() -> list:
    """The metadata properties setup writes, as `argilla` objects."""
    import argilla as rg

    return [
        *(rg.FloatMetadataProperty(name=name, title=title) for name, title in MEASURES.items()),
        *(rg.IntegerMetadataProperty(name=name, title=title) for name, title in TOXIC_COUNTS.items()),
        *(
            rg.FloatMetadataProperty(name=name, title=title, visible_for_annotators=False)
            for name, title in CLUSTER_DISTANCE.items()
        ),
        *(
            rg.TermsMetadataProperty(name=name, title=title, visible_for_annotators=name not in HIDDEN)
            for name, title in TERMS.items()
        ),
    ]


# what the learned filter writes on a record (train_filter.py): its score, how unsure it is, which version
FILTER_SCORE = "filter_score"  # probability that the pair is good, from the latest model
PRIORITY = "priority"  # 1 = the model is least sure: label these next
FILTER_MODEL = "filter_model"  # the model version behind filter_score (also where no label is suggested)
AGENT = "curation-filter"  # suggestions the filter wrote carry it, with the model version after it


def agent_for(version: str) -> str:
    """The suggestions' agent: which model version wrote them."""
    return f"{AGENT} {version}"


VECTOR = "embedding"


def settings(argilla: ArgillaConfig, annotators: AnnotatorsConfig):
    """`argilla.Settings` for the candidates dataset."""
    import argilla as rg

    guidelines_path = Path(annotators.guidelines)
    guidelines = guidelines_path.read_text(encoding="utf-8") if guidelines_path.exists() else None
    return rg.Settings(
        guidelines=guidelines,
        fields=[
            rg.TextField(name="source", title="English (source)", use_markdown=False),
            rg.TextField(name="target", title="Spanish (candidate translation)", use_markdown=False),
        ],
        questions=[
            rg.LabelQuestion(
                name=QUALITY,
                title="Is this a good translation to train on?",
                labels={"good": "good", "bad": "bad"},
                required=True,
            ),
            rg.MultiLabelQuestion(name=ERRORS, title="What is wrong with it?", labels=ERROR_LABELS, required=False),
            rg.TextQuestion(
                name=CORRECTION,
                title="Corrected translation (optional)",
                required=False,
                use_markdown=False,
            ),
        ],
        metadata=setup_properties(),
        vectors=[rg.VectorField(name=VECTOR, dimensions=argilla.vector_dimensions)] if argilla.vectors else [],
        distribution=rg.TaskDistribution(min_submitted=argilla.min_submitted),
        allow_extra_metadata=False,
    )


def metadata(pair: Pair) -> dict:
    """A pair's heuristic measurements and languages as the dataset's metadata."""
    # two decimals: "length ratio 1.16", not 1.1590909090909092
    values: dict = {name: round(float(pair.measures[name]), 2) for name in MEASURES if name in pair.measures}
    if isinstance(pair.measures.get("language"), str):
        source, target = pair.measures["language"].split(">")
        values["source_lang"], values["target_lang"] = source, target
    if isinstance(pair.measures.get("toxicity"), str):
        verdict = pair.extra.get("toxicity")
        values["toxicity"] = pair.measures["toxicity"]
        values["toxic_source"] = verdict.source.count if verdict else 0
        values["toxic_target"] = verdict.target.count if verdict else 0
    if isinstance(pair.measures.get("cluster"), str):
        values["cluster"] = pair.measures["cluster"]
        values["cluster_distance"] = round(float(pair.measures["cluster_distance"]), 4)
    batch = pair.origin.rsplit(":", 1)[0]
    if batch:
        values["batch"] = batch
    return values


def hashed_ngrams(texts: Sequence[str], dimensions: int = 256, n: int = 3) -> np.ndarray:
    """L2-normalised counts of character n-grams hashed into `dimensions` buckets, one row per text."""
    out = np.zeros((len(texts), dimensions), dtype=np.float32)
    for row, text in enumerate(texts):
        padded = f" {text} "
        for i in range(max(1, len(padded) - n + 1)):
            out[row, zlib.crc32(padded[i : i + n].encode()) % dimensions] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1.0, norms)


def pair_vectors(pairs: Sequence[Pair], dimensions: int = 256) -> np.ndarray:
    """One vector per pair: source and target halves, each normalised, then the whole."""
    half = dimensions // 2
    source = hashed_ngrams([normalise(p.source) for p in pairs], half)
    target = hashed_ngrams([normalise(p.target) for p in pairs], dimensions - half)
    both = np.hstack([source, target])
    return both / np.maximum(np.linalg.norm(both, axis=1, keepdims=True), 1e-12)
