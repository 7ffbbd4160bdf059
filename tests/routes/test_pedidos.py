"""/pedidos: creation, numbering, workflow and its history, filters, the ficha."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from api.routes.ficha import ficha_page
from fichas.settings import Settings
from tests.support import assert_problem, new_cliente, new_pedido, new_tipo


def test_create_numbers_prices_and_defaults_the_due_date(api: TestClient) -> None:
    tipo = new_tipo(api, prazo_padrao_dias=10)
    first = new_pedido(api, tipo_id=tipo["id"], quantidade=3, valor_unitario=1250)
    second = new_pedido(api, tipo_id=tipo["id"])
    assert (first["numero"], second["numero"]) == (1, 2)
    assert first["status"] == "aberto"
    assert first["valor_total"] == 3750
    assert first["prioridade"] == "normal"
    assert first["atrasado"] is False
    assert date.fromisoformat(first["prazo"]) >= date.today() + timedelta(days=9)


def test_create_refuses_unknown_cliente_and_tipo_as_conflicts(api: TestClient) -> None:
    # Well-formed ids that name nothing (now): the state, not the request, is at odds — a 409,
    # as the OpenAPI document can promise (schema-valid input is never a 422).
    body = {
        "cliente_id": 9999,
        "tipo_id": 9999,
        "descricao": "x",
        "quantidade": 1,
        "valor_unitario": 0,
    }
    assert (
        "cliente_id" in assert_problem(api.post("/pedidos", json=body), 409, "conflict")["detail"]
    )
    body["cliente_id"] = new_cliente(api)["id"]
    assert "tipo_id" in assert_problem(api.post("/pedidos", json=body), 409, "conflict")["detail"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("quantidade", 0), ("quantidade", 1.5), ("valor_unitario", -1), ("valor_unitario", "10,00"),
     ("prazo", "31/12/2026"), ("prioridade", "maxima"), ("descricao", "")],
)  # fmt: skip
def test_bad_values_are_named(api: TestClient, field: str, value: object) -> None:
    body = {"cliente_id": 1, "tipo_id": 1, "descricao": "x", "quantidade": 1, "valor_unitario": 0}
    errors = assert_problem(api.post("/pedidos", json={**body, field: value}), 422, "validation")[
        "errors"
    ]
    assert [e["field"] for e in errors] == [field]


def test_workflow_records_every_transition_as_an_evento(api: TestClient) -> None:
    pedido = new_pedido(api)
    path = f"/pedidos/{pedido['id']}"
    for status in ("em_producao", "pronto", "entregue"):
        response = api.post(f"{path}/status", json={"status": status, "nota": f"-> {status}"})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    eventos = api.get(f"{path}/eventos").json()["items"]
    assert [(e["de"], e["para"]) for e in eventos] == [
        (None, "aberto"),
        ("aberto", "em_producao"),
        ("em_producao", "pronto"),
        ("pronto", "entregue"),
    ]
    assert {e["chave"] for e in eventos} == {"pc-teste"}
    assert eventos[-1]["nota"] == "-> entregue"


@pytest.mark.parametrize(
    ("path", "target"),
    [([], "pronto"), ([], "entregue"), (["em_producao"], "aberto"), (["cancelado"], "em_producao"),
     (["em_producao", "pronto", "entregue"], "cancelado"), (["cancelado"], "cancelado")],
)  # fmt: skip
def test_invalid_transitions_are_409(api: TestClient, path: list[str], target: str) -> None:
    pedido_path = f"/pedidos/{new_pedido(api)['id']}"
    for status in path:
        assert api.post(f"{pedido_path}/status", json={"status": status}).status_code == 200
    response = api.post(f"{pedido_path}/status", json={"status": target})
    assert "cannot go from" in assert_problem(response, 409, "conflict")["detail"]
    assert len(api.get(f"{pedido_path}/eventos").json()["items"]) == len(path) + 1


def test_any_open_state_can_be_cancelled(api: TestClient) -> None:
    for before in ([], ["em_producao"], ["em_producao", "pronto"]):
        path = f"/pedidos/{new_pedido(api)['id']}"
        for status in before:
            api.post(f"{path}/status", json={"status": status})
        assert (
            api.post(f"{path}/status", json={"status": "cancelado"}).json()["status"] == "cancelado"
        )


def test_status_change_honours_if_match(api: TestClient) -> None:
    path = f"/pedidos/{new_pedido(api)['id']}"
    etag = api.get(path).headers["etag"]
    api.patch(path, json={"prioridade": "urgente"})
    stale = api.post(f"{path}/status", json={"status": "em_producao"}, headers={"If-Match": etag})
    assert_problem(stale, 412, "precondition-failed")
    assert api.get(path).json()["status"] == "aberto"


def test_patch_edits_open_pedidos_only(api: TestClient) -> None:
    path = f"/pedidos/{new_pedido(api)['id']}"
    changed = api.patch(
        path, json={"quantidade": 10, "valor_unitario": 500, "prazo": "2030-01-31"}
    ).json()
    assert (changed["valor_total"], changed["prazo"]) == (5000, "2030-01-31")
    assert_problem(api.patch(path, json={"quantidade": None}), 422, "validation")
    api.post(f"{path}/status", json={"status": "cancelado"})
    assert_problem(api.patch(path, json={"quantidade": 11}), 409, "conflict")


def test_filters(api: TestClient) -> None:
    cliente, tipo = new_cliente(api), new_tipo(api)
    late = new_pedido(api, prazo="2020-01-10")
    due = new_pedido(api, cliente_id=cliente["id"], prazo="2099-06-01")
    other = new_pedido(api, tipo_id=tipo["id"], prazo="2099-07-01")
    done = new_pedido(api, prazo="2020-02-01")
    api.post(f"/pedidos/{done['id']}/status", json={"status": "cancelado"})

    def ids(query: str) -> list[int]:
        response = api.get(f"/pedidos?{query}")
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    assert ids("atrasado=true") == [late["id"]]
    assert ids("atrasado=false") == [due["id"], other["id"], done["id"]]
    assert ids(f"cliente_id={cliente['id']}") == [due["id"]]
    assert ids(f"tipo_id={tipo['id']}") == [other["id"]]
    assert ids("status=cancelado") == [done["id"]]
    assert ids("prazo_de=2099-01-01&prazo_ate=2099-06-30") == [due["id"]]
    assert api.get(f"/pedidos/{late['id']}").json()["atrasado"] is True
    assert_problem(api.get("/pedidos?status=perdido"), 422, "validation")
    assert_problem(api.get("/pedidos?prazo_de=ontem"), 422, "validation")


def test_every_route_of_an_unknown_pedido_is_404(api: TestClient) -> None:
    assert_problem(api.get("/pedidos/777/eventos"), 404, "not-found")
    assert_problem(api.get("/pedidos/777/ficha"), 404, "not-found")
    assert_problem(api.post("/pedidos/777/status", json={"status": "pronto"}), 404, "not-found")
    assert_problem(api.patch("/pedidos/777", json={"descricao": "X"}), 404, "not-found")


def test_ficha_is_printable_html_with_every_value_escaped(api: TestClient) -> None:
    cliente = new_cliente(api, nome="<script>alert(1)</script>", cidade="Itajaí & Cia")
    pedido = new_pedido(
        api,
        cliente_id=cliente["id"],
        descricao='Camisetas "polo" <b>azuis</b>',
        valor_unitario=123456,
    )
    response = api.get(f"/pedidos/{pedido['id']}/ficha")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>azuis</b>" not in html
    assert "Itajaí &amp; Cia" in html
    assert f"Nº {pedido['numero']}" in html
    assert "R$ 1.234,56" in html
    assert "@page" in html


@pytest.mark.parametrize(
    ("documento", "shown"),
    [("12345678909", "123.456.789-09"), ("11222333000181", "11.222.333/0001-81")],
)
def test_ficha_writes_cpf_and_cnpj_as_on_paper(api: TestClient, documento: str, shown: str) -> None:
    pedido = new_pedido(api, cliente_id=new_cliente(api, documento=documento)["id"])
    html = api.get(f"/pedidos/{pedido['id']}/ficha").text
    assert f"<th>Documento</th><td>{shown}</td>" in html


def test_ficha_times_are_on_the_factory_clock() -> None:
    # 02:30 UTC on 1 March is 23:30 of 28 February in São Paulo (UTC-3): day and hour change.
    opened = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
    pedido = {
        "numero": 7, "status": "em_producao", "atrasado": False, "descricao": "x",
        "quantidade": 1, "valor_unitario": 100, "valor_total": 100,
        "prazo": date(2026, 3, 9), "prioridade": "normal", "criado_em": opened,
    }  # fmt: skip
    eventos = [
        {"de": None, "para": "aberto", "chave": "pc", "nota": None, "em": opened},
        {"de": "aberto", "para": "em_producao", "chave": "pc", "nota": None,
         "em": opened + timedelta(hours=14, minutes=5)},
    ]  # fmt: skip
    page = ficha_page(
        pedido, {"nome": "Maria"}, {"nome": "Bordado"}, eventos,
        zone=ZoneInfo("America/Sao_Paulo"),
    )  # fmt: skip
    html = bytes(page.body).decode()
    assert "<th>Aberto em</th><td>28/02/2026 23:30</td>" in html
    assert "<th>Quando (America/Sao_Paulo)</th>" in html
    assert "<tr><th>28/02/2026 23:30</th><td>— → aberto (pc)</td></tr>" in html
    assert "<tr><th>01/03/2026 13:35</th><td>aberto → em_producao (pc)</td></tr>" in html
    assert "02:30" not in html
    assert "16:35" not in html


def test_the_served_ficha_shows_times_in_the_settings_time_zone(
    api: TestClient, settings: Settings
) -> None:
    pedido = new_pedido(api)
    path = f"/pedidos/{pedido['id']}"
    assert api.post(f"{path}/status", json={"status": "em_producao"}).status_code == 200
    html = api.get(f"{path}/ficha").text
    zone = ZoneInfo(settings.timezone)
    assert zone.utcoffset(datetime.now(UTC)) != timedelta(0), "a zone that is not UTC"
    assert f"<th>Quando ({settings.timezone})</th>" in html
    opened = datetime.fromisoformat(pedido["criado_em"]).astimezone(zone)
    assert f"<th>Aberto em</th><td>{opened:%d/%m/%Y %H:%M}</td>" in html
    for evento in api.get(f"{path}/eventos").json()["items"]:
        when = datetime.fromisoformat(evento["em"]).astimezone(zone)
        assert f"<tr><th>{when:%d/%m/%Y %H:%M}</th><td>{evento['de'] or '—'} → " in html


def test_write_answers_carry_the_etag_a_later_read_has(api: TestClient) -> None:
    cliente, tipo = new_cliente(api), new_tipo(api)
    body = {
        "cliente_id": cliente["id"],
        "tipo_id": tipo["id"],
        "descricao": "x",
        "quantidade": 2,
        "valor_unitario": 5,
    }
    created = api.post("/pedidos", json=body)
    path = created.headers["location"]
    assert api.get(path).headers["etag"] == created.headers["etag"]
    assert api.get(path).content == created.content
    moved = api.post(
        f"{path}/status",
        json={"status": "em_producao"},
        headers={"If-Match": created.headers["etag"]},
    )
    assert moved.status_code == 200
    assert api.get(path).headers["etag"] == moved.headers["etag"]
