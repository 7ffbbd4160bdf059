"""The order workflow: forward one step at a time, cancel from any open state, finals are final."""

from __future__ import annotations

from itertools import product

from api.domain.workflow import FINAL, Status, allowed_next, can_transition

FORWARD = [Status.ABERTO, Status.EM_PRODUCAO, Status.PRONTO, Status.ENTREGUE]


def test_every_pair_of_states() -> None:
    for current, target in product(Status, Status):
        expected = current not in FINAL and (
            target == Status.CANCELADO or FORWARD.index(target) == FORWARD.index(current) + 1
        )
        assert can_transition(current, target) is expected, (current, target)


def test_finals_allow_nothing() -> None:
    assert all(allowed_next(status) == frozenset() for status in FINAL)
