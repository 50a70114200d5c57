"""The curated set on disk and on the Hub: the folder's columns, splits and files (atomic), and the push."""

from __future__ import annotations

import os
from pathlib import Path

from curation.errors import ExportError
from curation.export.select import Selection
from curation.files import staged_folder, write_jsonl

COLUMNS = ("id", "source", "target", "provenance", "score", "annotators", "agreement", "original_target")
PROMPT = "Translate this English sentence into Spanish:\n\n{source}"


def check_hub(repo_id: str, flag: str = "--to-hub") -> str:
    """HF_TOKEN and a valid repo id, checked before any work; returns the token. `flag`: how the user gave it."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise ExportError(f"{flag} {repo_id!r} is not a valid repo id (expected namespace/name): {e}") from None
    if "/" not in repo_id:
        raise ExportError(f"{flag} {repo_id!r}: give the namespace too, as in your-name/{repo_id}")
    token = os.environ.get("HF_TOKEN")
    if not token:
        raise ExportError(f"{flag} needs a Hugging Face token with write access in HF_TOKEN")
    return token


def write_folder(selection: Selection, out: Path, card: str, chat: bool, include_rejected: bool) -> Path:
    """data/{train,validation}.{parquet,jsonl}, optional chat view and rejected.jsonl, README.md; atomic."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if out.exists():
        _check_ours(out)
    with staged_folder(out, replace=True) as tmp:
        (tmp / "data").mkdir()
        for split in ("train", "validation"):
            rows = [{c: r[c] for c in COLUMNS} for r in selection.rows if r["split"] == split]
            table = pa.Table.from_pylist(rows, schema=_schema())
            pq.write_table(table, tmp / "data" / f"{split}.parquet", compression="zstd")
            _jsonl(tmp / "data" / f"{split}.jsonl", rows)
            if chat:
                messages = [
                    {
                        "id": r["id"],
                        "messages": [
                            {"role": "user", "content": PROMPT.format(source=r["source"])},
                            {"role": "assistant", "content": r["target"]},
                        ],
                    }
                    for r in rows
                ]
                _jsonl(tmp / "data" / f"chat-{split}.jsonl", messages)
        if include_rejected:
            _jsonl(tmp / "rejected.jsonl", selection.rejected)
        (tmp / "README.md").write_text(card, encoding="utf-8")
    return out


OURS = {"README.md", "rejected.jsonl", "data"} | {
    f"data/{prefix}{split}.{ext}"
    for split in ("train", "validation")
    for prefix, ext in (("", "parquet"), ("", "jsonl"), ("chat-", "jsonl"))
}


def _check_ours(out: Path) -> None:
    """An export replaces only an earlier export: a folder with anything else in it is refused, not deleted."""
    if not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder: choose another --output")
    foreign = sorted(str(p.relative_to(out)) for p in out.rglob("*") if str(p.relative_to(out)) not in OURS)
    if foreign:
        raise ExportError(
            f"{out} holds files an export did not write ({', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''}):"
            " --overwrite replaces only an earlier export; choose another --output or move them"
        )


def _schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("source", pa.string()),
            ("target", pa.string()),
            ("provenance", pa.string()),
            ("score", pa.float64()),
            ("annotators", pa.list_(pa.string())),
            ("agreement", pa.float64()),
            ("original_target", pa.string()),
        ]
    )


def _jsonl(path: Path, rows: list[dict]) -> None:
    write_jsonl(path, rows, sort_keys=True)


# what a push replaces of an earlier one (files it no longer holds are deleted, not left beside the new ones)
REPLACED = {
    "dataset": ["data/*", "rejected.jsonl"],
    "model": ["*.safetensors", "*.json", "*.tsv", "target_tokenizer/*"],
}


def push(folder: Path, repo_id: str, token: str, private: bool = True, kind: str = "dataset") -> str:
    """Upload the folder as a `kind` repo (dataset or model); files of an earlier push are replaced, not added to."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type=kind, private=private, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id,
        repo_type=kind,
        folder_path=str(folder),
        delete_patterns=REPLACED[kind],
        commit_message=f"curation {'export' if kind == 'dataset' else 'finetune'}",
    )
    return str(getattr(info, "commit_url", info))
