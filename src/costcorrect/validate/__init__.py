"""Validation of the performance and serving models against released real-GPU data."""
