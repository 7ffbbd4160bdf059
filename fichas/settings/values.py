"""Value types several settings share: durations, networks."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from typing import Annotated

from pydantic import BeforeValidator

Network = IPv4Network | IPv6Network

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def _seconds(value: object) -> object:
    """``90s``, ``30m``, ``1h``, ``1d`` as seconds; anything else left to the float check."""
    if isinstance(value, str) and value.strip()[-1:].lower() in _UNITS:
        number, unit = value.strip()[:-1], value.strip()[-1].lower()
        try:
            return float(number) * _UNITS[unit]
        except ValueError:
            raise ValueError("must be seconds or a duration like 90s, 30m, 1h, 1d") from None
    return value


# Seconds, given as a number or as a duration.
Duration = Annotated[float, BeforeValidator(_seconds)]
