"""The benchmark times what it says it times: the configuration it names, built from conf/, with
figures that fit inside the wall-clock time of the call and a data size that matches the files."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hydra.utils import instantiate

from signlang.bench.speed import GRU_SIZES, bench_config, gru_comparison, measure, report_scaling, scaling_configs


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    return fn(*args, **kwargs), time.perf_counter() - start


def test_the_benchmarked_configuration_is_the_one_it_names(npz_root):
    transformer = instantiate(
        bench_config("transformer", "memory", str(npz_root), "cpu", False, False, 6, 2, 32, None).model
    )
    assert (transformer.norm.normalized_shape[0], len(transformer.layers), transformer.features.hands) == (
        256,
        4,
        False,
    )
    cfg = bench_config("iv3_gru", "mmap", str(npz_root), "cpu", False, False, 6, 2, 16, None)
    assert [g.hidden_size for g in instantiate(cfg.model).grus] == [16, 12]
    assert (cfg.data.cache, cfg.data.feature_dtype, cfg.data.batch_size, cfg.transform.augment) == (
        "mmap",
        "float16",
        16,
        None,
    )


@pytest.mark.parametrize("model,cache", [("transformer", "memory"), ("iv3_gru", "mmap"), ("iv3_gru", "none")])
def test_measure_reports_figures_the_wall_clock_and_the_files_agree_with(npz_root, model, cache):
    row, wall = timed(measure, model, cache, str(npz_root), num_gloss=6, num_cat=2)
    # three timed training rounds (the minimum is reported), two pure-compute passes: all inside the call
    assert 3 * row["train_epoch_s"] + 2 * row["compute_s"] < wall
    assert row["epoch_s"] >= row["train_epoch_s"]  # plus validation
    assert 0 <= row["data_wait"] < 1 and 0 <= row["padding_bucketed"] <= row["padding_plain"] < 1
    frames = sum(
        len(np.load(f)["X"]) for split in ("train", "val") for f in (npz_root / f"keypoints_{split}").glob("*.npz")
    )
    width, size = (156, 4) if model == "transformer" else (2048, 2)  # float32 keypoints, float16 features
    assert row["data_mb"] == pytest.approx(frames * width * size / 2**20)
    assert row["peak_rss_mb"] >= row["rss_after_load_mb"]
    assert (row["workers"] >= 1) if cache == "none" else row["workers"] == 0


def test_gru_comparison_covers_every_layer_signlang_builds():
    rows, wall = timed(gru_comparison, batch=2, steps=5, repeats=1)
    assert [(r["input"], r["hidden"]) for r in rows] == [
        (width if i == 0 else sizes[i - 1], hidden) for width, sizes in GRU_SIZES for i, hidden in enumerate(sizes)
    ]
    assert sum(r["nn_gru_ms"] + r["hand_ms"] for r in rows) / 1000 < wall


def test_scaling_grid_runs_on_this_device_with_static_shapes(npz_root, capsys):
    configs = scaling_configs(["transformer"], str(npz_root), "cpu", [8])
    grid = [(c["amp"], c["compile_model"], c["pad_to"]) for c in configs]
    assert grid == [
        (False, False, None),
        (False, "reduce-overhead", 16),
        (True, False, None),
        (True, "reduce-overhead", 16),
    ]
    row, wall = timed(measure, **{**configs[0], "num_gloss": 6, "num_cat": 2})  # eager fp32: the CPU part of the grid
    assert row["batch_size"] == 8 and 3 * row["train_epoch_s"] < wall
    assert row["peak_gpu_mb"] is None and row["kernel_share"] is None  # GPU figures only on a GPU
    report_scaling([row])
    assert "scaling" in capsys.readouterr().out


def test_peak_rss_is_the_process_own_not_its_parents():
    """A child's peak memory is its own even when its parent once held much more (Linux carries
    ``ru_maxrss`` over fork + exec; the benchmark's parent holds the generated data)."""
    import subprocess
    import sys

    import numpy as np

    from signlang.bench.memory import peak_rss_mb

    held = np.ones(300 * 2**20 // 8)  # 300 MiB, touched: the parent's peak is at least torch + 300 MiB
    parent = peak_rss_mb()
    code = "from signlang.bench.memory import peak_rss_mb; print(peak_rss_mb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert 0 < child < parent - 250
    del held
