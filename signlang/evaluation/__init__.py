"""Evaluation of trained models: metrics, reports in the run folder, loading runs for evaluate/predict."""
