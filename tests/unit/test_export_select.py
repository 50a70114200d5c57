"""Which rows the curated set holds, on hand-made judgments (no server)."""

from __future__ import annotations

import pytest

from curation.annotation.records import DatasetRecord
from curation.errors import ExportError
from curation.export.card import card
from curation.export.select import select
from curation.model.info import ModelInfo, Quality
from curation.pair import split_of


def rec(rid, votes=None, corrections=None, score=None, agent=None, target="t"):
    return DatasetRecord(
        rid,
        f"src {rid}",
        f"{target} {rid}",
        votes=votes or {},
        corrections=corrections or {},
        filter_score=score,
        filter_agent=agent,
        updated_at=f"2026-01-0{len(rid)}",
    )


RECORDS = [
    rec("a", {"ana": "good", "ben": "good"}),
    rec("b", {"ana": "good", "ben": "bad"}),  # tie
    rec("c", {"ana": "good", "ben": "good"}, {"ben": "corrected c"}),
    rec("d", {"ana": "bad", "ben": "bad", "eva": "good"}, {"eva": "nope"}),
    rec("e", score=0.95, agent="curation-filter v1"),
    rec("f", score=0.20, agent="curation-filter v1"),
    rec("g", score=0.99, agent="curation-filter v0"),  # scored by another version
]


def test_human_only_export_takes_majority_good_and_corrections():
    s = select(RECORDS, None, None, 0.0)
    by_id = {r["id"]: r for r in s.rows}
    assert set(by_id) == {"a", "c"}
    assert by_id["c"]["target"] == "corrected c" and by_id["c"]["original_target"] == "t c"
    assert by_id["a"]["original_target"] is None and by_id["a"]["agreement"] == 1.0
    assert {r["id"]: r["reason"] for r in s.rejected} == {"b": "tie (2 annotators)", "d": "judged bad by 2 of 3"}


def test_auto_accept_adds_only_pairs_above_the_threshold_scored_by_that_model():
    s = select(RECORDS, 0.6, "v1", 0.0)
    assert [(r["id"], r["provenance"]) for r in s.rows] == [("a", "human"), ("c", "human"), ("e", "model")]
    reasons = {r["id"]: r["reason"] for r in s.rejected}
    assert reasons["f"] == "filter score 0.200 < 0.600" and reasons["g"] == "not scored by this model version"
    assert s.counts["train"]["model"] == 1 and s.as_of == "2026-01-01"


def test_a_correction_from_the_outvoted_annotator_of_an_approved_pair_is_used():
    s = select([rec("z", {"ana": "good", "ben": "good", "eva": "bad"}, {"eva": "fixed z"})], None, None, 0.0)
    assert s.rows[0]["target"] == "fixed z" and s.rows[0]["original_target"] == "t z"


def test_a_bad_majority_never_goes_in_even_with_a_high_score():
    s = select([rec("x", {"ana": "bad"}, score=0.99, agent="curation-filter v1")], 0.1, "v1", 0.0)
    assert s.rows == [] and s.rejected[0]["reason"] == "judged bad by 1 of 1"


def test_no_labels_is_a_clear_error():
    with pytest.raises(ExportError, match="no submitted labels yet"):
        select([rec("e", score=0.9)], 0.5, None, 0.1)


def test_split_is_deterministic_and_close_to_the_asked_share():
    ids = [f"pair-{i}" for i in range(2000)]
    share = sum(split_of(i, 0.1) == "validation" for i in ids) / len(ids)
    assert 0.08 < share < 0.12 and [split_of(i, 0.1) for i in ids] == [split_of(i, 0.1) for i in ids]


def test_card_numbers_come_from_the_selection():
    s = select(RECORDS, 0.6, "v1", 0.0)
    model = ModelInfo(
        version="v1",
        base_model="tiny",
        layer=1,
        label_counts={"good": 8, "bad": 8},
        metrics=Quality.from_dict({"auc": 0.9, "f1": 0.8, "precision": 0.85, "recall": 0.75}),
        threshold=0.7,
    )
    text = card(s, "pairs", 0.6, model, {"k": "v"})
    assert "| train | 2 | 1 | 3 |" in text and "| all | 2 | 1 | 3 |" in text
    assert "Corrected by annotators: 1." in text and "auto-accept threshold used: 0.600" in text


def test_card_counts_left_out_pairs_by_reason():
    text = card(select(RECORDS, 0.6, "v1", 0.0), "pairs", 0.6, None, {})
    assert "Left out: 4 (below threshold: 1, judged bad: 1, not scored: 1, tie: 1)." in text


def test_card_says_what_cleaning_did_and_warns_of_a_tiny_validation_split():
    """The card had no cleaning figures (340 -> 147, PII masked), and a 2-pair validation split came unwarned."""
    report = {
        "read": 340,
        "malformed": 0,
        "pii_masked": 6,
        "filters": {"identical": {"dropped": 12}, "length": {"dropped": 0}, "length_ratio": {"dropped": 10}},
        "dedup": {"duplicate pair": 2},
        "templates": {"cap": 5, "dropped": 147},
        "target_twins": 12,
        "kept": 160,
    }
    s = select(RECORDS, None, None, 0.99)  # two human rows, both in validation: too few to measure on
    text = card(s, "pairs", None, None, {}, report)
    assert "- candidates read: 340 (malformed rows skipped: 0); sent to annotators: 160" in text
    assert "- dropped by the heuristic filters: 22 (identical 12, length_ratio 10)" in text
    assert "- dropped by dedup: 2 (duplicate pair 2)" in text and "- pairs over the template cap: 147" in text
    assert "- personal data values masked (PII): 6" in text
    assert sum(s.counts["validation"].values()) == 2
    assert "Warning: the validation split holds 2 pairs, too few to measure a model on." in text
    assert "cleaning not described" in card(s, "pairs", None, None, {})
