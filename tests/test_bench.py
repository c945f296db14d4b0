"""The benchmark runs end to end on a tiny dataset and its figures hang together (the figures
themselves are for the README, not asserted)."""

from __future__ import annotations

import pytest

from signlang.bench.speed import GRU_SIZES, gru_comparison, measure, report_scaling, scaling_configs


@pytest.mark.parametrize("model,cache", [("transformer", "memory"), ("iv3_gru", "mmap"), ("iv3_gru", "none")])
def test_measure_reports_consistent_figures(npz_root, model, cache):
    row = measure(model, cache, str(npz_root), num_gloss=6, num_cat=2)
    assert row["train_samples_per_s"] == pytest.approx(24 / row["train_epoch_s"])  # 24 training clips
    assert row["epoch_s"] > row["train_epoch_s"] > 0 and row["compute_s"] > 0
    assert row["epoch_over_compute"] == pytest.approx(row["train_epoch_s"] / row["compute_s"])
    assert 0 <= row["data_wait"] < 1 and 0 <= row["padding_bucketed"] <= row["padding_plain"] < 1
    assert row["peak_rss_mb"] >= row["rss_after_load_mb"] > 0 and row["data_mb"] > 0
    assert (row["workers"] >= 1) if cache == "none" else row["workers"] == 0


def test_gru_comparison_covers_every_layer_signlang_builds():
    rows = gru_comparison(batch=2, steps=5, repeats=1)
    assert [(r["input"], r["hidden"]) for r in rows][::2] == [(w, h[0]) for w, h in GRU_SIZES]
    assert all(
        r["nn_gru_ms"] > 0 and r["hand_ms"] > 0 and r["speedup"] == pytest.approx(r["nn_gru_ms"] / r["hand_ms"])
        for r in rows
    )


def test_scaling_grid_runs_on_this_device_with_static_shapes(npz_root, capsys):
    configs = scaling_configs(["transformer"], str(npz_root), "cpu", [8])
    assert [(c["amp"], c["compile_model"], c["pad_to"]) for c in configs] == [
        (False, False, None),
        (False, "reduce-overhead", 16),
        (True, False, None),
        (True, "reduce-overhead", 16),
    ]
    row = measure(**{**configs[0], "num_gloss": 6, "num_cat": 2})  # eager fp32 at batch 8: the CPU part of the grid
    assert row["batch_size"] == 8 and row["train_samples_per_s"] == pytest.approx(24 / row["train_epoch_s"])
    assert row["peak_gpu_mb"] is None and row["kernel_share"] is None  # GPU figures only on a GPU
    report_scaling([row])
    assert "scaling" in capsys.readouterr().out


def test_peak_rss_is_the_process_own_not_its_parents():
    """A child's peak memory is its own even when its parent once held much more (Linux carries
    ``ru_maxrss`` over fork + exec; the benchmark's parent holds the generated data)."""
    import subprocess
    import sys

    import numpy as np

    from signlang.bench.speed import peak_rss_mb

    held = np.ones(300 * 2**20 // 8)  # 300 MiB, touched: the parent's peak is at least torch + 300 MiB
    parent = peak_rss_mb()
    code = "from signlang.bench.speed import peak_rss_mb; print(peak_rss_mb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert 0 < child < parent - 250
    del held
