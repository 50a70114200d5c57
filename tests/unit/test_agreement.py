"""Label aggregation and agreement on hand-made cases (expected values worked out by hand in the comments)."""

from __future__ import annotations

import pytest

from curation.annotation.agreement import Judgment, aggregate, agreement_summary, krippendorff_alpha, per_annotator


def judgments(table: dict[str, dict[str, str]]) -> list[Judgment]:
    return [Judgment(rid, who, label) for rid, by in table.items() for who, label in by.items()]


def test_majority_wins_and_ties_are_listed_not_labelled():
    agg = aggregate(
        judgments(
            {
                "r1": {"ana": "good", "ben": "good", "eva": "bad"},
                "r2": {"ana": "good", "ben": "bad"},  # tie
                "r3": {"eva": "bad"},
            }
        )
    )
    assert agg.labels == {"r1": "good", "r3": "bad"}
    assert agg.ties == ["r2"]
    assert agg.counts() == {"bad": 1, "good": 1}


def test_a_later_judgment_by_the_same_annotator_replaces_the_earlier():
    agg = aggregate([Judgment("r1", "ana", "bad"), Judgment("r1", "ana", "good")])
    assert agg.labels == {"r1": "good"}


def test_unknown_label_is_an_error_naming_the_record():
    with pytest.raises(ValueError, match="r9.*expected good or bad"):
        aggregate([Judgment("r9", "ana", "maybe")])


def test_alpha_is_one_for_perfect_agreement_and_none_without_overlap():
    assert krippendorff_alpha({"a": {"x": "good", "y": "good"}, "b": {"x": "bad", "y": "bad"}}) == pytest.approx(1.0)
    assert krippendorff_alpha({"a": {"x": "good"}, "b": {"y": "bad"}}) is None


def test_alpha_matches_a_hand_computed_value():
    # 4 items, 2 coders: agree on 3 (good,good / bad,bad / good,good), disagree on 1 (good,bad).
    # values: good 5, bad 3, n = 8; observed disagreement D_o = 2/8; expected D_e = 2*5*3/(8*7) = 30/56
    # alpha = 1 - (2/8) / (30/56) = 1 - 0.25 * 56/30 = 0.5333...
    votes = {
        "1": {"x": "good", "y": "good"},
        "2": {"x": "bad", "y": "bad"},
        "3": {"x": "good", "y": "good"},
        "4": {"x": "good", "y": "bad"},
    }
    assert krippendorff_alpha(votes) == pytest.approx(1 - 0.25 * 56 / 30)


def test_alpha_is_negative_when_annotators_systematically_disagree():
    votes = {str(i): {"x": "good", "y": "bad"} if i % 2 else {"x": "bad", "y": "good"} for i in range(6)}
    assert krippendorff_alpha(votes) < 0


def test_the_annotator_who_misread_the_guidelines_stands_out():
    # ana, ben and cid agree; eva labels the opposite on every pair
    table = {
        f"r{i}": {"ana": lab, "ben": lab, "cid": lab, "eva": "bad" if lab == "good" else "good"}
        for i, lab in enumerate(["good", "bad", "good", "good", "bad"])
    }
    by_name = {a.annotator: a for a in per_annotator(table)}
    assert by_name["ana"].agreement == 1.0 and by_name["ben"].agreement == 1.0
    assert by_name["eva"].agreement == 0.0 and by_name["eva"].compared == 5
    report = agreement_summary(aggregate(judgments(table)))
    assert report["records_with_2plus_annotators"] == 5 and report["labels"] == {"bad": 2, "good": 3}


def test_others_tied_means_no_comparison():
    table = {"r1": {"ana": "good", "ben": "good", "eva": "bad"}}
    # for ana the others are ben(good), eva(bad): tie -> not compared
    by_name = {a.annotator: a for a in per_annotator(table)}
    assert by_name["ana"].compared == 0 and by_name["ana"].agreement is None
    assert by_name["eva"].compared == 1 and by_name["eva"].agreement == 0.0
