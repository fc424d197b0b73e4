"""``costcorrect route premium|patterns|evaluate``: when conditioning compute on difficulty
pays — Π ≈ κΔ − γ (thin over :mod:`costcorrect.route`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from costcorrect.cli.common import Json, echo_json, progress, run_guarded, seed_option

app = typer.Typer(no_args_is_help=True, help="Routing premium: does difficulty routing pay?")


def _pct(x: float) -> str:
    return "any" if x == float("inf") else f"{x:.1%}"


@app.command()
def premium(
    kappa: Annotated[
        float,
        typer.Option("--kappa", help="κ ∈ [0, 1]: share of the oracle saving the router captures"),
    ],
    delta: Annotated[
        float,
        typer.Option(
            "--delta", help="Δ ∈ [0, 1): oracle router's saving over the best fixed level"
        ),
    ],
    gamma: Annotated[
        float,
        typer.Option(
            "--gamma", help="γ ≥ 0: router overhead as a share of the baseline per-query cost"
        ),
    ],
    json_: Json = False,
) -> None:
    """First-order premium Π = κΔ − γ, the verdict, margin M = κΔ/γ and the disclosure errors
    that would flip it."""

    def job() -> None:
        from costcorrect.route.premium import premium_model

        m = premium_model(kappa, delta, gamma)
        if json_:
            echo_json(m.to_dict())
            return
        from costcorrect.cli.render import console

        verdict = "pays" if m.pays else "does not pay"
        margin = "∞" if m.margin == float("inf") else f"{m.margin:.2f}"
        console.print(
            f"Π = κΔ − γ = {kappa:g}·{delta:g} − {gamma:g} = [bold]{m.premium:+.4f}"
            f"[/bold] of the fixed policy's cost per correct: routing {verdict}."
        )
        r = m.robustness
        console.print(
            f"margin M = κΔ/γ = {margin}; the verdict flips with a relative error of "
            f"{_pct(r.kappa_or_delta)} in κ or Δ alone, {_pct(r.gamma)} in γ alone, "
            f"or {_pct(r.joint)} in all three adversely."
        )

    run_guarded(job)


def _parse_params(items: list[str]) -> dict:
    import yaml

    from costcorrect.errors import InputError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError("param", item, "KEY=VALUE, e.g. acceptance=0.8")
        out[key.strip()] = yaml.safe_load(value)
    return out


@app.command()
def patterns(
    pattern: Annotated[
        str | None,
        typer.Option(
            help="evaluate one pattern with --param values "
            "instead of the six published systems: "
            "speculative_decoding, medusa, early_exit, "
            "cascade, adaptive_sampling, exploration"
        ),
    ] = None,
    param: Annotated[
        list[str], typer.Option(help="KEY=VALUE of the pattern (repeatable), e.g. acceptance=0.8")
    ] = [],  # noqa: B006
    json_: Json = False,
) -> None:
    """The six published systems (or one pattern with your parameters) as (κ, Δ, γ), predicted
    speedup beside the published one, whether the system is independently calibrated (and then
    confirms the threshold or not), margin and flip errors."""

    def job() -> None:
        from costcorrect.errors import InputError
        from costcorrect.route.patterns import PATTERNS

        if pattern is not None:
            if pattern not in PATTERNS:
                raise InputError("pattern", pattern, f"one of {', '.join(PATTERNS)}")
            try:
                rows = [(pattern, PATTERNS[pattern](**_parse_params(param)), None, None)]
            except TypeError as err:
                raise InputError(
                    "param", " ".join(param), f"the pattern's parameters ({err})"
                ) from None
        else:
            from costcorrect.route.patterns import calibrations

            rows = [
                (c.system.id, c.point, c.system.published_speedup, c.verdict)
                for c in calibrations()
            ]
        if json_:
            echo_json(
                [
                    {"id": name, "published_speedup": pub, "verdict": verdict, **p.to_dict()}
                    for name, p, pub, verdict in rows
                ]
            )
            return
        import pandas as pd

        from costcorrect.cli.render import print_frame

        frame = pd.DataFrame(
            [
                {
                    "system": name,
                    "pattern": p.pattern,
                    "speedup": f"{p.speedup:.2f}×" + (f" (published {pub:g}×)" if pub else ""),
                    "calibration": verdict or "your parameters",
                    "κ": f"{p.kappa:.3f}",
                    "Δ": f"{p.delta:.3f}",
                    "γ": f"{p.gamma:.3f}",
                    "Π = κΔ − γ": f"{p.premium:+.3f}",
                    "flip κ|Δ": _pct(p.model.robustness.kappa_or_delta),
                    "flip γ": _pct(p.model.robustness.gamma),
                    "break-even γ": f"{p.kappa * p.delta:.3f}",
                }
                for name, p, pub, verdict in rows
            ]
        )
        print_frame(frame, "Routing patterns on the κΔ–γ plane")

    run_guarded(job)


@app.command()
def evaluate(
    data: Annotated[
        Path,
        typer.Argument(
            help="CSV, JSONL or Parquet, one row per query: "
            "columns M (correct) and M_cost or M_input_tokens + "
            "M_output_tokens per model M; optional prompt, "
            "M_verified"
        ),
    ],
    models: Annotated[
        str | None,
        typer.Option(help="comma-separated models to route between (default: every model found)"),
    ] = None,
    seed: seed_option("seed of the split, router folds and bootstrap") = 0,
    test_share: Annotated[float, typer.Option(help="held-out share of queries")] = 0.5,
    resamples: Annotated[int, typer.Option(help="bootstrap resamples")] = 1000,
    router_overhead: Annotated[
        float, typer.Option(help="learned router's cost as a share of the fixed per-query cost")
    ] = 0.0,
    price_ratio: Annotated[
        list[float],
        typer.Option(help="also re-price the dearer of two models to R× the cheaper (repeatable)"),
    ] = [],  # noqa: B006
    out: Annotated[Path | None, typer.Option(help="write the router rows as CSV")] = None,
    json_: Json = False,
) -> None:
    """Train routers on one split, predict the premium's sign from the training split's
    (κ, Δ, γ), measure Π on the held-out split with a bootstrap interval, beside APGR, CPT and
    AIQ."""

    def job() -> None:
        from costcorrect.errors import InputError
        from costcorrect.route.data import read_routing_data
        from costcorrect.route.evaluate import evaluate_routing

        if not 0 < test_share < 1:
            raise InputError("test_share", test_share, "a share in (0, 1)")
        if resamples < 1:
            raise InputError("resamples", resamples, "a positive number of resamples")
        routing = read_routing_data(data, models.split(",") if models else None)
        if routing.texts is None and routing.accepted is None:
            raise InputError(
                "columns",
                data.name,
                "a prompt column (learned router) or an "
                "M_verified column on the cheapest model (cascade)",
            )
        with progress(f"training routers on {routing.outcomes.queries:,} queries …"):
            study = evaluate_routing(
                routing, seed, test_share, resamples, router_overhead, tuple(price_ratio)
            )
        frame = _router_frame(study)
        if out is not None:
            from costcorrect.io import atomic_write

            atomic_write(out, frame.to_csv(index=False))
        if json_:
            echo_json(study.to_dict())
            return
        import pandas as pd

        from costcorrect.cli.render import print_frame

        print_frame(
            pd.DataFrame([vars(o) for o in study.options]),
            f"{study.data}: models ($ per query, $ per correct)",
        )
        print_frame(
            frame,
            f"Routers ({study.train_queries:,} training / {study.test_queries:,} held-out queries)",
        )

    run_guarded(job)


def _router_frame(study):
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "pricing": r.pricing,
                "router": r.router,
                "delta_train": r.train.delta,
                "kappa_train": r.train.kappa,
                "gamma_train": r.train.gamma,
                "first_order_train": r.train.first_order,
                "predicts": "pays" if r.predicted_pays else "does not pay",
                "premium_test": r.test.premium,
                "premium_low": r.intervals.premium.low,
                "premium_high": r.intervals.premium.high,
                "sign": r.sign_check,
                "usd_per_correct_fixed": r.test.fixed_cost_per_correct,
                "usd_per_correct_routed": r.test.routed_cost_per_correct,
                "apgr": r.metrics.apgr,
                "cpt50": r.metrics.cpt50,
                "cpt80": r.metrics.cpt80,
                "aiq": r.metrics.aiq,
            }
            for r in study.routers
        ]
    ).round(5)
