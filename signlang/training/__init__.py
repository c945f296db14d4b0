"""The training loop (``trainer.py``), the callbacks around it, resuming a run (``resume.py``), and
what a run needs from its process: device, seeds, torchrun, signals, schedules, experiment trackers."""
