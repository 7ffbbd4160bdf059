"""Pedidos: production orders, their status changes and their history (eventos)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema
from typing_extensions import TypedDict

from api.domain.workflow import Status
from api.schemas.common import Id, Input, IsoDate, PageQuery, Text, Whole


class Prioridade(StrEnum):
    BAIXA = "baixa"
    NORMAL = "normal"
    ALTA = "alta"
    URGENTE = "urgente"


Descricao = Annotated[str, Text(2000, min_length=1)]
Quantidade = Annotated[int, Field(ge=1, le=1_000_000), Whole]
Centavos = Annotated[
    int, Field(ge=0, le=1_000_000_000, description="Money in integer cents."), Whole
]
Prazo = Annotated[
    date,
    # JSON Schema bounds numbers, not dates: the years 2000-2999 are said as a pattern.
    Field(
        ge=date(2000, 1, 1), le=date(2999, 12, 31), json_schema_extra={"pattern": r"^2[0-9]{3}-"}
    ),
]


class PedidoIn(Input):
    cliente_id: Id
    tipo_id: Id
    descricao: Descricao
    quantidade: Quantidade
    valor_unitario: Centavos
    prazo: Prazo | None = Field(None, description="Default: today + the tipo's prazo_padrao_dias.")
    prioridade: Prioridade = Prioridade.NORMAL


class PedidoPatch(Input):
    not_nullable = frozenset({"descricao", "quantidade", "valor_unitario", "prazo", "prioridade"})

    descricao: Descricao | SkipJsonSchema[None] = None
    quantidade: Quantidade | SkipJsonSchema[None] = None
    valor_unitario: Centavos | SkipJsonSchema[None] = None
    prazo: Prazo | SkipJsonSchema[None] = None
    prioridade: Prioridade | SkipJsonSchema[None] = None


class StatusIn(Input):
    status: Status
    nota: Annotated[str, Text(500)] | None = None


class PedidoQuery(PageQuery):
    status: Status | None = None
    cliente_id: Id | None = None
    tipo_id: Id | None = None
    prazo_de: IsoDate | None = Field(None, description="Due on or after this date.")
    prazo_ate: IsoDate | None = Field(None, description="Due on or before this date.")
    atrasado: bool | None = Field(None, description="Past due and neither delivered nor cancelled.")


class Pedido(TypedDict):
    id: int
    numero: int
    cliente_id: int
    tipo_id: int
    descricao: str
    quantidade: int
    valor_unitario: int
    valor_total: int
    prazo: date
    prioridade: str
    status: str
    atrasado: bool
    criado_em: datetime
    atualizado_em: datetime


class Evento(TypedDict):
    id: int
    pedido_id: int
    de: str | None
    para: str
    em: datetime
    chave: str
    nota: str | None
