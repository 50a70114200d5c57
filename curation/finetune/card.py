"""The model card of a `curation finetune` folder: Hub-style front matter (languages, library, base model and a
`model-index` with chrF2 and BLEU on the test set, so the Hub shows the scores), what it was trained on, the test
results and, for the e5 recipe, how to load it with `transformers` alone."""

from __future__ import annotations

import yaml

USAGE = """## Use it with `transformers` alone

```python
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

model = AutoModelForSeq2SeqLM.from_pretrained("{folder}")  # an EncoderDecoderModel
source = AutoTokenizer.from_pretrained("{folder}")  # the encoder's tokenizer (English in)
target = AutoTokenizer.from_pretrained("{folder}", subfolder="target_tokenizer")  # Spanish out
ids = model.generate(**source(["Where is the train station?"], return_tensors="pt"))
print(target.batch_decode(ids, skip_special_tokens=True))
```

`generate` decodes greedily with no trigram twice (`generation_config.json`; `num_beams=4` for beam search). The
weights are two shards: the frozen encoder in float16 (the precision it was trained with) and the decoder in float32.
"""


def front_matter(described: dict, metrics: dict, name: str) -> dict:
    s, ev = described["settings"], metrics["evaluation"]
    meta = {"language": ["en", "es"], "library_name": "transformers", "pipeline_tag": "translation"}
    meta["tags"] = ["translation", "curation"]
    if described["kind"] == "e5-decoder":
        meta["base_model"] = s["encoder"]
    elif s["base_model"] != "scratch":
        meta["base_model"] = s["base_model"]
    if ev:
        metric = [
            {"type": "chrf", "value": ev["chrf"], "name": "chrF2", "args": {"signature": ev["chrf_signature"]}},
            {"type": "bleu", "value": ev["bleu"], "name": "BLEU", "args": {"signature": ev["bleu_signature"]}},
        ]
        test = str(metrics["test"])
        result = {
            "task": {"type": "translation", "name": "Translation English→Spanish"},
            "dataset": {"name": test, "type": test, "split": "test"},
            "metrics": metric,
        }
        meta["model-index"] = [{"name": name, "results": [result]}]
    return meta


def card(described: dict, metrics: dict, name: str) -> str:
    s = described["settings"]
    ev = metrics["evaluation"]
    meta = yaml.safe_dump(front_matter(described, metrics, name), sort_keys=False, allow_unicode=True).strip()
    lines = [
        "---",
        meta,
        "---",
        "",
        "# English→Spanish translator trained by `curation finetune`",
        "",
        f"Trained on `{described['data']}`: {metrics['train_pairs']:,} pairs ({metrics['validation_pairs']:,} held "
        f"out for the learning curve), {metrics['steps']:,} steps of {s['batch_size']} pairs, seed {s['seed']}, "
        f"{metrics['threads']} CPU threads, {metrics['train_seconds']:.0f} s.",
        "",
        f"Base `{s['base_model']}` ({described['kind']}): {described['recipe']}.",
        "",
    ]
    if metrics["interrupted"]:
        lines += ["**Training was stopped before the end; this model is not evaluated.**", ""]
    if ev:
        lines += [
            f"## Test: `{metrics['test']}` ({ev['pairs']:,} pairs)",
            "",
            "| chrF2 | BLEU | copies the source | not Spanish | length ratio |",
            "|---|---|---|---|---|",
            f"| {ev['chrf']:.1f} | {ev['bleu']:.1f} | {ev['copy_rate']:.1%} | {ev['off_target_rate']:.1%} | "
            f"{ev['length_ratio']:.2f} |",
            "",
            f"sacrebleu signatures: `{ev['chrf_signature']}`, `{ev['bleu_signature']}`.",
            "",
        ]
    if metrics["dropped_overlap"]:
        lines += [f"{metrics['dropped_overlap']:,} training pairs whose source is in the test set were left out.", ""]
    if described["kind"] == "e5-decoder":
        lines += [USAGE.format(folder=name)]
    return "\n".join(lines)
