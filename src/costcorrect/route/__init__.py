"""Routing economics (DESIGN layer `route`, spec/economics.md §3): when conditioning compute on
a noisy difficulty estimate lowers cost per correct answer. Π ≈ κ·Δ − γ; routing pays iff
κ·Δ > γ."""
