"""The life of a production order: aberto → em_producao → pronto → entregue, or cancelado."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    ABERTO = "aberto"
    EM_PRODUCAO = "em_producao"
    PRONTO = "pronto"
    ENTREGUE = "entregue"
    CANCELADO = "cancelado"


FINAL = frozenset({Status.ENTREGUE, Status.CANCELADO})

_NEXT = {
    Status.ABERTO: Status.EM_PRODUCAO,
    Status.EM_PRODUCAO: Status.PRONTO,
    Status.PRONTO: Status.ENTREGUE,
}


def allowed_next(current: Status) -> frozenset[Status]:
    if current in FINAL:
        return frozenset()
    return frozenset({_NEXT[current], Status.CANCELADO})


def can_transition(current: Status, target: Status) -> bool:
    return target in allowed_next(current)
