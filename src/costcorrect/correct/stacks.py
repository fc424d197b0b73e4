"""A serving stack named by its levers (model, GPU, weight format, batching and KV reservation,
speculation) and
its $ per million SLO-compliant output tokens from the simulator — what VCpD and the price-
compression decomposition switch one lever at a time."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from costcorrect.catalog import Catalog
from costcorrect.errors import InputError
from costcorrect.perf.speculative import Speculation
from costcorrect.search.breakeven import smallest_tp
from costcorrect.serving.build import ServeSpec, build_architecture
from costcorrect.serving.contract import Contract
from costcorrect.serving.cost import Load, cost_per_token
from costcorrect.workload import RequestStream

#: KV cache a deployment must hold beside its weights: 16 requests of 2,048 tokens (tokens)
MIN_KV_TOKENS = 16 * 2048


@dataclass(frozen=True)
class Stack:
    """The GPU, weight format (None: the model's own), batching architecture, speculative
    decoding (None: plain), model (None: the analysis's) and KV reservation (None: the
    architecture's own; ``serving.architectures.RESERVATIONS``) a model is served with."""

    gpu: str
    weight_format: str | None
    architecture: str
    speculative: str | None
    model: str | None = None
    reservation: str | None = None

    def switched(self, fields: tuple[str, ...], other: Stack) -> Stack:
        """This stack with ``fields`` taken from ``other``."""
        return replace(self, **{name: getattr(other, name) for name in fields})


@dataclass(frozen=True)
class Served:
    """What a stack was served as (``setup``: architecture, GPUs, format, speculation), its
    $ per million SLO-compliant output tokens and, from a converged search, whether two run
    lengths agreed and the $ at each (None: not checked)."""

    setup: str
    usd_per_million: float
    converged: bool | None = None
    usd_interval: tuple[float, float] | None = None


def serve_stack(
    stack: Stack,
    stream: RequestStream,
    contract: Contract,
    catalog: Catalog,
    label: str,
    load: Load = Load(),
) -> Served:
    """``stack`` on the fewest GPUs (``search.breakeven.smallest_tp``) that hold its weights and
    :data:`MIN_KV_TOKENS` of KV, costed by the simulator on ``stream`` under ``contract`` and
    ``load`` (``label`` names the stack in errors). Raises :class:`InputError` when no width
    fits or the contract cannot be met."""
    if stack.model is None:
        raise InputError("model", None, "a catalog model for the stack")
    speculation = None
    if stack.speculative:
        speculation = Speculation.parse(stack.speculative, catalog, stack.model)
    tp = smallest_tp(
        stack.model, stack.gpu, catalog, None, MIN_KV_TOKENS,
        weight_format=stack.weight_format, speculation=speculation,
    ).tp  # fmt: skip
    spec = ServeSpec(
        stack.architecture,
        stack.model,
        stack.gpu,
        tp,
        weight_format=stack.weight_format,
        speculative=stack.speculative,
        reservation=stack.reservation,
    )
    arch = build_architecture(spec, catalog)
    dep = arch.decoder
    cost = cost_per_token(arch, contract, stream, engine="sim", load=load)
    if not np.isfinite(cost.usd_per_million_tokens):
        raise InputError(
            "contract",
            contract.describe(),
            f"a contract the {label} stack ({stack.architecture} on {stack.gpu}) can meet",
        )
    gpus = f"{tp} × {stack.gpu}" if tp > 1 else stack.gpu
    fmt = dep.weight_format or dep.model.weight_format
    batching = stack.architecture + (f" ({stack.reservation} KV)" if stack.reservation else "")
    setup = f"{stack.model}, {batching}, {gpus}, {fmt}" + (
        f", speculative {dep.speculation.label}" if dep.speculation else ""
    )
    interval = None
    if cost.goodput_interval_rps is not None:  # $ scales as 1 / goodput
        lo, hi = (
            cost.usd_per_million_tokens * cost.goodput_rps / r for r in cost.goodput_interval_rps
        )
        interval = (min(lo, hi), max(lo, hi))
    return Served(setup, cost.usd_per_million_tokens, cost.converged, interval)
