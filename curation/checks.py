"""The words config checks are written in: what a value may be, said the way the error says it. Each stage's
settings (`clean.settings`, `annotation.settings`, `model.settings`, `export.ExportConfig`) checks its own
section with these when it is built; `curation.config` composes the sections."""

from __future__ import annotations

from curation.errors import ConfigError


def number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# what each value may be, said the way the error says it: (description, test)
WHOLE_1 = ("a whole number of at least 1", lambda v: whole(v) and v >= 1)
WHOLE_0 = ("a whole number of at least 0", lambda v: whole(v) and v >= 0)
WHOLE_2 = ("a whole number of at least 2", lambda v: whole(v) and v >= 2)
TEXT = ("a non-empty text", lambda v: isinstance(v, str) and v.strip() != "")
FLAG = ("true or false", lambda v: isinstance(v, bool))
SHARE = ("a number from 0 to 1", lambda v: number(v) and 0 <= v <= 1)
NUMBER_0 = ("a number of at least 0", lambda v: number(v) and v >= 0)


def whole_between(low: int, high: int) -> tuple:
    """A whole number from `low` to `high`: the upper end keeps a typo (100000000) from exhausting memory."""
    return (f"a whole number from {low} to {high:,}", lambda v: whole(v) and low <= v <= high)


def pattern(allowed: str, regex: str) -> tuple:
    import re

    compiled = re.compile(regex)
    return (allowed, lambda v: isinstance(v, str) and compiled.fullmatch(v) is not None)


def or_null(rule: tuple) -> tuple:
    return (f"{rule[0]} or null", lambda v: v is None or rule[1](v))


def check(section: str, obj, rules: dict[str, tuple]) -> None:
    """One clear error for the first value of `obj` that breaks its rule: the key, the value, what is allowed."""
    for name, (allowed, ok) in rules.items():
        value = getattr(obj, name)
        if not ok(value):
            shown = repr(value) if len(repr(value)) <= 60 else f"{repr(value)[:50]}... ({len(repr(value))} characters)"
            raise ConfigError(f"{section + '.' if section else ''}{name} must be {allowed}, not {shown}")
