"""Serialisation micro-benchmark: pydantic v2 vs msgspec for Fichas' per-request work.

Measures, in a single process run (so the ratios are comparable on a noisy
machine):

1. decode + validate a ``POST /pedidos`` JSON body from bytes;
2. encode a list page of 50 ``cliente`` records to JSON bytes, starting from
   plain dicts as produced by SQLAlchemy ``row._mapping``;
3. encode a single ``cliente`` record;

and checks whether each library reports *all* field errors of an invalid body
or only the first one (our 422 responses need per-field errors).

Each operation is timed ``timeit``-style: the loop count N is picked with
``Timer.autorange`` (>= 0.2 s per repeat), then the best of 5 repeats of N
loops is reported. Pydantic and msgspec repeats are interleaved so that
machine-wide noise affects both sides alike.

Run with::

    uv run python -m benchmarks.serialisation
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
import pydantic
from pydantic import BaseModel, Field, TypeAdapter
from typing_extensions import TypedDict  # pydantic needs this on Python < 3.12

REPEATS = 5
PAGE_SIZE = 50

Prioridade = Literal["baixa", "normal", "alta", "urgente"]

# --------------------------------------------------------------------------
# pydantic schemas
# --------------------------------------------------------------------------


class PedidoInPydantic(BaseModel):
    """Body of ``POST /pedidos``."""

    cliente_id: int = Field(gt=0)
    tipo_id: int = Field(gt=0)
    descricao: str = Field(min_length=1, max_length=2000)
    quantidade: int = Field(gt=0)
    valor_unitario: int = Field(ge=0, description="cents")
    prazo: dt.date | None = None
    prioridade: Prioridade = "normal"


class ClientePydantic(BaseModel):
    """One ``cliente`` as returned by the API."""

    id: int
    nome: str
    documento: str | None
    email: str | None
    telefone: str | None
    cidade: str | None
    uf: str | None
    observacoes: str | None
    criado_em: dt.datetime
    atualizado_em: dt.datetime


class ClienteDict(TypedDict):
    """Same shape as :class:`ClientePydantic`, for validation-free dumping."""

    id: int
    nome: str
    documento: str | None
    email: str | None
    telefone: str | None
    cidade: str | None
    uf: str | None
    observacoes: str | None
    criado_em: dt.datetime
    atualizado_em: dt.datetime


PEDIDO_TA = TypeAdapter(PedidoInPydantic)
CLIENTE_TA = TypeAdapter(ClientePydantic)
CLIENTES_TA = TypeAdapter(list[ClientePydantic])
CLIENTE_DICT_TA = TypeAdapter(ClienteDict)
CLIENTES_DICT_TA = TypeAdapter(list[ClienteDict])

# --------------------------------------------------------------------------
# msgspec schemas
# --------------------------------------------------------------------------

PositiveInt = Annotated[int, msgspec.Meta(gt=0)]


class PedidoInStruct(msgspec.Struct):
    """Body of ``POST /pedidos``."""

    cliente_id: PositiveInt
    tipo_id: PositiveInt
    descricao: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    quantidade: PositiveInt
    valor_unitario: Annotated[int, msgspec.Meta(ge=0, description="cents")]
    prazo: dt.date | None = None
    prioridade: Prioridade = "normal"


class ClienteStruct(msgspec.Struct):
    """One ``cliente`` as returned by the API."""

    id: int
    nome: str
    documento: str | None
    email: str | None
    telefone: str | None
    cidade: str | None
    uf: str | None
    observacoes: str | None
    criado_em: dt.datetime
    atualizado_em: dt.datetime


PEDIDO_DECODER = msgspec.json.Decoder(PedidoInStruct)
ENCODER = msgspec.json.Encoder()

# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------

VALID_BODY: bytes = json.dumps(
    {
        "cliente_id": 42,
        "tipo_id": 3,
        "descricao": (
            "Ficha de produção: 120 camisetas em malha penteada, gola careca, "
            "estampa frontal em silk 4 cores e bordado na manga esquerda. "
            "Entregar embaladas individualmente, etiquetas conforme anexo."
        ),
        "quantidade": 120,
        "valor_unitario": 3590,
        "prazo": "2025-09-30",
        "prioridade": "alta",
    },
    ensure_ascii=False,
).encode()

# Three bad fields: cliente_id <= 0, empty descricao, unknown prioridade.
INVALID_BODY: bytes = json.dumps(
    {
        "cliente_id": 0,
        "tipo_id": 3,
        "descricao": "",
        "quantidade": 10,
        "valor_unitario": 100,
        "prioridade": "maxima",
    }
).encode()


def make_rows(n: int) -> list[dict[str, Any]]:
    """Build ``n`` dicts shaped like ``row._mapping`` of the clientes table."""
    base = dt.datetime(2025, 1, 15, 13, 45, 12, 123456, tzinfo=dt.UTC)
    rows: list[dict[str, Any]] = []
    for i in range(1, n + 1):
        sparse = i % 4 == 0  # some rows have NULL optional columns
        rows.append(
            {
                "id": i,
                "nome": f"Confecções Exemplo {i} Ltda.",
                "documento": None if sparse else f"12.345.678/0001-{i % 100:02d}",
                "email": None if sparse else f"contato{i}@exemplo.com.br",
                "telefone": None if sparse else f"(11) 9{i:04d}-{i * 7 % 10000:04d}",
                "cidade": "São Paulo" if i % 2 else "Blumenau",
                "uf": "SP" if i % 2 else "SC",
                "observacoes": None if i % 3 else "Cliente prefere retirar na fábrica.",
                "criado_em": base + dt.timedelta(days=i),
                "atualizado_em": base + dt.timedelta(days=i, hours=3),
            }
        )
    return rows


ROWS = make_rows(PAGE_SIZE)
ROW = ROWS[0]

# --------------------------------------------------------------------------
# operations (each returns its result so it can be sanity-checked)
# --------------------------------------------------------------------------


def pyd_decode() -> PedidoInPydantic:
    return PEDIDO_TA.validate_json(VALID_BODY)


def msg_decode() -> PedidoInStruct:
    return PEDIDO_DECODER.decode(VALID_BODY)


def pyd_list_validated() -> bytes:
    return CLIENTES_TA.dump_json(CLIENTES_TA.validate_python(ROWS))


def msg_list_validated() -> bytes:
    return ENCODER.encode(msgspec.convert(ROWS, list[ClienteStruct]))


def pyd_list_construct() -> bytes:
    return CLIENTES_TA.dump_json([ClientePydantic.model_construct(**r) for r in ROWS])


def msg_list_structs() -> bytes:
    return ENCODER.encode([ClienteStruct(**r) for r in ROWS])


def pyd_list_typeddict() -> bytes:
    return CLIENTES_DICT_TA.dump_json(ROWS)  # type: ignore[arg-type]


def msg_list_dicts() -> bytes:
    return ENCODER.encode(ROWS)


def pyd_one_validated() -> bytes:
    return CLIENTE_TA.dump_json(CLIENTE_TA.validate_python(ROW))


def msg_one_validated() -> bytes:
    return ENCODER.encode(msgspec.convert(ROW, ClienteStruct))


def pyd_one_construct() -> bytes:
    return CLIENTE_TA.dump_json(ClientePydantic.model_construct(**ROW))


def msg_one_struct() -> bytes:
    return ENCODER.encode(ClienteStruct(**ROW))


def pyd_one_typeddict() -> bytes:
    return CLIENTE_DICT_TA.dump_json(ROW)  # type: ignore[arg-type]


def msg_one_dict() -> bytes:
    return ENCODER.encode(ROW)


@dataclass(frozen=True)
class Case:
    """One benchmarked operation with its pydantic and msgspec variants."""

    name: str
    pydantic: Callable[[], object]
    msgspec: Callable[[], object]


CASES: list[Case] = [
    Case("decode+validate POST /pedidos", pyd_decode, msg_decode),
    Case("list 50: validate + encode", pyd_list_validated, msg_list_validated),
    Case("list 50: construct + encode", pyd_list_construct, msg_list_structs),
    Case("list 50: dicts, no models", pyd_list_typeddict, msg_list_dicts),
    Case("1 cliente: validate + encode", pyd_one_validated, msg_one_validated),
    Case("1 cliente: construct + encode", pyd_one_construct, msg_one_struct),
    Case("1 cliente: dict, no model", pyd_one_typeddict, msg_one_dict),
]

# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------


def check_equivalence() -> None:
    """Fail loudly if the two libraries do not produce the same data."""
    pyd = pyd_decode().model_dump()
    msg = msgspec.structs.asdict(msg_decode())
    assert pyd == msg, (pyd, msg)
    for case in CASES[1:]:
        a, b = case.pydantic(), case.msgspec()
        assert isinstance(a, bytes)
        assert isinstance(b, bytes)
        assert json.loads(a) == json.loads(b), case.name


def invalid_body_errors() -> tuple[list[str], list[str]]:
    """Decode :data:`INVALID_BODY` with both libraries; return reported errors."""
    pyd_errors: list[str] = []
    try:
        PEDIDO_TA.validate_json(INVALID_BODY)
    except pydantic.ValidationError as exc:
        pyd_errors = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    msg_errors: list[str] = []
    try:
        PEDIDO_DECODER.decode(INVALID_BODY)
    except msgspec.ValidationError as exc:
        msg_errors = [str(exc)]
    return pyd_errors, msg_errors


# --------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------


def best_us_per_op(pyd: Callable[[], object], msg: Callable[[], object]) -> tuple[float, float]:
    """Best-of-REPEATS µs/op for both callables, with interleaved repeats."""
    t_pyd, t_msg = timeit.Timer(pyd), timeit.Timer(msg)
    # Size N on the pydantic side (usually the slower); both run N loops.
    number, _ = t_pyd.autorange()
    best_pyd = best_msg = float("inf")
    for _ in range(REPEATS):
        best_pyd = min(best_pyd, t_pyd.timeit(number))
        best_msg = min(best_msg, t_msg.timeit(number))
    return best_pyd / number * 1e6, best_msg / number * 1e6


def main() -> None:
    argparse.ArgumentParser(
        description="pydantic v2 vs msgspec on Fichas' per-request work"
    ).parse_args()
    check_equivalence()
    print(
        f"Python {platform.python_version()}, pydantic {pydantic.VERSION}, "
        f"msgspec {msgspec.__version__}; best of {REPEATS} repeats of N loops\n"
    )
    print("| operation | pydantic µs/op | msgspec µs/op | ratio (pyd/msgspec) |")
    print("|---|--:|--:|--:|")
    for case in CASES:
        p, m = best_us_per_op(case.pydantic, case.msgspec)
        print(f"| {case.name} | {p:.2f} | {m:.2f} | {p / m:.2f}× |")

    pyd_errors, msg_errors = invalid_body_errors()
    print("\nInvalid body with 3 bad fields (cliente_id=0, descricao='', prioridade='maxima'):")
    print(f"- pydantic reports {len(pyd_errors)} error(s):")
    for err in pyd_errors:
        print(f"    - {err}")
    print(f"- msgspec reports {len(msg_errors)} error(s):")
    for err in msg_errors:
        print(f"    - {err}")


if __name__ == "__main__":
    main()
