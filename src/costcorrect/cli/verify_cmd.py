"""``costcorrect verify calibrate|compose``: how calibrated a verifier's reports are, and what
composing verifiers does to the pipeline's accept rate (thin over :mod:`costcorrect.verify`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from costcorrect.cli.common import Json, echo_json, progress, run_guarded, seed_option

app = typer.Typer(no_args_is_help=True, help="Verifier calibration and composition.")

Data = Annotated[Path, typer.Argument(help="CSV, JSONL or Parquet, one row per instance")]


@app.command()
def calibrate(
    data: Data,
    score: Annotated[str, typer.Option(help="column of reported probabilities")] = "score",
    outcome: Annotated[str, typer.Option(help="column of 0/1 outcomes")] = "is_correct",
    bins: Annotated[int, typer.Option(help="ECE bins")] = 15,
    strategy: Annotated[str, typer.Option(help="uniform | quantile bins")] = "uniform",
    resamples: Annotated[int, typer.Option(help="bootstrap resamples")] = 1000,
    seed: seed_option("bootstrap seed") = 0,
    json_: Json = False,
) -> None:
    """Scores (Brier, log, spherical), ECE and smooth ECE with 95 % bootstrap intervals."""

    def job() -> None:
        from dataclasses import asdict

        from costcorrect.verify.calibration import calibration_report
        from costcorrect.verify.data import binary, probability, read_table

        frame = read_table(data)
        p, y = probability(frame, score), binary(frame, outcome)
        with progress(f"bootstrapping {len(frame):,} pairs …"):
            report = calibration_report(p, y, bins, strategy, resamples, seed=seed)
        if json_:
            echo_json(asdict(report))
            return
        from costcorrect.cli.render import print_calibration

        print_calibration(report)

    run_guarded(job)


@app.command()
def compose(
    data: Data,
    verifiers: Annotated[str, typer.Option(help="0/1 accept columns, comma-separated")],
    rule: Annotated[str, typer.Option(help="and | or | M-of-K, e.g. 2-of-3")] = "and",
    json_: Json = False,
) -> None:
    """Exact pipeline accept rate against the independence prediction, and the interaction
    terms that make the difference (for two verifiers: ±their covariance)."""

    def job() -> None:
        from costcorrect.verify.composition_report import compose_columns

        result = compose_columns(data, tuple(v.strip() for v in verifiers.split(",")), rule)
        if json_:
            echo_json(result.to_dict())
            return
        from costcorrect.cli.render import print_composition

        print_composition(result)

    run_guarded(job)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="figure stem: STEM.png, STEM.svg and STEM.csv")] = Path(
        "regret"
    ),
    k1: Annotated[int, typer.Option(help="candidates for the first verifier")] = 30,
    k2: Annotated[int, typer.Option(help="candidates for the second verifier")] = 30,
    trials: Annotated[int, typer.Option(min=1, help="simulated selections per N")] = 400,
    seed: seed_option() = 0,
    json_: Json = False,
) -> None:
    """Selecting a verifier pair: regret of the joint vs the marginal scoring mechanism
    against N probes, with the √((log K1 + log K2)/N) rate (figure + CSV)."""

    def job() -> None:
        import pandas as pd

        from costcorrect.io import atomic_write
        from costcorrect.report.figures import regret_figure
        from costcorrect.verify.mechanism import selection_regret

        curve = selection_regret(k1, k2, trials=trials, seed=seed)
        frame = pd.DataFrame(
            {
                "probes": curve.probes,
                "joint_regret": curve.joint,
                "marginal_regret": curve.marginal,
                "rate": curve.rate,
            }
        )
        atomic_write(out.with_suffix(".csv"), frame.to_csv(index=False))
        files = regret_figure(curve, out)
        summary = {
            "pairs": curve.pairs,
            "joint_slope": curve.joint_slope,
            "marginal_limit": curve.marginal_limit,
            "files": [str(out.with_suffix(".csv")), *map(str, files)],
        }
        if json_:
            echo_json(summary)
        else:
            typer.echo(
                f"{curve.pairs} pairs: joint-mechanism regret falls with slope "
                f"{curve.joint_slope:.3f} in log N (rate: −0.5); per-component procurement "
                f"falls from {curve.marginal[0]:.4f} to {curve.marginal[-1]:.4f} × CPM toward "
                f"{curve.marginal_limit:.4f} (the best-marginal pair, blind to the covariance); "
                f"wrote {', '.join(summary['files'])}"
            )

    run_guarded(job)


@app.command()
def audit(
    data: Data,
    verifiers: Annotated[str, typer.Option(help="0/1 accept columns, comma-separated")],
    rule: Annotated[str, typer.Option(help="and | or | M-of-K")] = "and",
    cpm: Annotated[float | None, typer.Option(help="$ per M tokens, for Cost-correct")] = None,
    outcome: Annotated[str | None, typer.Option(help="0/1 ground-truth column")] = None,
    out: Annotated[Path | None, typer.Option(help="write the JSON record here")] = None,
    summary: Annotated[Path | None, typer.Option(help="write the one-page summary here")] = None,
    json_: Json = False,
) -> None:
    """The audit record of a composed pipeline (JSON, schema in the module docs) and a
    one-page summary. The record is printed unless --out is given (--json: printed always)."""

    def job() -> None:
        import json

        from costcorrect.io import atomic_write
        from costcorrect.verify.audit import audit as build
        from costcorrect.verify.audit import summary_markdown

        names = tuple(v.strip() for v in verifiers.split(","))
        record = build(data, names, rule, cpm, outcome)
        text = json.dumps(record, indent=2) + "\n"
        if out is not None:
            atomic_write(out, text)
        if summary is not None:
            atomic_write(summary, summary_markdown(record))
        if out is None or json_:
            typer.echo(text, nl=False)

    run_guarded(job)


@app.command()
def curriculum(
    false_accept: Annotated[float, typer.Option(help="verifier: P(accept a flawed task)")] = 0.2,
    false_reject: Annotated[float, typer.Option(help="verifier: P(reject a sound task)")] = 0.1,
    sound: Annotated[float, typer.Option(help="setter's share of sound tasks at start")] = 0.9,
    solver: Annotated[float, typer.Option(help="solver accuracy on sound tasks at start")] = 0.3,
    flawed_match: Annotated[
        float, typer.Option(help="P(solver matches a flawed task's wrong reference)")
    ] = 0.0,
    rounds: Annotated[int, typer.Option(min=1, help="self-play rounds")] = 400,
    tasks: Annotated[int, typer.Option(min=1, help="tasks proposed per round")] = 500,
    setter_usd: Annotated[float, typer.Option(help="$ per proposed task")] = 0.001,
    verifier_usd: Annotated[float, typer.Option(help="$ per verification")] = 0.002,
    solver_usd: Annotated[float, typer.Option(help="$ per solver attempt")] = 0.001,
    examples: Annotated[float, typer.Option(help="clean training examples wanted")] = 1e5,
    eta_rollouts: Annotated[
        float | None, typer.Option(help="η_α^ρ, for the allocation threshold")
    ] = None,
    eta_training: Annotated[float | None, typer.Option(help="η_α^T")] = None,
    inference_spend: Annotated[float | None, typer.Option(help="D_I in $")] = None,
    seed: seed_option() = 0,
    figure: Annotated[
        Path | None, typer.Option(help="write STEM.csv and the trajectory as STEM.png, STEM.svg")
    ] = None,
    json_: Json = False,
) -> None:
    """The verifier as curriculum: the setter's reward (accepted × solver failed) in closed
    form and sampled, the solver accuracy past which flawed tasks pay the setter more, a
    self-play run showing the drift, and the verifier calls a clean training example costs."""

    def job() -> None:
        from costcorrect.verify.curriculum import (
            Verifier,
            break_even_accuracy,
            curriculum_cost,
            sample_rewards,
            self_play,
            setter_reward,
        )

        verifier = Verifier(false_accept, false_reject)
        reward = setter_reward(sound, solver, verifier, flawed_match)
        sampled = sample_rewards(reward, 200_000, seed)
        with progress(f"self-play, {rounds:,} rounds …"):
            run = self_play(verifier, rounds, tasks, sound, solver, flawed_match, seed=seed)
        cost = curriculum_cost(
            reward, setter_usd, verifier_usd, solver_usd, examples,
            eta_rollouts, eta_training, inference_spend,
        )  # fmt: skip
        threshold = break_even_accuracy(verifier, flawed_match)
        if figure is not None:
            from costcorrect.io import atomic_write
            from costcorrect.report.figures import curriculum_figure

            atomic_write(figure.with_suffix(".csv"), run.to_frame().to_csv(index=False))
            curriculum_figure(run, threshold, figure)
        if json_:
            echo_json(
                {
                    "closed_form": reward.to_dict(),
                    "sampled": sampled,
                    "break_even_accuracy": threshold,
                    "self_play": run.to_dict(),
                    "cost": cost.to_dict(),
                }
            )
            return
        from costcorrect.cli.render import print_curriculum

        print_curriculum(reward, sampled, threshold, run, cost)

    run_guarded(job)


@app.command()
def scaling(
    trials: Annotated[int, typer.Option(min=1, help="simulated selections per grid point")] = 200,
    seed: seed_option() = 0,
    json_: Json = False,
) -> None:
    """How selecting a verifier pair scales with the candidates and the probes: the largest
    estimation error over K1·K2 pairs (which bounds the regret) fitted in N and in
    log K1 + log K2, and a needle instance's worst-gap regret as the lower side."""

    def job() -> None:
        from costcorrect.verify.regret import ALPHA0, regret_scaling

        with progress("simulating the grid …"):
            result = regret_scaling(trials=trials, seed=seed)
        if json_:
            echo_json(result.to_dict())
            return
        from costcorrect.cli.render import print_frame

        print_frame(
            result.rows,
            "selection from N probes per pair: rate √((log K1 + log K2)/N), upper side "
            "E[max |α̂ − α|], lower side the needle instance's worst-gap regret",
        )
        typer.echo(
            f"Upper side: log E[max |α̂ − α|] ∝ {result.upper_slope_probes:.3f}·log N + "
            f"{result.upper_slope_log_pairs:.3f}·log(log K1 + log K2) (the rate: −0.5, 0.5). "
            f"Lower side (needle at α₀ = {ALPHA0:g}, worst gap): regret ≥ "
            f"{result.lower_constant:.3f}·√((log K1 + log K2)/N) at every grid point; its "
            f"exponent in log K1 + log K2 is {result.lower_slope_log_pairs:.2f} on this grid — "
            "the √log K of the rate is reached only slowly as K grows, from above."
        )

    run_guarded(job)
