"""What a model call cost, in US dollars.

Prices are OpenAI's published list prices per million tokens (standard tier, uncached
input), as of PRICES_DATE. They change: override them with a dict, or with a JSON file
named by $NBREASON_PRICES, shaped like

    {"gpt-4o": {"input": 2.5, "output": 10.0}, "my-model": [0.1, 0.2]}

Models named "local..." (the embedded runtime) cost nothing. Any other model we have no
price for costs `None`: unknown, shown as such, never guessed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Union

from ..events import Usage


@dataclass(frozen=True)
class Price:
    input: float  # USD per 1M prompt tokens
    output: float  # USD per 1M completion tokens (reasoning tokens included)


PRICES_DATE = "2025-08"

DEFAULT_PRICES: dict[str, Price] = {
    "gpt-5": Price(1.25, 10.00),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5-nano": Price(0.05, 0.40),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "o1": Price(15.00, 60.00),
    "o1-mini": Price(1.10, 4.40),
    "o3": Price(2.00, 8.00),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
}

FREE = Price(0.0, 0.0)

PriceSpec = Union[Price, Mapping[str, float], list, tuple]
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")  # gpt-4o-2024-08-06 is priced as gpt-4o


def _as_price(name: str, spec: PriceSpec) -> Price:
    if isinstance(spec, Price):
        return spec
    try:
        if isinstance(spec, Mapping):
            return Price(float(spec["input"]), float(spec["output"]))
        input_, output = spec
        return Price(float(input_), float(output))
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"price for {name!r}: expected {{'input': x, 'output': y}} or [x, y], got {spec!r}") from None


def load_prices(overrides: Mapping[str, PriceSpec] | str | Path | None = None,
                env: Mapping[str, str] | None = None) -> dict[str, Price]:
    """The default table, then the $NBREASON_PRICES file, then `overrides` (a dict or a JSON path)."""
    env = os.environ if env is None else env
    prices = dict(DEFAULT_PRICES)
    layers: list = []
    if env.get("NBREASON_PRICES"):
        layers.append(Path(env["NBREASON_PRICES"]).expanduser())
    if overrides is not None:
        layers.append(overrides)
    for layer in layers:
        if isinstance(layer, (str, Path)):
            try:
                layer = json.loads(Path(layer).read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"cannot read prices from {layer}: {exc}") from None
            if not isinstance(layer, dict):
                raise ValueError("a prices file must hold a JSON object of model -> price")
        prices.update({name.lower(): _as_price(name, spec) for name, spec in layer.items()})
    return prices


def price_of(model: str, prices: Mapping[str, Price] | None = None) -> Price | None:
    prices = load_prices() if prices is None else prices
    name = model.strip().lower()
    for candidate in (name, name.split("/")[-1]):  # "openai/gpt-4o" is gpt-4o
        if candidate in prices:
            return prices[candidate]
        if _SNAPSHOT.sub("", candidate) in prices:
            return prices[_SNAPSHOT.sub("", candidate)]
    if name.startswith("local"):
        return FREE
    return None


def cost(model: str, usage: Usage, prices: Mapping[str, Price] | None = None) -> float | None:
    """USD for `usage`, or None if the model's price is unknown.

    OpenAI counts reasoning tokens inside completion_tokens; a server that reports more
    reasoning than completion tokens counts them apart, so they are added then.
    """
    price = price_of(model, prices)
    if price is None:
        return None
    output = usage.completion_tokens
    if usage.reasoning_tokens > usage.completion_tokens:
        output += usage.reasoning_tokens
    return (usage.prompt_tokens * price.input + output * price.output) / 1_000_000
