"""What makes a translation bad, as numbers the learned filter reads next to the encoder's view of the pair.

Four families, all computed per pair (`NAMES` is the order the head reads them in):
- surface features (here, pure Python): length ratios, source words copied into the target, capitalisation
  carried over from English, determiner/noun agreement slips, English number formats, article use;
- alignment features (`alignment`): source and target tokens are encoded separately by the same multilingual
  encoder and aligned by mutual nearest neighbours; literal machine translation aligns almost one-to-one and
  in source order, a human translation restructures. Measured on newstest2013 (README): these carry most of
  the feature that separates references from rule-based MT, where plain sentence cosine ranks MT *higher*;
- fluency of the target (`curation.model.fluency`): agreement slips and unknown words from Apertium's Spanish
  dictionary, word frequencies from wordfreq;
- adequacy (`curation.model.adequacy`): Apertium round trip against the source, numbers and names carried over,
  language identification.
"""

from __future__ import annotations

import math
import re

import numpy as np

from curation.model import adequacy, fluency
from curation.model.fluency import WORD

FEMININE_ENDING = re.compile(r"(ción|sión|dad|tad|tud|umbre)s?$")


SINGULAR_S_ENDING = re.compile(r"(is|us|ás|és|ís|ós|ús|es)$")


ENGLISH_NUMBER = re.compile(r"\d,\d{3}\b|\$\d")


MASCULINE_DET = {"el", "los", "un", "unos", "este", "estos", "del", "al", "ese", "esos"}


SINGULAR_DET = {"el", "la", "un", "una", "este", "esta", "del", "al", "ese", "esa"}


PLURAL_DET = {"los", "las", "unos", "unas", "estos", "estas", "esos", "esas"}


ARTICLES_ES = {"el", "la", "los", "las"}

SURFACE = ("len_chars", "len_words", "copied_words", "kept_capitals", "agreement_slips", "english_numbers", "articles")


ALIGNMENT = (
    "aligned_source",
    "aligned_target",
    "order_tau",
    "order_jumps",
    "order_reversals",
    "best_match_source",
    "best_match_target",
    "cosine",
)


NAMES = SURFACE + ALIGNMENT + fluency.NAMES + adequacy.NAMES


def columns(family: tuple[str, ...]) -> slice:
    """Where a family's features lie in a row of `NAMES`."""
    start = NAMES.index(family[0])
    return slice(start, start + len(family))


def without_encoder(pairs) -> np.ndarray:
    """Rows of `NAMES` for (source, target) pairs with every feature that needs no encoder filled in (surface,
    fluency, adequacy) and the alignment columns left at 0: the part `curation.model.overlap` runs beside it."""
    out = np.zeros((len(pairs), len(NAMES)), dtype=np.float32)
    if not len(pairs):
        return out
    out[:, columns(SURFACE)] = [surface(s, t) for s, t in pairs]
    out[:, columns(fluency.NAMES)] = fluency.features([t for _, t in pairs])
    out[:, columns(adequacy.NAMES)] = adequacy.features(pairs)
    return out


def surface(source: str, target: str) -> list[float]:
    """The surface features of one pair, in the order of `SURFACE`."""
    ws, wt = WORD.findall(source), WORD.findall(target)
    ls, lt = [w.lower() for w in ws], [w.lower() for w in wt]
    n = max(len(wt), 1)
    seen = set(ls)
    slips = 0
    for a, b in zip(lt, lt[1:], strict=False):
        slips += a in MASCULINE_DET and bool(FEMININE_ENDING.search(b))
        slips += a in SINGULAR_DET and len(b) > 3 and b.endswith("s") and not SINGULAR_S_ENDING.search(b)
        slips += a in PLURAL_DET and len(b) > 2 and not b.endswith("s")
    return [
        math.log((len(target) + 1) / (len(source) + 1)),
        math.log((len(wt) + 1) / (len(ws) + 1)),
        sum(len(w) > 3 and w in seen for w in lt) / n,
        sum(i > 0 and w[0].isupper() and w.lower() not in seen for i, w in enumerate(wt)) / n,
        slips / n,
        float(bool(ENGLISH_NUMBER.search(target))),
        sum(w in ARTICLES_ES for w in lt) / n - sum(w == "the" for w in ls) / max(len(ls), 1),
    ]


def alignment(source_tokens: np.ndarray, target_tokens: np.ndarray, cosine: float) -> list[float]:
    """Alignment features from contextual token vectors (rows, special tokens removed), order of `ALIGNMENT`."""
    if len(source_tokens) == 0 or len(target_tokens) == 0:
        return [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, cosine]
    a = source_tokens / np.maximum(np.linalg.norm(source_tokens, axis=1, keepdims=True), 1e-9)
    b = target_tokens / np.maximum(np.linalg.norm(target_tokens, axis=1, keepdims=True), 1e-9)
    sim = a @ b.T
    forward, backward = sim.argmax(1), sim.argmax(0)
    links = [(i, int(j)) for i, j in enumerate(forward) if backward[j] == i]  # mutual nearest neighbours
    targets = np.array([j for _, j in links])
    if len(targets) > 2:
        steps = np.diff(targets)
        tau, jumps, reversals = _kendall_tau(targets), float(np.mean(steps != 1)), float(np.mean(steps < 0))
    else:
        tau = jumps = reversals = 0.0
    best_source, best_target = float(sim.max(1).mean()), float(sim.max(0).mean())
    return [len(links) / len(a), len(links) / len(b), tau, jumps, reversals, best_source, best_target, cosine]


def _kendall_tau(order: np.ndarray) -> float:
    """Kendall's tau of a sequence against its own index (1 = fully monotone; source order kept)."""
    n = len(order)
    diff = np.sign(order[None, :] - order[:, None])[np.triu_indices(n, 1)]
    return float(diff.mean())
