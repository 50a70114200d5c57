"""The Hub cannot be reached here: `RecordingApi` stands in for `huggingface_hub.HfApi` and records what a push would
send (export's dataset repos and finetune's model repos are checked against the same recorder)."""

from __future__ import annotations

from pathlib import Path


class RecordingApi:
    calls: list = []  # reset by each test: RecordingApi.calls = []

    def __init__(self, token=None):
        self.calls.append(("init", token))

    def create_repo(self, repo_id, repo_type=None, private=None, exist_ok=None):
        self.calls.append(("create_repo", repo_id, repo_type, private, exist_ok))

    def upload_folder(self, repo_id, repo_type, folder_path, delete_patterns, commit_message):
        files = sorted(str(p.relative_to(folder_path)) for p in Path(folder_path).rglob("*") if p.is_file())
        self.calls.append(("upload_folder", repo_id, repo_type, files, delete_patterns))
        where = f"datasets/{repo_id}" if repo_type == "dataset" else repo_id
        return type("Info", (), {"commit_url": f"https://huggingface.co/{where}/commit/1"})()
