"""A composed pipeline measured on per-instance accept decisions (the `verify compose` result)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from costcorrect.errors import InputError
from costcorrect.verify import composition as comp
from costcorrect.verify.calibration import Interval, proportion
from costcorrect.verify.data import binary, read_table


@dataclass(frozen=True)
class Composition:
    """Marginal accept rates, the joint table, the exact pipeline accept rate (with a
    bootstrap interval), the independence prediction and the interaction terms."""

    rule: str
    verifiers: tuple[str, ...]
    instances: int
    marginals: tuple[float, ...]
    joint: tuple[float, ...]
    accept_rate: Interval
    independent_prediction: float
    error: float
    interactions: dict[str, float]

    def to_dict(self) -> dict:
        return asdict(self)


def parse_rule(text: str, k: int) -> comp.Rule:
    """``and``, ``or`` or ``M-of-K`` (K must equal the number of verifiers)."""
    name = text.strip().lower()
    if name == "and":
        return comp.Rule.all_of(k)
    if name == "or":
        return comp.Rule.any_of(k)
    parts = name.split("-of-")
    if len(parts) == 2 and all(p.isdigit() for p in parts) and int(parts[1]) == k:
        return comp.Rule.at_least(int(parts[0]), k)
    raise InputError("rule", text, f"and, or, or M-of-{k}")


def compose_decisions(
    decisions: np.ndarray, names: tuple[str, ...], rule: comp.Rule
) -> Composition:
    """The :class:`Composition` of an (N, k) 0/1 decision matrix."""
    joint = comp.joint_table(decisions)
    p = comp.marginals(joint, rule.k)
    rate = proportion(comp.accepted(rule, decisions))
    independent = float(comp.independent_accept_rate(rule, p))
    terms = {
        "×".join(names[i] for i in subset): float(value)
        for subset, value in comp.interaction_terms(rule, joint).items()
    }
    return Composition(
        rule.name,
        names,
        int(decisions.shape[0]),
        tuple(float(v) for v in p),
        tuple(float(v) for v in joint),
        rate,
        independent,
        rate.value - independent,
        terms,
    )


def compose_columns(path: str | Path, names: tuple[str, ...], rule_text: str) -> Composition:
    """Read the accept columns ``names`` of ``path`` and compose them by ``rule_text``."""
    if len(names) < 2 or len(set(names)) != len(names):
        raise InputError("verifiers", ",".join(names), "two or more distinct column names")
    frame = read_table(path)
    decisions = np.column_stack([binary(frame, n) for n in names])
    return compose_decisions(decisions, names, parse_rule(rule_text, len(names)))
