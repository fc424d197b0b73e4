"""Measuring real deployments (DESIGN layer `measure`): an open-loop load generator for
OpenAI-compatible streaming endpoints, per-request records and their summary under an SLO
contract."""
