"""Hostile and careless input (issue 17, points 1, 7 and 9 on the app's side).

No request a client can make reaches an unhandled exception (each 500 would also get the instance
ejected by the proxy's passive health check); ambiguous requests are refused instead of being
read one way or another; and the ficha page is locked down against injected content. Every test
runs on SQLite and on PostgreSQL (the ``api`` fixtures).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

import httpx2
import pytest
from starlette.testclient import TestClient
from starlette.types import Message

from api.app import create_app
from fichas.settings import Settings
from tests.support import assert_problem, new_cliente, new_pedido

# Every route with an id in its path, with a body it would accept.
ID_ROUTES = [
    ("GET", "/clientes/{}", None),
    ("PATCH", "/clientes/{}", {"nome": "Ana"}),
    ("DELETE", "/clientes/{}", None),
    ("GET", "/producoes/tipos/{}", None),
    ("PATCH", "/producoes/tipos/{}", {"nome": "Bordado"}),
    ("GET", "/pedidos/{}", None),
    ("PATCH", "/pedidos/{}", {"quantidade": 2}),
    ("POST", "/pedidos/{}/status", {"status": "cancelado"}),
    ("GET", "/pedidos/{}/eventos", None),
    ("GET", "/pedidos/{}/ficha", None),
    ("DELETE", "/chaves/{}", None),
]


# --- point 1: ids that cannot exist -------------------------------------------------------------


@pytest.mark.parametrize(("method", "template", "body"), ID_ROUTES)
@pytest.mark.parametrize(
    "ident",
    [
        "9" * 4301,  # past Python's 4,300-digit limit on int(): was an unhandled ValueError
        "9" * 11,  # longer than any 32-bit id
        "2147483648",  # MAX_ID + 1: fits the pattern, no row can have it
        "0",
        "12a",
        "-1",
        "%D9%A1",  # ARABIC-INDIC DIGIT ONE: a digit to str.isdigit, not an id
    ],
)
def test_an_id_that_cannot_exist_is_404_before_any_conversion(
    admin: TestClient, method: str, template: str, body: object, ident: str
) -> None:
    response = admin.request(method, template.format(ident), json=body)
    assert_problem(response, 404, "not-found")


def test_the_contract_still_shows_bounded_integer_ids(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    operation = document["paths"]["/clientes/{id}"]["get"]
    (param,) = [p for p in operation["parameters"] if p["in"] == "path"]
    assert param["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


# --- point 1: no redirect built from the Host header --------------------------------------------


def test_a_trailing_slash_is_404_not_a_redirect_to_the_host_sent(api: TestClient) -> None:
    response = api.get("/clientes/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert_problem(response, 404, "not-found")
    assert "location" not in response.headers


# --- point 1: odd input answers 4xx, never 500 --------------------------------------------------


def _json(client: TestClient, method: str, path: str, raw: str | bytes) -> httpx2.Response:
    return client.request(method, path, content=raw, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("raw", "status", "slug"),
    [
        ('{"nome": "\\ud800"}', 400, "malformed-json"),  # a lone surrogate: no database stores it
        ('{"nome": "ok", "observacoes": "a\\udc00b"}', 400, "malformed-json"),
        ('{"nome": "\\u0000"}', 422, "validation"),  # NUL: PostgreSQL cannot store it
        ('{"nome": ' + "[" * 10_000 + "]" * 10_000 + "}", 400, "malformed-json"),
        ("[" * 100_000, 400, "malformed-json"),
        ('{"nome": ' + "[" * 200 + "]" * 200 + "}", 422, "validation"),  # as deep as is parsed
        ('{"nome": NaN}', 422, "validation"),
        ('{"nome": "ok", "uf": Infinity}', 422, "validation"),
        ('{"nome": 1' + "0" * 5000 + "}", 400, "malformed-json"),  # past int()'s digit limit
        ('{"nome": 18446744073709551617}', 422, "validation"),  # 2**64 + 1
        (b"\xff\xfe{}", 400, "malformed-json"),
        ("null", 422, "validation"),
    ],
)
def test_odd_json_bodies_are_4xx(api: TestClient, raw: str | bytes, status: int, slug: str) -> None:
    assert_problem(_json(api, "POST", "/clientes", raw), status, slug)


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("cliente_id", "18446744073709551617"),
        ("quantidade", "1" + "0" * 40),
        ("quantidade", "1e400"),
        ("valor_unitario", "-9223372036854775809"),
        ("descricao", '"\\ud83d"'),
        ("prazo", '"99999-01-01"'),
        ("prazo", '"0000-01-01"'),
    ],
)
def test_odd_pedido_values_are_4xx(api: TestClient, field: str, raw: str) -> None:
    pedido = new_pedido(api)
    values = {
        "cliente_id": str(pedido["cliente_id"]),
        "tipo_id": str(pedido["tipo_id"]),
        "descricao": '"x"',
        "quantidade": "1",
        "valor_unitario": "1",
        field: raw,
    }
    body = "{" + ", ".join(f'"{k}": {v}' for k, v in values.items()) + "}"
    response = _json(api, "POST", "/pedidos", body)
    assert response.status_code in (400, 422), response.text


@pytest.mark.parametrize(
    "query",
    [
        "limit=" + "9" * 5000,
        "q=%ff%fe",  # not UTF-8: read with replacement characters, found nowhere
        "q=a%00b",
        "cidade=%00",
        "cursor=%ff%00",
        "cursor=" + base64.urlsafe_b64encode("id:²".encode()).decode(),  # a digit to isdigit()
        "cursor=" + base64.urlsafe_b64encode(("id:" + "9" * 5000).encode()).decode(),
        "cursor=" + "A" * 10_000,
    ],
)
def test_odd_query_strings_on_clientes_are_not_5xx(api: TestClient, query: str) -> None:
    response = api.get(f"/clientes?{query}")
    assert response.status_code in (200, 422), response.text


@pytest.mark.parametrize(
    "query",
    [
        "prazo_de=99999-01-01",
        "prazo_de=0001-01-01&prazo_ate=9999-12-31",
        "prazo_ate=%00",
        "prazo_de=2024-02-30",
        "cliente_id=" + "9" * 5000,
        "tipo_id=-0",
        "atrasado=%ff",
        "status=%00",
    ],
)
def test_odd_query_strings_on_pedidos_are_not_5xx(api: TestClient, query: str) -> None:
    response = api.get(f"/pedidos?{query}")
    assert response.status_code in (200, 422), response.text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Content-Type", b"application/json; charset=\xff"),
        ("Content-Type", b"\xff" * 8000),
        ("If-Match", b"\xff" * 8000),
        ("If-None-Match", b'W/"\xff", *, ,,'),
        ("X-Request-ID", b"\xff\x01" * 4000),
        ("X-Forwarded-For", b"\xff, ::1%eth0, 1.2.3.4, [::1]"),
        ("Authorization", b"Bearer \xff\x00"),
        ("Authorization", b"\xff" * 8000),
        ("Idempotency-Key", b"\xff\x00"),
    ],
)
def test_odd_header_values_are_not_5xx(api: TestClient, name: str, value: bytes) -> None:
    cliente = new_cliente(api)
    for method, path in [("GET", f"/clientes/{cliente['id']}"), ("POST", "/clientes")]:
        headers = {b"Content-Type": b"application/json", name.encode(): value}
        response = api.request(method, path, content=b'{"nome": "x"}', headers=headers)
        assert response.status_code < 500, response.text


def _raw_get(client: TestClient, path: str, query: bytes, token: str) -> tuple[int, bytes]:
    """A GET straight into the app with a query string no HTTP client library would send (raw
    bytes, as HTTP/2 lets them through); its status and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "2",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"fichas"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    client.portal.call(client.app, scope, receive, send)  # type: ignore[union-attr]
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize("path", ["/nothing", "/clientes", "/pedidos"])
def test_raw_bytes_in_the_query_string_are_read_as_if_escaped(
    api: TestClient, token: str, path: str
) -> None:
    # Starlette's request.url decoded them as strict UTF-8 and raised: a 500 with no body.
    status, body = _raw_get(api, path, b"q=\xff\xfe&status=\xc3", token)
    assert status in (404, 200, 422), body
    if status != 200:
        assert json.loads(body)["request_id"]


# --- point 7: ambiguity is refused --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ('{"nome": "Ana", "nome": "Bia"}', "nome"),
        ('{"nome": "Ana", "cidade": "Blumenau", "cidade": "Gaspar"}', "cidade"),
        ('{"nome": "Ana", "nome": ""}', "nome"),  # the last is invalid: still ambiguous first
    ],
)
def test_a_json_body_with_a_key_twice_is_400(api: TestClient, raw: str, key: str) -> None:
    response = _json(api, "POST", "/clientes", raw)
    body = assert_problem(response, 400, "duplicate-key")
    assert repr(key) in body["detail"] or f'"{key}"' in body["detail"]
    assert api.get("/clientes").json()["items"] == []  # nothing was created


def test_a_key_twice_is_400_on_every_json_write(api: TestClient) -> None:
    pedido = new_pedido(api)
    path = f"/pedidos/{pedido['id']}"
    patch = _json(api, "PATCH", path, '{"quantidade": 2, "quantidade": 3}')
    assert_problem(patch, 400, "duplicate-key")
    status = _json(api, "POST", f"{path}/status", '{"status": "cancelado", "status": "entregue"}')
    assert_problem(status, 400, "duplicate-key")
    assert api.get(path).json()["status"] == pedido["status"]


def test_the_same_text_inside_values_is_not_a_duplicate(api: TestClient) -> None:
    # Colons and key-like text inside strings must not be mistaken for keys.
    raw = '{"nome": "nome: Ana", "observacoes": "\\"nome\\": \\"Bia\\", às 10:30"}'
    response = _json(api, "POST", "/clientes", raw)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("path", "query", "name"),
    [
        ("/clientes", "limit=1&limit=2", "limit"),
        ("/clientes", "cidade=Blumenau&q=x&cidade=Gaspar", "cidade"),
        ("/pedidos", "status=aberto&status=cancelado", "status"),
        ("/producoes/tipos", "cursor=&cursor=", "cursor"),
    ],
)
def test_a_query_parameter_given_twice_is_400_naming_it(
    api: TestClient, path: str, query: str, name: str
) -> None:
    body = assert_problem(api.get(f"{path}?{query}"), 400, "repeated-parameter")
    assert name in body["detail"]


def test_unknown_query_parameters_may_repeat(api: TestClient) -> None:
    # Cache-busters and the like are ignored, as every unknown parameter is.
    assert api.get("/clientes?_=1&_=2&limit=5").status_code == 200


def test_if_match_uses_the_strong_comparison(api: TestClient) -> None:
    cliente = new_cliente(api)
    path = f"/clientes/{cliente['id']}"
    etag = api.get(path).headers["etag"]
    weak = api.patch(path, json={"cidade": "Recife"}, headers={"If-Match": f"W/{etag}"})
    assert_problem(weak, 412, "precondition-failed")
    assert_problem(
        api.delete(path, headers={"If-Match": f'"x", W/{etag}'}), 412, "precondition-failed"
    )
    listed = api.patch(path, json={"cidade": "Recife"}, headers={"If-Match": f'"x", {etag}'})
    assert listed.status_code == 200
    star = api.patch(path, json={"cidade": "Natal"}, headers={"If-Match": "*"})
    assert star.status_code == 200


def test_if_none_match_keeps_the_weak_comparison(api: TestClient) -> None:
    path = f"/clientes/{new_cliente(api)['id']}"
    etag = api.get(path).headers["etag"]
    assert api.get(path, headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert api.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert api.get(path, headers={"If-None-Match": "*"}).status_code == 304


# --- point 9: headers ---------------------------------------------------------------------------


def test_the_ficha_may_use_nothing_but_its_own_style(api: TestClient) -> None:
    pedido = new_pedido(api)
    response = api.get(f"/pedidos/{pedido['id']}/ficha")
    assert response.status_code == 200
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    (style,) = re.findall(r"<style>(.*?)</style>", response.text, flags=re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert policy["style-src"] == f"'sha256-{digest}'"  # exactly the block served, nothing else
    assert "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/health", "/clientes", "/nothing", "/openapi.json"])
def test_every_answer_says_nosniff(api: TestClient, path: str) -> None:
    assert api.get(path).headers["x-content-type-options"] == "nosniff"


def test_no_instance_name_unless_debug_headers_asks(api: TestClient, settings: Settings) -> None:
    assert "x-served-by" not in api.get("/health").headers
    assert "x-served-by" not in api.get("/nothing").headers
    debugging = settings.model_copy(update={"debug_headers": True, "instance": "api-7"})
    with TestClient(create_app(debugging), raise_server_exceptions=False) as client:
        assert client.get("/health").headers["x-served-by"] == "api-7"


def test_a_415_does_not_echo_a_huge_content_type(api: TestClient) -> None:
    sent = "text/" + "x" * 10_000
    answer = api.post("/clientes", content=b"{}", headers={"Content-Type": sent})
    body = assert_problem(answer, 415, "unsupported-media-type")
    assert len(answer.content) < 1_000, len(answer.content)
    assert sent[:100] in body["detail"]
