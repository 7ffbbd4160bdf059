"""API keys: one per PC or person, with scopes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field
from typing_extensions import TypedDict

from api.domain.escopos import Escopo
from api.schemas.common import Input, Text


class ChaveIn(Input):
    nome: Annotated[str, Text(100, min_length=1)]
    escopos: list[Escopo] = Field(["read", "write"], min_length=1, max_length=3)


class Chave(TypedDict):
    id: int
    nome: str
    prefixo: str
    escopos: list[str]
    criado_em: datetime
    revogado_em: datetime | None


class ChaveCriada(Chave):
    token: str
