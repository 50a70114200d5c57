"""The owner's login (`credentials.json`, 0600) and where a stack keeps its data when no --data-dir is given."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from curation.errors import StackError
from curation.files import write_private_json


def default_data_dir() -> Path:
    """$CURATION_DATA_DIR, else ~/.local/share/curation/argilla."""
    if os.environ.get("CURATION_DATA_DIR"):
        return Path(os.environ["CURATION_DATA_DIR"]).expanduser()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "curation" / "argilla"


@dataclass
class Credentials:
    url: str
    username: str
    password: str
    api_key: str

    @classmethod
    def load(cls, path: Path) -> Credentials:
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as e:
            raise StackError(
                f"{path} is not the owner's login the stack writes ({e.__class__.__name__}): move it aside and run "
                "`curation server start` again (the owner's password is reset from the environment, "
                "CURATION_OWNER_PASSWORD, or generated)"
            ) from None

    def save(self, path: Path) -> None:
        write_private_json(path, self.__dict__)
