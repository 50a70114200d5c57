"""A title a curator can read: each cluster's most distinctive words on each side (class-based TF-IDF).

Each cluster is one document (all its sources, and separately all its targets); a word's weight in a cluster is
its share of the cluster's words times log(1 + A / f), where A is the mean number of words per cluster and f the
word's count over every cluster: frequent in this cluster, rare in the others. Counted as pairs stream by, with
a bounded table per cluster, so titles for a million pairs cost no more memory than for a thousand.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from dataclasses import dataclass, field

WORD = re.compile(r"[^\W\d_]{3,}")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# words that say nothing about a cluster, on each side
STOP = {
    "source": _words(
        """
    the and for are but not you all any can had her was one our out has him his how its may new now own
    say she too use way who did get got let put see than that this with from they have been were will
    what when your them then there their which would could should about into more some such only also
    just over very here where while these those being because after before other each most much many
    both same than does doing done don isn aren wasn weren won can't it's i'm you're we're i've yes why
    off onto upon
"""
    ),
    "target": _words(
        """
    que los las del por con una para como más pero sus les este esta esto ese esa eso estos estas esos
    esas son está están ser fue era han hay muy sin sobre también entre cuando todo todos toda todas
    hasta desde donde quien cual porque nos usted ustedes ella ellos ellas tiene tienen puede pueden sea
    aquí allí así ahora solo sólo otro otra otros otras mismo cada le lo la el al se su mi tu ya no sí
"""
    ),
}

MAX_WORDS = 20_000  # words kept per cluster and side; past it, words seen once are forgotten (they never title)
TITLE_WORDS = 3  # words per side in a title


@dataclass
class Keywords:
    """Word counts per cluster and side, and the members nearest each centre, filled as pairs stream by."""

    examples: int = 3
    counts: dict[str, dict[int, Counter]] = field(default_factory=lambda: {"source": {}, "target": {}})
    nearest: dict[int, list] = field(default_factory=dict)  # cluster -> heap of (-distance, row, source, target)

    def add(self, rows, sources, targets, labels, distances) -> None:
        for row, source, target, label, dist in zip(rows, sources, targets, labels, distances, strict=True):
            label = int(label)
            for side, text in (("source", source), ("target", target)):
                counter = self.counts[side].setdefault(label, Counter())
                counter.update(w for w in (m.lower() for m in WORD.findall(text)) if w not in STOP[side])
                if len(counter) > MAX_WORDS:
                    for word in [w for w, n in counter.items() if n == 1]:
                        del counter[word]
            heap = self.nearest.setdefault(label, [])
            item = (-float(dist), int(row), source, target)
            if len(heap) < self.examples:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)

    def keywords(self, side: str, n: int = 8) -> dict[int, list[str]]:
        """Each cluster's `n` most distinctive words on `side`, best first."""
        counters = self.counts[side]
        if not counters:
            return {}
        overall: Counter = Counter()
        for counter in counters.values():
            overall.update(counter)
        mean_words = sum(overall.values()) / len(counters)
        out = {}
        for label, counter in counters.items():
            total = sum(counter.values()) or 1
            weight = {w: c / total * math.log(1 + mean_words / overall[w]) for w, c in counter.items()}
            out[label] = [w for w, _ in sorted(weight.items(), key=lambda x: (-x[1], x[0]))[:n]]
        return out

    def examples_of(self, label: int) -> list[dict]:
        """The members nearest the centre, nearest first."""
        return [
            {"row": row, "source": s, "target": t, "distance": round(-d, 4)}
            for d, row, s, t in sorted(self.nearest.get(label, []), reverse=True)
        ]


def title_words(text: str) -> set[str]:
    """The words of a title `title` wrote (its separators left out), lower-cased."""
    return set(text.lower().replace("/", " ").replace("·", " ").split())


def title(source_words: list[str], target_words: list[str]) -> str:
    """ "cookies · browser · website / navegador · sitio": the source's words, then the target's not already said."""
    first = source_words[:TITLE_WORDS]
    second = [w for w in target_words if w not in first][:TITLE_WORDS]
    left, right = " · ".join(first), " · ".join(second)
    if left and right:
        return f"{left} / {right}"
    return left or right or "(no words)"
