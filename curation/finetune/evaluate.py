"""What a curator reads off a translator: chrF2 and BLEU (sacrebleu, with their signatures), and the signs of a
model trained on bad pairs: outputs that copy the source, outputs not in Spanish, outputs far too short or long."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

from curation.clean.filters import Language
from curation.pair import dedup_form


@dataclass
class Evaluation:
    pairs: int
    chrf: float
    bleu: float
    copy_rate: float  # outputs equal to their source (dedup form)
    off_target_rate: float  # outputs the project's language id says are not Spanish
    length_ratio: float  # output characters / reference characters, over the test set
    chrf_signature: str
    bleu_signature: str

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        return (
            f"chrF2 {self.chrf:.1f}, BLEU {self.bleu:.1f} on {self.pairs:,} test pairs; copies the source "
            f"{self.copy_rate:.1%}, not Spanish {self.off_target_rate:.1%}, length ratio {self.length_ratio:.2f}"
        )


@lru_cache(maxsize=1)
def _language():
    return Language()


def evaluate(outputs: list[str], sources: list[str], references: list[str]) -> Evaluation:
    from sacrebleu.metrics import BLEU, CHRF

    chrf, bleu = CHRF(), BLEU()
    chrf_score = chrf.corpus_score(outputs, [references])
    bleu_score = bleu.corpus_score(outputs, [references])
    n = max(len(outputs), 1)
    copies = sum(dedup_form(o) == dedup_form(s) for o, s in zip(outputs, sources, strict=True))
    lang = _language()
    off = sum(lang.identify(o, "es") not in ("es", "?") for o in outputs)
    ratio = sum(map(len, outputs)) / max(sum(map(len, references)), 1)
    return Evaluation(
        pairs=len(outputs),
        chrf=round(chrf_score.score, 2),
        bleu=round(bleu_score.score, 2),
        copy_rate=round(copies / n, 4),
        off_target_rate=round(off / n, 4),
        length_ratio=round(ratio, 3),
        chrf_signature=str(chrf.get_signature()),
        bleu_signature=str(bleu.get_signature()),
    )
