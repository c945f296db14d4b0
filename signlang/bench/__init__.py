"""Benchmarks that print figures: ``python -m signlang.bench`` (training speed and memory on
FSL-105-sized data, the hand-written GRU against ``nn.GRU``). They build what they time from
``conf/`` through ``Trainer.prepare``, as a training run does."""
