"""The audit record of a composed verifier pipeline (spec/economics.md §2): one JSON document
with what per-component records alone cannot give — the joint table and the covariance term —
plus a one-page human-readable summary.

Schema ``costcorrect.verify.audit/1`` (all rates are fractions, prices $ per million tokens):

    schema, created (ISO date: the caller's, else the dataset file's — never the wall clock),
    dataset {file, sha256, rows},
    rule, verifiers [names], marginals {name: accept rate},
    joint_table [{decisions: {name: 0/1}, probability}],
    pipeline_accept_rate {value, low, high, level}, independence_prediction,
    composition_error, interaction_terms {"a×b": term},
    cost_correct {cpm_usd_per_m, usd_per_million_answer_tokens {value, low, high}}
      (C = CPM / α with R = 1, ρ̄ = 0; the interval follows α's),
    precision (only with an outcome column) {value, low, high}: P(correct | accepted)
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict
from pathlib import Path

import numpy as np

from costcorrect.errors import InputError
from costcorrect.io import data_date
from costcorrect.verify import composition as comp
from costcorrect.verify.calibration import proportion
from costcorrect.verify.composition_report import compose_decisions, parse_rule
from costcorrect.verify.data import binary, read_table

SCHEMA = "costcorrect.verify.audit/1"

#: what each field of the record documents for a high-risk AI system built from composed
#: verifiers, under Regulation (EU) 2024/1689 (the AI Act): (fields, what it shows, provision).
#: The provisions are those the record serves as evidence for; it does not by itself make a
#: system compliant (risk management, data governance, human oversight, logging and
#: post-market monitoring are the provider's processes, outside this record)
AI_ACT_MAPPING = (
    (
        "pipeline_accept_rate, precision (with intervals)",
        "the composed system's measured level of accuracy and its metric, with uncertainty",
        "Art. 15(1) appropriate level of accuracy; Art. 15(3) levels and metrics declared in "
        "the instructions for use",
    ),
    (
        "joint_table, interaction_terms, composition_error",
        "how the components' errors combine: the part of the system's accuracy that no "
        "single component's figures carry",
        "Annex IV 2(c) how components build on or feed into each other; 2(g) metrics used to "
        "measure accuracy and robustness",
    ),
    (
        "verifiers, marginals, rule",
        "which components (possibly third parties' tools) are integrated, and how",
        "Annex IV 2(a) recourse to tools provided by third parties and how they were "
        "integrated; 2(b) design choices",
    ),
    (
        "dataset {file, sha256, rows}, created",
        "the validation data, fixed by content hash, and the date of the test",
        "Annex IV 2(g) information about the validation and testing data; test reports dated",
    ),
    (
        "independence_prediction beside pipeline_accept_rate",
        "the inconsistency a composition can hide: the system's rate against what "
        "independent components would give",
        "Art. 15(4) resilience to errors, faults or inconsistencies within the system",
    ),
    (
        "cost_correct",
        "the price of an accepted answer at that accuracy (not an AI Act requirement)",
        "— (economics: what the accuracy level costs)",
    ),
)


def audit(
    path: str | Path,
    verifiers: tuple[str, ...],
    rule_text: str = "and",
    cpm_usd_per_m: float | None = None,
    outcome: str | None = None,
    created: dt.date | None = None,
) -> dict:
    """The audit record of ``verifiers`` (0/1 accept columns of ``path``) composed by
    ``rule_text``."""
    if len(verifiers) < 2 or len(set(verifiers)) != len(verifiers):
        raise InputError("verifiers", ",".join(verifiers), "two or more distinct column names")
    path = Path(path)
    frame = read_table(path)
    decisions = np.column_stack([binary(frame, v) for v in verifiers])
    rule = parse_rule(rule_text, len(verifiers))
    c = compose_decisions(decisions, verifiers, rule)
    cells = (np.arange(2**rule.k)[:, None] >> np.arange(rule.k)) & 1
    record = {
        "schema": SCHEMA,
        "created": (created or data_date([path])).isoformat(),
        "dataset": {
            "file": path.name,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "rows": c.instances,
        },
        "rule": c.rule,
        "verifiers": list(verifiers),
        "marginals": dict(zip(verifiers, c.marginals, strict=True)),
        "joint_table": [
            {"decisions": dict(zip(verifiers, map(int, row), strict=True)), "probability": prob}
            for row, prob in zip(cells, c.joint, strict=True)
        ],
        "pipeline_accept_rate": asdict(c.accept_rate),
        "independence_prediction": c.independent_prediction,
        "composition_error": c.error,
        "interaction_terms": c.interactions,
    }
    if cpm_usd_per_m is not None:
        if not cpm_usd_per_m > 0:
            raise InputError("cpm", cpm_usd_per_m, "a positive $ per million tokens")
        a = c.accept_rate
        record["cost_correct"] = {
            "cpm_usd_per_m": cpm_usd_per_m,
            "usd_per_million_answer_tokens": {
                "value": cpm_usd_per_m / a.value if a.value > 0 else None,
                "low": cpm_usd_per_m / a.high if a.high > 0 else None,
                "high": cpm_usd_per_m / a.low if a.low > 0 else None,
            },
        }
    if outcome is not None:
        correct = binary(frame, outcome)
        accepted = comp.accepted(rule, decisions)
        if not accepted.any():
            raise InputError("rule", rule_text, "a pipeline that accepts at least one instance")
        record["precision"] = asdict(proportion(correct[accepted]))
    return record


def summary_markdown(record: dict) -> str:
    """One page for a person: what was composed, how often it accepts, and the covariance."""
    a = record["pipeline_accept_rate"]
    lines = [
        f"# Audit: {record['rule']} over {', '.join(record['verifiers'])}",
        "",
        f"Dataset `{record['dataset']['file']}` ({record['dataset']['rows']:,} instances, sha256 "
        f"`{record['dataset']['sha256'][:16]}…`), recorded {record['created']}; "
        f"schema `{record['schema']}`.",
        "",
        "| verifier | accept rate |",
        "|---|---|",
        *(f"| {name} | {rate:.4f} |" for name, rate in record["marginals"].items()),
        "",
        f"Pipeline accept rate **{a['value']:.4f}** "
        f"(95 % interval {a['low']:.4f}–{a['high']:.4f}); "
        f"independent verifiers would give {record['independence_prediction']:.4f}, an error "
        f"of {record['composition_error']:+.4f}, which is exactly the interaction terms:",
        "",
        *(f"- {name}: {value:+.5f}" for name, value in record["interaction_terms"].items()),
    ]
    if "cost_correct" in record:
        cc = record["cost_correct"]["usd_per_million_answer_tokens"]
        lines += [
            "",
            f"Cost-correct at CPM ${record['cost_correct']['cpm_usd_per_m']:g}/M: "
            f"${cc['value']:,.3f} per million answer tokens "
            f"(${cc['low']:,.3f}–${cc['high']:,.3f}).",
        ]
    if "precision" in record:
        p = record["precision"]
        lines += [
            "",
            f"Precision, P(correct | accepted): {p['value']:.4f} ({p['low']:.4f}–{p['high']:.4f}).",
        ]
    lines += [
        "",
        "Per-verifier records alone cannot give the pipeline's accept rate: it depends on the "
        "joint table, and the gap to the independence prediction is the covariance term above.",
    ]
    return "\n".join(lines) + "\n"
