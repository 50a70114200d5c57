"""The embedded index on its own: no server, plain documents in, records out."""

from __future__ import annotations

import numpy as np
import pytest

from curation.server.store import Clause, IndexDoc, IndexStore, Response, Suggestion, fts_query


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
    hits, total = index.search("ds", [], [], text=("train 7", None))
    assert rids(hits) == [7] and total == 1
    assert index.search("ds", [], [], text=("tren", "source"))[1] == 0
    assert index.search("ds", [], [], text=("tren", "target"))[1] == 20
    # quotes, apostrophes and FTS operators in user text are literal, never a syntax error
    assert index.search("ds", [], [], text=('train" OR NOT "x', None))[1] == 0


def test_reindexing_a_record_replaces_everything_about_it(index):
    index.upsert("ds", [doc(1)])
    index.upsert("ds", [doc(1, metadata={"batch": "b9"}, suggestions=[], texts={"source": "bus", "target": "autobús"})])
    meta = Clause("d.id IN (SELECT doc FROM meta WHERE name = 'batch' AND term = ?)", ["b1"])
    assert index.search("ds", [meta], [])[1] == 0
    assert index.search("ds", [], [], text=("train", None))[1] == 0
    assert index.search("ds", [], [], text=("bus", None))[1] == 1
    assert index.child_counts("ds") == (0, 0)
    assert len(index.record_ids("ds")) == 1


def test_order_offset_limit_and_exact_total(index):
    index.upsert("ds", [doc(i) for i in range(30)])
    by_score = Clause("(SELECT max(num) FROM sugg WHERE doc = d.id AND prop = 'score') DESC NULLS LAST")
    hits, total = index.search("ds", [], [by_score], offset=5, limit=5)
    assert total == 30 and rids(hits) == [24, 23, 22, 21, 20]


def test_user_shuffle_is_stable_per_user_and_differs_between_users(index):
    index.upsert("ds", [doc(i) for i in range(50)])
    first, _ = index.search("ds", [], [], limit=50, shuffle_seed=12345)
    again, _ = index.search("ds", [], [], limit=50, shuffle_seed=12345)
    other, _ = index.search("ds", [], [], limit=50, shuffle_seed=999)
    assert rids(first) == rids(again)
    assert sorted(rids(first)) == list(range(50))
    assert rids(first) != rids(other)


def test_responses_and_suggestions_update_in_place(index):
    index.upsert("ds", [doc(1), doc(2)])
    rid = doc(1).rid
    index.put_response("ds", rid, Response("r1", "u1", "draft", {"quality": "good"}))
    index.put_response("ds", rid, Response("r1", "u1", "submitted", {"quality": "bad"}))
    assert index.user_response_counts("ds", "u1") == {"submitted": 1}
    submitted_bad = Clause("d.id IN (SELECT doc FROM resp_vals WHERE question = 'quality' AND term = 'bad')")
    assert rids(index.search("ds", [submitted_bad], [])[0]) == [1]
    index.delete_response("ds", "r1")
    assert index.user_response_counts("ds", "u1") == {}
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
    even = Clause("d.id IN (SELECT doc FROM meta WHERE name = 'batch' AND term = 'b0')")
    hits = index.nearest("ds", "emb", query.tolist(), k=3, where=[even], exclude=doc(10).rid)

    def cos(v):
        v = np.asarray(v)
        return v @ query / np.linalg.norm(v) / np.linalg.norm(query)

    expected = sorted((i for i in vectors if i % 2 == 0 and i != 10), key=lambda i: -cos(vectors[i]))[:3]
    assert rids(hits) == expected
    assert hits[0].score == pytest.approx((1 + cos(vectors[expected[0]])) / 2, abs=1e-5)


def test_nearest_sees_vectors_written_after_the_cache_was_filled(index):
    index.upsert("ds", [doc(1, vectors={"emb": [1.0, 0.0]})])
    assert rids(index.nearest("ds", "emb", [0.0, 1.0], k=5, where=[])) == [1]
    index.upsert("ds", [doc(2, vectors={"emb": [0.0, 1.0]})])
    assert rids(index.nearest("ds", "emb", [0.0, 1.0], k=5, where=[])) == [2, 1]
    index.delete("ds", [doc(2).rid])
    assert rids(index.nearest("ds", "emb", [0.0, 1.0], k=5, where=[])) == [1]


def test_deleting_an_index_removes_its_rows(index):
    index.upsert("ds", [doc(i) for i in range(5)])
    index.delete_index("ds")
    assert not index.has_index("ds")
    index.create_index("ds", ["source"])
    assert index.search("ds", [], [])[1] == 0
