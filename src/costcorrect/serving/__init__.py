"""Serving architectures and their engines: analytic queueing model and simulator (spec §4)."""
