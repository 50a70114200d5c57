"""Put cleaned candidates in front of annotators: workspace, accounts from the roster, dataset, records.

Everything here is safe to run again: records have deterministic ids (re-logging updates them and never
touches their responses, suggestions or the filter's metadata; a judged file's response is imported only where
that user has answered nothing), existing users are left alone, nothing is deleted.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from curation.annotation import schema
from curation.annotation.connect import connect, transient
from curation.annotation.labels import LabelRow, describe_torn, one_per_annotator, read_labels
from curation.annotation.records import (
    Stored,
    count,
    log_pairs,
    log_records,
    merged_metadata,
    to_record,
    vectors_for,
)
from curation.annotation.settings import AnnotatorsConfig, ArgillaConfig
from curation.annotation.suggestions import add_properties
from curation.clean import pii
from curation.clean.pipeline import Tally, cap_templates, clean, regroup_twins, write_outputs
from curation.clean.settings import Cleaning
from curation.clusters.pool import PoolClusters, cluster_pool
from curation.clusters.settings import ClusterConfig
from curation.errors import InputError, SetupError, retried
from curation.files import write_private_json
from curation.pair import batched
from curation.progress import Progress

ROLES = ("annotator", "admin", "owner")


USERNAME = re.compile(r"^(?!-|_)[a-z0-9-_]+$")


CURATOR = "curator"  # the account that owns imported judgments (--labels)


@dataclass
class Member:
    username: str
    name: str
    role: str = "annotator"


def load_roster(path: str | Path) -> list[Member]:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise SetupError(f"roster {path} does not exist: list annotators there (username, name, role)") from None
    entries = raw.get("annotators") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise SetupError(f"roster {path} must have a list under 'annotators:' of {{username, name, role}}")
    members, seen = [], set()
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or "username" not in entry:
            raise SetupError(f"roster {path}, entry {i}: needs at least a username")
        unknown = set(entry) - {"username", "name", "role"}
        if unknown:
            raise SetupError(
                f"roster {path}, entry {i}: unknown key {', '.join(sorted(unknown))} (username, name, role)"
            )
        member = Member(
            str(entry["username"]), str(entry.get("name") or entry["username"]), entry.get("role", "annotator")
        )
        if not USERNAME.match(member.username):
            raise SetupError(f"roster {path}: username {member.username!r} must be lowercase letters, digits, - or _")
        if member.role not in ROLES:
            raise SetupError(
                f"roster {path}: role {member.role!r} of {member.username} must be one of {', '.join(ROLES)}"
            )
        if member.username in seen:
            raise SetupError(f"roster {path}: {member.username} is listed twice")
        seen.add(member.username)
        members.append(member)
    return members


def _create_or_fetch(create, fetch):
    """(resource, created): create it, or, when another run created it meanwhile (Argilla answers 409, or 500 for
    SQLite's UNIQUE violation), the one that exists."""
    from argilla._exceptions import ConflictError, InternalServerError

    try:
        return create(), True
    except (ConflictError, InternalServerError):
        # the server drops the connection after a 500: the first reuse of it may fail
        found = retried(fetch, transient, waits=(0.2, 0.5))
        if found is None:
            raise
        return found, False


def _lookup_retried(lookup):
    """A lookup, retried when the connection drops (the server closes it after a 500, e.g. another run's insert
    losing a UNIQUE race, and the next request on the pooled connection fails) or Argilla answers 5xx."""
    return retried(lookup, transient)


def ensure_workspace(client, name: str):
    import argilla as rg

    def fetch():
        return client.workspaces(name)

    existing = _lookup_retried(fetch)
    if existing is not None:
        return existing
    return _create_or_fetch(lambda: rg.Workspace(name=name, client=client).create(), fetch)[0]


LEGACY_SERVER = "unknown server (stored before passwords were kept per server)"


def read_passwords(path: str | Path) -> dict[str, dict[str, str]]:
    """Generated passwords by Argilla URL, then username. A file of the old flat form (username -> password,
    no server) is kept whole under `LEGACY_SERVER`, so nothing stored is lost."""
    path = Path(path)
    stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if stored and all(isinstance(v, str) for v in stored.values()):
        return {LEGACY_SERVER: stored}
    return stored


def ensure_users(client, members: Iterable[Member], workspace, passwords_path: str | Path) -> dict[str, str]:
    """Create missing accounts (generated password, stored 0600 under this server's URL), add everyone to the
    workspace. An account that exists keeps its password; other servers' entries are never touched.

    Returns what happened to each username: "created", "exists" or "exists (role X, roster says Y)".
    """
    import argilla as rg
    from argilla._exceptions import ConflictError, InternalServerError

    all_passwords = read_passwords(passwords_path)
    passwords = all_passwords.setdefault(client.api_url.rstrip("/"), {})
    members_now = {u.username for u in _lookup_retried(lambda: workspace.users)}
    outcome = {}
    for member in members:
        fetch = functools.partial(client.users, member.username)
        user = _lookup_retried(fetch)
        if user is None:
            password = secrets.token_urlsafe(12)
            first, _, last = member.name.partition(" ")
            new = rg.User(
                username=member.username,
                first_name=first,
                last_name=last or None,
                role=member.role,
                password=password,
                client=client,
            )
            user, created = _create_or_fetch(new.create, fetch)
            outcome[member.username] = "created" if created else "exists"  # else: the other run keeps its password
            if created:
                passwords[member.username] = password
                write_private_json(Path(passwords_path), all_passwords)
        else:
            role = str(getattr(user.role, "value", user.role))
            outcome[member.username] = (
                "exists" if role == member.role else f"exists (role {role}, roster says {member.role})"
            )
        if member.role != "owner" and member.username not in members_now:
            with contextlib.suppress(ConflictError, InternalServerError):  # another run added them meanwhile
                user.add_to_workspace(workspace)
    return outcome


def ensure_dataset(client, argilla: ArgillaConfig, annotators: AnnotatorsConfig, workspace):
    """The candidates dataset (`argilla.dataset`): created with `schema.settings` and the annotators' guidelines, or
    the existing one if its shape fits. One that another run is creating this moment (not yet published) is waited
    for, up to 10 s."""
    import argilla as rg

    name = argilla.dataset
    fetch = functools.partial(client.datasets, name, workspace=workspace.name)
    existing = _lookup_retried(fetch)
    if existing is None:
        settings = schema.settings(argilla, annotators)
        new = rg.Dataset(name=name, workspace=workspace.name, settings=settings, client=client)
        existing, created = _create_or_fetch(new.create, fetch)
        if created:
            return existing
    for _ in range(20):
        if existing._is_published():  # the SDK's own check: fields and questions are all there
            break
        time.sleep(0.5)
        existing = _lookup_retried(fetch)
    names = {f.name for f in existing.settings.fields} | {q.name for q in existing.settings.questions}
    missing = {"source", "target", schema.QUALITY} - names
    if missing or not existing._is_published():
        raise SetupError(
            f"dataset {name!r} in workspace {workspace.name!r} exists without "
            f"{', '.join(sorted(missing)) or 'being published'}: choose another name with --dataset"
        )
    add_properties(client, existing, schema.setup_properties())  # an older version's dataset: today's (toxicity)
    return existing


def missing_error_types(dataset) -> list[str]:
    """Error types of today's form that the dataset's `errors` question lacks (a dataset made before they existed:
    Argilla cannot add options to a published question)."""
    question = next((q for q in dataset.settings.questions if q.name == schema.ERRORS), None)
    if question is None:
        return []
    have = {str(label) for label in (getattr(question, "labels", None) or [])}
    return [name for name in schema.ERROR_LABELS if name not in have]


def check_annotators(client, rows: list[LabelRow], members: list[Member], path) -> None:
    """Every annotator a labels file names is in the roster or already an Argilla user: checked before any write."""
    roster = {m.username for m in members} | {CURATOR}
    for name in sorted({r.annotator for r in rows if r.annotator} - roster):
        if _lookup_retried(functools.partial(client.users, name)) is None:
            raise SetupError(
                f"labels file {path} names annotator {name!r}, who is neither in {Path('annotators/roster.yaml')} nor "
                "an Argilla user: add them to the roster and run setup again"
            )


@dataclass
class Imported:
    """What importing a labels file did."""

    pairs: int = 0  # judged pairs in the file
    responses: int = 0  # responses imported
    kept: int = 0  # responses of the file not imported: that user had answered the pair in Argilla already
    added: int = 0  # records it added: judged pairs not among the candidates (e.g. ones cleaning dropped)


def import_labels(client, dataset, rows: list[LabelRow], workspace, passwords_path, batch_size: int, stored: Stored):
    """Judged pairs become records with submitted responses: from the row's annotator (a user that must exist,
    e.g. from the roster), or from the curator account. A response is imported only where that user has none on
    the record (`stored`): what an annotator answered in the UI since, and the filter's metadata, stay as they
    are."""
    ensure_users(client, [Member(CURATOR, "Curator", "admin")], workspace, passwords_path)
    users = {
        name: _lookup_retried(functools.partial(client.users, name)).id
        for name in {r.annotator or CURATOR for r in rows}
    }
    by_pair: dict[str, list[LabelRow]] = {}
    for row in rows:
        pii.mask(row.pair)
        by_pair.setdefault(row.pair.id, []).append(row)  # one record per pair, a response per annotator
    imported = kept = added = 0
    todo = []
    for judged in by_pair.values():
        pair = judged[0].pair
        answered = stored.answered.get(pair.id, set())
        new = [j for j in judged if str(users[j.annotator or CURATOR]) not in answered]
        kept += len(judged) - len(new)
        added += pair.id not in stored.metadata  # not among the candidates setup logged, nor in the dataset before
        if new or pair.id not in stored.metadata:
            todo.append((pair, new))
    for batch in batched(todo, batch_size):
        pairs = [pair for pair, _ in batch]
        records = [
            to_record(
                pair,
                [a for j in new for a in _responses(j, users[j.annotator or CURATOR])],
                vector,
                merged_metadata(pair, stored.metadata.get(pair.id), refresh=False),
            )
            for (pair, new), vector in zip(batch, vectors_for(dataset, pairs), strict=True)
        ]
        log_records(dataset, records, batch_size, "judged pairs being imported")
        imported += sum(len(new) for _, new in batch)
    return Imported(len(by_pair), imported, kept, added)


def _responses(judged: LabelRow, user_id) -> list:
    """One annotator's submitted answers to a judged pair: `quality`, and `errors` when the file tags it."""
    import argilla as rg

    answers = [rg.Response(schema.QUALITY, judged.label, user_id=user_id, status="submitted")]
    if judged.errors:
        answers.append(rg.Response(schema.ERRORS, sorted(judged.errors), user_id=user_id, status="submitted"))
    return answers


@dataclass
class SetupResult:
    tally: Tally  # what cleaning kept and dropped, and why
    paths: dict[str, Path]  # the filter report and the dropped pairs
    users: dict[str, str]  # username -> "created", "exists", ...
    logged: int = 0  # records in the dataset from this run
    labels: Imported = field(default_factory=Imported)  # what the labels file brought
    total: int | None = None  # records in the dataset once setup is done (None: Argilla did not say)
    clusters: PoolClusters | None = None  # what the cluster step did (clusters.enabled)


@dataclass
class SetupSettings:
    """All setup reads: the cleaning section, the Argilla and annotators sections, the folder its filter report
    and dropped pairs go to, and the clusters section with the learned filter's settings (its encoder makes the
    clusters' embeddings; `train` None: the defaults)."""

    cleaning: Cleaning
    argilla: ArgillaConfig
    annotators: AnnotatorsConfig
    output_dir: str
    clusters: ClusterConfig = field(default_factory=ClusterConfig)
    train: object = None  # model.settings.TrainConfig


def run_setup(
    settings: SetupSettings,
    labels: str | Path | None = None,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    client=None,
) -> SetupResult:
    """setup_workspace.py: clean the candidates, then (unless `dry_run`) the workspace, the roster's accounts, the
    dataset, one record per kept pair, and the judged pairs in `labels` with their annotators' responses. Argilla
    (`client`, default: `connect()`) and the roster are checked before any work; the filter table is said before
    anything is sent."""
    progress = progress or Progress()
    argilla, annotators, dedup = settings.argilla, settings.annotators, settings.cleaning.dedup
    if labels and not Path(labels).exists():
        raise InputError(f"labels file {labels} does not exist: check the --labels path")
    judged, torn = one_per_annotator(list(read_labels(labels))) if labels else ([], [])  # every row checked now
    members = None
    if not dry_run:
        client = client or connect()
        members = load_roster(annotators.roster)
        check_annotators(client, judged, members, labels)
    tally, rejected, kept = Tally(), [], []
    bar = progress.bar("cleaning")
    for pair in cap_templates(clean(settings.cleaning, tally, rejected), dedup.template_cap, tally, rejected):
        kept.append(pair)
        bar(1)
    kept = regroup_twins(kept, rejected, dedup.target_group, tally)
    pool = None
    if settings.clusters.enabled:
        labelled = {row.pair.id: row.label for row in judged}
        kept, pool = cluster_pool(
            kept, rejected, settings.clusters, settings.train, settings.output_dir, judged=labelled, progress=progress
        )
        if pool.result is not None:
            tally.clusters = {
                "clusters": pool.result.model.k,
                "k": "k chosen from the pool" if pool.result.model.auto else "clusters.k",
                "dropped": pool.dropped,
                "near_duplicates": pool.near_duplicates,
            }
    paths = write_outputs(settings.output_dir, tally, rejected)
    progress.say(tally.table())
    clusters = f"  Clusters: {pool.paths['clusters.md']}" if pool and pool.paths else ""
    progress.say(f"Dropped pairs with reasons: {paths['dropped']}  Report: {paths['report']}{clusters}")
    if torn:
        progress.say(describe_torn(torn))
    result = SetupResult(tally, paths, {}, clusters=pool)
    if dry_run:
        return result
    space = ensure_workspace(client, argilla.workspace)
    result.users = ensure_users(client, members, space, annotators.passwords)
    data = ensure_dataset(client, argilla, annotators, space)
    lacking = missing_error_types(data)
    if lacking:
        tagged = sorted({e for row in judged for e in row.errors} & set(lacking))
        if tagged:
            raise SetupError(
                f"labels file {labels} tags error types {', '.join(tagged)}, which dataset {argilla.dataset!r} "
                "was created without (Argilla cannot add them to its errors question): choose a new dataset with "
                "--dataset, or remove those tags"
            )
        progress.say(
            f"Note: dataset {argilla.dataset!r} was created before the error types {', '.join(lacking)}: "
            "annotators cannot tag them there (a new dataset, --dataset NAME, has them)"
        )
    stored = Stored.read(client, data)
    result.logged = log_pairs(data, kept, argilla.batch_size, progress.bar("logging to Argilla"), stored)
    if labels:
        result.labels = import_labels(client, data, judged, space, annotators.passwords, argilla.batch_size, stored)
    result.total = count(data)
    return result
