"""Clientes: the factory's customers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic.json_schema import SkipJsonSchema
from typing_extensions import TypedDict

from api.domain.documento import DOCUMENTO_FORMAT, normalize_documento
from api.schemas.common import Input, PageQuery, SearchText, Text

UF = Literal[
    "AC", "AL", "AP", "AM", "BA", "CE", "DF", "ES", "GO", "MA", "MT", "MS", "MG", "PA",
    "PB", "PR", "PE", "PI", "RJ", "RN", "RS", "RO", "RR", "SC", "SP", "SE", "TO",
]  # fmt: skip

Nome = Annotated[str, Text(200, min_length=1)]
Documento = Annotated[
    str,
    AfterValidator(normalize_documento),
    Field(
        max_length=18,
        # Check digits are beyond what a pattern can say: the format names the rule.
        json_schema_extra={"format": DOCUMENTO_FORMAT},
        description="A valid CPF or CNPJ (check digits included), with or without punctuation "
        "(. - / and spaces); stored as digits.",
    ),
]
# No ASCII control characters or spaces; spelt out, because `\s` means other things to other
# regex engines (pydantic's Rust one, Python's, a client's JavaScript), and the document must
# mean one thing to all of them.
Email = Annotated[
    str,
    Field(max_length=254, pattern=r"^[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+\.[^@\x00-\x20\x7f]+$"),
]
Telefone = Annotated[str, Field(max_length=30, pattern=r"^[0-9+() .-]{8,30}$")]
Cidade = Annotated[str, Text(100, min_length=1)]
Observacoes = Annotated[str, Text(2000)]


class ClienteIn(Input):
    nome: Nome
    documento: Documento | None = None
    email: Email | None = None
    telefone: Telefone | None = None
    cidade: Cidade | None = None
    uf: UF | None = None
    observacoes: Observacoes | None = None


class ClientePatch(Input):
    not_nullable = frozenset({"nome"})

    nome: Nome | SkipJsonSchema[None] = None
    documento: Documento | None = None
    email: Email | None = None
    telefone: Telefone | None = None
    cidade: Cidade | None = None
    uf: UF | None = None
    observacoes: Observacoes | None = None


class ClienteQuery(PageQuery):
    q: SearchText | None = Field(None, description="Text in nome, documento or email.")
    cidade: SearchText | None = Field(None, description="The cidade, whole (any case).")


class Cliente(TypedDict):
    id: int
    nome: str
    documento: str | None
    email: str | None
    telefone: str | None
    cidade: str | None
    uf: str | None
    observacoes: str | None
    criado_em: datetime
    atualizado_em: datetime
