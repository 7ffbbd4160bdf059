"""Cursor pagination: walking every page returns every row exactly once, in order,
even while other clients keep inserting."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from starlette.testclient import TestClient

from api.http.pagination import decode_cursor, encode_cursor
from api.schemas.common import CURSOR_PATTERN, MAX_ID
from tests.support import assert_problem, make_token, new_cliente, wipe


@given(st.integers(0, 2**32 - 1))
def test_cursors_round_trip(last_id: int) -> None:
    cursor = encode_cursor(last_id)
    assert cursor is not None
    assert re.fullmatch(CURSOR_PATTERN, cursor)
    assert decode_cursor(cursor) == min(last_id, MAX_ID)


@pytest.mark.parametrize("forged", ["aWQ6MTA", "AAAAAB", "AAAAAQ==", "AAAA+Q", "%%%", "A" * 7])
def test_cursors_not_of_the_published_shape_are_refused(api: TestClient, forged: str) -> None:
    # The old "id:<n>" form (id 10), a non-zero padding bit, padding, standard base64, garbage,
    # too long.
    assert_problem(api.get("/clientes", params={"cursor": forged}), 422, "validation")


def test_a_cursor_past_every_id_is_the_end(api: TestClient) -> None:
    new_cliente(api)
    for beyond in (encode_cursor(MAX_ID), encode_cursor(2**32 - 1)):
        page = api.get("/clientes", params={"cursor": beyond})
        assert page.status_code == 200, page.text
        assert page.json() == {"items": [], "next_cursor": None}


@pytest.mark.slow
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    initial=st.integers(0, 30),
    page_size=st.integers(1, 12),
    inserts_per_page=st.lists(st.integers(0, 4), min_size=1, max_size=10),
)
def test_walk_sees_each_row_once_in_order_while_rows_are_inserted(
    client: TestClient, engine: Engine, initial: int, page_size: int, inserts_per_page: list[int]
) -> None:
    wipe(engine)  # each example starts empty
    client.headers["Authorization"] = f"Bearer {make_token(engine, 'walker', ['read', 'write'])}"
    before = [client.post("/clientes", json={"nome": f"c{n}"}).json()["id"] for n in range(initial)]
    seen: list[int] = []
    cursor: str | None = None
    for pages in range(200):
        query = f"/clientes?limit={page_size}" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(query).json()
        seen.extend(item["id"] for item in page["items"])
        for _ in range(inserts_per_page[pages % len(inserts_per_page)]):
            client.post("/clientes", json={"nome": "inserted while walking"})
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(set(seen)), "in order, no duplicates"
    assert set(before) <= set(seen), "every row that existed at the start"
