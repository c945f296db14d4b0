"""The benchmark runs end to end on a tiny dataset (its figures are for the README, not asserted)."""

from __future__ import annotations

import pytest

from signlang.bench import measure


@pytest.mark.parametrize("model,cache", [("transformer", "memory"), ("iv3_gru", "mmap"), ("iv3_gru", "none")])
def test_measure_reports_every_figure(npz_root, model, cache):
    row = measure(model, cache, str(npz_root), num_gloss=6, num_cat=2)
    for key in ("train_samples_per_s", "train_epoch_s", "epoch_s", "data_wait", "compute_s", "epoch_over_compute",
                "padding_plain", "padding_bucketed", "peak_rss_mb", "data_mb"):  # fmt: skip
        assert row[key] >= 0, key
    assert row["padding_bucketed"] <= row["padding_plain"]
    assert (row["workers"] >= 1) if cache == "none" else row["workers"] == 0
