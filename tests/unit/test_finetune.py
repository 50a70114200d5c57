"""`curation finetune` with a tiny encoder built in code: it trains, evaluates, writes a folder that loads back and
translates the same, repeats itself exactly, and refuses bad input in one line with nothing written."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from finetune_data import SMALL, _config, write_files
from tiny_model import GOOD

from curation.cli import main
from curation.files import write_tsv
from curation.finetune.data import Example, overlap
from curation.finetune.e5_decoder import DECODER_SHARD, ENCODER_SHARD
from curation.finetune.evaluate import evaluate
from curation.finetune.settings import FinetuneConfig


@pytest.fixture
def files(tmp_path):
    return write_files(tmp_path)


def _run(*args):
    return CliRunner().invoke(main, ["finetune", *args])


def test_finetune_writes_a_model_that_loads_back_and_repeats_itself(files, tiny_model):
    from curation.finetune.e5_decoder import E5Translator

    config = _config(files, tiny_model)
    common = ["--data", str(files / "train.tsv"), "--test", str(files / "test.tsv"), "--config", config]
    first = _run(*common, "--output", str(files / "a"))
    assert first.exit_code == 0, first.output
    assert "chrF2" in first.output and "copies the source" in first.output
    # not a terminal (a log, CI): a line per phase where a terminal gets a bar
    for phase in ("preparing 352 sentences", "training 12 steps", "step 6/12: validation loss", "translating the 32"):
        assert phase in first.output, first.output
    second = _run(*common, "--output", str(files / "b"))
    assert second.exit_code == 0, second.output
    a, b = files / "a", files / "b"
    for shard in (ENCODER_SHARD, DECODER_SHARD):
        assert (a / shard).read_bytes() == (b / shard).read_bytes()
    for shared in (ENCODER_SHARD, "tokenizer.json"):  # the encoder and its tokenizer stored once, linked
        assert (a / shared).stat().st_ino == (b / shared).stat().st_ino
    metrics = json.loads((a / "metrics.json").read_text())
    assert metrics["steps"] == 12 and metrics["evaluation"]["pairs"] == 2 * len(GOOD)
    assert metrics["evaluation"]["chrf_signature"].startswith("nrefs:1")
    assert [h["step"] for h in json.loads((a / "history.json").read_text())] == [6, 12]
    assert "chrF2" in (a / "README.md").read_text()
    settings = FinetuneConfig(**(SMALL | {"encoder": str(tiny_model)}))
    loaded = E5Translator.load(a, settings, "cpu")
    rows = [line.split("\t") for line in (a / "translations.tsv").read_text().splitlines()[1:]]
    assert loaded.translate([r[0] for r in rows]) == [r[2] for r in rows]


def test_training_pairs_in_the_test_set_are_refused_or_left_out(files, tiny_model):
    config = _config(files, tiny_model)
    out = files / "model"
    result = _run(
        "--data", str(files / "train.tsv"), "--test", str(files / "train.tsv"), "--config", config, "--output", str(out)
    )
    assert result.exit_code == 1 and "also in --test" in result.output and "--drop-overlap" in result.output
    assert not out.exists()
    mixed = [(f"{s} (0)", f"{t} (0)") for s, t in GOOD[:4]] + [(f"{s} [0]", f"{t} [0]") for s, t in GOOD]
    write_tsv(files / "mixed.tsv", ["source", "target"], mixed)
    result = _run(
        "--data",
        str(files / "train.tsv"),
        "--test",
        str(files / "mixed.tsv"),
        "--config",
        config,
        "--output",
        str(out),
        "--drop-overlap",
    )
    assert result.exit_code == 0, result.output
    assert "left out 4 training pairs" in result.output
    assert json.loads((out / "metrics.json").read_text())["dropped_overlap"] == 4


@pytest.mark.parametrize(
    "case, expected",
    [
        ("empty", "holds no pairs"),
        ("missing", "does not exist"),
        ("exists", "exists: pass --overwrite"),
        ("unknown", "is not e5-decoder, scratch, a model folder here, nor a Hub id"),
    ],
)
def test_bad_input_is_one_line_and_nothing_is_written(files, tiny_model, case, expected, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as on a machine without the Hub: no retries, one line
    config = _config(files, tiny_model)
    (files / "empty.tsv").write_text("source\ttarget\n", encoding="utf-8")
    data = {"empty": "empty.tsv", "missing": "nowhere.tsv"}.get(case, "train.tsv")
    out = files / "model"
    if case == "exists":
        out.mkdir()
        (out / "mine.txt").write_text("keep me")
    args = ["--data", str(files / data), "--test", str(files / "test.tsv"), "--config", config, "--output", str(out)]
    if case == "unknown":
        args += ["--base-model", "no-such-owner/no-such-model"]
    result = _run(*args)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and expected in errors[0], result.output
    assert (out / "mine.txt").read_text() == "keep me" if case == "exists" else not out.exists()


def test_evaluation_counts_copies_and_outputs_not_in_spanish():
    sources = ["The museum opens at nine in the morning.", "We need a room for two nights, please."]
    references = ["El museo abre a las nueve de la mañana.", "Necesitamos una habitación para dos noches."]
    outputs = [sources[0], "Precisamos de um quarto para duas noites, por favor."]  # a copy, Portuguese
    ev = evaluate(outputs, sources, references)
    assert ev.copy_rate == 0.5 and ev.off_target_rate == 1.0
    good = evaluate(references, sources, references)
    assert good.chrf == 100.0 and good.copy_rate == 0 and good.off_target_rate == 0 and good.length_ratio == 1.0


def test_overlap_compares_sources_in_dedup_form():
    train = [Example("Where is the station ?", "x"), Example("Hello there", "y")]
    assert overlap(train, [Example("where is the station?", "z")]) == 1


STANDALONE = """
import json, sys
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
folder, sources = sys.argv[1], json.loads(sys.argv[2])
model = AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
source_tok = AutoTokenizer.from_pretrained(folder)
target_tok = AutoTokenizer.from_pretrained(folder, subfolder="target_tokenizer")
out = []
for text in sources:  # one at a time: no padding
    ids = model.generate(**source_tok([text], return_tensors="pt"), max_new_tokens=40)[0].tolist()
    out.append({"text": target_tok.decode(ids, skip_special_tokens=True).strip(), "ids": ids})
assert not [m for m in sys.modules if m == "curation" or m.startswith("curation.")]
print(json.dumps({"model": type(model).__name__, "out": out}))
"""


def test_a_trained_folder_loads_and_translates_with_transformers_alone(files, tiny_model):
    import subprocess
    import sys

    config = _config(files, tiny_model)
    args = ["--data", str(files / "train.tsv"), "--test", str(files / "test.tsv"), "--config", config]
    result = _run(*args, "--output", str(files / "m"))
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in (files / "m" / "translations.tsv").read_text().splitlines()[1:]][:8]
    done = subprocess.run(
        [sys.executable, "-c", STANDALONE, str(files / "m"), json.dumps([r[0] for r in rows])],
        capture_output=True,
        text=True,
        cwd=files,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.splitlines()[-1])
    assert answer["model"] == "EncoderDecoderModel"
    assert [o["text"] for o in answer["out"]] == [r[2] for r in rows]  # what curation evaluated, token for token
    for o in answer["out"]:  # generate's no_repeat_ngram_size=3 travels with the folder
        trigrams = [tuple(o["ids"][i : i + 3]) for i in range(len(o["ids"]) - 2)]
        assert len(trigrams) == len(set(trigrams)), o


def test_a_folder_of_the_hand_written_decoder_still_loads(files, tiny_model):
    """Folders written before the recipe became an EncoderDecoderModel: decoder.safetensors + tokenizer.json."""
    import dataclasses

    import torch
    from safetensors.torch import save_file

    from curation.finetune.bases import load
    from curation.finetune.e5_decoder import train_tokenizer
    from curation.finetune.legacy import Decoder

    settings = FinetuneConfig(**(SMALL | {"encoder": str(tiny_model)}))
    folder = files / "old"
    folder.mkdir()
    tok = train_tokenizer([t for _, t in GOOD], settings.vocab_size)
    tok.save(str(folder / "tokenizer.json"))
    torch.manual_seed(0)
    decoder = Decoder(tok.get_vocab_size(), 32, settings.d_model, settings.decoder_layers, settings.heads, 0.1)
    save_file(decoder.state_dict(), folder / "decoder.safetensors")
    meta = {"kind": "e5-decoder", "settings": dataclasses.asdict(settings)}
    (folder / "finetune.json").write_text(json.dumps(meta), encoding="utf-8")
    translator = load(folder)
    out = translator.translate([s for s, _ in GOOD[:3]])
    assert len(out) == 3 and all(isinstance(o, str) for o in out)


def test_no_trigram_is_generated_twice_by_the_earlier_decoder():
    import torch

    from curation.finetune.legacy import _block_repeated_trigrams

    out = torch.tensor([[1, 5, 6, 7, 5, 6]])  # "5 6" was followed by 7 once: 7 is ruled out now
    logits = torch.zeros(1, 10)
    _block_repeated_trigrams(out, logits)
    assert logits[0, 7] == float("-inf") and torch.isfinite(logits[0, [0, 1, 2, 3, 4, 5, 6, 8, 9]]).all()


def test_compare_trains_every_arm_and_writes_the_report(files, tiny_model):
    copies = [(f"{s} ({i})", f"{s} ({i})") for i in range(20) for s, _ in GOOD]
    write_tsv(files / "copies.tsv", ["source", "target"], copies)
    config = _config(files, tiny_model)
    out = files / "compare"
    args = ["compare", "--arm", f"clean={files / 'train.tsv'}", "--arm", f"copies={files / 'copies.tsv'}"]
    args += ["--test", str(files / "test.tsv"), "--output", str(out), "--config", config, "--seeds", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["arms"]) == {"clean", "copies"}
    assert set(summary["arms"]["clean"]) >= {"chrf", "chrf_sd", "bleu", "pairs", "copy_rate", "off_target_rate"}
    assert 0 <= summary["differences"]["clean-copies"]["p"] <= 1
    assert sorted(p.name for p in (out / "models").iterdir()) == [
        "clean-seed0",
        "clean-seed1",
        "copies-seed0",
        "copies-seed1",
    ]
    assert (out / "chrf.png").stat().st_size > 0 and (out / "curves.png").stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "| clean-copies |" in report and GOOD[0][0] in report
    assert "| arm | pairs | chrF2 | sd | BLEU | length ratio | empty | copies the source | not Spanish |" in report
    # the same command again keeps every finished run (same data and settings) and writes the same summary
    stamps = {p: p.stat().st_mtime_ns for p in (out / "models").rglob("*.safetensors")}
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert again.output.count("kept from the earlier run") == 4 and "training on" not in again.output
    assert {p: p.stat().st_mtime_ns for p in (out / "models").rglob("*.safetensors")} == stamps
    assert json.loads((out / "summary.json").read_text())["arms"] == summary["arms"]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--arm", "a=x.tsv"], "at least two"),
        (["--arm", "a=x.tsv", "--arm", "a=y.tsv"], "given twice"),
        (["--arm", "a=x.tsv", "--arm", "a =y.tsv"], "given twice"),
        (["--arm", "en/es=x.tsv", "--arm", "b=y.tsv"], "becomes a folder name"),
        (["--arm", "ax.tsv", "--arm", "b=y.tsv"], "NAME=PATH"),
        (["--export", "outputs/curated"], "go together"),
    ],
)
def test_compare_arms_are_checked_before_any_work(tmp_path, args, expected):
    out = tmp_path / "compare"
    result = CliRunner().invoke(main, ["compare", *args, "--test", "nowhere.tsv", "--output", str(out)])
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 1 and len(errors) == 1 and expected in errors[0], result.output
    assert not out.exists()


def _export_folder(folder, pairs, rejected):
    """A folder shaped as `curation export` writes it (data/train.parquet, data/validation.parquet, rejected.jsonl)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (folder / "data").mkdir(parents=True)
    for split, rows in (("train", pairs), ("validation", pairs[:3])):
        table = pa.table({"source": [s for s, _ in rows], "target": [t for _, t in rows]})
        pq.write_table(table, folder / "data" / f"{split}.parquet")
    lines = [json.dumps({"source": s, "target": t, "category": "judged bad"}) for s, t in rejected]
    (folder / "rejected.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_compare_builds_its_arms_from_an_export_and_the_export_card_shows_them(files, tiny_model):
    from curation.export.card import comparison_for, comparison_lines
    from curation.export.select import Selection

    curated = [(f"{s} ({i})", f"{t} ({i})") for i in range(10) for s, t in GOOD]
    copies = [(f"{s} <{i}>", f"{s} <{i}>") for i in range(10) for s, _ in GOOD]
    export = files / "outputs" / "curated"
    _export_folder(export, curated, copies)
    write_tsv(files / "raw.tsv", ["source", "target"], curated + copies)
    write_tsv(files / "validation.tsv", ["source", "target"], [(f"{s} {{v}}", f"{t} {{v}}") for s, t in GOOD])
    out = files / "outputs" / "compare"
    args = ["compare", "--export", str(export), "--raw", str(files / "raw.tsv"), "--test", str(files / "test.tsv")]
    args += ["--output", str(out), "--config", _config(files, tiny_model), "--seeds", "1"]
    args += ["--validation", str(files / "validation.tsv")]  # every arm trains on all its pairs
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["arms"]) == ["curated", "raw", "random", "rejected"]
    assert {k: a["pairs"] for k, a in summary["arms"].items()} == {
        "curated": len(curated),
        "raw": len(curated) + len(copies),
        "random": len(curated),
        "rejected": len(copies),
    }
    random_rows = (out / "arms" / "random.tsv").read_text().splitlines()[1:]
    assert len(random_rows) == len(curated) and set(random_rows) <= {f"{s}\t{t}" for s, t in curated + copies}
    assert list(summary["differences"]) == ["curated-raw", "curated-random", "curated-rejected"]
    assert summary["export"]["path"] == str(export.resolve())

    # the next export to that folder puts the comparison on its card, while it holds the same training pairs
    rows = [{"source": s, "target": t, "split": "train"} for s, t in curated]
    said = []
    same = comparison_for(export, Selection(rows, [], {}), str(files / "outputs"), log=said.append)
    card = "\n".join(comparison_lines(same))
    assert "## Does curation pay?" in card and "| curated-raw |" in card and "| rejected (too weak to judge) |" in card
    changed = Selection(rows[1:], [], {})
    assert comparison_for(export, changed, str(files / "outputs"), log=said.append) is None
    assert len(said) == 1 and "other pairs than this export now holds" in said[0]
    assert comparison_for(files / "elsewhere", Selection(rows, [], {}), str(files / "outputs")) is None
