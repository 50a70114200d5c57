"""Every config value is checked when the config is read, before any work: one line with the key, the value and
what is allowed."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from curation.cli import main
from curation.config import Config, ConfigError

BAD = [
    ({"argilla": {"batch_size": 0}}, "argilla.batch_size must be a whole number of at least 1, not 0"),
    ({"argilla": {"batch_size": -3}}, "argilla.batch_size must be a whole number of at least 1, not -3"),
    ({"argilla": {"batch_size": "abc"}}, "argilla.batch_size must be a whole number of at least 1, not 'abc'"),
    ({"argilla": {"vector_dimensions": -10}}, "argilla.vector_dimensions must be a whole number from 2 to 4,096"),
    ({"argilla": {"vector_dimensions": 500000000}}, "argilla.vector_dimensions must be a whole number from 2 to 4,096"),
    ({"dedup": {"num_perm": 100000000}}, "dedup.num_perm must be a whole number from 2 to 1,024, not 100000000"),
    ({"argilla": {"workspace": "../x"}}, "argilla.workspace must be a name of letters, digits, - and _ (at most 100)"),
    ({"argilla": {"dataset": "d" * 300}}, "argilla.dataset must be a name of letters, digits, spaces, ., - and _"),
    ({"filters": [{"length": {"min_chars": 50, "max_chars": 10}}]}, "filter 'length': min_chars (50) is above"),
    ({"argilla": {"min_submitted": -1}}, "argilla.min_submitted must be a whole number of at least 1, not -1"),
    ({"argilla": {"vectors": "yes"}}, "argilla.vectors must be true or false, not 'yes'"),
    ({"train": {"folds": 1}}, "train.folds must be a whole number of at least 2, not 1"),
    ({"train": {"device": "gpu"}}, "train.device must be auto, cpu, cuda, cuda:N or mps, not 'gpu'"),
    ({"train": {"target_precision": 0}}, "train.target_precision must be a number above 0, at most 1, not 0"),
    ({"train": {"suggest_min_auc": 1.5}}, "train.suggest_min_auc must be a number from 0 to 1, not 1.5"),
    ({"train": {"batch_size": 0}}, "train.batch_size must be a whole number of at least 1 or null, not 0"),
    ({"train": {"regularisation": -1}}, "train.regularisation must be a number above 0, not -1"),
    ({"export": {"validation": 1}}, "export.validation must be a number from 0 up to (not including) 1, not 1"),
    ({"workers": 0}, "workers must be a whole number of at least 1 or null, not 0"),
    ({"pii": "no"}, "pii must be true or false, not 'no'"),
]


@pytest.mark.parametrize(("raw", "message"), BAD)
def test_a_bad_value_is_one_error_naming_the_key_the_value_and_what_is_allowed(tmp_path, raw, message):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as caught:
        Config.load(path)
    assert str(caught.value).startswith(message)
    assert len(str(caught.value)) < 200  # a huge value is cut, its length said


def test_the_defaults_pass_and_a_bad_value_stops_setup_before_any_work(tmp_path, monkeypatch):
    Config()  # every default is allowed
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text("argilla:\n  batch_size: 0\n")
    result = CliRunner().invoke(main, ["setup", "--config", "config.yaml", "--dry-run"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: argilla.batch_size must be a whole number of at least 1, not 0"
    assert not (tmp_path / "outputs").exists()  # nothing was cleaned or written


def test_the_readme_config_block_is_the_defaults(tmp_path):
    """The README's annotated config is what `Config()` holds: every key, every default, the filters in order."""
    import dataclasses
    import re
    from pathlib import Path

    from curation.clean.filters import REGISTRY

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(input:.*?)```", readme, re.S).group(1)
    documented = yaml.safe_load(block)
    defaults = Config().to_dict()
    filters = documented.pop("filters")
    assert defaults.pop("filters") is None  # None: every filter with its defaults, in registry order
    assert documented == defaults
    entries = [next(iter(e.items())) if isinstance(e, dict) else (e, {}) for e in filters]
    assert [name for name, _ in entries] == list(REGISTRY)
    for name, params in entries:
        own = {f.name: f.default for f in dataclasses.fields(REGISTRY[name])}
        assert params == {k: v for k, v in own.items() if k in params}, name  # what it shows is the default
    path = tmp_path / "config.yaml"
    path.write_text(block, encoding="utf-8")
    assert Config.load(path).to_dict() | {"filters": None} == Config().to_dict()  # and it loads as it stands


def test_flags_over_the_config_are_checked_like_the_config_and_none_keeps_its_value():
    config = Config()
    config.argilla.dataset = "from-the-file"
    out = config.with_overrides(**{"argilla.dataset": None, "argilla.workspace": "flag", "train.device": "cpu"})
    assert (out.argilla.dataset, out.argilla.workspace, out.train.device) == ("from-the-file", "flag", "cpu")
    assert config.argilla.workspace == "curation"  # a copy: the config itself is unchanged
    with pytest.raises(ConfigError, match="train.device must be auto, cpu, cuda, cuda:N or mps, not 'gpu'"):
        config.with_overrides(**{"train.device": "gpu"})
    with pytest.raises(ConfigError, match="unknown config key argilla.datset"):
        config.with_overrides(**{"argilla.datset": "x"})


def test_config_rejects_unknown_keys_and_reads_sections(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("input:\n  path: x.tsv\n  sourcecolumn: en\n")
    with pytest.raises(ConfigError, match="unknown config key input.sourcecolumn: input takes .*source_column"):
        Config.load(path)
    path.write_text("argilla:\n  dataset: d\n  min_submitted: 2\nfilters:\n  - empty\n  - length: {max_chars: 50}\n")
    config = Config.load(path)
    assert config.argilla.dataset == "d" and config.argilla.min_submitted == 2
    assert config.filter_entries() == [("empty", {}), ("length", {"max_chars": 50})]
    path.write_text("colour: blue\n")
    with pytest.raises(ConfigError, match="unknown config key colour"):
        Config.load(path)
    with pytest.raises(ConfigError, match="does not exist"):
        Config.load(tmp_path / "nope.yaml")
    path.write_text("dedup: {memory_mb: 0}\n")
    with pytest.raises(ConfigError, match="dedup.memory_mb must be a positive number of megabytes or null, not 0"):
        Config.load(path)
    path.write_text("dedup: {near_threshold: 80}\n")
    with pytest.raises(ConfigError, match="dedup.near_threshold must be a number in"):
        Config.load(path)
    path.write_text("dedup: {memory_mb: null, near_threshold: null}\n")
    assert Config.load(path).dedup.memory_mb is None
