"""Datasets and their batches: ``.npz`` folders, video frames and synthetic signs (``ClipData``), label
CSVs, the in-memory clip buffer, loaders and caches, transforms, the val carve-out, validation and
splitting of clip folders. Nothing here knows about models: batches are ``x`` and ``pad_mask``."""
