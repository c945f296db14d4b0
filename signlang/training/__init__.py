"""The training loop, its checkpoints and the run folder it writes."""
