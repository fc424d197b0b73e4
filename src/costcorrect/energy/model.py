"""One place that turns a deployment or an architecture into modelled power and energy
numbers for other layers' ledgers (serving cost, Cost-correct)."""

from __future__ import annotations

from costcorrect.energy.iteration import iteration_energy
from costcorrect.energy.levers import energy_usd_per_million
from costcorrect.energy.power import PowerModel
from costcorrect.perf import Batch, Deployment

SERVING_BATCH = 64  # decode sequences at the serving operating point (capped by the KV cache)
SERVING_CONTEXT = 1024


def decode_point(dep: Deployment, batch: int = SERVING_BATCH, context: float = SERVING_CONTEXT):
    """The modelled decode iteration at ``batch`` sequences (at most the KV cache holds)."""
    fits = max(1, min(batch, int(dep.kv_capacity_tokens // max(context, 1))))
    return iteration_energy(dep, Batch.decode(fits, context), PowerModel.for_hardware(dep.hardware))


def serving_power_w(arch) -> float:
    """Per-GPU power of an architecture's decode deployment at the serving operating point."""
    dep = getattr(arch, "decode", None) or arch.deployment
    return float(decode_point(dep).power_w)


def decode_energy_usd_per_million(
    dep: Deployment,
    usd_per_kwh: float,
    pue: float,
    batch: int = SERVING_BATCH,
    context: float = SERVING_CONTEXT,
) -> float:
    """Energy $ per million decoded tokens at the serving operating point."""
    return float(
        energy_usd_per_million(decode_point(dep, batch, context).j_per_token, usd_per_kwh, pue)
    )
