"""Verifier economics (DESIGN layer `verify`, spec/economics.md §2): calibration of verifier
reports and the exact composition of verifier pipelines."""
