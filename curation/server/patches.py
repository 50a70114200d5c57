"""Performance fixes for argilla-server 2.8.0, applied when the embedded stack's processes start (and one fix of
the web UI annotators asked for, last below).

Profiling `records.log` and annotators' searches (py-spy on the API process, benchmarks/argilla_ingest_and_query.py)
showed much of the server's time going to three things that do no useful work here; each fix keeps
argilla-server's behaviour:

1. `Question.parsed_settings` and `MetadataProperty.parsed_settings` build a new pydantic `TypeAdapter` for
   every record they validate. We build each adapter once; validation itself is unchanged.
2. For every record logged, webhook notification loads the dataset with five relationships and serialises the
   record, and only then looks for enabled webhooks. We look first, once per database session, and build the
   event only when a webhook subscribes to it.
3. An annotator's record search checks workspace membership once per metadata property of every record
   returned (30 queries for a page of 10). We remember the answer for the rest of the database session.

The web UI moves the keyboard's focus to the next question once a single-label question is answered: after `1`
(good) the focus was on `errors`, so a `2` meant to change the answer to "bad" ticked "omission / addition" on a
good pair. In the UI the server serves (it copies its static files at start-up to put its base URL in them), the
single-label question keeps the focus: `1`/`2` choose and change the label, Enter submits, the error types are
ticked with the mouse or after Tab. A UI bundle without that exact code is served as it is (a unit test notices).
"""

from __future__ import annotations

import re

from pydantic import TypeAdapter

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _cache_settings_adapters()
    _skip_unwatched_record_events()
    _remember_membership_per_session()
    _keep_focus_after_a_label()
    _applied = True


def _cache_settings_adapters() -> None:
    from argilla_server.models import database

    # the very types database.py validates with
    QuestionSettings, MetadataPropertySettings = database.QuestionSettings, database.MetadataPropertySettings

    question_adapter = TypeAdapter(QuestionSettings)
    metadata_adapter = TypeAdapter(MetadataPropertySettings)
    database.Question.parsed_settings = property(lambda self: question_adapter.validate_python(self.settings))
    database.MetadataProperty.parsed_settings = property(lambda self: metadata_adapter.validate_python(self.settings))


def _skip_unwatched_record_events() -> None:
    from argilla_server.contexts import webhooks
    from argilla_server.webhooks.v1 import records

    build_record_event = records.build_record_event

    class _Unwatched:
        async def notify(self, db):
            return []

    async def build_if_watched(db, record_event, record):
        key = "curation.enabled_webhook_events"
        if key not in db.info:
            db.info[key] = {event for hook in await webhooks.list_enabled_webhooks(db) for event in hook.events}
        if record_event not in db.info[key]:
            return _Unwatched()
        return await build_record_event(db, record_event, record)

    records.build_record_event = build_if_watched


def _remember_membership_per_session() -> None:
    from argilla_server.models import database

    is_member = database.User.is_member

    async def is_member_once(self, workspace_id):
        session = self.current_async_session
        if session is None:
            return await is_member(self, workspace_id)
        key = ("curation.is_member", self.id, workspace_id)
        if key not in session.info:
            session.info[key] = await is_member(self, workspace_id)
        return session.info[key]

    database.User.is_member = is_member_once


# the single-label question in the UI bundle of argilla-server 2.8.0 (several chunks, each minified with its own
# names), and what it does once answered: focus the next question
SINGLE_LABEL = re.compile(
    r'(ref:"singleLabel",refInFor:!0,attrs:\{"visible-shortcuts":\w+\.visibleShortcuts,question:\w+,'
    r"isFocused:\w+\.checkIfQuestionIsFocused\(\w+\)\},on:\{\"on-focus\":function onFocus\(\w+\)\{return "
    r'\w+\.updateQuestionAutofocus\(\w+\)\},)"on-user-answer":function onUserAnswer\((\w+)\)'
    r"\{return \w+\.focusNext\(\w+\)\}"
)
STAY = r'\1"on-user-answer":function onUserAnswer(\2){}'


def _keep_focus_after_a_label() -> None:
    """Rewrite the copy of the UI bundle this process serves (argilla-server makes it when it is imported, so the
    copy exists by now; the package's own files are never touched)."""
    import glob

    from argilla_server._app import app

    for route in app.routes:
        directory = getattr(getattr(route, "app", None), "directory", None)
        if getattr(route, "name", None) == "static" and directory:
            for file in glob.glob(f"{directory}/**/*.js", recursive=True):
                keep_focus(file)


def keep_focus(filename: str) -> bool:
    """Rewrite one file of the UI bundle (a copy the server made) so that answering a single-label question keeps
    the focus on it. Returns whether the file held that code."""
    with open(filename, encoding="utf-8") as f:
        text = f.read()
    kept, n = SINGLE_LABEL.subn(STAY, text)
    if n:
        with open(filename, "w", encoding="utf-8") as f:
            f.write(kept)
    return n > 0
