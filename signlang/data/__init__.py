"""Datasets (npz folders, synthetic), the in-memory clip buffer, batching and loaders."""
