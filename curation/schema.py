"""The Argilla dataset annotators work in: fields, questions, metadata, guidelines, overlap."""

from __future__ import annotations

from pathlib import Path

from curation.config import Config
from curation.data import Pair

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
    "other": "other",
}
# raw filter scores kept as float metadata; the language pair as terms
FLOAT_SCORES = (
    "length",
    "length_ratio",
    "special_chars",
    "repeated_ngrams",
    "markup",
    "urls",
    "numbers",
)
TERMS = ("source_lang", "target_lang", "batch")
VECTOR = "embedding"


def settings(config: Config):
    """`argilla.Settings` for the candidates dataset."""
    import argilla as rg

    guidelines_path = Path(config.annotators.guidelines)
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
        metadata=[
            *(rg.FloatMetadataProperty(name=name, title=name.replace("_", " ")) for name in FLOAT_SCORES),
            *(rg.TermsMetadataProperty(name=name, title=name.replace("_", " ")) for name in TERMS),
        ],
        vectors=[rg.VectorField(name=VECTOR, dimensions=config.argilla.vector_dimensions)]
        if config.argilla.vectors
        else [],
        distribution=rg.TaskDistribution(min_submitted=config.argilla.min_submitted),
        allow_extra_metadata=False,
    )


def metadata(pair: Pair) -> dict:
    """A pair's filter scores and languages as the dataset's metadata."""
    values: dict = {name: float(pair.scores[name]) for name in FLOAT_SCORES if name in pair.scores}
    if isinstance(pair.scores.get("language"), str):
        source, target = pair.scores["language"].split(">")
        values["source_lang"], values["target_lang"] = source, target
    batch = pair.origin.rsplit(":", 1)[0]
    if batch:
        values["batch"] = batch
    return values
