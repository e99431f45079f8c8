"""What a model call costs: price tables as data, and cost = price times usage.

Prices live in ``prices.toml`` next to this module, one table per model with
the date it was read and a link to where; an operator's file
(``PANIC_PRICES=path.toml``, same format) replaces tables model by model
without a release. A platform reports *usage* in ``metadata["usage"]`` in the
units below; this module multiplies. A model without a price, or a call whose
provider did not report the usage its price needs, costs ``None`` and the
basis says why: a guess is never shown as a fact.

Amounts are computed in :class:`~decimal.Decimal` (prices are parsed as
decimals), so ``40 * $1.25/M + 12 * $10/M`` is exactly ``0.00017``.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Final

from panic_trio.errors import ConfigError

CURRENCY: Final = "USD"
MILLION: Final = Decimal(1_000_000)

# price key → (usage key, divisor, how the basis names the unit)
UNITS: Final[Mapping[str, tuple[str, Decimal, str]]] = {
    "per_call": ("calls", Decimal(1), "call"),
    "per_million_input_tokens": ("input_tokens", MILLION, "input tokens"),
    "per_million_output_tokens": ("output_tokens", MILLION, "output tokens"),
    "per_second": ("seconds", Decimal(1), "s"),
    "per_output": ("outputs", Decimal(1), "outputs"),
}
_KNOWN_KEYS: Final = frozenset(UNITS) | {"read_on", "source", "note"}


@dataclass(frozen=True, slots=True)
class Price:
    """One model's price: USD per unit, and where and when it was read."""

    rates: Mapping[str, Decimal]
    read_on: dt.date
    source: str
    note: str = ""

    def fixed(self) -> Decimal | None:
        """What one call costs before any usage is known (per call, one output), or ``None``.

        The cap check uses it as the next call's expected cost.
        """
        known = {k: v for k, v in self.rates.items() if k in ("per_call", "per_output")}
        if len(known) != len(self.rates):
            return None
        return sum(known.values(), Decimal(0))


@dataclass(frozen=True, slots=True)
class Cost:
    """The cost of one invocation, as recorded in ``metadata["cost"]``."""

    amount: Decimal | None
    basis: str
    price: Price | None = None
    usage: Mapping[str, float] = field(default_factory=dict)

    @property
    def amount_usd(self) -> float | None:
        """The amount as a JSON number (``None`` when unknown)."""
        return None if self.amount is None else float(self.amount)

    def to_json(self) -> dict[str, Any]:
        """``{"amount", "currency", "basis", ...}`` with the price's date and source."""
        body: dict[str, Any] = {
            "amount": self.amount_usd,
            "currency": CURRENCY,
            "basis": self.basis,
        }
        if self.usage:
            body["usage"] = dict(self.usage)
        if self.price is not None:
            body["price_read_on"] = self.price.read_on.isoformat()
            body["price_source"] = self.price.source
        return body


class PriceTable:
    """Prices by model id: the built-in tables, then an operator's overrides."""

    def __init__(self, prices: Mapping[str, Price], *, origin: str = "built-in") -> None:
        self._prices = dict(prices)
        self.origin = origin

    def get(self, model_id: str) -> Price | None:
        """The model's price, or ``None`` when none is known."""
        return self._prices.get(model_id)

    def __len__(self) -> int:
        return len(self._prices)

    def with_overrides(self, overrides: Mapping[str, Price], origin: str) -> PriceTable:
        """This table with whole tables replaced model by model."""
        return PriceTable({**self._prices, **overrides}, origin=f"{self.origin} + {origin}")

    def expected(self, model_id: str) -> Decimal | None:
        """The model's fixed cost per call, if its price has no usage-based part."""
        price = self.get(model_id)
        return None if price is None else price.fixed()

    def cost(self, model_id: str, usage: Mapping[str, Any] | None) -> Cost:
        """What a call of ``model_id`` that used ``usage`` cost."""
        price = self.get(model_id)
        if price is None:
            return Cost(None, f"no price known for {model_id}; add one with PANIC_PRICES")
        counts = {"calls": 1, **(usage or {})}
        total = Decimal(0)
        terms: list[str] = []
        for key, rate in price.rates.items():
            usage_key, divisor, unit = UNITS[key]
            count = _decimal(counts.get(usage_key))
            if count is None:
                return Cost(
                    None,
                    f"the provider reported no {usage_key.replace('_', ' ')} "
                    f"to price {model_id} by",
                    price,
                    _plain(counts),
                )
            total += count * rate / divisor
            per = "/M" if divisor == MILLION else ""
            terms.append(f"{_number(count)} {unit} at ${_number(rate)}{per}")
        basis = " + ".join(terms) if terms else "free"
        return Cost(total, basis, price, _plain(counts))


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() and number >= 0 else None


def _plain(counts: Mapping[str, Any]) -> dict[str, float]:
    return {k: v for k, v in counts.items() if isinstance(v, int | float)}


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def parse_prices(data: Mapping[str, Any], where: str) -> dict[str, Price]:
    """Price tables from parsed TOML (``[models."<id>"]`` tables).

    Raises:
        ConfigError: an unknown key, a negative or non-numeric rate, or a
            table without ``read_on`` (a date) and ``source``.
    """
    models = data.get("models")
    if not isinstance(models, dict):
        raise ConfigError(f'{where}: expected [models."<model id>"] tables')
    prices: dict[str, Price] = {}
    for model_id, table in models.items():
        what = f'{where}: [models."{model_id}"]'
        if not isinstance(table, dict):
            raise ConfigError(f"{what} must be a table")
        unknown = sorted(set(table) - _KNOWN_KEYS)
        if unknown:
            raise ConfigError(
                f"{what}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(UNITS))},"
                " read_on, source, note)"
            )
        rates: dict[str, Decimal] = {}
        for key in UNITS:
            if key not in table:
                continue
            rate = _decimal(table[key])
            if rate is None:
                raise ConfigError(f"{what}: {key} must be a number >= 0")
            rates[key] = rate
        read_on = table.get("read_on")
        if not isinstance(read_on, dt.date) or isinstance(read_on, dt.datetime):
            raise ConfigError(f"{what}: read_on must be a date such as 2026-11-28")
        source = table.get("source")
        if not isinstance(source, str) or not source.strip():
            raise ConfigError(f"{what}: source must say where the price was read (a link)")
        note = table.get("note", "")
        prices[str(model_id)] = Price(rates, read_on, source.strip(), str(note))
    return prices


def _parse_text(text: str, where: str) -> dict[str, Price]:
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from None
    return parse_prices(data, where)


def builtin_prices() -> PriceTable:
    """The tables shipped with panic_trio (``models/prices.toml``)."""
    text = resources.files("panic_trio.models").joinpath("prices.toml").read_text("utf-8")
    return PriceTable(_parse_text(text, "prices.toml"))


def load_prices(path: Path | None) -> PriceTable:
    """The built-in tables, overridden model by model by the file at ``path``.

    Blocking (reads files): call it through a thread seam from async code.

    Raises:
        ConfigError: the file is missing, unreadable or malformed.
    """
    table = builtin_prices()
    if path is None:
        return table
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"PANIC_PRICES: cannot read {path}: {exc.strerror}") from None
    return table.with_overrides(_parse_text(text, str(path)), str(path))
