"""Quantization in Cost-correct: the catalog's published accuracy lowers α, the trade
C_q / C = (CPM_q / CPM) / recovery, and its break-even accuracy loss."""

import json

import pytest
from typer.testing import CliRunner

from costcorrect.catalog.quantization import accuracy_entries, accuracy_recovery
from costcorrect.cli.app import app
from costcorrect.correct.quantization import quantization_trade, serving_quantization_trade
from costcorrect.errors import InputError


def test_every_published_entry_is_sourced_dated_and_a_plausible_recovery():
    entries = accuracy_entries()
    assert len(entries) >= 8
    for e in entries:
        assert e.source and e.date.year >= 2024
        assert 0.85 < e.ratio < 1.05, e
    fp8 = accuracy_recovery("llama-3.1-8b", "fp8")
    assert fp8.ratio == pytest.approx(73.44 / 73.79, rel=1e-12)
    assert accuracy_recovery("llama-3.1-8b", "bf16") is None
    with pytest.raises(InputError, match="format"):
        accuracy_recovery("llama-3.1-8b", "not-a-format")


def test_break_even_loss_with_made_up_numbers(monkeypatch):
    """CPM 10 → 8 (a 20 % saving): with α 0.9 and a made-up recovery r, C_q / C = 0.8 / r,
    so the format pays exactly while 1 − r < 20 %."""
    import costcorrect.correct.quantization as q
    from costcorrect.catalog.quantization import AccuracyEntry

    for recovery, pays in ((0.85, True), (0.79, False)):
        entry = AccuracyEntry(
            model="m", format="fp8", metric="x", recovery=recovery, source="s", date="2025-01-01"
        )
        monkeypatch.setattr(q, "accuracy_recovery", lambda *_, e=entry: e)
        t = quantization_trade("m", "fp8", 10.0, 8.0, alpha=0.9)
        assert t.alpha_quantized == pytest.approx(0.9 * recovery, rel=1e-12)
        ratio = t.quantized_cost_correct / t.baseline_cost_correct
        assert ratio == pytest.approx(0.8 / recovery, rel=1e-12)
        assert t.break_even_loss == pytest.approx(0.2, rel=1e-12)
        assert t.pays is pays and ((1 - recovery) < t.break_even_loss) is pays


def test_serving_trade_uses_the_catalog_delta_and_cheaper_tokens():
    """From the serving layer: FP8 Llama-3.1-8B on an H100 costs less per SLO-compliant
    token than BF16, α falls by exactly the published FP8 delta, and the answer names the
    stack with its validated error."""
    t = serving_quantization_trade("llama-3.1-8b", "fp8", "H100-SXM", alpha=0.8)
    assert 0 < t.quantized_usd_per_m < t.baseline_usd_per_m
    assert t.alpha_quantized == pytest.approx(0.8 * 73.44 / 73.79, rel=1e-12)
    assert "validated on" in t.serving
    with pytest.raises(InputError, match="format"):
        serving_quantization_trade("llama-3.1-70b", "fp4", "B200")


def test_quantize_cli_json_and_bad_input():
    runner = CliRunner()
    result = runner.invoke(app, ["quantize", "--format", "awq-int4", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["weight_format"] == "awq-int4" and out["accuracy"]["recovery"] == 0.989
    assert out["break_even_loss"] == pytest.approx(1 - out["cpm_ratio"])
    bad = runner.invoke(app, ["quantize", "--format", "bf16"])
    assert bad.exit_code == 2 and "format" in bad.output and bad.output.count("\n") == 1


def test_report_lowers_alpha_by_the_winners_published_accuracy():
    """The report's Cost-correct takes α × the winner format's published recovery and says so;
    a quantized winner with no published accuracy keeps α as given and says that instead."""
    from types import SimpleNamespace

    from costcorrect.catalog.quantization import published_accuracy
    from costcorrect.correct.quantization import quantized_accept_rate
    from costcorrect.report.economics_sections import _alpha_note

    fp8 = published_accuracy("llama-3.1-8b", "fp8")
    assert quantized_accept_rate(0.9, fp8) == pytest.approx(0.9 * fp8.ratio, rel=1e-12)
    assert quantized_accept_rate(0.9, None) == 0.9
    assert quantized_accept_rate(1.0, published_accuracy("llama-3.1-8b", "int8")) == 1.0
    assert published_accuracy("qwen3-32b", "fp8") is None
    assert published_accuracy("llama-3.1-8b", None) is None

    def result(model, fmt):
        return SimpleNamespace(
            plan=SimpleNamespace(winner=SimpleNamespace(weight_format=fmt)),
            quantization=published_accuracy(model, fmt),
            scenario=SimpleNamespace(model=model, answer=SimpleNamespace(accept_rate=0.9)),
        )

    assert "× 0.9953, the published accuracy of fp8" in _alpha_note(result("llama-3.1-8b", "fp8"))
    assert "no published accuracy of qwen3-32b in fp8" in _alpha_note(result("qwen3-32b", "fp8"))
    assert _alpha_note(result("llama-3.1-8b", None)) == ""
