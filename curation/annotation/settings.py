"""The annotation stage's settings: the Argilla workspace and dataset, and the annotator roster."""

from __future__ import annotations

from dataclasses import dataclass

from curation.checks import FLAG, NUMBER_0, TEXT, WHOLE_1, WHOLE_2, check


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
        check("argilla", self, rules)


@dataclass
class AnnotatorsConfig:
    roster: str = "annotators/roster.yaml"
    guidelines: str = "annotators/guidelines.md"
    passwords: str = "annotators/passwords.json"  # generated passwords, mode 0600, git-ignored
