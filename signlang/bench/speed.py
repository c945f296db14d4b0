"""Training-speed benchmark on FSL-105-sized data: ``python -m signlang.bench``.

Writes (or reuses, with ``--data-dir``) 1,704 train / 426 val clips in the seed layout (T uniform
in 80-160; ``X``, ``mask`` and ``X2048`` in compressed .npz files, as the extraction pipeline writes
them), then for each model and ``data.cache`` mode trains one epoch in a fresh process and prints:
train samples/s, train and full (train + val) epoch time, the share of step time spent waiting for
data, the pure model compute on the same batches (forward, backward, optimizer step, batches
already on the device), padded positions with and without length bucketing, and peak RSS.

The IV3-GRU runs at the reference's hidden sizes (16/12), with float16 feature storage; the
transformer at 4 layers, d=256 (``MODEL_OVERRIDES``). Everything else is built from ``conf/`` and set
up by ``Trainer.prepare``, as a training run is.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table
from torch.profiler import ProfilerActivity, profile

from signlang.bench.memory import peak_rss_mb
from signlang.core.paths import CONF_DIR
from signlang.data.loader import BatchSampler, padding_fraction
from signlang.data.synthetic import generate_split, make_glosses, write_npz_split
from signlang.models.gru_layer import HAND_GRU_MAX_HIDDEN, gru_layer
from signlang.runs.folder import RunFolder, register_resolvers

TRAIN, VAL = 1704, 426
NUM_GLOSS, NUM_CAT = 105, 10


def write_data(root: Path, workers: int = 4) -> Path:
    """FSL-105-sized synthetic clips in the seed layout (skipped when ``root`` already holds them)."""
    if (root / "val_labels.csv").exists() and len(list((root / "keypoints_val").glob("*.npz"))) == VAL:
        return root
    glosses = make_glosses(NUM_GLOSS, NUM_CAT, seed=0)
    options = dict(seed=0, min_len=80, max_len=160, occlusion_rate=0.15, noise=0.004, features=True)
    for split, count in (("train", TRAIN), ("val", VAL)):
        clips = generate_split(glosses, -(-count // NUM_GLOSS), split=split, **options)[:count]
        chunks = [clips[i::workers] for i in range(workers)]
        with ThreadPoolExecutor(workers) as pool:  # zlib releases the GIL
            list(pool.map(lambda part, split=split: write_npz_split(root, split, part, write_labels=False), chunks))
        write_npz_split(root, split, clips, write_files=False)
    return root


def idle_torch_rss_mb() -> float:
    out = subprocess.run(
        [sys.executable, "-c", "import torch; from signlang.bench.memory import peak_rss_mb; print(peak_rss_mb())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


# What the benchmark trains: the models at the sizes its published figures were measured at (the
# transformer at 4 x 256 without hand views; the IV3-GRU at the reference's 16/12 on float16 features),
# without augmentation, built from conf/ exactly as run.py builds them.
MODEL_OVERRIDES = {
    "transformer": [
        "model=transformer",
        "data=keypoints",
        "model.d_model=256",
        "model.num_layers=4",
        "model.num_heads=8",
        "model.dim_feedforward=1024",
        "model.hands=false",
    ],
    "iv3_gru": ["model=iv3_gru", "data=features", "model.hidden_sizes=[16,12]", "data.feature_dtype=float16"],
}


def bench_config(
    model_name: str,
    cache: str,
    root: str,
    device: str,
    amp: bool,
    compile_model,
    num_gloss: int,
    num_cat: int,
    batch_size: int,
    pad_to: int | None,
) -> DictConfig:
    """The composed config of one benchmark configuration (``conf/``, as ``python run.py`` composes it)."""
    register_resolvers()
    overrides = [
        *MODEL_OVERRIDES[model_name],
        f"data.root={root}",
        f"data.num_gloss={num_gloss}",
        f"data.num_cat={num_cat}",
        f"data.batch_size={batch_size}",
        f"data.eval_batch_size={max(64, 2 * batch_size)}",
        f"data.cache={cache}",
        f"data.cache_dir={root}/.cache",
        f"data.pad_to={'null' if pad_to is None else pad_to}",
        "transform=none",
        "callbacks=none",
        "trainer.max_epochs=1",
        f"trainer.device={device}",
        f"trainer.amp={str(amp).lower()}",
        f"trainer.compile={str(compile_model).lower() if isinstance(compile_model, bool) else compile_model}",
        "optim.lr=1e-4",
        "scheduler=none",
    ]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=overrides)


def measure(
    model_name: str,
    cache: str,
    root: str,
    device: str = "cpu",
    amp: bool = False,
    compile_model: bool = False,
    threads: int | None = None,
    num_gloss: int = NUM_GLOSS,
    num_cat: int = NUM_CAT,
    batch_size: int = 32,
    pad_to: int | None = None,
    profile: bool = False,
) -> dict:
    """One configuration, in this process: train one epoch and time it against pure compute (and, with
    ``profile``, the share of a few steps' wall time the GPU spends in kernels). Data, model, trainer
    and optimizer come from the config and ``Trainer.prepare``, as in a training run."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = bench_config(model_name, cache, root, device, amp, compile_model, num_gloss, num_cat, batch_size, pad_to)
    started = time.perf_counter()
    data = instantiate(cfg.data, transform=instantiate(cfg.transform))
    data.setup()
    load_s = time.perf_counter() - started
    rss_load_mb = peak_rss_mb()
    trainer = instantiate(cfg.trainer, callbacks=[])
    with tempfile.TemporaryDirectory(prefix="signlang-bench-run-") as run_dir:
        fit = trainer.prepare(
            instantiate(cfg.model), data, instantiate(cfg.optim), instantiate(cfg.scheduler), RunFolder(run_dir)
        )
    train, loader = data.prepared("train"), fit.data.train

    def train_round(epoch: int) -> dict:
        stats = trainer.train_epoch(fit, epoch, len(loader))
        start = time.perf_counter()
        trainer.evaluate(fit.validated, fit.data.val, fit.dist)
        return {**stats, "val_s": time.perf_counter() - start}

    def pure_compute(epoch: int) -> float:
        """The same batches as that epoch, already on the device, with no loader in the loop."""
        fit.step_model.train()  # evaluate() left it in eval mode: dropout must run as in training
        loader.batch_sampler.set_epoch(epoch)
        total = 0.0
        batches = loader.batch_sampler.batches()
        for start in range(0, len(batches), 4):  # a few at a time: a whole epoch of features would not fit
            chunk = [train.batch(b).to(trainer.device) for b in batches[start : start + 4]]
            if trainer.device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for batch in chunk:
                trainer.train_step(fit.step_model, batch, fit.optimizer, fit.scaler)  # the very step training takes
            if trainer.device.type == "cuda":
                torch.cuda.synchronize()
            total += time.perf_counter() - t0
        return total

    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(trainer.device)
    train_round(1)  # warm-up: allocators, caches (and compilation)
    rounds = [train_round(epoch) for epoch in (2, 3)]
    peak_gpu_mb = torch.cuda.max_memory_allocated(trainer.device) / 2**20 if trainer.device.type == "cuda" else None
    on_gpu = profile and trainer.device.type == "cuda"
    kernel_share = kernel_time_share(trainer, fit.step_model, loader, fit.optimizer, fit.scaler) if on_gpu else None
    peak_rss = peak_rss_mb()  # training and validation only
    compute = min(pure_compute(epoch) for epoch in (2, 3))
    stats = min(rounds, key=lambda r: r["time_s"])  # min over rounds: the least disturbed measurement

    lengths, val = train.lengths, data.prepared("val")
    plain = BatchSampler(lengths, 32, shuffle=True, seed=0).batches()
    bucketed = BatchSampler(lengths, 32, shuffle=True, bucket=True, seed=0).batches()
    feature_bytes = int(lengths.sum() + val.lengths.sum()) * train.width * (2 if data.kind == "features" else 4)
    return {
        "model": model_name,
        "cache": cache,
        "device": str(trainer.device),
        "amp": trainer.amp,
        "compile": compile_model,
        "threads": torch.get_num_threads(),
        "workers": data.workers_for(data.split("train")),
        "load_s": load_s,
        "train_samples_per_s": len(train) / stats["time_s"],
        "train_epoch_s": stats["time_s"],
        "epoch_s": stats["time_s"] + stats["val_s"],
        "data_wait": stats["data_wait"],
        "compute_s": compute,
        "epoch_over_compute": stats["time_s"] / compute,
        "padding_plain": padding_fraction(lengths, plain),
        "padding_bucketed": padding_fraction(lengths, bucketed),
        "data_mb": feature_bytes / 2**20,
        "rss_after_load_mb": rss_load_mb,
        "peak_rss_mb": peak_rss,
        "batch_size": batch_size,
        "peak_gpu_mb": peak_gpu_mb,
        "kernel_share": kernel_share,
    }


def kernel_time_share(trainer, model, loader, optimizer, scaler, steps: int = 10) -> float:
    """Share of the wall time of ``steps`` training steps (loader included) that the GPU spends running
    kernels (``torch.profiler``): how far the step is from being bound by the hardware."""
    loader.batch_sampler.set_epoch(4)
    batches = iter(loader)
    model.train()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        for _ in range(min(steps, len(loader))):
            trainer.train_step(model, next(batches).to(trainer.device, non_blocking=True), optimizer, scaler)
        torch.cuda.synchronize()
        wall = time.perf_counter() - start
    kernels = sum(e.self_device_time_total for e in prof.key_averages() if e.self_device_time_total > 0) / 1e6
    return kernels / wall


# (input width, hidden sizes) of the GRU stacks signlang builds: the reference IV3-GRU, the default
# IV3-GRU, and the keypoint GRU (its 472 views: body, hands and their motion).
GRU_SIZES = ((2048, (16, 12)), (2048, (512, 256)), (472, (192, 192)))


def gru_comparison(batch: int = 32, steps: int = 80, repeats: int = 5, threads: int | None = None) -> list[dict]:
    """Forward + backward of each GRU layer of the stacks above on CPU, ``nn.GRU`` against the
    hand-written layer (``signlang.models.gru_layer``); best of ``repeats``, milliseconds."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    rows = []
    for width, hidden_sizes in GRU_SIZES:
        for hidden in hidden_sizes:
            gru = torch.nn.GRU(width, hidden, batch_first=True)
            x = torch.randn(batch, steps, width, requires_grad=True)

            def timed(run) -> float:
                best = float("inf")
                for _ in range(repeats):
                    start = time.perf_counter()
                    run().sum().backward()
                    best = min(best, time.perf_counter() - start)
                return 1000 * best

            torch_ms = timed(lambda gru=gru, x=x: gru(x)[0])
            hand_ms = timed(lambda gru=gru, x=x: gru_layer(gru, x))
            rows.append(
                {
                    "input": width,
                    "hidden": hidden,
                    "nn_gru_ms": torch_ms,
                    "hand_ms": hand_ms,
                    "speedup": torch_ms / hand_ms,
                }
            )
            width = hidden
    return rows


def report_gru(rows: list[dict], batch: int = 32, steps: int = 80) -> None:
    table = Table(
        title=f"GRU layer on CPU, forward + backward, batch {batch}, {steps} frames: "
        "nn.GRU vs the hand-written backward"
    )
    for c in ("input", "hidden", "nn.GRU", "hand-written", "speed-up", "used on CPU"):
        table.add_column(c, justify="right")
    for r in rows:
        used = "hand-written" if r["hidden"] <= HAND_GRU_MAX_HIDDEN else "nn.GRU"
        table.add_row(
            str(r["input"]),
            str(r["hidden"]),
            f"{r['nn_gru_ms']:.1f} ms",
            f"{r['hand_ms']:.1f} ms",
            f"{r['speedup']:.2f}x",
            used,
        )
    Console(width=200).print(table)


def run_child(config: dict) -> dict | None:
    """One configuration in a fresh process (so its peak RSS is its own); None, with the error shown, if it fails."""
    out = subprocess.run(
        [sys.executable, "-m", "signlang.bench", "--child", json.dumps(config)], capture_output=True, text=True
    )
    if out.returncode != 0:
        sys.stderr.write(f"failed: {config}\n{out.stderr[-2000:]}\n")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(rows: list[dict], idle_mb: float) -> None:
    table = Table(
        title=f"signlang.bench: {TRAIN} train / {VAL} val clips, T 80-160, batch 32 "
        f"(idle `import torch`: {idle_mb:.0f} MB RSS)"
    )
    columns = [
        "model",
        "cache",
        "device",
        "amp",
        "compile",
        "samples/s",
        "train epoch",
        "+val",
        "data wait",
        "compute",
        "epoch/compute",
        "padding plain→bucketed",
        "peak RSS",
        "RSS target",
    ]
    for c in columns:
        table.add_column(c, justify="left" if c in ("model", "cache", "device") else "right")
    for r in rows:
        target = f"≤ {1.5 * r['data_mb'] + idle_mb:.0f} MB" if r["model"] == "iv3_gru" else ""
        table.add_row(
            r["model"],
            r["cache"],
            r["device"],
            "on" if r["amp"] else "off",
            "on" if r["compile"] else "off",
            f"{r['train_samples_per_s']:.1f}",
            f"{r['train_epoch_s']:.2f} s",
            f"{r['epoch_s']:.2f} s",
            f"{100 * r['data_wait']:.1f} %",
            f"{r['compute_s']:.2f} s",
            f"{r['epoch_over_compute']:.3f}",
            f"{100 * r['padding_plain']:.1f} % → {100 * r['padding_bucketed']:.1f} %",
            f"{r['peak_rss_mb']:.0f} MB",
            target,
        )
    Console(width=200).print(table)


def scaling_configs(
    models: list[str], root: str, device: str, batches: list[int], threads: int | None = None
) -> list[dict]:
    """The scaling grid: batch x fp32/bf16 x eager/compiled (CUDA graphs on static shapes), data held on
    the device where it fits (``data.cache=device``), a few steps profiled for the GPU's kernel time."""
    cache = "device" if device.startswith("cuda") else "memory"
    return [
        dict(
            model_name=m,
            cache=cache,
            root=root,
            device=device,
            amp=amp,
            compile_model=compiled,
            threads=threads,
            batch_size=b,
            pad_to=16 if compiled else None,
            profile=True,
        )
        for m in models
        for b in batches
        for amp in (False, True)
        for compiled in (False, "reduce-overhead")
    ]


def report_scaling(rows: list[dict]) -> None:
    table = Table(title="scaling: batch x precision x compilation (data on the device where it fits)")
    for c in (
        "model",
        "batch",
        "amp",
        "compile",
        "samples/s",
        "train epoch",
        "data wait",
        "peak GPU memory",
        "time in GPU kernels",
    ):
        table.add_column(c, justify="left" if c == "model" else "right")
    for r in rows:
        gpu = "—" if r["peak_gpu_mb"] is None else f"{r['peak_gpu_mb']:.0f} MB"
        share = "—" if r["kernel_share"] is None else f"{100 * r['kernel_share']:.0f} %"
        table.add_row(
            r["model"],
            str(r["batch_size"]),
            "bf16" if r["amp"] else "fp32",
            str(r["compile"] or "eager"),
            f"{r['train_samples_per_s']:.0f}",
            f"{r['train_epoch_s']:.2f} s",
            f"{100 * r['data_wait']:.1f} %",
            gpu,
            share,
        )
    Console(width=200).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m signlang.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="where the benchmark data is written (kept and reused); default: a temp dir")
    parser.add_argument("--models", nargs="+", default=["transformer", "iv3_gru"], choices=["transformer", "iv3_gru"])
    parser.add_argument("--caches", nargs="+", default=["memory", "none"], choices=["memory", "mmap", "none"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", choices=["off", "on", "both"], default="off")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile (memory cache)")
    parser.add_argument("--threads", type=int, help="torch threads per process (default: torch's choice)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--gru-only", action="store_true", help="only the hand-written GRU vs nn.GRU comparison")
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="the scaling table instead: batch x fp32/bf16 x eager/compiled (for --device cuda)",
    )
    parser.add_argument(
        "--batches", nargs="+", type=int, default=[32, 128, 512], help="batch sizes of the scaling table"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(**json.loads(args.child))))  # noqa: T201 (child -> parent protocol)
        return 0
    if args.gru_only:
        report_gru(gru_comparison(threads=args.threads))
        return 0

    tmp = None if args.data_dir else tempfile.TemporaryDirectory(prefix="signlang-bench-")
    root = Path(args.data_dir or tmp.name)
    started = time.perf_counter()
    write_data(root)
    sys.stderr.write(f"data ready in {root} ({time.perf_counter() - started:.0f} s)\n")
    amps = {"off": [False], "on": [True], "both": [False, True]}[args.amp]
    configs = [
        dict(
            model_name=m, cache=c, root=str(root), device=args.device, amp=a, compile_model=False, threads=args.threads
        )
        for m in args.models
        for c in args.caches
        for a in (amps if c == "memory" else amps[:1])
    ]
    if args.compile:
        configs += [{**c, "compile_model": True} for c in configs if c["cache"] == "memory" and c["amp"] == amps[-1]]
    if args.scaling:
        configs = scaling_configs(args.models, str(root), args.device, args.batches, args.threads)
    idle = idle_torch_rss_mb()
    rows = []
    for config in configs:
        row = run_child(config)
        if row is None:
            continue
        rows.append(row)
        sys.stderr.write(
            f"{config['model_name']} cache={config['cache']} batch={row['batch_size']} amp={config['amp']} "
            f"compile={config['compile_model']}: {row['train_epoch_s']:.2f} s\n"
        )
        if args.json:  # written as it goes: a long benchmark cut short keeps what it measured
            Path(args.json).write_text(json.dumps({"idle_torch_rss_mb": idle, "rows": rows}, indent=2))
    if args.scaling:
        report_scaling(rows)
    else:
        report(rows, idle)
        report_gru(gru_comparison(threads=args.threads))
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
