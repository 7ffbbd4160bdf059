"""What an API key may do: its escopos (scopes). One list, for the schemas, the keys and the
``fichas keys create --scope`` choices."""

from __future__ import annotations

from typing import Literal, get_args

Escopo = Literal["read", "write", "admin"]

SCOPES: tuple[Escopo, ...] = get_args(Escopo)
