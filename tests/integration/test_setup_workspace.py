"""setup_workspace.py against the real embedded Argilla server."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from curation.annotation.labels import read_labels
from curation.cli import main
from curation.pair import Pair

pytestmark = pytest.mark.server
REPO = Path(__file__).resolve().parents[2]
PII = re.compile(r"[\w.+-]+@[\w-]+\.\w+|\+?\d[\d ]{7,}\d")


@pytest.fixture
def project(tmp_path, argilla_stack, monkeypatch):
    """A copy of the roster, guidelines and sample data, a fresh dataset name, and the server in the environment."""
    shutil.copytree(REPO / "annotators", tmp_path / "annotators", ignore=shutil.ignore_patterns("passwords*"))
    shutil.copytree(REPO / "data" / "sample", tmp_path / "sample")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARGILLA_API_URL", argilla_stack.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_stack.credentials.api_key)
    suffix = uuid.uuid4().hex[:6]
    (tmp_path / "annotators" / "roster.yaml").write_text(  # accounts are server-wide: fresh names per test
        "annotators:\n"
        + "".join(f"  - {{username: {n}-{suffix}, name: {n.title()} Test, role: annotator}}\n" for n in ("ana", "ben"))
        + "  - {username: curator, name: Curator, role: admin}\n"
    )
    judged = tmp_path / "sample" / "judged.tsv"  # the sample's two annotators are this test's
    judged.write_text(
        judged.read_text(encoding="utf-8").replace("ana-lopez", f"ana-{suffix}").replace("ben-carter", f"ben-{suffix}"),
        encoding="utf-8",
    )
    (tmp_path / "config.yaml").write_text(
        f"input:\n  path: sample/candidates.tsv\nargilla:\n  workspace: ws-{suffix}\n  dataset: pairs-{suffix}\n"
        f"  min_submitted: 2\n"
    )
    return tmp_path, f"ws-{suffix}", f"pairs-{suffix}", suffix


def run(*args: str):
    result = CliRunner().invoke(main, ["setup", "--config", "config.yaml", *args])
    assert result.exit_code == 0, result.output
    return result.output


def records(client, workspace, dataset):
    return list(client.datasets(dataset, workspace=workspace).records(with_responses=True))


def test_setup_twice_leaves_one_record_per_pair_and_keeps_responses(project, client, argilla_stack):
    path, workspace, dataset, suffix = project
    output = run("--labels", "sample/judged.tsv")
    logged = int(re.search(r"(\d+) candidate pairs logged to", output).group(1))
    added = int(re.search(r"\((\d+) of them not among the cleaned candidates: added with", output).group(1))
    total = int(re.search(r"\((\d+) records in it now\)", output).group(1))
    first = records(client, workspace, dataset)
    # "147 records" was printed for a dataset of 156: now what was logged, what the labels file added, the total
    assert len(first) == len({r.id for r in first}) == total == logged + added and added > 0
    judged = {r.id for r in first if r.responses["quality"]}
    rows = list(read_labels("sample/judged.tsv"))
    assert len(judged) == len({r.pair.id for r in rows}) == 103  # every judged pair carries its submitted labels
    overlap = [r for r in first if len(r.responses["quality"]) == 2]  # both annotators' answers, as submitted
    assert len(overlap) == 21 and {str(x.user_id) for r in overlap for x in r.responses["quality"]} == {
        str(client.users(f"ana-{suffix}").id),
        str(client.users(f"ben-{suffix}").id),
    }

    # an annotator labels a pair, then the curator runs setup again (as after a crash, or with a new roster)
    passwords = json.loads((path / "annotators" / "passwords.json").read_text())[argilla_stack.url]
    annotator = argilla_stack.login(f"ana-{suffix}", passwords[f"ana-{suffix}"])
    target = next(r for r in first if not r.responses["quality"])
    answered = annotator.post(
        f"/api/v1/records/{target._server_id}/responses",
        json={"values": {"quality": {"value": "bad"}}, "status": "submitted"},
    )
    assert answered.status_code == 201, answered.text
    run("--labels", "sample/judged.tsv")
    second = records(client, workspace, dataset)
    assert sorted(r.id for r in second) == sorted(r.id for r in first)
    after = {r.id: r for r in second}
    assert [resp.value for resp in after[target.id].responses["quality"]] == ["bad"]
    assert {r.id for r in second if r.responses["quality"]} == judged | {target.id}


def test_users_get_their_roles_and_the_workspace(project, client):
    _, workspace, _, suffix = project
    output = run()
    assert re.search(rf"Users: [^\n]*ana-{suffix}[^;\n]*: created", output)
    roles = {u.username: str(getattr(u.role, "value", u.role)) for u in client.users}
    assert roles[f"ana-{suffix}"] == "annotator" and roles["curator"] == "admin"
    members = {u.username for u in client.workspaces(workspace).users}
    assert {f"ana-{suffix}", f"ben-{suffix}", "curator"} <= members
    assert re.search(rf"Users: [^\n]*ana-{suffix}[^;\n]*: exists", run())  # existing users are left alone
    passwords = Path("annotators/passwords.json")
    assert (passwords.stat().st_mode & 0o777) == 0o600


def test_no_email_or_phone_number_reaches_argilla(project, client):
    _, workspace, dataset, _ = project
    run("--labels", "sample/judged.tsv")
    texts = [r.fields["source"] + " " + r.fields["target"] for r in records(client, workspace, dataset)]
    assert texts and not [t for t in texts if PII.search(t)]
    assert any("[PHONE]" in t for t in texts)  # the sample's contact pairs are there, masked


def test_dataset_shape(project, client):
    _, workspace, dataset, _ = project
    run()
    ds = client.datasets(dataset, workspace=workspace)
    assert [f.name for f in ds.settings.fields] == ["source", "target"]
    assert [q.name for q in ds.settings.questions] == ["quality", "errors", "correction"]
    assert {m.name for m in ds.settings.metadata} >= {"length_ratio", "numbers", "source_lang", "target_lang", "batch"}
    assert ds.settings.distribution.min_submitted == 2
    assert "literal / unnatural" in ds.settings.guidelines
    assert [v.name for v in ds.settings.vectors] == ["embedding"]


def test_find_similar_brings_up_pairs_worded_alike(project, client):
    import argilla as rg

    _, workspace, dataset, _ = project
    run()
    ds = client.datasets(dataset, workspace=workspace)
    anchor = next(r for r in ds.records(with_vectors=True) if r.fields["source"].startswith("Room "))
    rooms = [r for r in ds.records() if r.fields["source"].startswith("Room ")]
    assert len(rooms) == 5  # dedup.template_cap: 5 of the sample's 118 "Room N is ready." reach annotators
    similar = [record for record, _ in ds.records(query=rg.Query(similar=rg.Similar("embedding", anchor)), limit=4)]
    assert len(similar) == 4 and all(r.fields["source"].startswith("Room ") for r in similar)


def test_a_judged_file_naming_an_unknown_annotator_is_one_clear_error(project, client):
    Path("sample/judged.tsv").write_text("source\ttarget\tlabel\tannotator\nHi.\tHola.\tgood\tnobody-here\n")
    result = CliRunner().invoke(main, ["setup", "--config", "config.yaml", "--labels", "sample/judged.tsv"])
    assert result.exit_code == 1
    assert (
        "names annotator 'nobody-here', who is neither in annotators/roster.yaml nor an Argilla user" in result.output
    )


def test_dry_run_does_not_touch_argilla(project, client):
    _, workspace, _, _ = project
    output = run("--dry-run")
    assert "identical" in output and client.workspaces(workspace) is None


def test_argilla_down_is_one_line_before_any_work(project, monkeypatch, unused_port):
    monkeypatch.setenv("ARGILLA_API_URL", f"http://127.0.0.1:{unused_port}")
    result = CliRunner().invoke(main, ["setup", "--config", "config.yaml"])
    assert result.exit_code == 1
    assert result.output.strip().startswith(f"Error: Argilla is not reachable at http://127.0.0.1:{unused_port}")
    assert not Path("outputs").exists()


def test_the_roster_set_up_on_a_second_server_never_changes_the_first_servers_logins(
    project, client, argilla_stack, tmp_path, unused_port
):
    import argilla as rg

    from curation.annotation.setup import (
        LEGACY_SERVER,
        Member,
        ensure_users,
        ensure_workspace,
    )
    from curation.server.stack import Stack

    _, _, _, suffix = project
    legacy = {"old-user": "an-old-password"}  # a file written before passwords were kept per server
    Path("annotators/passwords.json").write_text(json.dumps(legacy))
    run()
    first = json.loads(Path("annotators/passwords.json").read_text())
    assert first[LEGACY_SERVER] == legacy and f"ana-{suffix}" in first[argilla_stack.url]

    other = Stack(tmp_path / "other", port=unused_port)
    try:
        credentials = other.start(log=lambda line: None)
        second = rg.Argilla(api_url=other.url, api_key=credentials.api_key, timeout=30)
        space = ensure_workspace(second, "w")
        members = [Member(f"ana-{suffix}", "Ana"), Member(f"ben-{suffix}", "Ben")]
        assert set(ensure_users(second, members, space, "annotators/passwords.json").values()) == {"created"}
        both = json.loads(Path("annotators/passwords.json").read_text())
        assert both[argilla_stack.url] == first[argilla_stack.url] and both[LEGACY_SERVER] == legacy
        assert set(both[other.url]) == {f"ana-{suffix}", f"ben-{suffix}"}
        for url in (argilla_stack.url, other.url):  # each server's login works
            password = both[url][f"ana-{suffix}"]
            response = httpx.post(f"{url}/api/v1/token", data={"username": f"ana-{suffix}", "password": password})
            assert response.status_code == 201, (url, response.text)
        again = run()  # set up again on the first server: existing users keep their passwords
        assert re.search(rf"ana-{suffix}, ben-{suffix}[^;\n]*: exists", again)
        assert json.loads(Path("annotators/passwords.json").read_text()) == both
    finally:
        other.stop()


@pytest.mark.fault  # of the fault suite; here beside the flow it breaks
def test_two_setups_of_one_dataset_at_once_both_finish_with_one_record_per_pair(project, client, argilla_stack):
    import threading

    from curation.annotation.connect import connect
    from curation.annotation.records import log_pairs
    from curation.annotation.setup import (
        ensure_dataset,
        ensure_users,
        ensure_workspace,
        load_roster,
    )
    from curation.config import Config

    _, workspace, dataset, suffix = project
    config = Config.load("config.yaml")
    members = load_roster("annotators/roster.yaml")
    pairs = [Pair(f"Gate {i} is open.", f"La puerta {i} está abierta.", origin=f"t:{i}") for i in range(600)]
    errors: list[BaseException] = []

    def one_run(passwords: str):  # as a second setup_workspace.py process would: its own client
        try:
            own = connect()
            space = ensure_workspace(own, workspace)
            ensure_users(own, members, space, passwords)
            log_pairs(ensure_dataset(own, config.argilla, config.annotators, space), pairs, 20)
        except BaseException as e:
            errors.append(e)

    runs = [threading.Thread(target=one_run, args=(f"annotators/p{i}.json",)) for i in range(2)]
    for run_ in runs:
        run_.start()
    for run_ in runs:
        run_.join(timeout=300)
    if errors:
        raise errors[0]
    listed = [r.id for r in client.datasets(dataset, workspace=workspace).records()]
    assert len(listed) == len(set(listed)) == len(pairs)


def test_toxicity_reaches_annotators_as_metadata_and_added_toxicity_is_dropped_with_its_words(project, client):
    import argilla as rg

    path, workspace, dataset, _ = project
    toxic = [
        ("I need a doctor urgently.", "Necesito un puto médico urgentemente."),  # added: dropped
        ("Shut up, you idiot, and listen.", "Cállate, idiota, y escucha."),  # balanced: flagged
        ("What the fuck is this noise?", "¿Qué es este ruido?"),  # removed: flagged
        ("The black cat sleeps on the sofa.", "El gato negro duerme en el sofá."),  # none: "negro" is a colour
    ]
    with open(path / "sample" / "candidates.tsv", "a", encoding="utf-8") as f:
        f.write("".join(f"{s}\t{t}\n" for s, t in toxic))
    output = run()
    assert "added toxicity (1)" in output and "flagged for annotators: balanced (1), removed (1)" in output
    dropped = [json.loads(line) for line in (path / "outputs" / "dropped.jsonl").read_text().splitlines()]
    added = [d for d in dropped if d["reason"] == "toxicity: added toxicity"]
    assert len(added) == 1 and added[0]["toxicity"] == {"class": "added", "source": [], "target": ["puto"]}

    ds = client.datasets(dataset, workspace=workspace)
    titles = {m.name: m.title for m in ds.settings.metadata}
    assert titles["toxicity"].startswith("toxicity (word lists)") and titles["toxic_target"] == (
        "offensive words in the target"
    )
    errors = next(q for q in ds.settings.questions if q.name == "errors")
    assert {"offensive", "dangerous"} <= set(errors.labels)

    def where(*conditions):
        query = rg.Query(filter=rg.Filter(list(conditions)))
        return sorted(r.fields["target"] for r in ds.records(query=query))

    # what an annotator's metadata filter in the UI asks the server
    assert where(("metadata.toxicity", "==", "balanced")) == ["Cállate, idiota, y escucha."]
    assert where(("metadata.toxicity", "==", "removed")) == ["¿Qué es este ruido?"]
    assert where(("metadata.toxic_target", ">=", 1)) == ["Cállate, idiota, y escucha."]
    assert "El gato negro duerme en el sofá." in where(("metadata.toxicity", "==", "none"))
    assert not where(("metadata.toxicity", "==", "added"))


def test_a_dataset_made_before_the_toxicity_filter_gets_its_metadata_and_says_what_it_lacks(project, client):
    """A dataset an older version created (no toxicity metadata, the errors question without offensive/dangerous):
    setup adds the metadata, logs the pairs, says the two error types are missing there, and refuses in one line a
    judged file that tags them."""
    import argilla as rg

    from curation.annotation import schema
    from curation.config import Config

    path, workspace, dataset, _ = project
    old = schema.settings(Config().argilla, Config().annotators)
    old.metadata = [m for m in schema.setup_properties() if m.name not in ("toxicity", "toxic_source", "toxic_target")]
    errors = next(q for q in old.questions if q.name == "errors")
    errors.labels = [e for e in schema.ERROR_LABELS if e not in ("offensive", "dangerous")]
    errors.visible_labels = len(errors.labels)
    rg.Workspace(name=workspace, client=client).create()
    rg.Dataset(name=dataset, workspace=workspace, settings=old, client=client).create()
    output = run()
    assert f"Note: dataset '{dataset}' was created before the error types offensive, dangerous" in output
    ds = client.datasets(dataset, workspace=workspace)
    assert {"toxicity", "toxic_source", "toxic_target"} <= {m.name for m in ds.settings.metadata}
    assert all("toxicity" in r.metadata for r in ds.records())
    (path / "tagged.tsv").write_text(
        "source\ttarget\tlabel\terrors\nHow to build a bomb.\tCómo hacer una bomba.\tbad\tdangerous\n"
    )
    result = CliRunner().invoke(main, ["setup", "--config", "config.yaml", "--labels", "tagged.tsv"])
    assert result.exit_code == 1
    assert "tags error types dangerous, which dataset" in result.output and "Traceback" not in result.output


def test_clusters_reach_argilla_as_a_filter_and_a_dropped_cluster_is_audited_and_left_out_of_the_export(
    project, client, tiny_model
):
    """Issue 37, through the real server: setup tags every kept pair with its cluster (a terms filter annotators
    use), a curator's `clusters.drop` sends the cluster's pairs to dropped.jsonl with the cluster and its title, and
    `curation export` leaves the dropped cluster out even where annotators approved its pairs."""
    import argilla as rg
    import pandas as pd
    import yaml
    from boilerplate import family_pairs

    path, workspace, dataset, _ = project
    candidates = path / "sample" / "candidates.tsv"
    text = candidates.read_text(encoding="utf-8")
    text += "" if text.endswith("\n") else "\n"
    candidates.write_text(text + "".join(f"{s}\t{t}\n" for s, t in family_pairs("casino", 30)), encoding="utf-8")
    config = yaml.safe_load((path / "config.yaml").read_text())
    config["clusters"] = {"enabled": True}
    config["train"] = {"base_model": str(tiny_model), "models_dir": str(path / "models")}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    output = run("--labels", "sample/judged.tsv")
    assert "Clusters: outputs/clusters/clusters.md" in output and (path / "outputs" / "clusters" / "map.png").exists()
    assert re.search(r"\nclusters +\d+ +\d+ +0  in \d+ clusters \(k chosen from the pool\)", output)
    report = json.loads((path / "outputs" / "clusters" / "clusters.json").read_text())
    items = {c["id"]: c for c in report["items"]}
    assert report["pairs"] == sum(c["size"] for c in items.values()) and all(c["title"] for c in items.values())
    assert any("judged_good" in c and c["judged_good"] + c["judged_bad"] for c in items.values())  # the labels file

    ds = client.datasets(dataset, workspace=workspace)
    tagged = [r for r in ds.records() if r.metadata.get("cluster")]
    assert len(tagged) == report["pairs"]  # every kept pair; the judged file's extra pairs were never clustered
    by_term: dict[str, set[str]] = {}
    for r in tagged:
        by_term.setdefault(r.metadata["cluster"], set()).add(r.id)
    largest = max(items.values(), key=lambda c: (c["judged_good"] + c["judged_bad"], c["size"]))  # judged pairs in it
    term = f"{largest['id']} · {largest['title']}"
    query = rg.Query(filter=rg.Filter([("metadata.cluster", "==", term)]))  # what the UI's cluster filter asks
    assert {r.id for r in ds.records(query=query)} == by_term[term] and len(by_term[term]) == largest["size"]

    # a retrain: each cluster's judged counts and mean filter score, and the verdicts of agreeing judgments
    config["train"] |= {"layer": 1, "min_per_class": 4}
    config["clusters"]["propagate_min"] = 2
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    trained = CliRunner().invoke(main, ["train", "--config", "config.yaml"])
    assert trained.exit_code == 0, trained.output
    after = {c["id"]: c for c in json.loads((path / "outputs" / "clusters" / "clusters.json").read_text())["items"]}
    assert all("mean_filter_score" in c and "verdict" in c for c in after.values())
    report = (path / "outputs" / "train_report.md").read_text()
    assert "## Clusters" in report and "| cluster | judged good | judged bad |" in report
    agreed = [c for c in after.values() if c["verdict"]]
    assert agreed  # the sample's judged pairs agree in some cluster
    for c in agreed:  # a verdict only where every judged member agrees, at least propagate_min of them
        label = c["verdict"]["label"]
        assert c[f"judged_{label}"] >= 2 and c["judged_good" if label == "bad" else "judged_bad"] == 0
        assert f"cluster {c['id']} ({c['title']}): {c['verdict']['judged']} of {c['verdict']['judged']}" in report

    # the curator drops it by id, then runs setup again and exports
    config["clusters"]["drop"] = [largest["id"]]
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    output = run()
    assert f"dropped with their cluster ({largest['size']:,})" in output
    dropped = [json.loads(line) for line in (path / "outputs" / "dropped.jsonl").read_text().splitlines()]
    reason = f"clusters: cluster {largest['id']} ({largest['title']}) dropped by the curator (clusters.drop)"
    assert sum(d["reason"] == reason for d in dropped) == largest["size"]
    assigned = pd.read_parquet(path / "outputs" / "clusters" / "assignments.parquet")
    assert (assigned["cluster"] == largest["id"]).sum() == largest["size"]  # the same clusters: the ids hold
    assert len(list(ds.records())) == len(list(client.datasets(dataset, workspace=workspace).records()))  # kept

    result = CliRunner().invoke(
        main, ["export", "--config", "config.yaml", "--output", "curated", "--include-rejected"]
    )
    assert result.exit_code == 0, result.output
    data = path / "curated" / "data"
    rows = [
        json.loads(line)
        for f in data.glob("*.jsonl")
        if not f.name.startswith("chat")
        for line in f.read_text().splitlines()
    ]
    assert rows and not {r["id"] for r in rows} & by_term[term]
    rejected = [json.loads(line) for line in (path / "curated" / "rejected.jsonl").read_text().splitlines()]
    left_out = {r["id"] for r in rejected if r["category"] == "cluster dropped"}
    judged_there = {r.id for r in ds.records(query=query, with_responses=True) if r.responses["quality"]}
    assert judged_there and judged_there <= left_out <= by_term[term]
