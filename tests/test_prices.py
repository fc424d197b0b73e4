"""The dated API price table: genai-prices snapshot plus our overrides, read offline."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from costcorrect.catalog import prices
from costcorrect.catalog.prices import ApiPrice, api_prices, api_prices_frame, find_api_price
from costcorrect.errors import InputError

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
LITELLM = SHARED / "data" / "litellm_prices" / "model_prices_and_context_window_backup.json"
FRUGALGPT = SHARED / "data" / "frugalgpt" / "config" / "serviceinfo.json"
SNAPSHOT_DATE = dt.date(2026, 11, 10)  # genai-prices 0.2.3 release, recorded in the YAML

# Flagship models: output tokens cost at least as much as input tokens.
BIG = [
    ("gpt-4o", "openai"),
    ("gpt-4o-mini", "openai"),
    ("claude-3-5-sonnet", "anthropic"),
    ("claude-sonnet-4-5", "anthropic"),
    ("gemini-2.5-pro", "google"),
    ("mistral-large", "mistral"),
    ("meta-llama/Llama-3.3-70B-Instruct-Turbo", "together"),
]


@pytest.fixture
def overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the shipped overrides that a test may edit; the table cache is reset around it."""
    path = tmp_path / "price_overrides.yaml"
    path.write_text(prices.OVERRIDES_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(prices, "OVERRIDES_PATH", path)
    yield path
    prices._table.cache_clear()


def _edit(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def test_table_covers_major_hosted_models() -> None:
    table = api_prices()
    assert len(table) > 1000
    assert find_api_price("gpt-4o").provider == "openai"
    assert find_api_price("claude-sonnet-4-5").provider == "anthropic"
    assert find_api_price("meta-llama/Llama-3.3-70B-Instruct-Turbo").provider == "together"
    assert find_api_price("mixtral-8x7b-32768").provider == "groq"
    assert len({(p.provider.casefold(), p.model.casefold()) for p in table}) == len(table)


def test_prices_are_non_negative_and_dated() -> None:
    for p in api_prices():
        assert p.input_usd_per_token >= 0 and p.output_usd_per_token >= 0, p
        assert p.cached_input_usd_per_token is None or p.cached_input_usd_per_token >= 0, p
        assert p.source and p.date <= SNAPSHOT_DATE, p


@pytest.mark.parametrize(("model", "provider"), BIG)
def test_output_costs_at_least_input_for_big_models(model: str, provider: str) -> None:
    p = find_api_price(model, provider)
    assert p.output_usd_per_token >= p.input_usd_per_token > 0
    assert p.blended_usd_per_token == (p.input_usd_per_token + p.output_usd_per_token) / 2


def test_snapshot_values_units_and_provenance() -> None:
    p = find_api_price("gpt-4o", "openai")
    assert p.input_usd_per_token == pytest.approx(2.5e-6)  # $2.50 per Mtok
    assert p.output_usd_per_token == pytest.approx(10e-6)
    assert p.cached_input_usd_per_token == pytest.approx(1.25e-6)
    assert p.source.startswith("genai-prices 0.2.3")
    assert p.date == SNAPSHOT_DATE


def test_conditional_and_tiered_prices_are_reduced_as_documented() -> None:
    # Time-of-day prices: the peak window's rate (off-peak would be $0.135/$0.55).
    deepseek = find_api_price("deepseek-chat", "deepseek")
    assert deepseek.input_usd_per_token == pytest.approx(0.27e-6)
    assert deepseek.output_usd_per_token == pytest.approx(1.10e-6)
    # Tiered prices: the base tier, for prompts up to 200k tokens.
    gemini = find_api_price("gemini-2.5-pro", "google")
    assert gemini.input_usd_per_token == pytest.approx(1.25e-6)
    assert gemini.output_usd_per_token == pytest.approx(10e-6)


def test_lookup_by_alias_is_case_insensitive() -> None:
    assert find_api_price("GPT-4o-2024-08-06").model == "gpt-4o"
    assert find_api_price("claude-3.5-sonnet").model == "claude-3-5-sonnet"
    assert find_api_price("gpt-4-1106-preview").model == "gpt-4-turbo"
    assert find_api_price("claude-sonnet-4.5", provider="Google").provider == "google"


def test_first_party_listing_wins_without_provider() -> None:
    # aws lists "claude-opus-4-5" as an alias of its own Bedrock entry.
    assert find_api_price("claude-opus-4-5").provider == "anthropic"
    assert find_api_price("claude-opus-4-5", "aws").provider == "aws"


def test_unknown_model_raises_input_error_with_suggestions() -> None:
    with pytest.raises(InputError) as err:
        find_api_price("gpt-4o-minii")
    assert err.value.field == "model"
    assert "'gpt-4o-mini'" in err.value.expected
    assert "\n" not in str(err.value)


def test_unknown_provider_raises_input_error() -> None:
    with pytest.raises(InputError) as err:
        find_api_price("gpt-4o", provider="openaii")
    assert err.value.field == "provider"
    assert "'openai'" in err.value.expected


def test_model_missing_on_named_provider_raises() -> None:
    with pytest.raises(InputError, match="gpt-4o"):
        find_api_price("gpt-4o", provider="cohere")


def test_shipped_overrides_add_frugalgpt_models() -> None:
    flash_8b = find_api_price("gemini-1.5-flash-8b")
    assert flash_8b.input_usd_per_token == pytest.approx(0.0375e-6)
    assert flash_8b.output_usd_per_token == pytest.approx(0.15e-6)
    assert flash_8b.source.startswith("FrugalGPT")
    assert flash_8b.date == dt.date(2024, 11, 25)
    assert find_api_price("gemma-2-9b-it").model == "google/gemma-2-9b-it"
    assert find_api_price("jamba-1.5-large").provider == "ai21"


def test_override_wins_over_snapshot(overrides_file: Path) -> None:
    data = yaml.safe_load(overrides_file.read_text(encoding="utf-8"))
    test_entry = {
        "provider": "openai",
        "model": "GPT-4o",  # matched case-insensitively against the snapshot's "gpt-4o"
        "input_usd_per_mtok": 1.0,
        "output_usd_per_mtok": 3.0,
        "cached_input_usd_per_mtok": 0.5,
        "source": "test-only entry",
        "date": dt.date(2026, 1, 1),
    }
    _edit(overrides_file, api_prices=[*data["api_prices"], test_entry])
    p = find_api_price("gpt-4o")
    assert (p.source, p.input_usd_per_token, p.output_usd_per_token) == (
        "test-only entry",
        1e-6,
        3e-6,
    )
    assert p.blended_usd_per_token == pytest.approx(2e-6)
    openai = [q.model for q in api_prices() if q.provider == "openai"]
    assert [m for m in openai if m.casefold() == "gpt-4o"] == ["GPT-4o"]
    with pytest.raises(InputError):  # the override replaces the whole entry, aliases included
        find_api_price("gpt-4o-2024-08-06", "openai")


def test_bad_override_is_one_line_input_error(overrides_file: Path) -> None:
    data = yaml.safe_load(overrides_file.read_text(encoding="utf-8"))
    data["api_prices"][0]["input_usd_per_mtok"] = -1
    _edit(overrides_file, api_prices=data["api_prices"])
    with pytest.raises(InputError) as err:
        api_prices()
    assert err.value.field == "price_overrides.yaml.api_prices.0.input_usd_per_mtok"


def test_unrecorded_genai_prices_version_is_refused(overrides_file: Path) -> None:
    _edit(overrides_file, genai_prices={"version": "0.0.1", "date": "2025-01-01", "source": "x"})
    with pytest.raises(InputError) as err:
        api_prices()
    assert err.value.field == "genai-prices"
    assert err.value.value == "0.2.3"


def test_table_is_built_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    from genai_prices import data_snapshot, update_prices

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network or price update attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(update_prices.UpdatePrices, "start", refuse)
    monkeypatch.setattr(update_prices.UpdatePrices, "fetch", refuse)
    prices._table.cache_clear()
    try:
        assert find_api_price("gpt-4o").input_usd_per_token == pytest.approx(2.5e-6)
    finally:
        prices._table.cache_clear()
    assert data_snapshot._custom_snapshot is None
    assert update_prices._shared_updater.thread is None


def test_table_ignores_a_live_snapshot_installed_by_someone_else() -> None:
    from genai_prices import data_snapshot

    before = api_prices()
    prices._table.cache_clear()
    data_snapshot.set_custom_snapshot(data_snapshot.DataSnapshot([], from_auto_update=True))
    try:
        assert api_prices() == before
    finally:
        data_snapshot.set_custom_snapshot(None)
        prices._table.cache_clear()


def test_frame_shows_usd_per_million_tokens() -> None:
    frame = api_prices_frame()
    assert len(frame) == len(api_prices())
    row = frame[(frame.provider == "openai") & (frame.model == "gpt-4o")].iloc[0]
    assert (row.input_usd_per_mtok, row.output_usd_per_mtok, row.blended_usd_per_mtok) == (
        2.5,
        10.0,
        6.25,
    )
    assert row.cached_input_usd_per_mtok == 1.25


def test_api_price_rejects_negative_prices() -> None:
    with pytest.raises(ValueError):
        ApiPrice(
            provider="x",
            model="y",
            input_usd_per_token=-1e-6,
            output_usd_per_token=1e-6,
            cached_input_usd_per_token=None,
            source="test",
            date=dt.date(2026, 1, 1),
        )


# LiteLLM 1.110.2 is an independent late-2026 transcription of the same published list prices.
# For these stable flagship prices both tables should hold the very same dollar figure, so the
# tolerance only absorbs decimal-to-binary rounding (rel 1e-9). Any real gap is a data bug.
# claude-3-5-sonnet is retired from that LiteLLM release, so claude-sonnet-4-5 stands in for it.
CROSS_CHECK = [
    ("gpt-4o", "openai", "gpt-4o"),
    ("gpt-4o-mini", "openai", "gpt-4o-mini"),
    ("claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
    ("jamba-1.5-large", "ai21", "jamba-1.5-large"),  # checks our FrugalGPT-sourced override
]


@pytest.mark.skipif(not LITELLM.exists(), reason=f"LiteLLM price table not found at {LITELLM}")
@pytest.mark.parametrize(("model", "provider", "litellm_key"), CROSS_CHECK)
def test_cross_check_against_litellm(model: str, provider: str, litellm_key: str) -> None:
    theirs = json.loads(LITELLM.read_text(encoding="utf-8"))[litellm_key]
    ours = find_api_price(model, provider)
    assert ours.input_usd_per_token == pytest.approx(theirs["input_cost_per_token"], rel=1e-9)
    assert ours.output_usd_per_token == pytest.approx(theirs["output_cost_per_token"], rel=1e-9)
    if "cache_read_input_token_cost" in theirs and ours.cached_input_usd_per_token is not None:
        assert ours.cached_input_usd_per_token == pytest.approx(
            theirs["cache_read_input_token_cost"], rel=1e-9
        )


@pytest.mark.skipif(
    not FRUGALGPT.exists(), reason=f"FrugalGPT price table not found at {FRUGALGPT}"
)
def test_frugalgpt_overrides_match_their_source() -> None:
    service = json.loads(FRUGALGPT.read_text(encoding="utf-8"))
    for model, provider, key in [
        ("gemini-1.5-flash-8b", "google", ("google", "gemini-1.5-flash-8b")),
        ("google/gemma-2-9b-it", "together", ("togetherai", "google/gemma-2-9b-it")),
        ("jamba-1.5-large", "ai21", ("ai21", "jamba-1.5-large")),
    ]:
        theirs = service[key[0]][key[1]]
        ours = find_api_price(model, provider)
        assert ours.input_usd_per_token == pytest.approx(theirs["cost_input"], rel=1e-9)
        assert ours.output_usd_per_token == pytest.approx(theirs["cost_output"], rel=1e-9)
