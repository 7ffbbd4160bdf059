"""Value types several settings share: durations, networks."""

from __future__ import annotations

import math
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

Network = IPv4Network | IPv6Network

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def _seconds(value: object) -> object:
    """``3600``, ``90s``, ``30m``, ``1h``, ``1d`` as seconds; a text that is none of these is
    refused naming the forms that are (not with pydantic's "unable to parse as a number")."""
    if not isinstance(value, str):
        return value  # a number given in code: the float check (and its bounds) applies
    text = value.strip()
    unit = text[-1:].lower()
    number, factor = (text[:-1], _UNITS[unit]) if unit in _UNITS else (text, 1)
    try:
        seconds = float(number) * factor
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        raise PydanticCustomError(
            "duration",
            "{value} is not a duration: give seconds (3600) or a number and a unit: "
            "90s, 30m, 1h, 1d",
            {"value": repr(value)},
        )
    return seconds


# Seconds, given as a number or as a duration.
Duration = Annotated[float, BeforeValidator(_seconds)]
