"""Mask personal data (emails, phone numbers, card and account numbers, IPs) in both sides of a pair.

Masking runs before anything reaches Argilla or an export. The same value gets the same placeholder on both
sides, so a masked pair is still a correct translation. Placeholders are written `[PHONE]`, `[EMAIL]`...: the
Argilla UI renders `<PHONE>` as an HTML tag, which vanished from the annotator's screen ("Call us on  if you are
late." read as an omission).
"""

from __future__ import annotations

import re

from curation.pair import Pair

PATTERNS: list[tuple[str, re.Pattern]] = [
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){3,7}(?:[ ]?[A-Z0-9]{1,3})?\b")),
    ("CARD", re.compile(r"\b\d(?:[ -]?\d){12,18}\b")),  # ends on a digit: the space after the number stays
    ("IP", re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")),
    # international (+34 612 345 678, 0044 20 7946 0958), grouped national numbers (612 345 678, (555) 123-4567)
    # or a Spanish national number written as one run of nine digits (612345678, 912345678)
    (
        "PHONE",
        re.compile(
            r"(?<![\w+])(?:\+|00)\d{1,3}[\s.-]?(?:\(?\d{1,4}\)?[\s.-]?){2,5}\d{2,4}\b"
            r"|(?<![\w+])\(?\d{3}\)?[\s.-]\d{3}[\s.-]?\d{3,4}\b"
            r"|(?<![\w+.,])[6789]\d{8}\b(?![.,]\d)"
        ),
    ),
]


_DIGIT_RUN = re.compile(r"\d[\d .-]{5,}\d")  # every pattern but EMAIL needs one


def mask_text(text: str) -> tuple[str, int]:
    """The text with every match replaced by its placeholder (`[EMAIL]`, `[PHONE]`...), and how many."""
    if "@" not in text and not _DIGIT_RUN.search(text):
        return text, 0
    total = 0
    for label, pattern in PATTERNS:
        text, n = pattern.subn(f"[{label}]", text)
        total += n
    return text, total


def mask(pair: Pair) -> int:
    """Mask both sides in place; returns the number of values masked."""
    pair.source, n_source = mask_text(pair.source)
    pair.target, n_target = mask_text(pair.target)
    return n_source + n_target
