"""The embedded index on its own: no server, plain documents in, records out."""

from __future__ import annotations

import numpy as np
import pytest

from curation.server.columns import And, Range, ResponseStatus, Sort, Target, Terms
from curation.server.documents import IndexDoc, Response, Suggestion, fts_query
from curation.server.store import IndexStore


@pytest.fixture
def index(tmp_path) -> IndexStore:
    store = IndexStore(tmp_path / "search.sqlite")
    store.create_index("ds", ["source", "target"])
    yield store
    store.close()


def doc(i: int, **overrides) -> IndexDoc:
    values = dict(
        rid=f"00000000-0000-0000-0000-{i:012d}",
        status="pending",
        inserted_at=f"2026-01-01T00:00:{i % 60:02d}.000000",
        updated_at="2026-01-01T00:00:00.000000",
        texts={"source": f"the train number {i}", "target": f"el tren número {i}"},
        metadata={"batch": f"b{i % 2}", "ratio": i / 10},
        suggestions=[Suggestion("quality", "good" if i % 2 else "bad", score=i / 100, agent="m")],
        vectors={"emb": [1.0, float(i), 0.0]},
    )
    values.update(overrides)
    return IndexDoc(**values)


def rids(hits) -> list[int]:
    return [int(h.rid.rsplit("-", 1)[1]) for h in hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("train station", '(("train") AND ("station"))'),
        ('"buenos días" -noche', '(("buenos días")) NOT "noche"'),
        ("tren*", '(("tren"*))'),
        ("hotel | hostal playa", '(("hotel" OR "hostal") AND ("playa"))'),
        ("¿dónde? (está)", '(("dónde") AND ("está"))'),
        ("-only -negations", None),
        ("", None),
    ],
)
def test_fts_query_translation(query, expected):
    assert fts_query(query) == expected


def test_fts_query_restricted_to_a_column():
    assert fts_query("tren", "f1") == '{f1} : ((("tren")))'


def test_text_search_ands_terms_across_fields_and_respects_one_field(index):
    index.upsert("ds", [doc(i) for i in range(20)])
    hits, total = index.search("ds", text=("train 7", None))
    assert rids(hits) == [7] and total == 1
    assert index.search("ds", text=("tren", "source"))[1] == 0
    assert index.search("ds", text=("tren", "target"))[1] == 20
    # quotes, apostrophes and FTS operators in user text are literal, never a syntax error
    assert index.search("ds", text=('train" OR NOT "x', None))[1] == 0


def test_reindexing_a_record_replaces_everything_about_it(index):
    index.upsert("ds", [doc(1)])
    index.upsert("ds", [doc(1, metadata={"batch": "b9"}, suggestions=[], texts={"source": "bus", "target": "autobús"})])
    assert index.search("ds", Terms(Target("meta", "batch"), ["b1"]))[1] == 0
    assert index.search("ds", Terms(Target("meta", "batch"), ["b9"]))[1] == 1
    assert index.search("ds", text=("train", None))[1] == 0
    assert index.search("ds", text=("bus", None))[1] == 1
    assert index.child_counts("ds") == (0, 0)
    assert len(index.record_ids("ds")) == 1


def test_order_offset_limit_and_exact_total(index):
    index.upsert("ds", [doc(i) for i in range(30)])
    by_score = Sort(Target("sugg", "quality", "score"), descending=True)
    hits, total = index.search("ds", sorts=[by_score], offset=5, limit=5)
    assert total == 30 and rids(hits) == [24, 23, 22, 21, 20]
    # several keys; records without the key come last in both directions
    index.upsert("ds", [doc(30, suggestions=[])])
    by_batch = Sort(Target("meta", "batch"), descending=True)
    hits, total = index.search("ds", sorts=[by_batch, Sort(Target("sugg", "quality", "score"))], limit=31)
    assert total == 31 and rids(hits)[:3] == [1, 3, 5] and rids(hits)[-2:] == [28, 30]
    hits, _ = index.search("ds", sorts=[Sort(Target("sugg", "quality", "score"))], limit=31)
    assert rids(hits)[-1] == 30


def test_user_shuffle_is_stable_per_user_and_differs_between_users(index):
    index.upsert("ds", [doc(i) for i in range(50)])
    first, _ = index.search("ds", limit=50, shuffle_seed=12345)
    again, _ = index.search("ds", limit=50, shuffle_seed=12345)
    other, _ = index.search("ds", limit=50, shuffle_seed=999)
    assert rids(first) == rids(again)
    assert sorted(rids(first)) == list(range(50))
    assert rids(first) != rids(other)


def test_responses_and_suggestions_update_in_place(index):
    index.upsert("ds", [doc(1), doc(2)])
    rid = doc(1).rid
    index.put_response("ds", rid, Response("r1", "u1", "draft", {"quality": "good"}))
    index.put_response("ds", rid, Response("r1", "u1", "submitted", {"quality": "bad"}))
    assert index.user_response_counts("ds", "u1") == {"submitted": 1}
    bad_by_u1 = Terms(Target("resp", "quality", user="u1"), ["bad"])
    assert rids(index.search("ds", bad_by_u1)[0]) == [1]
    assert index.search("ds", Terms(Target("resp", "quality", user="u2"), ["bad"]))[1] == 0
    assert rids(index.search("ds", ResponseStatus(["submitted"], user="u1"))[0]) == [1]
    assert rids(index.search("ds", ResponseStatus([], pending=True, user="u1"))[0]) == [2]
    assert rids(index.search("ds", ResponseStatus([], pending=True, user="u2"))[0]) == [1, 2]
    index.delete_response("ds", "r1")
    assert index.user_response_counts("ds", "u1") == {}
    assert index.search("ds", ResponseStatus([], pending=True, user="u1"))[1] == 2
    index.put_suggestion("ds", rid, Suggestion("quality", "bad", score=0.99))
    index.delete_suggestion("ds", doc(2).rid, "quality")
    assert index.child_counts("ds") == (0, 1)


def test_metrics_count_records_per_term_and_numeric_range(index):
    index.upsert("ds", [doc(i) for i in range(7)] + [doc(7, metadata={"batch": ["b0", "b1"], "ratio": -1.5})])
    total, counts = index.term_counts("ds", "batch")
    assert total == 9 and counts == [("b0", 5), ("b1", 4)]
    assert index.num_range("ds", "ratio") == (-1.5, 0.6)


def test_nearest_is_exact_cosine_with_filters_and_exclusion(index):
    vectors = {i: [np.cos(i / 3), np.sin(i / 3), 0.1 * i] for i in range(40)}
    index.upsert("ds", [doc(i, vectors={"emb": v}) for i, v in vectors.items()])
    query = np.array(vectors[10])
    even = Terms(Target("meta", "batch"), ["b0"])
    hits = index.nearest("ds", "emb", query.tolist(), k=3, filter=even, exclude=doc(10).rid)

    def cos(v):
        v = np.asarray(v)
        return v @ query / np.linalg.norm(v) / np.linalg.norm(query)

    expected = sorted((i for i in vectors if i % 2 == 0 and i != 10), key=lambda i: -cos(vectors[i]))[:3]
    assert rids(hits) == expected
    assert hits[0].score == pytest.approx((1 + cos(vectors[expected[0]])) / 2, abs=1e-5)


def test_nearest_sees_vectors_written_after_the_cache_was_filled(index):
    index.upsert("ds", [doc(1, vectors={"emb": [1.0, 0.0]})])
    assert rids(index.nearest("ds", "emb", [0.0, 1.0], k=5)) == [1]
    index.upsert("ds", [doc(2, vectors={"emb": [0.0, 1.0]})])
    assert rids(index.nearest("ds", "emb", [0.0, 1.0], k=5)) == [2, 1]
    index.delete("ds", [doc(2).rid])
    assert rids(index.nearest("ds", "emb", [0.0, 1.0], k=5)) == [1]


def test_deleting_an_index_removes_its_rows(index):
    index.upsert("ds", [doc(i) for i in range(5)])
    index.delete_index("ds")
    assert not index.has_index("ds")
    index.create_index("ds", ["source"])
    assert index.search("ds")[1] == 0


def test_filters_combine_and_ranges_ignore_records_without_the_value(index):
    index.upsert("ds", [doc(i) for i in range(20)] + [doc(20, metadata={"batch": "b0"})])
    in_range = Range(Target("meta", "ratio"), ge=0.5, le=1.2)
    assert rids(index.search("ds", in_range, limit=50)[0]) == [5, 6, 7, 8, 9, 10, 11, 12]
    both = And([in_range, Terms(Target("meta", "batch"), ["b1"])])
    assert rids(index.search("ds", both)[0]) == [5, 7, 9, 11]
    dates = Range(Target("record", "inserted_at"), ge="2026-01-01T00:00:18.000000")
    assert rids(index.search("ds", dates)[0]) == [18, 19, 20]
    assert rids(index.search("ds", Terms(Target("sugg", "quality", "value"), ["bad"]), limit=3)[0]) == [0, 2, 4]


def test_a_snapshot_follows_writes_from_another_process(tmp_path):
    """Two handles on one file stand for two processes (API server and worker)."""
    first, second = IndexStore(tmp_path / "s.sqlite"), IndexStore(tmp_path / "s.sqlite")
    first.create_index("ds", ["source", "target"])
    first.upsert("ds", [doc(i) for i in range(10)])
    assert second.search("ds")[1] == 10
    first.put_response("ds", doc(3).rid, Response("r", "u1", "submitted", {"quality": "bad"}))  # patched in place
    first.update("ds", doc(4).rid, status="completed")
    assert rids(second.search("ds", ResponseStatus(["submitted"], user="u1"))[0]) == [3]
    assert rids(second.search("ds", Terms(Target("record", "status"), ["completed"]))[0]) == [4]
    first.delete("ds", [doc(0).rid])  # a deletion reloads the snapshot
    first.upsert("ds", [doc(11)])
    assert second.search("ds")[1] == 10
