"""Was the source's meaning carried over? Pair features beyond the encoder's alignment.

- `round_trip_chrf`, `round_trip_recall`: the target translated back to English by Apertium (rule-based,
  local) against the source: character n-gram F-score (chrF, recall-weighted) and the share of the source's
  content words (4+ letters) found in the back-translation. Dropped or changed content lowers both.
- `numbers_mismatch`: numbers present on one side only, over all numbers of the pair.
- `names_kept`, `names_known`: tokens of the source that look like names, codes or numbers ("Porsche", "DSH",
  "42562") found verbatim in the target, and the same from the target's side.
- `unknown_source`: share of source words Apertium's English dictionary does not know.
- `source_is_en`, `target_is_es`, `target_is_en`: language identification probabilities (py3langid).
- `source_length`: log characters of the source (fragments and menus fail in their own ways).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import cache

import numpy as np

from curation.model import apertium
from curation.model.fluency import WORD

NAMES = (
    "round_trip_chrf",
    "round_trip_recall",
    "numbers_mismatch",
    "names_kept",
    "names_known",
    "unknown_source",
    "source_is_en",
    "target_is_es",
    "target_is_en",
    "source_length",
)


NUMBER = re.compile(r"\d+")


TOKEN = re.compile(r"\w+")


LANGUAGES = ["en", "es", "pt", "gl", "ca", "fr", "it", "de"]


def features(pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """Rows in input order, columns `NAMES`."""
    sources = [s for s, _ in pairs]
    back = apertium.to_english([t for _, t in pairs])
    analysed = apertium.analyse(sources, "en")
    identify = _identifier()
    out = np.zeros((len(pairs), len(NAMES)), dtype=np.float32)
    for i, ((source, target), english, tokens) in enumerate(zip(pairs, back, analysed, strict=True)):
        english = english.replace("*", "")
        words = [t for t in tokens if not t.punctuation]
        p_source, p_target = dict(identify.rank(source)), dict(identify.rank(target))
        out[i] = [
            chrf(english.lower(), source.lower()),
            content_recall(source, english),
            numbers_mismatch(source, target),
            names_found(source, target),
            names_found(target, source),
            sum(t.readings is None for t in words) / max(len(words), 1),
            p_source.get("en", 0.0),
            p_target.get("es", 0.0),
            p_target.get("en", 0.0),
            math.log(len(source) + 1),
        ]
    return out


@cache
def _identifier():
    from py3langid.langid import _load_identifier

    return _load_identifier(norm_probs=True, langs=LANGUAGES)


def _char_ngrams(text: str, n: int) -> Counter:
    text = text.replace(" ", "")
    return Counter(text[i : i + n] for i in range(len(text) - n + 1))


def chrf(hypothesis: str, reference: str, order: int = 6, beta: float = 2.0) -> float:
    """chrF: character n-gram (1..order) precision and recall averaged, F-beta of the two (0 to 1)."""
    precisions, recalls = [], []
    for n in range(1, order + 1):
        h, r = _char_ngrams(hypothesis, n), _char_ngrams(reference, n)
        if not h or not r:
            continue
        matched = sum((h & r).values())
        precisions.append(matched / sum(h.values()))
        recalls.append(matched / sum(r.values()))
    if not precisions:
        return 0.0
    p, r = float(np.mean(precisions)), float(np.mean(recalls))
    return 0.0 if p + r == 0 else (1 + beta**2) * p * r / (beta**2 * p + r)


def content_recall(source: str, back: str) -> float:
    """Share of the source's words of 4+ letters found in the back-translation (1 when it has none)."""
    content = {w.lower() for w in WORD.findall(source) if len(w) > 3}
    if not content:
        return 1.0
    found = {w.lower() for w in WORD.findall(back)}
    return len(content & found) / len(content)


def numbers_mismatch(source: str, target: str) -> float:
    a, b = Counter(NUMBER.findall(source)), Counter(NUMBER.findall(target))
    total = sum(a.values()) + sum(b.values())
    return (sum((a - b).values()) + sum((b - a).values())) / total if total else 0.0


def names_found(text: str, other: str) -> float:
    """Share of `text`'s name-like tokens (capitalised inside the sentence, all caps, with digits) in `other`."""
    tokens = TOKEN.findall(text)
    names = [
        t
        for i, t in enumerate(tokens)
        if (i > 0 and t[:1].isupper()) or any(c.isdigit() for c in t) or (len(t) > 1 and t.isupper())
    ]
    if not names:
        return 1.0
    present = set(TOKEN.findall(other))
    return sum(n in present for n in names) / len(names)
