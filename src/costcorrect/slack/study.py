"""One slack study: a load trace and fleet → harvestable GPU-hours, the marginal-of-idle price
from the energy model's rollout power, and Cost' against dedicated rollouts."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from costcorrect.energy.model import decode_point
from costcorrect.perf import Deployment
from costcorrect.slack.price import IdlePrice, cost_with_slack, marginal_of_idle
from costcorrect.slack.trace import Harvest, LoadTrace, harvestable


@dataclass(frozen=True)
class SlackStudy:
    harvest: Harvest
    price: IdlePrice
    rollout_power_w: float
    cost_slack: float
    cost_dedicated: float

    def to_dict(self) -> dict:
        h = self.harvest
        return {
            "fleet": h.fleet,
            "margin": h.margin,
            "harvestable_gpu_hours": h.gpu_hours,
            "fleet_gpu_hours": h.fleet_gpu_hours,
            "share": h.share,
            "price": asdict(self.price),
            "rollout_power_w": self.rollout_power_w,
            "cost_slack_usd_per_m": self.cost_slack,
            "cost_dedicated_usd_per_m": self.cost_dedicated,
        }


def slack_study(
    trace: LoadTrace,
    fleet: int,
    margin: float,
    catalog,
    gpu: str,
    model: str,
    usd_per_kwh: float = 0.10,
    pue: float = 1.2,
    syncs_per_hour: float = 12.0,
    wear: float = 0.05,
    preempted: float = 0.05,
    cpm: float = 1.0,
    r: float = 1.0,
    rho: float = 15.0,
    alpha: float = 1.0,
) -> SlackStudy:
    """Harvest, m (rollouts = decode at the energy model's serving point of ``model`` on one
    ``gpu``, weights synced over its NVLink), and Cost' vs dedicated."""
    dep = Deployment.from_names(model, gpu, catalog=catalog)
    watts = float(decode_point(dep).power_w)
    hw = dep.hardware
    price = marginal_of_idle(
        hw.price_usd_per_hour,
        watts,
        hw.idle_power_w.value,
        usd_per_kwh,
        pue,
        dep.weight_bytes_per_gpu,
        hw.intra_node_bytes_per_s.value,
        syncs_per_hour,
        wear,
        preempted,
    )
    return SlackStudy(
        harvestable(trace, fleet, margin),
        price,
        watts,
        cost_with_slack(cpm, r, rho, alpha, price.m),
        cost_with_slack(cpm, r, rho, alpha, 1.0),
    )
