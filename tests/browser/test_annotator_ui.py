"""An annotator's session in the real Argilla web UI, in headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.server, pytest.mark.browser]

CHROMIUM = os.environ.get("CURATION_CHROMIUM", "/usr/bin/chromium")
# This machine's network is closed: without the background-networking flags Chromium keeps dialling out.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "annotate-me-123"
SCORES = [0.31, 0.97, 0.12, 0.88, 0.45, 0.99, 0.05, 0.63, 0.72, 0.2]


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's package with `apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def queue(client):
    """A dataset of ten pairs with model suggestions of known scores, and an annotator in its workspace."""
    import argilla as rg

    name = f"ui-{uuid.uuid4().hex[:6]}"
    workspace = rg.Workspace(name=name, client=client).create()
    settings = rg.Settings(
        fields=[rg.TextField(name="source"), rg.TextField(name="target")],
        questions=[rg.LabelQuestion(name="quality", labels=["good", "bad"])],
        guidelines="Label a pair good when the Spanish says what the English says, naturally.",
    )
    dataset = rg.Dataset(name=name, workspace=name, settings=settings, client=client).create()
    dataset.records.log(
        [
            rg.Record(
                id=f"ui-{i}",
                fields={"source": f"Where is platform {i}?", "target": f"¿Dónde está el andén {i}?"},
                suggestions=[rg.Suggestion("quality", "good", score=score, agent="filter-v1")],
            )
            for i, score in enumerate(SCORES)
        ]
    )
    username = f"annotator-{uuid.uuid4().hex[:6]}"
    user = rg.User(username=username, password=PASSWORD, role="annotator", client=client).create()
    user.add_to_workspace(workspace)
    return dataset, user


def curation_dataset(client, prefix: str):
    """A dataset made the way setup makes it (our settings), in a fresh workspace: (dataset, workspace)."""
    from curation.annotation.setup import ensure_dataset, ensure_workspace
    from curation.config import Config

    config = Config()
    config.argilla.workspace = config.argilla.dataset = f"{prefix}-{uuid.uuid4().hex[:6]}"
    space = ensure_workspace(client, config.argilla.workspace)
    return ensure_dataset(client, config.argilla, config.annotators, space), space


def signed_in_annotator(argilla_stack, client, browser, space):
    """A new annotator of `space`, signed in to the web UI: the page, on the home page's dataset list."""
    import argilla as rg

    user = rg.User(username=f"ann-{uuid.uuid4().hex[:6]}", password=PASSWORD, role="annotator", client=client).create()
    user.add_to_workspace(space)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{argilla_stack.url}/sign-in")
    page.locator("input").first.fill(user.username)
    page.locator("input[type=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(space.name).first.wait_for()
    return page


def test_annotator_signs_in_sees_queue_by_suggestion_score_and_submits(argilla_stack, browser, queue, tmp_path):
    dataset, user = queue
    by_score = sorted(range(len(SCORES)), key=lambda i: -SCORES[i])
    page = browser.new_page(viewport={"width": 1400, "height": 900})

    page.goto(f"{argilla_stack.url}/sign-in")
    page.locator("input").first.fill(user.username)
    page.locator("input[type=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(dataset.name).first.click()  # the dataset list shows the dataset; open it
    page.wait_for_url("**/annotation-mode**")

    # the pending queue, ordered by the model's suggestion score, highest first
    with page.expect_response(lambda r: "/records/search" in r.url) as searched:
        page.goto(f"{page.url.split('?')[0]}?sort=suggestion.quality.score.desc")
    assert '"sort"' in searched.value.request.post_data
    page.get_by_text(f"Where is platform {by_score[0]}?").wait_for()
    page.get_by_text("Sort (1)").wait_for(state="visible", timeout=15_000)  # the sort badge may render last
    screenshot = Path(os.environ.get("CURATION_SCREENSHOT_DIR", tmp_path)) / "annotator-queue.png"
    page.screenshot(path=str(screenshot))

    # the annotator disagrees with the model and submits "bad"
    page.locator("label[for=quality_bad]").click()
    assert page.locator("#quality_bad").is_checked()
    with page.expect_response(lambda r: "/responses" in r.url and r.request.method in ("POST", "PUT")) as saved:
        page.get_by_role("button", name="Submit").click()
    assert saved.value.status in (200, 201)
    page.get_by_text(f"Where is platform {by_score[1]}?").wait_for()  # the next in the queue comes up

    # the SDK sees the response, from this annotator, with the chosen label
    record = next(r for r in dataset.records(with_responses=True) if r.id == f"ui-{by_score[0]}")
    responses = record.responses["quality"]
    assert [(str(r.user_id), r.value, getattr(r.status, "value", r.status)) for r in responses] == [
        (str(user.id), "bad", "submitted")
    ]
    page.close()


def test_the_printed_label_next_link_opens_the_least_certain_pair_with_no_label_preselected(
    argilla_stack, client, browser, tiny_model, tmp_path
):
    from curation.annotation.records import log_pairs, read_records
    from curation.annotation.suggestions import Scored, queue_link, write_suggestions
    from curation.pair import Pair

    dataset, space = curation_dataset(client, "next")
    scores = {"sure-good": 0.97, "unsure": 0.52, "sure-bad": 0.04, "leaning": 0.7}
    pairs = {name: Pair(f"Pair {name} is here.", f"El par {name} está aquí.", origin="test:0") for name in scores}
    log_pairs(dataset, list(pairs.values()), 10)
    rows = {r.id: r for r in read_records(client, dataset)}
    write_suggestions(
        client,
        dataset,
        Scored(
            [rows[p.id] for p in pairs.values()],
            list(scores.values()),
            version="v0001-test",
            label=lambda s: "good" if s >= 0.9 else "bad" if s <= 0.1 else None,  # thresholds 0.9 and 0.1
        ),
    )
    page = signed_in_annotator(argilla_stack, client, browser, space)
    page.goto(queue_link(argilla_stack.url, dataset))
    page.get_by_text("Pair unsure is here.").wait_for()  # priority 0.96: the least certain pending pair comes first
    page.get_by_text("Sort (1)").wait_for(state="visible", timeout=15_000)
    assert not page.locator("#quality_good").is_checked() and not page.locator("#quality_bad").is_checked()

    # the lowest-scoring pair comes with "bad" pre-selected, never "good"
    page.goto(f"{page.url.split('?')[0]}?sort=metadata.filter_score.asc")
    page.get_by_text("Pair sure-bad is here.").wait_for()
    page.locator("#quality_bad").wait_for(state="attached")
    assert page.locator("#quality_bad").is_checked() and not page.locator("#quality_good").is_checked()
    page.close()


def test_masked_values_are_shown_to_the_annotator_as_text(argilla_stack, client, browser, tmp_path):
    """`<PHONE>` was rendered as an HTML tag and vanished ("Call us on  if you are late."); the placeholders PII
    masking writes now are text in the UI, through the real setup path (our dataset settings, masking)."""
    from curation.annotation.records import log_pairs
    from curation.clean import pii
    from curation.pair import Pair

    dataset, space = curation_dataset(client, "pii")
    pair = Pair("Call us on +34 612 345 678 if you are late.", "Llámenos al +34 612 345 678 si llega tarde.", "t:1")
    assert pii.mask(pair) == 2
    log_pairs(dataset, [pair], 10)
    page = signed_in_annotator(argilla_stack, client, browser, space)
    page.get_by_text(dataset.name).first.click()
    page.wait_for_url("**/annotation-mode**")
    page.get_by_text("Call us on [PHONE] if you are late.").wait_for()
    page.get_by_text("Llámenos al [PHONE] si llega tarde.").wait_for()
    shown = page.locator("body").inner_text()
    assert "Call us on [PHONE] if you are late." in shown and "Call us on  if" not in shown
    screenshot = Path(os.environ.get("CURATION_SCREENSHOT_DIR", tmp_path)) / "annotator-placeholder.png"
    page.screenshot(path=str(screenshot))
    page.close()


def test_the_annotator_reads_metadata_titles_and_a_templates_copies_are_spread(argilla_stack, client, browser):
    """The sort menu names the properties in words ("priority: label next (1 = model unsure)"), and in the priority
    queue the five copies of "Room N is ready." no longer come back to back (issue 22)."""
    from curation.annotation.records import log_pairs, read_records
    from curation.annotation.suggestions import Scored, queue_link, write_suggestions
    from curation.pair import Pair

    dataset, space = curation_dataset(client, "spread")
    rooms = [Pair(f"Room {n} is ready.", f"La habitación {n} está lista.", origin="t:1") for n in range(1, 6)]
    others = [Pair(f"The {w} is closed.", f"El {w} está cerrado.", origin="t:2") for w in ("museo", "banco", "bar")]
    log_pairs(dataset, rooms + others, 10)
    rows = {r.id: r for r in read_records(client, dataset)}
    scores = [0.5, 0.5, 0.5, 0.5, 0.5, 0.55, 0.6, 0.65]
    write_suggestions(
        client, dataset, Scored([rows[p.id] for p in rooms + others], scores, "v0001-test", lambda s: None)
    )
    page = signed_in_annotator(argilla_stack, client, browser, space)
    page.goto(queue_link(argilla_stack.url, dataset))
    page.get_by_text("Room 1 is ready.").wait_for()  # one copy first, with the other most uncertain pairs
    page.get_by_text("Sort (1)").click()
    page.get_by_text("priority: label next (1 = model unsure)").first.wait_for()
    page.close()
    # the order the UI's queue follows: the copies apart
    search = argilla_stack.http().post(
        f"/api/v1/datasets/{dataset.id}/records/search",
        json={"sort": [{"scope": {"entity": "metadata", "metadata_property": "priority"}, "order": "desc"}]},
    )
    assert search.status_code == 200, search.text
    order = [item["record"]["fields"]["source"] for item in search.json()["items"]]
    assert order[0] == "Room 1 is ready." and order[1] == "The museo is closed."
    assert not any(a.startswith("Room") and b.startswith("Room") for a, b in zip(order, order[1:4], strict=False))


def test_changing_the_label_with_the_keyboard_never_ticks_an_error_type(argilla_stack, client, browser):
    """After `1` (good) the UI moved the focus to `errors`, so a `2` meant as "bad" ticked "omission / addition"
    on a good pair. The label question keeps the focus: `1` then `2` is "bad", and no error type is ticked."""
    from curation.annotation.records import log_pairs
    from curation.pair import Pair

    dataset, space = curation_dataset(client, "keys")
    log_pairs(dataset, [Pair("Check-out is at eleven o'clock.", "La salida es a las once.", "t:1")], 10)
    page = signed_in_annotator(argilla_stack, client, browser, space)
    page.get_by_text(dataset.name).first.click()
    page.wait_for_url("**/annotation-mode**")
    page.get_by_text("La salida es a las once.").wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.id === 'quality_good'")  # autofocus
    page.keyboard.press("1")
    page.wait_for_function("document.querySelector('#quality_good').checked")
    page.keyboard.press("2")
    page.wait_for_function("document.querySelector('#quality_bad').checked")
    assert page.locator("#quality_bad").is_checked() and not page.locator("#quality_good").is_checked()
    ticked = page.locator("input[id^=errors_]:checked").count()
    assert ticked == 0, f"{ticked} error types ticked by the keys meant for the label"
    page.close()


def test_the_annotator_filters_the_queue_to_one_cluster_and_sees_it_in_the_bulk_view(argilla_stack, client, browser):
    """Setup's `cluster` metadata (id · title) is a terms filter in the UI: picking a cluster leaves its pairs alone
    in the queue, as the server's search is asked for (issue 37)."""
    from curation.annotation.records import log_pairs
    from curation.pair import Pair

    dataset, space = curation_dataset(client, "clusters")
    groups = {
        "0 · casino · bonus / casino": [
            ("Play casino games and win.", "Juegue al casino y gane."),
            ("Get a casino bonus.", "Obtenga un bono de casino."),
            ("Spin the slots for free.", "Gire las tragaperras gratis."),
            ("Bet on football tonight.", "Apueste al fútbol esta noche."),
        ],
        "1 · train · station / tren": [
            ("Where is the station?", "¿Dónde está la estación?"),
            ("The train is late.", "El tren llega tarde."),
            ("A ticket to Madrid, please.", "Un billete a Madrid, por favor."),
        ],
    }
    pairs = []
    for term, members in groups.items():
        for source, target in members:
            pair = Pair(source, target, origin="t:1")
            pair.measures |= {"cluster": term, "cluster_distance": 0.1}
            pairs.append(pair)
    log_pairs(dataset, pairs, 10)
    page = signed_in_annotator(argilla_stack, client, browser, space)
    page.get_by_text(dataset.name).first.click()
    page.wait_for_url("**/annotation-mode**")
    page.get_by_text("1 of 7").wait_for()
    page.get_by_text("Filters").first.click()
    page.get_by_text("Metadata").first.click()
    page.get_by_text("cluster (id · title)").first.click()
    with page.expect_response(lambda r: "/records/search" in r.url) as searched:
        page.get_by_text("1 · train · station / tren").click()
    asked = searched.value.request.post_data
    assert '"metadata_property":"cluster"' in asked and "1 · train · station / tren" in asked
    page.get_by_text("1 of 3").wait_for()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Switch to Bulk Mode").click()  # the cluster's pairs, to label together
    for source, _ in groups["1 · train · station / tren"]:
        page.get_by_text(source).wait_for()
    shown = page.locator("body").inner_text()
    assert not any(source in shown for source, _ in groups["0 · casino · bonus / casino"])
    page.close()
