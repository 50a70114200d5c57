"""Synthetic bad pairs made from good ones, in the manner of bicleaner-ai: misaligned, truncated, words dropped,
words shuffled, untranslated copy. They teach the easy errors; README reports what they add on real MT errors.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from curation.errors import ConfigError

Pair = tuple[str, str]


def misaligned(pairs: Sequence[Pair], i: int, rng: random.Random) -> Pair:
    j = (i + 1 + rng.randrange(max(len(pairs) - 1, 1))) % len(pairs)
    return pairs[i][0], pairs[j][1]


def truncated(pairs: Sequence[Pair], i: int, rng: random.Random) -> Pair:
    words = pairs[i][1].split()
    keep = max(1, int(len(words) * rng.uniform(0.3, 0.7)))
    return pairs[i][0], " ".join(words[:keep])


def dropped(pairs: Sequence[Pair], i: int, rng: random.Random) -> Pair:
    words = pairs[i][1].split()
    kept = [w for w in words if rng.random() > 0.3] or words[:1]
    return pairs[i][0], " ".join(kept)


def shuffled(pairs: Sequence[Pair], i: int, rng: random.Random) -> Pair:
    words = pairs[i][1].split()
    rng.shuffle(words)
    return pairs[i][0], " ".join(words)


def untranslated(pairs: Sequence[Pair], i: int, rng: random.Random) -> Pair:
    return pairs[i][0], pairs[i][0]


KINDS: dict[str, Callable[[Sequence[Pair], int, random.Random], Pair]] = {
    "misaligned": misaligned,
    "truncated": truncated,
    "dropped": dropped,
    "shuffled": shuffled,
    "untranslated": untranslated,
}


def make(good: Sequence[Pair], per_good: float, seed: int = 0, kinds: Sequence[str] = tuple(KINDS)) -> list[Pair]:
    """About `per_good` synthetic bad pairs for each good pair, cycling through `kinds`."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ConfigError(f"unknown synthetic negative kind {', '.join(sorted(unknown))}: use {', '.join(KINDS)}")
    if not good or per_good <= 0 or not kinds:
        return []
    rng = random.Random(seed)
    out = []
    for n in range(int(round(len(good) * per_good))):
        i = n % len(good)
        pair = KINDS[kinds[n % len(kinds)]](good, i, rng)
        if pair != good[i]:
            out.append(pair)
    return out
