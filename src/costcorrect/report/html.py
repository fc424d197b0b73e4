"""One self-contained HTML answer per scenario: inline CSS and plotly's offline bundle (no
network at view time), a one-sentence answer on top, interactive figures with units in their
hover labels, and the provenance of every catalog number used. Renders only: every number comes
from :func:`costcorrect.report.run.run_scenario`."""

from __future__ import annotations

import html

from plotly.offline import get_plotlyjs

from costcorrect.report import economics_sections as econ
from costcorrect.report import serving_sections as serving
from costcorrect.report.run import ScenarioResult
from costcorrect.report.widgets import table_html

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#222;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.answer{background:#f3f7fb;border-left:4px solid #4C72B0;padding:.8rem 1rem;font-size:1.1rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
.note{color:#666;font-size:.85rem}
"""


def answer_sentence(r: ScenarioResult) -> str:
    w = r.plan.winner
    if w is None:
        return (
            f"No configuration of {r.scenario.model} on {', '.join(r.scenario.gpus)} meets "
            f"{r.plan.contract}."
        )
    return (
        f"Serving {r.scenario.model} on {', '.join(r.scenario.gpus)} under {r.plan.contract}, "
        f"the cheapest configuration is {w.label} ({w.architecture}) at "
        f"${w.usd_per_million:.2f} per million SLO-compliant output tokens (simulated with "
        f"stack {'; '.join(r.plan.validation)}; the analytic engine is {w.goodput_error:+.0%} on "
        "its goodput), and a correct "
        f"answer costs ${r.ledger.usd_per_answer:.4f} with {r.energy_phrase()}."
    )


def render(r: ScenarioResult) -> str:
    """The report as one HTML string."""
    provenance = table_html(["number", "value", "source", "date"], [list(p) for p in r.provenance])
    body = "".join(
        [
            f"<h1>{html.escape(r.scenario.title)}</h1>",
            f'<p class="answer" id="answer">{html.escape(answer_sentence(r))}</p>',
            serving.plan_section(r) if r.plan.best else "",
            serving.frontier_section(r),
            serving.break_even_section(r),
            econ.ledger_section(r) if r.ledger else "",
            econ.verification_section(r),
            econ.routing_section(r),
            econ.allocation_section(r),
            econ.energy_section(r) if r.ledger else "",
            serving.measured_section(r),
            "<h2>Provenance</h2>",
            f'<p class="note">costcorrect {html.escape(r.version)}, seed {r.scenario.seed}, '
            f"{r.scenario.requests:,} simulated requests per confirmation. Validation: "
            "docs/validation.md (perf and serving engines), docs/energy.md (power model), "
            "docs/routing.md (premium rule), docs/verification.md (verifiers).</p>",
            provenance,
        ]
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(r.scenario.title)}</title><style>{CSS}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head>"
        f"<body>{body}</body></html>"
    )
