"""The SDK and the HTTP API against the real embedded Argilla server.

Every expectation is computed from the records this module logs (`make_records`), never read back from the
engine under test.
"""

from __future__ import annotations

import math
import uuid

import numpy as np
import pytest

pytestmark = pytest.mark.server

N = 1000
TOPICS = ["train", "hotel", "museum", "beach", "market"]
TOPICS_ES = ["tren", "hotel", "museo", "playa", "mercado"]
DIM = 8


def vector(i: int) -> list[float]:
    return np.random.default_rng(i).normal(size=DIM).round(4).tolist()


def spec(i: int) -> dict:
    """Everything about record i, from which each test derives what the server must answer."""
    return {
        "id": f"pair-{i:04d}",
        "source": f"Where is the {TOPICS[i % 5]} number {i}?",
        "target": f"¿Dónde está el {TOPICS_ES[i % 5]} número {i}?",
        "batch": f"b{i % 4}",
        "ratio": round(i / N, 3),
        "quality": "good" if i % 3 else "bad",
        "score": ((i * 37) % N) / N,  # unique per record
        "agent": "filter-v1" if i < N // 2 else "filter-v2",
        "vector": vector(i),
    }


SPECS = [spec(i) for i in range(N)]


def to_record(s: dict):
    import argilla as rg

    return rg.Record(
        id=s["id"],
        fields={"source": s["source"], "target": s["target"]},
        metadata={"batch": s["batch"], "ratio": s["ratio"]},
        vectors={"embedding": s["vector"]},
        suggestions=[rg.Suggestion("quality", s["quality"], score=s["score"], agent=s["agent"])],
    )


@pytest.fixture(scope="module")
def dataset(client):
    import argilla as rg

    name = f"flows-{uuid.uuid4().hex[:6]}"
    workspace = rg.Workspace(name=name, client=client).create()
    settings = rg.Settings(
        fields=[rg.TextField(name="source"), rg.TextField(name="target")],
        questions=[
            rg.LabelQuestion(name="quality", labels=["good", "bad"]),
            rg.MultiLabelQuestion(name="errors", labels=["mistranslation", "omission", "grammar"], required=False),
            rg.TextQuestion(name="correction", required=False),
        ],
        metadata=[rg.TermsMetadataProperty(name="batch"), rg.FloatMetadataProperty(name="ratio")],
        vectors=[rg.VectorField(name="embedding", dimensions=DIM)],
    )
    ds = rg.Dataset(name=name, workspace=workspace.name, settings=settings, client=client).create()
    ds.records.log([to_record(s) for s in SPECS])
    return ds


@pytest.fixture(scope="module")
def annotators(client, dataset, argilla_stack):
    """Two annotators in the dataset's workspace, signed in over HTTP like the web UI."""
    import argilla as rg

    users = {}
    for name in ("ana", "ben"):
        username = f"{name}-{uuid.uuid4().hex[:6]}"
        user = rg.User(username=username, password="annotate-me-123", role="annotator", client=client).create()
        user.add_to_workspace(dataset.workspace)
        users[name] = (user, argilla_stack.login(username, "annotate-me-123"))
    return users


def search(http, dataset, body: dict, *, me: bool = False, limit: int = 1000, offset: int = 0) -> tuple[list, int]:
    path = f"/api/v1/{'me/' if me else ''}datasets/{dataset.id}/records/search"
    response = http.post(path, json=body, params={"limit": limit, "offset": offset})
    assert response.status_code == 200, response.text
    payload = response.json()
    return [item["record"]["external_id"] for item in payload["items"]], payload["total"]


def ids(predicate) -> set[str]:
    return {s["id"] for s in SPECS if predicate(s)}


def all_ids(http, dataset, body: dict, me: bool = False) -> tuple[set[str], int]:
    found, total = search(http, dataset, body, me=me)
    assert len(found) == len(set(found))
    return set(found), total


def test_users_get_their_roles(client, annotators):
    for user, _ in annotators.values():
        assert client.users(user.username).role == "annotator"
    me = client.me
    assert me.role == "owner"


def test_all_records_are_logged_once(client, dataset):
    assert len(list(dataset.records)) == N
    assert dataset.progress()["total"] == N


def test_logging_again_adds_nothing(dataset):
    dataset.records.log([to_record(s) for s in SPECS[:50]])
    assert len(list(dataset.records)) == N
    assert dataset.progress()["total"] == N


def test_text_search_over_all_fields_and_one_field(argilla_stack, dataset):
    with argilla_stack.http() as http:
        found, total = all_ids(http, dataset, {"query": {"text": {"q": "museum"}}})
        assert found == ids(lambda s: "museum" in s["source"]) and total == len(found) == N // 5
        # terms are ANDed, across fields
        found, _ = all_ids(http, dataset, {"query": {"text": {"q": "museo 7"}}})
        assert found == ids(lambda s: "museo" in s["target"] and " 7?" in s["source"])
        # one field only: Spanish words are not in the source field
        found, total = all_ids(http, dataset, {"query": {"text": {"q": "playa", "field": "source"}}})
        assert found == set() and total == 0
        found, _ = all_ids(http, dataset, {"query": {"text": {"q": "playa", "field": "target"}}})
        assert found == ids(lambda s: "playa" in s["target"])


def test_text_search_through_the_sdk(dataset):
    import argilla as rg

    found = {r.id for r in dataset.records(query=rg.Query(query="hotel"))}
    assert found == ids(lambda s: "hotel" in s["source"])


def test_metadata_terms_and_range_filters(dataset):
    import argilla as rg

    def query(*conditions):
        return {r.id for r in dataset.records(query=rg.Query(filter=rg.Filter(list(conditions))))}

    assert query(("metadata.batch", "==", "b1")) == ids(lambda s: s["batch"] == "b1")
    assert query(("metadata.batch", "in", ["b0", "b3"])) == ids(lambda s: s["batch"] in ("b0", "b3"))
    assert query(("metadata.ratio", ">=", 0.25), ("metadata.ratio", "<=", 0.3)) == ids(
        lambda s: 0.25 <= s["ratio"] <= 0.3
    )
    assert query(("metadata.batch", "==", "b2"), ("metadata.ratio", ">=", 0.9)) == ids(
        lambda s: s["batch"] == "b2" and s["ratio"] >= 0.9
    )


def test_suggestion_value_score_and_agent_filters(dataset):
    import argilla as rg

    def query(*conditions):
        return {r.id for r in dataset.records(query=rg.Query(filter=rg.Filter(list(conditions))))}

    assert query(("quality.suggestion", "==", "bad")) == ids(lambda s: s["quality"] == "bad")
    assert query(("quality.score", ">=", 0.9)) == ids(lambda s: s["score"] >= 0.9)
    assert query(("quality.agent", "==", "filter-v2")) == ids(lambda s: s["agent"] == "filter-v2")
    assert query(("quality.suggestion", "==", "good"), ("quality.score", "<=", 0.1)) == ids(
        lambda s: s["quality"] == "good" and s["score"] <= 0.1
    )


def test_sort_by_suggestion_score_with_offset_and_exact_total(argilla_stack, dataset):
    order = [s["id"] for s in sorted(SPECS, key=lambda s: -s["score"])]
    body = {"sort": [{"scope": {"entity": "suggestion", "question": "quality", "property": "score"}, "order": "desc"}]}
    with argilla_stack.http() as http:
        page, total = search(http, dataset, body, limit=50, offset=100)
        assert total == N and page == order[100:150]
        body["filters"] = {
            "and": [{"type": "terms", "scope": {"entity": "metadata", "metadata_property": "batch"}, "values": ["b0"]}]
        }
        body["sort"][0]["order"] = "asc"
        page, total = search(http, dataset, body, limit=20)
        expected = [s["id"] for s in sorted(SPECS, key=lambda s: s["score"]) if s["batch"] == "b0"]
        assert total == len(expected) and page == expected[:20]


def test_sort_by_metadata_and_record_dates(argilla_stack, dataset):
    with argilla_stack.http() as http:
        body = {"sort": [{"scope": {"entity": "metadata", "metadata_property": "ratio"}, "order": "desc"}]}
        page, _ = search(http, dataset, body, limit=10)
        assert page == [s["id"] for s in sorted(SPECS, key=lambda s: -s["ratio"])][:10]
        body = {"sort": [{"scope": {"entity": "record", "property": "inserted_at"}, "order": "asc"}]}
        page, total = search(http, dataset, body, limit=N)
        assert total == N and page == [s["id"] for s in SPECS]  # logged in one ordered batch


def test_record_filters_status_and_dates(argilla_stack, dataset):
    with argilla_stack.http() as http:
        body = {
            "filters": {
                "and": [{"type": "terms", "scope": {"entity": "record", "property": "status"}, "values": ["pending"]}]
            }
        }
        _, total = all_ids(http, dataset, body)
        assert total == N - dataset.progress()["completed"]
        body = {
            "filters": {
                "and": [
                    {
                        "type": "range",
                        "scope": {"entity": "record", "property": "inserted_at"},
                        "ge": "2000-01-01T00:00:00",
                    }
                ]
            }
        }
        assert all_ids(http, dataset, body)[1] == N
        body["filters"]["and"][0] = {
            "type": "range",
            "scope": {"entity": "record", "property": "inserted_at"},
            "le": "2000-01-01T00:00:00",
        }
        assert all_ids(http, dataset, body)[1] == 0


def _submit(http, record_id: str, value: str, status: str = "submitted"):
    values = {"quality": {"value": value}} if status != "discarded" else None
    response = http.post(f"/api/v1/records/{record_id}/responses", json={"values": values, "status": status})
    assert response.status_code == 201, response.text


def test_two_annotators_responses_filters_and_progress(argilla_stack, client, dataset, annotators):
    server_id = {r.id: str(r._server_id) for r in dataset.records}
    (ana, ana_http), (ben, ben_http) = annotators["ana"], annotators["ben"]
    ana_done = {s["id"]: ("good" if i % 2 else "bad") for i, s in enumerate(SPECS[:40])}
    ben_done = {s["id"]: "good" for s in SPECS[20:50]}
    for rid, value in ana_done.items():
        _submit(ana_http, server_id[rid], value)
    for rid, value in ben_done.items():
        _submit(ben_http, server_id[rid], value, status="submitted" if rid != "pair-0049" else "draft")

    # the SDK sees both annotators' responses
    records = {r.id: r for r in dataset.records(with_responses=True)}
    both = records["pair-0025"].responses["quality"]
    assert sorted(str(r.user_id) for r in both) == sorted([str(ana.id), str(ben.id)])

    # each annotator's queue: pending means "no response from me"
    pending = {
        "filters": {
            "and": [{"type": "terms", "scope": {"entity": "response", "property": "status"}, "values": ["pending"]}]
        }
    }
    found, total = all_ids(ana_http, dataset, pending, me=True)
    assert found == set(ids(lambda s: True)) - set(ana_done) and total == N - len(ana_done)
    found, total = all_ids(ben_http, dataset, pending, me=True)
    assert total == N - len(ben_done)

    submitted = {
        "filters": {
            "and": [{"type": "terms", "scope": {"entity": "response", "property": "status"}, "values": ["submitted"]}]
        }
    }
    found, _ = all_ids(ben_http, dataset, submitted, me=True)
    assert found == set(ben_done) - {"pair-0049"}
    # the owner's view (no user scope): any submitted response
    found, _ = all_ids(argilla_stack.http(), dataset, submitted)
    any_submitted = set(ana_done) | (set(ben_done) - {"pair-0049"})
    assert found == any_submitted

    # response value filter for one user
    good = {
        "filters": {
            "and": [{"type": "terms", "scope": {"entity": "response", "question": "quality"}, "values": ["good"]}]
        }
    }
    found, _ = all_ids(ana_http, dataset, good, me=True)
    assert found == {rid for rid, v in ana_done.items() if v == "good"}

    # progress: a record is completed once it has one submitted response (the default distribution)
    progress = dataset.progress()
    assert progress["completed"] == len(any_submitted) and progress["pending"] == N - len(any_submitted)
    metrics = ben_http.get(f"/api/v1/me/datasets/{dataset.id}/metrics").json()
    assert metrics["responses"]["submitted"] == len(ben_done) - 1
    assert metrics["responses"]["draft"] == 1


def test_metadata_metrics(argilla_stack, dataset):
    with argilla_stack.http() as http:
        props = http.get(f"/api/v1/me/datasets/{dataset.id}/metadata-properties").json()["items"]
        by_name = {p["name"]: p["id"] for p in props}
        terms = http.get(f"/api/v1/metadata-properties/{by_name['batch']}/metrics").json()
        assert terms["total"] == N
        assert {v["term"]: v["count"] for v in terms["values"]} == {f"b{k}": N // 4 for k in range(4)}
        numbers = http.get(f"/api/v1/metadata-properties/{by_name['ratio']}/metrics").json()
        assert numbers["min"] == pytest.approx(min(s["ratio"] for s in SPECS))
        assert numbers["max"] == pytest.approx(max(s["ratio"] for s in SPECS))


def _cosine_rank(query: list[float], candidates: list[dict]) -> list[tuple[str, float]]:
    q = np.asarray(query) / np.linalg.norm(query)
    scored = []
    for s in candidates:
        v = np.asarray(s["vector"])
        scored.append((s["id"], float(v @ q / np.linalg.norm(v))))
    return sorted(scored, key=lambda x: -x[1])


def test_similarity_search_by_record_and_by_value_with_filter(argilla_stack, client, dataset):
    import argilla as rg

    anchor = next(r for r in dataset.records(with_vectors=True) if r.id == "pair-0042")
    similar = rg.Query(similar=rg.Similar("embedding", anchor))
    found = [record.id for record, _score in dataset.records(query=similar, limit=5)]
    expected = [rid for rid, _ in _cosine_rank(SPECS[42]["vector"], [s for s in SPECS if s["id"] != "pair-0042"])]
    assert found == expected[:5]

    query = {"vector": {"name": "embedding", "value": SPECS[7]["vector"], "order": "least_similar"}}
    body = {
        "query": query,
        "filters": {
            "and": [{"type": "terms", "scope": {"entity": "metadata", "metadata_property": "batch"}, "values": ["b3"]}]
        },
    }
    with argilla_stack.http() as http:
        response = http.post(f"/api/v1/datasets/{dataset.id}/records/search", json=body, params={"limit": 10})
        items = response.json()["items"]
    ranked = _cosine_rank(SPECS[7]["vector"], [s for s in SPECS if s["batch"] == "b3"])
    assert [i["record"]["external_id"] for i in items] == [rid for rid, _ in ranked[::-1][:10]]
    # scores are Elasticsearch's cosine scores: (1 + cos) / 2 of the (inverted) query
    assert items[0]["query_score"] == pytest.approx((1 - ranked[-1][1]) / 2, abs=1e-4)
    assert not math.isnan(items[0]["query_score"])


def test_deleted_records_leave_search(client, dataset):
    import argilla as rg

    doomed = [r for r in dataset.records if r.id in {f"pair-{i:04d}" for i in range(990, 1000)}]
    assert len(doomed) == 10
    dataset.records.delete(doomed)
    assert len(list(dataset.records)) == N - 10
    found = {r.id for r in dataset.records(query=rg.Query(query="number 995"))}
    assert found == set()
    assert dataset.progress()["total"] == N - 10
