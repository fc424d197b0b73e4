"""Verified capability per dollar (VCpD) computed end to end: answer tokens per dollar at the
accept rate, α · 10⁶ / CPM (R = 1, ρ̄ = 0), with CPM the serving layer's $ per million
SLO-compliant output tokens. A change of stack is split into four levers, each switched alone
on the old stack (same model, workload and contract):

- **quantization**: the weight format (CPM from the engines, α × the format's published
  accuracy recovery, ``catalog.quantization``);
- **runtime**: request-level batching (FasterTransformer) → continuous batching with chunked
  prefill (today's engines);
- **decoding parallelism**: plain decoding → speculative decoding;
- **hardware**: GPU A → GPU B.

Each factor is VCpD with that lever switched ÷ VCpD of the old stack; the levers are not
independent, so the total (every lever switched) ÷ the product of the factors is shown as
the interaction. Every CPM comes from the simulator (request-level batching is simulated
only)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from costcorrect.catalog import Catalog, load_catalog
from costcorrect.catalog.quantization import accuracy_recovery
from costcorrect.correct.quantization import quantized_accept_rate
from costcorrect.correct.stacks import Stack, serve_stack
from costcorrect.errors import InputError
from costcorrect.serving.build import build_stream
from costcorrect.serving.contract import Contract

PER_MILLION = 1e6
#: the levers in the order the waterfall adds them → the :class:`Stack` fields each switches
LEVERS: dict[str, tuple[str, ...]] = {
    "quantization": ("weight_format",),
    "runtime": ("architecture",),
    "decoding parallelism": ("speculative",),
    "hardware": ("gpu",),
}


#: the default comparison: a 2022 stack against today's, for one 8B model
OLD_STACK = Stack("A100-80GB-SXM", None, "static", None)
NEW_STACK = Stack("H100-SXM", "fp8", "chunked", "eagle")


@dataclass(frozen=True)
class Point:
    """One stack's answer: what was served (``setup``, speculation resolved), $ per million
    SLO-compliant tokens, α and VCpD (answer tokens per $)."""

    label: str
    stack: Stack
    setup: str
    usd_per_million: float
    alpha: float

    @property
    def tokens_per_usd(self) -> float:
        return self.alpha * PER_MILLION / self.usd_per_million


@dataclass(frozen=True)
class Vcpd:
    """The old and new stacks' VCpD; each lever switched alone on the old stack (``levers``)
    and the levers switched one after another in :data:`LEVERS` order (``path``, ending at
    the new stack)."""

    model: str
    workload: str
    contract: str
    old: Point
    new: Point
    levers: tuple[Point, ...] = field(default_factory=tuple)
    path: tuple[Point, ...] = field(default_factory=tuple)

    @property
    def factors(self) -> dict[str, float]:
        """Each lever alone: its VCpD ÷ the old stack's."""
        return {p.label: p.tokens_per_usd / self.old.tokens_per_usd for p in self.levers}

    @property
    def path_factors(self) -> dict[str, float]:
        """Each lever on top of those before it: factors that multiply to the total."""
        before = [self.old, *self.path[:-1]]
        pairs = zip(self.path, before, strict=True)
        return {p.label: p.tokens_per_usd / b.tokens_per_usd for p, b in pairs}

    @property
    def total_gain(self) -> float:
        return self.new.tokens_per_usd / self.old.tokens_per_usd

    @property
    def interaction(self) -> float:
        """Total gain ÷ the product of the single-lever factors (1: they compose)."""
        return self.total_gain / float(np.prod(list(self.factors.values())))

    def to_frame(self):
        """One row per point (old stack, each lever alone, the levers in turn): what was
        served, $/M SLO-compliant tokens, α, answer tokens per $ and the factor."""
        import pandas as pd

        rows = [(self.old, "old stack", 1.0)]
        rows += [(p, "alone", self.factors[p.label]) for p in self.levers]
        rows += [(p, "in turn", self.path_factors[p.label]) for p in self.path]
        return pd.DataFrame(
            [
                {
                    "point": p.label,
                    "split": split,
                    "served_as": p.setup,
                    "usd_per_million_tokens": p.usd_per_million,
                    "alpha": p.alpha,
                    "answer_tokens_per_usd": p.tokens_per_usd,
                    "factor": factor,
                }
                for p, split, factor in rows
            ]
        )

    def to_dict(self) -> dict:
        def point(p: Point) -> dict:
            return {**asdict(p), "tokens_per_usd": p.tokens_per_usd}

        return {
            "model": self.model,
            "workload": self.workload,
            "contract": self.contract,
            "old": point(self.old),
            "new": point(self.new),
            "levers": [point(p) for p in self.levers],
            "path": [point(p) for p in self.path],
            "factors": self.factors,
            "path_factors": self.path_factors,
            "total_gain": self.total_gain,
            "interaction": self.interaction,
        }


def vcpd(
    model: str = "llama-3.1-8b",
    old: Stack = OLD_STACK,
    new: Stack = NEW_STACK,
    workload: str = "sharegpt",
    contract: Contract | None = None,
    alpha: float = 1.0,
    requests: int = 4000,
    seed: int = 0,
    catalog: Catalog | None = None,
    progress=None,
) -> Vcpd:
    """VCpD of ``model`` on the ``old`` and ``new`` stacks, each lever switched alone and the
    levers switched in turn (simulator, ``requests`` requests of ``workload`` under
    ``contract``, default p99 TTFT ≤ 10 s and p99 TPOT ≤ 200 ms: loose enough that
    request-level batching serves at all); ``alpha``: the old stack's accept rate. A bare
    draft name as speculation (``eagle``) takes the catalog's measured acceptance."""
    if not 0 < alpha <= 1:
        raise InputError("alpha", alpha, "an accept rate in (0, 1]")
    cat = catalog or load_catalog()
    contract = contract or Contract(10.0, 0.2, 0.99)
    stream = build_stream(workload, 1.0, requests, seed, catalog=cat)

    def point(label: str, stack: Stack) -> Point:
        if progress is not None:
            progress(label)
        served = serve_stack(replace(stack, model=model), stream, contract, cat, label)
        accuracy = accuracy_recovery(model, stack.weight_format) if stack.weight_format else None
        alpha_here = quantized_accept_rate(alpha, accuracy)
        return Point(label, stack, served.setup, served.usd_per_million, alpha_here)

    before = point("old stack", old)
    singles = tuple(point(lever, old.switched(fields, new)) for lever, fields in LEVERS.items())
    path, stack = [], old
    for lever, fields in LEVERS.items():
        stack = stack.switched(fields, new)
        path.append(point(f"+ {lever}", stack))
    after = replace(path[-1], label="new stack")
    return Vcpd(model, workload, contract.describe(), before, after, singles, tuple(path))
