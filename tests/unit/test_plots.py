"""The pictures in the reports: calibration only with enough pairs per bin, no empty panel, dedup in the drops."""

from __future__ import annotations

import numpy as np
from PIL import Image

from curation.model import plots


def test_calibration_uses_equal_size_bins_of_ten_or_draws_nothing(tmp_path):
    rng = np.random.default_rng(0)
    assert plots.calibration_plot(rng.random(25), rng.integers(0, 2, 25), tmp_path / "few.png") is None
    assert not (tmp_path / "few.png").exists()  # 2 bins of 10+ pairs say nothing: no plot
    assert [n for *_, n in plots.calibration_bins(rng.random(45), rng.integers(0, 2, 45))] == [12, 11, 11, 11]
    points = plots.calibration_bins(np.linspace(0, 1, 500), np.r_[np.zeros(250), np.ones(250)])
    assert [n for *_, n in points] == [50] * 10 and [p for _, p, _ in points] == [0.0] * 5 + [1.0] * 5
    assert plots.calibration_plot(rng.random(45), rng.integers(0, 2, 45), tmp_path / "c.png") == tmp_path / "c.png"


def test_the_score_histogram_has_no_empty_panel(tmp_path):
    oof, labels = np.linspace(0, 1, 40), np.r_[np.zeros(20), np.ones(20)]
    one = plots.histogram_plot(oof, labels, [], (0.8, 0.2), tmp_path / "one.png")
    two = plots.histogram_plot(oof, labels, np.linspace(0, 1, 9), (0.8, None), tmp_path / "two.png")
    assert Image.open(one).size[1] < Image.open(two).size[1]  # judged only: one panel; with unjudged: two


def test_the_drops_chart_counts_dedup_next_to_the_filters(tmp_path, monkeypatch):
    shown = {}
    real = plots._pyplot

    def spy():
        plt = real()
        original = plt.Axes.barh

        def barh(self, names, values, **kw):
            shown.update(zip(names, values, strict=True))
            return original(self, names, values, **kw)

        monkeypatch.setattr(plt.Axes, "barh", barh)
        return plt

    monkeypatch.setattr(plots, "_pyplot", spy)
    filters = {"filters": {"length": {"dropped": 3}, "urls": {"dropped": 1}}, "dedup": {"duplicate target": 12}}
    assert plots.drops_plot(filters, tmp_path / "drops.png")
    assert shown == {"length": 3, "urls": 1, "dedup: duplicate target": 12}
