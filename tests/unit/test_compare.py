"""`curation compare` and `curation finetune` as a new user meets them: every arm checked before the first step,
Ctrl-C keeps the finished runs and the same command resumes, paths that cannot be written are one line naming the
user's path, and a report that does not mislead (spread only with two seeds, models too weak to judge marked, empty
outputs shown)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from finetune_data import _config, write_files
from hub_recorder import RecordingApi
from tiny_model import GOOD

from curation.cli import main
from curation.files import write_tsv
from curation.finetune import compare as compare_module
from curation.finetune.evaluate import evaluate
from curation.finetune.report import ArmResult, differences, repeats, report


@pytest.fixture
def files(tmp_path):
    return write_files(tmp_path)


def _errors(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("Error:")]


def _compare(files, tiny_model, *extra, arms=("clean=train.tsv", "copies=copies.tsv"), seeds="1"):
    copies = [(f"{s} ({i})", f"{s} ({i})") for i in range(20) for s, _ in GOOD]
    write_tsv(files / "copies.tsv", ["source", "target"], copies)
    args = ["compare", "--test", str(files / "test.tsv"), "--output", str(files / "cmp"), "--seeds", seeds]
    for arm in arms:
        name, _, path = arm.partition("=")
        args += ["--arm", f"{name}={files / path}"]
    return CliRunner().invoke(main, [*args, "--config", _config(files, tiny_model), *extra])


@pytest.mark.parametrize(
    "case, expected",
    [
        ("empty arm", "arm late: "),
        ("overlapping arm", "also in --test"),
        ("missing base", "does not exist"),
    ],
)
def test_every_arm_and_the_base_are_checked_before_the_first_step(files, tiny_model, case, expected, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    trained = []
    monkeypatch.setattr(compare_module, "finetune", lambda *a, **k: trained.append(a) or pytest.fail("trained"))
    (files / "empty.tsv").write_text("source\ttarget\n", encoding="utf-8")
    late = {"empty arm": ("late=empty.tsv",), "overlapping arm": ("late=test.tsv",)}.get(case, ())
    base = ["--base-model", "./no-such-model"] if case == "missing base" else []
    result = _compare(files, tiny_model, *base, arms=("clean=train.tsv", "copies=copies.tsv", *late))
    assert result.exit_code == 1 and len(_errors(result)) == 1 and expected in _errors(result)[0], result.output
    assert not trained and not (files / "cmp").exists()


def test_finetune_with_a_base_model_path_that_does_not_exist_is_one_line(files, tiny_model):
    args = ["finetune", "--data", str(files / "train.tsv"), "--test", str(files / "test.tsv")]
    args += ["--output", str(files / "m"), "--config", _config(files, tiny_model), "--base-model", "./no-such-model"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and len(_errors(result)) == 1, result.output
    assert "./no-such-model does not exist" in _errors(result)[0] and "Traceback" not in result.output


@pytest.mark.parametrize("command", ["finetune", "compare"])
def test_an_output_the_system_refuses_is_named_as_the_user_wrote_it(files, tiny_model, command):
    config = _config(files, tiny_model)
    if command == "finetune":
        args = ["finetune", "--data", str(files / "train.tsv"), "--test", str(files / "test.tsv")]
    else:
        args = ["compare", "--arm", f"a={files / 'train.tsv'}", "--arm", f"b={files / 'train.tsv'}"]
        args += ["--test", str(files / "test.tsv")]
    result = CliRunner().invoke(main, [*args, "--output", "/proc/x", "--config", config])
    errors = _errors(result)
    assert result.exit_code == 1 and len(errors) == 1, result.output
    assert "/proc/x" in errors[0] and "/proc/." not in errors[0] and "preparing" not in result.output, errors[0]


def test_ctrl_c_keeps_the_finished_runs_and_the_same_command_trains_only_the_rest(files, tiny_model, monkeypatch):
    real = compare_module.finetune
    calls = []

    def interrupted_third(*args, **kwargs):
        calls.append(args[2].name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(compare_module, "finetune", interrupted_third)
    first = _compare(files, tiny_model, seeds="2")
    assert first.exit_code == 1 and "Traceback" not in first.output, first.output
    assert "stopped by Ctrl-C after 2 of 4 runs" in _errors(first)[0] and "run the same command again" in first.output
    out = files / "cmp"
    assert sorted(p.name for p in (out / "models").iterdir()) == ["clean-seed0", "clean-seed1"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and summary["missing"] == ["copies-seed0", "copies-seed1"]
    assert list(summary["arms"]) == ["clean"] and "Not complete" in (out / "report.md").read_text()

    monkeypatch.setattr(compare_module, "finetune", real)
    again = _compare(files, tiny_model, seeds="2")
    assert again.exit_code == 0, again.output
    assert again.output.count("kept from the earlier run") == 2 and again.output.count("training on") == 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is True and set(summary["arms"]) == {"clean", "copies"}

    # other settings: the runs are trained again, not mistaken for the earlier ones
    text = (files / "config.yaml").read_text().replace("steps: 12", "steps: 6")
    (files / "config.yaml").write_text(text, encoding="utf-8")
    args = ["compare", "--test", str(files / "test.tsv"), "--output", str(out), "--seeds", "2"]
    args += ["--arm", f"clean={files / 'train.tsv'}", "--arm", f"copies={files / 'copies.tsv'}"]
    changed = CliRunner().invoke(main, [*args, "--config", str(files / "config.yaml")])
    assert changed.exit_code == 0 and changed.output.count("training on") == 4, changed.output


def test_a_folder_that_is_not_a_comparison_is_refused(files, tiny_model):
    (files / "cmp").mkdir()
    (files / "cmp" / "mine.txt").write_text("keep me")
    result = _compare(files, tiny_model)
    assert result.exit_code == 1 and "is not a folder `curation compare` wrote" in _errors(result)[0]
    assert (files / "cmp" / "mine.txt").read_text() == "keep me"


def test_a_report_between_broken_models_says_so_and_hides_nothing():
    test = [type("P", (), {"source": f"Source {i}.", "target": f"Destino número {i}."})() for i in range(4)]
    references = [p.target for p in test]
    broken = ArmResult("curated", "c.tsv")
    empty = ArmResult("raw", "r.tsv")
    for arm, outputs in ((broken, ["de de de", "de de de", "de de de", "de la"]), (empty, ["", "", "", "Destino"])):
        history = [{"step": 6, "validation_loss": 3.0}]
        arm.add(evaluate(outputs, [p.source for p in test], references), outputs, history, 10)
    results = {"curated": broken, "raw": empty}
    assert broken.weak() and empty.weak()
    summary = {
        "seeds": 1,
        "test": "t.tsv",
        "test_pairs": 4,
        "settings": {"seed": 0, "eval_every": 50},
        "arms": {n: a.summary() for n, a in results.items()},
        "differences": differences(results, references, samples=100),
    }
    assert summary["arms"]["curated"]["chrf_sd"] is None and summary["differences"]["curated-raw"]["too_weak"]
    text = report(summary, results, test)
    assert "curated (**too weak to judge**)" in text and "raw (**too weak to judge**)" in text
    assert "75% of outputs empty" in text and "repeat themselves" in text
    assert "1 seed, spread not measured" in text and "| — |" in text
    assert "between models too weak to judge" in text
    assert "| (empty) |" in text and "| 0." in text  # empty outputs shown, the length ratio in the table
    assert "fewer than two validation points" in text


def test_repetition_is_told_from_ordinary_sentences():
    assert repeats("de de de") and repeats("el la el la el la")
    assert not repeats("El museo abre a las nueve.") and not repeats("no, no es eso")


def test_push_to_hub_sends_a_model_repo_with_its_card_and_checks_the_token_first(files, tiny_model, monkeypatch):
    import huggingface_hub
    import yaml

    RecordingApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    args = ["finetune", "--data", str(files / "train.tsv"), "--test", str(files / "test.tsv")]
    args += ["--config", _config(files, tiny_model), "--push-to-hub", "me/en-es-translator"]
    monkeypatch.delenv("HF_TOKEN", raising=False)
    refused = CliRunner().invoke(main, [*args, "--output", str(files / "m0")])
    assert refused.exit_code == 1 and "--push-to-hub needs a Hugging Face token" in _errors(refused)[0]
    assert not (files / "m0").exists() and "training" not in refused.output

    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    result = CliRunner().invoke(main, [*args, "--output", str(files / "m")])
    assert result.exit_code == 0, result.output
    assert "pushed to the Hub: https://huggingface.co/me/en-es-translator/commit/1" in result.output
    calls = RecordingApi.calls
    assert calls[0] == ("init", "hf_test_token")
    assert calls[1] == ("create_repo", "me/en-es-translator", "model", True, True)  # private unless --public
    _, repo, kind, sent, delete = calls[2]
    assert repo == "me/en-es-translator" and kind == "model" and "*.safetensors" in delete
    expected = {"README.md", "config.json", "generation_config.json", "model.safetensors.index.json"}
    expected |= {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "tokenizer.json"}
    expected |= {"target_tokenizer/tokenizer.json", "metrics.json", "finetune.json", "translations.tsv"}
    assert expected <= set(sent), sent
    card = (files / "m" / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    metrics = json.loads((files / "m" / "metrics.json").read_text())["evaluation"]
    scores = {m["type"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert scores == {"chrf": metrics["chrf"], "bleu": metrics["bleu"]}
    assert meta["library_name"] == "transformers" and "AutoModelForSeq2SeqLM.from_pretrained" in card


def test_the_preparing_bar_ends_full_when_sources_were_encoded_before(tiny_model):
    """The second arm of a comparison finds most sources in the shared cache: its bar still reaches its total."""
    from curation.finetune.e5_decoder import Encoder

    encoder = Encoder.load(str(tiny_model), 2)
    first, second = [s for s, _ in GOOD[:10]], [s for s, _ in GOOD[5:]]
    counted = []
    encoder.states(first, 32, progress=counted.append)
    assert sum(counted) == len(set(first))
    counted.clear()
    encoder.states(second, 32, progress=counted.append)
    assert sum(counted) == len(set(second))  # 5 from the cache, 6 encoded now


def test_an_e5_folder_as_the_base_of_another_training_is_one_line(files, tiny_model):
    args = ["finetune", "--data", str(files / "train.tsv"), "--test", str(files / "test.tsv")]
    args += ["--config", _config(files, tiny_model)]
    assert CliRunner().invoke(main, [*args, "--output", str(files / "m")]).exit_code == 0
    again = CliRunner().invoke(main, [*args, "--output", str(files / "m2"), "--base-model", str(files / "m")])
    assert again.exit_code == 1 and "is an e5-decoder folder" in _errors(again)[0] and not (files / "m2").exists()
