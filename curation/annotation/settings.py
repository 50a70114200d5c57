"""The annotation stage's settings: the Argilla workspace and dataset, and the annotator roster."""

from __future__ import annotations

from dataclasses import dataclass

from curation.checks import FLAG, NUMBER_0, WHOLE_1, check, pattern, whole_between

# what Argilla accepts in a URL and stores: workspaces are url-safe names, datasets at most 200 characters
WORKSPACE = pattern("a name of letters, digits, - and _ (at most 100)", r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
DATASET = pattern("a name of letters, digits, spaces, ., - and _ (at most 200)", r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,199}")


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
        rules = {"workspace": WORKSPACE, "dataset": DATASET, "min_submitted": WHOLE_1, "batch_size": WHOLE_1}
        rules |= {"suggestion_batch_size": WHOLE_1, "suggestion_pause": NUMBER_0}
        rules |= {"vectors": FLAG, "vector_dimensions": whole_between(2, 4096)}
        check("argilla", self, rules)


@dataclass
class AnnotatorsConfig:
    roster: str = "annotators/roster.yaml"
    guidelines: str = "annotators/guidelines.md"
    passwords: str = "annotators/passwords.json"  # generated passwords, mode 0600, git-ignored
