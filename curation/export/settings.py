"""The export section of the config: what `curation export` writes besides the rows."""

from __future__ import annotations

from dataclasses import dataclass

from curation.checks import FLAG, check, number


@dataclass
class ExportConfig:
    """The curated set (curation export)."""

    validation: float = 0.1  # share of rows in the validation split (by a hash of the record id)
    chat: bool = False  # also write a `messages` view (user asks for the translation, assistant answers)
    private: bool = True  # Hub repos are created private

    def __post_init__(self):
        below_1 = ("a number from 0 up to (not including) 1", lambda v: number(v) and 0 <= v < 1)
        check("export", self, {"validation": below_1, "chat": FLAG, "private": FLAG})
