"""The GPU path's CPU-visible parts: where data.cache=device puts a split, batches gathered from a split
held as tensors, and static shapes (data.pad_to) that change no model output."""

from __future__ import annotations

import logging

import pytest
import torch
from conftest import build_model, tiny_synthetic

from signlang.core.errors import ConfigError
from signlang.data.clips import DeviceClips
from signlang.data.module import choose_placement
from signlang.training.trainer import Trainer


def test_a_split_goes_on_the_gpu_only_when_it_fits_its_share_of_free_memory():
    gpu, gib = torch.device("cuda:0"), 2**30
    assert choose_placement(3 * gib, gpu, 0.8, free=10 * gib)[0] == "device"
    where, why = choose_placement(9 * gib, gpu, 0.8, free=10 * gib)
    assert where == "host" and "do not fit in 80% of the 10.0 GiB free" in why
    assert choose_placement(1, torch.device("cpu"), 0.8) == ("host", "no GPU: training runs on cpu")


def test_on_cpu_device_cache_stays_in_host_memory_and_says_why(caplog):
    data = tiny_synthetic(cache="device")
    data.setup()
    with caplog.at_level(logging.INFO):
        loader = data.loader(data.split("train"), train=True, device=torch.device("cpu"))
    assert not isinstance(loader.clips, DeviceClips)
    assert any("data.cache=device: 24 clips in pinned host memory (no GPU" in r.getMessage() for r in caplog.records)


def test_batches_from_a_split_held_as_tensors_equal_the_host_ones_and_take_augmentation():
    from conftest import CONF
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    data = tiny_synthetic()
    data.setup()
    host = data.split("train")
    held = DeviceClips(host, torch.device("cpu"))  # the device path's code, on the CPU
    a, b = host.batch([3, 0, 7]), held.batch([3, 0, 7])
    for name in ("x", "pad_mask", "lengths", "gloss", "cat", "occluded", "index", "point_mask"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    pipe = instantiate(OmegaConf.load(CONF / "transform" / "keypoints.yaml"))
    augmented = pipe(b, torch.Generator().manual_seed(0), train=True)  # every step takes tensors where they are
    assert augmented.x.shape[0] == 3 and augmented.lengths.device.type == "cpu"


@pytest.mark.parametrize(
    "model",
    [
        build_model("transformer", d_model=32, num_layers=1, num_heads=4, dim_feedforward=64),
        build_model("gru", hidden_sizes=[16]),
    ],
    ids=["transformer", "gru"],
)
def test_static_shapes_pad_batches_to_a_multiple_and_change_no_output(model):
    data = tiny_synthetic(pad_to=16)
    data.setup()
    model.eval()
    loader = data.loader(data.split("val"), train=False)
    padded = list(loader)
    assert all(b.x.shape[1] % 16 == 0 and b.pad_mask.shape == b.x.shape[:2] for b in padded)
    plain = list(tiny_synthetic().loader(data.split("val"), train=False))
    with torch.no_grad():
        for p, q in zip(padded, plain):
            assert torch.equal(p.lengths, q.lengths) and p.x.shape[1] >= q.x.shape[1]
            torch.testing.assert_close(
                model(p.x, p.pad_mask, p.lengths)[0], model(q.x, q.pad_mask, q.lengths)[0], atol=1e-5, rtol=1e-4
            )


def test_compile_modes_and_bad_settings():
    assert Trainer(compile="reduce-overhead", device="cpu").compile == "reduce-overhead"
    with pytest.raises(ConfigError, match="trainer.compile"):
        Trainer(compile="fast")
    with pytest.raises(ConfigError, match="data.pad_to"):
        tiny_synthetic(pad_to=0)
    with pytest.raises(ConfigError, match="data.cache"):
        tiny_synthetic(cache="mmap")
