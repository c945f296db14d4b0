"""How a split of .npz clips is held while training: ``data.cache=memory|mmap|none``.

- ``memory``: read once into one buffer in RAM (two passes: array headers for the lengths, then
  the data straight into its slice of the buffer, so peak memory is the buffer itself).
- ``mmap``: the same buffer written once to disk (next to the data, or in ``data.cache_dir``) and
  memory-mapped; keyed by the file list, sizes, mtimes, labels and read settings, reused by later
  runs and sweep jobs, rebuilt when anything changes.
- ``none``: nothing kept; each batch reads its ``.npz`` files again, as the reference loader does.
- ``device``: read like ``memory``, then held on the GPU when it fits (``signlang.data.module``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from signlang.core.errors import DataError
from signlang.data.clips import Batch, ClipSet, pad_clips

log = logging.getLogger(__name__)

CACHE_VERSION = 1
CACHE_MODES = ("memory", "mmap", "none", "device")  # device: read into memory, then onto the GPU (ClipData.placed)


def npz_length(path: Path, names: Sequence[str]) -> tuple[str, int, int] | None:
    """(array name, T, width) of the first of ``names`` in an .npz, read from its header only."""
    try:
        with zipfile.ZipFile(path) as z:
            members = set(z.namelist())
            for name in names:
                if f"{name}.npy" in members:
                    with z.open(f"{name}.npy") as f:
                        version = np.lib.format.read_magic(f)
                        read_header = (
                            np.lib.format.read_array_header_1_0
                            if version == (1, 0)
                            else np.lib.format.read_array_header_2_0
                        )
                        shape, _, _ = read_header(f)
                    return name, (shape[0] if shape else 0), (shape[1] if len(shape) > 1 else 0)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return None
    return None


def fill_buffer(
    paths: Sequence[Path],
    read: Callable[[Path], tuple[np.ndarray, np.ndarray | None]],
    lengths: np.ndarray,
    offsets: np.ndarray,
    buffer: np.ndarray,
    mask: np.ndarray | None,
    workers: int,
) -> list[str]:
    """Read every clip into its slice of ``buffer`` (threads decompress in parallel); returns problems."""

    def one(i: int) -> str | None:
        try:
            x, m = read(paths[i])
        except DataError as e:
            return str(e)
        if len(x) != lengths[i]:
            return f"{paths[i].name}: changed while loading"
        buffer[offsets[i] : offsets[i + 1]] = x
        if mask is not None:
            mask[offsets[i] : offsets[i + 1]] = m
        return None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return [p for p in pool.map(one, range(len(paths))) if p]


def cache_key(paths: Sequence[Path], labels: Path, settings: dict) -> str:
    """Changes when any clip (name, size, mtime), the labels CSV or the read settings change."""
    h = hashlib.sha256(json.dumps({"version": CACHE_VERSION, **settings}, sort_keys=True).encode())
    h.update(Path(labels).read_bytes())
    for p in paths:
        st = p.stat()
        h.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def cache_root(directory: Path, cache_dir: str | None) -> Path:
    """``data.cache_dir``, else ``.signlang_cache`` beside the data when writable, else ~/.cache/signlang."""
    if cache_dir:
        return Path(cache_dir)
    beside = directory.parent / ".signlang_cache"
    if os.access(directory.parent, os.W_OK) and (not beside.exists() or os.access(beside, os.W_OK)):
        return beside
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "signlang"


def open_cached(folder: Path) -> ClipSet:
    meta = json.loads((folder / "meta.json").read_text())
    mask = np.load(folder / "mask.npy", mmap_mode="r") if (folder / "mask.npy").exists() else None
    return ClipSet(
        buffer=np.load(folder / "x.npy", mmap_mode="r"),
        offsets=np.load(folder / "offsets.npy"),
        gloss=np.load(folder / "gloss.npy"),
        cat=np.load(folder / "cat.npy"),
        occluded=np.load(folder / "occluded.npy"),
        names=meta["names"],
        mask_buffer=mask,
    )


def build_cached(
    folder: Path,
    lengths: np.ndarray,
    width: int,
    dtype,
    with_mask: bool,
    fill: Callable[[np.ndarray, np.ndarray, np.ndarray | None], list[str]],
    labels: dict[str, np.ndarray],
    names: list[str],
) -> ClipSet:
    """Write a memory-mapped cache into ``folder`` atomically (temp folder, then rename) and open it."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:

        def memmap(name, shape, dt):
            return np.lib.format.open_memmap(tmp / f"{name}.npy", mode="w+", dtype=dt, shape=shape)

        offsets, buffer, mask = ClipSet.allocate(lengths, width, dtype, with_mask, out=memmap)
        problems = fill(offsets, buffer, mask)
        if problems:
            raise DataError(f"{len(problems)} bad clip(s): " + "; ".join(problems[:3]))
        buffer.flush()
        if mask is not None:
            mask.flush()
        del buffer, mask
        np.save(tmp / "offsets.npy", offsets)
        for key, values in labels.items():
            np.save(tmp / f"{key}.npy", values)
        (tmp / "meta.json").write_text(json.dumps({"names": names, "version": CACHE_VERSION}))
        try:
            os.rename(tmp, folder)
        except OSError:  # another job (a sweep) built the same cache first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for stale in folder.parent.glob(folder.name.rsplit("-", 1)[0] + "-*"):
        if stale != folder and stale.is_dir() and not stale.name.startswith("."):
            shutil.rmtree(stale, ignore_errors=True)  # older versions of this split's cache
    return open_cached(folder)


class LazyClipSet:
    """``data.cache=none``: labels and lengths in memory, frames read from the .npz files per batch."""

    def __init__(
        self, paths: list[Path], lengths: np.ndarray, width: int, read, gloss, cat, occluded, names, with_mask: bool
    ) -> None:
        self.paths = paths
        self.offsets = np.zeros(len(paths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.offsets[1:])
        self._width = width
        self._read = read
        self.gloss, self.cat, self.occluded = gloss, cat, occluded
        self.names = names
        self.with_mask = with_mask

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def width(self) -> int:
        return self._width

    @property
    def nbytes(self) -> int:
        return int(self.offsets.nbytes + 3 * self.gloss.nbytes)

    def clip(self, i: int) -> np.ndarray:
        return self._read(self.paths[i])[0]

    def chunks(self, rows: int = 65536):
        for i in range(len(self)):
            yield self.clip(i)

    def batch(self, indices: Sequence[int]) -> Batch:
        """Read each clip's file again and pad the batch (what the reference loader does per item)."""
        idx = np.asarray(indices, dtype=np.int64)
        read = [self._read(self.paths[i]) for i in idx]
        x, valid, mask = pad_clips(
            [np.asarray(c, dtype=np.float32) for c, _ in read], [m for _, m in read] if self.with_mask else None
        )
        return Batch.from_arrays(x, valid, idx, self, mask)
