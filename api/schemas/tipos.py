"""Tipos de produção: the kinds of work the factory does (bordado, serigrafia, …)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema
from typing_extensions import TypedDict

from api.schemas.common import Input, PageQuery, Text, Whole

Codigo = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
NomeTipo = Annotated[str, Text(100, min_length=1)]
PrazoDias = Annotated[int, Field(ge=0, le=365), Whole]


class TipoIn(Input):
    codigo: Codigo
    nome: NomeTipo
    descricao: Annotated[str, Text(2000)] | None = None
    prazo_padrao_dias: PrazoDias = 7
    ativo: bool = True


class TipoPatch(Input):
    not_nullable = frozenset({"codigo", "nome", "prazo_padrao_dias", "ativo"})

    codigo: Codigo | SkipJsonSchema[None] = None
    nome: NomeTipo | SkipJsonSchema[None] = None
    descricao: Annotated[str, Text(2000)] | None = None
    prazo_padrao_dias: PrazoDias | SkipJsonSchema[None] = None
    ativo: bool | SkipJsonSchema[None] = None


class TipoQuery(PageQuery):
    ativo: bool | None = None


class Tipo(TypedDict):
    id: int
    codigo: str
    nome: str
    descricao: str | None
    prazo_padrao_dias: int
    ativo: bool
    criado_em: datetime
    atualizado_em: datetime
