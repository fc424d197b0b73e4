"""Dated public API price table: USD per token for input, output and cached input.

The numbers come from the data bundled with the ``genai-prices`` package, read offline. Our
``data/price_overrides.yaml`` entries win over them. We never call genai-prices'
``UpdatePrices`` or ``get_snapshot()``: an updater started elsewhere in the process could swap that
snapshot for live data. We read ``genai_prices.data.providers``, the snapshot shipped in the wheel.

genai-prices prices that do not fit one flat number are reduced as follows:

* conditional prices with start dates: we take the price in force on the snapshot date, not today,
  so the table stays deterministic;
* time-of-day prices (DeepSeek's peak/off-peak): every window counts as in force, so the last one
  listed wins. In 0.2.3 that is always the peak rate, an upper bound;
* tiered prices (by prompt length, e.g. Gemini above 200k tokens): the base tier, which covers
  prompts below the first threshold;
* request variants (batch, flex, priority, fast): ignored. The standard tier is used;
* models without both an input and an output token price (embeddings, images, audio, search):
  left out.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Iterator
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from costcorrect.catalog.base import input_error_from
from costcorrect.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    from genai_prices.types import ModelInfo, ModelPrice

OVERRIDES_PATH = Path(__file__).parent / "data" / "price_overrides.yaml"
_MTOK = 1_000_000  # tokens per million


class ApiPrice(BaseModel):
    """One model's list price on one provider's API, in USD per token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    model: str
    aliases: tuple[str, ...] = ()
    input_usd_per_token: float = Field(ge=0)
    output_usd_per_token: float = Field(ge=0)
    cached_input_usd_per_token: float | None = Field(default=None, ge=0)
    source: str
    date: dt.date

    @property
    def blended_usd_per_token(self) -> float:
        """(input + output) / 2 in USD/token. This 1:1 blend is the project's default."""
        return (self.input_usd_per_token + self.output_usd_per_token) / 2

    def matches(self, name: str) -> bool:
        """True if ``name`` is this model's id or an alias (case-insensitive)."""
        key = name.casefold()
        return key == self.model.casefold() or key in (a.casefold() for a in self.aliases)


class _Override(BaseModel):
    """One entry of ``price_overrides.yaml``, priced in USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    model: str
    aliases: tuple[str, ...] = ()
    input_usd_per_mtok: float = Field(ge=0)
    output_usd_per_mtok: float = Field(ge=0)
    cached_input_usd_per_mtok: float | None = Field(default=None, ge=0)
    source: str
    date: dt.date

    def to_price(self) -> ApiPrice:
        cached = self.cached_input_usd_per_mtok
        return ApiPrice(
            provider=self.provider,
            model=self.model,
            aliases=self.aliases,
            input_usd_per_token=self.input_usd_per_mtok / _MTOK,
            output_usd_per_token=self.output_usd_per_mtok / _MTOK,
            cached_input_usd_per_token=None if cached is None else cached / _MTOK,
            source=self.source,
            date=self.date,
        )


class _Release(BaseModel):
    """The pinned genai-prices release and its date, which dates its snapshot."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    date: dt.date
    source: str


class _OverridesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1]
    genai_prices: _Release
    api_prices: tuple[_Override, ...] = ()


def api_prices() -> list[ApiPrice]:
    """Every priced model in lookup order: overrides, first-party listings, then resellers.

    Prices are in USD/token. The table is read offline once and then cached.
    """
    return list(_table(OVERRIDES_PATH))


def find_api_price(name: str, provider: str | None = None) -> ApiPrice:
    """The price of model ``name`` (id or alias, case-insensitive), optionally on ``provider``.

    When several entries match, the first in table order wins: an override, then the model's
    first-party provider (e.g. anthropic for claude-opus-4-5, not aws), then resellers.
    """
    table = api_prices()
    if provider is not None:
        table = [p for p in table if p.provider.casefold() == provider.casefold()]
        if not table:
            providers = (p.provider for p in api_prices())
            raise InputError(
                "provider", provider, f"a priced provider such as {_close(provider, providers)}"
            )
    found = next((p for p in table if p.matches(name)), None)
    if found is None:
        names = (n for p in table for n in (p.model, *p.aliases))
        raise InputError("model", name, f"a priced model such as {_close(name, names)}")
    return found


def api_prices_frame() -> pd.DataFrame:
    """The table for display, one row per (provider, model), prices in USD per million tokens."""
    import pandas as pd

    rows = [
        {
            "provider": p.provider,
            "model": p.model,
            "input_usd_per_mtok": _per_mtok(p.input_usd_per_token),
            "output_usd_per_mtok": _per_mtok(p.output_usd_per_token),
            "cached_input_usd_per_mtok": _per_mtok(p.cached_input_usd_per_token),
            "blended_usd_per_mtok": _per_mtok(p.blended_usd_per_token),
            "aliases": ", ".join(p.aliases),
            "source": p.source,
            "date": p.date,
        }
        for p in api_prices()
    ]
    return pd.DataFrame(rows).sort_values(["provider", "model"], ignore_index=True)


@cache
def _table(overrides_path: Path) -> tuple[ApiPrice, ...]:
    overrides = _read_overrides(overrides_path)
    ours = [o.to_price() for o in overrides.api_prices]
    replaced = {_key(p) for p in ours}
    snapshot = _snapshot_prices(overrides.genai_prices)
    return (*ours, *(p for p in snapshot if _key(p) not in replaced))


def _read_overrides(path: Path) -> _OverridesFile:
    try:
        return _OverridesFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as err:
        raise input_error_from(err, path.name) from None


def _snapshot_prices(release: _Release) -> list[ApiPrice]:
    """Flat token prices from the genai-prices snapshot, first-party listings first."""
    import genai_prices
    from genai_prices.data import providers

    if genai_prices.__version__ != release.version:
        raise InputError(
            "genai-prices",
            genai_prices.__version__,
            f"version {release.version}, the release dated in {OVERRIDES_PATH.name} "
            "(pin it, or record the new release's date there)",
        )
    first_party: list[ApiPrice] = []
    resold: list[ApiPrice] = []
    for provider in providers:
        urls = provider.pricing_urls or []
        source = "; ".join([f"genai-prices {release.version}", *urls[:1]])
        claims = provider.model_match  # names the provider owns, e.g. "claude" for anthropic
        for model in provider.models:
            price = _price_on(model, release.date)
            in_out = [_usd_per_token(price, key) for key in ("input_mtok", "output_mtok")]
            if None in in_out:
                continue
            entry = ApiPrice(
                provider=provider.id,
                model=model.id,
                aliases=_aliases(model),
                input_usd_per_token=in_out[0],
                output_usd_per_token=in_out[1],
                cached_input_usd_per_token=_usd_per_token(price, "cache_read_mtok"),
                source=source,
                date=release.date,
            )
            own = claims is not None and claims.is_match(model.id.lower())
            (first_party if own else resold).append(entry)
    return first_party + resold


def _price_on(model: ModelInfo, day: dt.date) -> ModelPrice:
    """The standard price in force on ``day``. Time-of-day windows always count as in force."""
    from genai_prices.types import StartDateConstraint

    if not isinstance(model.prices, list):
        return model.prices
    for conditional in reversed(model.prices):  # later entries take precedence, as in genai-prices
        constraint = conditional.constraint
        if not isinstance(constraint, StartDateConstraint) or constraint.start_date <= day:
            return conditional.prices
    return model.prices[0].prices


def _usd_per_token(price: ModelPrice, key: str) -> float | None:
    """USD/token for a genai-prices USD-per-Mtok field. Tiered prices give their base tier."""
    value = vars(price).get(key)
    if value is None:
        return None
    base: Decimal = value if isinstance(value, Decimal) else value.base
    return float(base / _MTOK)


def _aliases(model: ModelInfo) -> tuple[str, ...]:
    """Literal names in the model's match rule that the rule accepts, except the id itself."""
    names = (n for n in _literals(model.match) if n.casefold() != model.id.casefold())
    return tuple(dict.fromkeys(n for n in names if model.is_match(n)))


def _literals(rule: Any) -> Iterator[str]:
    for attr in ("equals", "starts_with", "contains"):
        if isinstance(value := getattr(rule, attr, None), str):
            yield value
    for child in (*getattr(rule, "or_", ()), *getattr(rule, "and_", ())):
        yield from _literals(child)


def _key(price: ApiPrice) -> tuple[str, str]:
    return price.provider.casefold(), price.model.casefold()


def _close(word: str, choices: Iterable[str]) -> str:
    """The 3 choices most like ``word``, by difflib ratio, as "'a', 'b' or 'c'"."""
    by_key = {c.casefold(): c for c in choices}
    best = [by_key[k] for k in difflib.get_close_matches(word.casefold(), by_key, n=3, cutoff=0)]
    quoted = [repr(b) for b in best]
    return " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)


def _per_mtok(usd_per_token: float | None) -> float | None:
    """USD/token as USD per million tokens, rounded to hide binary float noise."""
    return None if usd_per_token is None else round(usd_per_token * _MTOK, 9)
