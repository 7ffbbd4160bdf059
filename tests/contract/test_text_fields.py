"""Free-text fields: the OpenAPI document says exactly which values are accepted.

A client that validates its input against ``/openapi.json`` (schemathesis does, and so may a
shop-floor PC's form) must never be surprised: every value the document's ``minLength``,
``maxLength`` and ``pattern`` allow is stored, trimmed of surrounding whitespace, and every other
one is a 422 that says why. Checked on ``nome`` of a tipo (1 to 100 characters) against every
character Python, ECMAScript or Unicode calls whitespace, and against a few that none does, with
the validator schemathesis uses (jsonschema-rs).
"""

from __future__ import annotations

import sys

from jsonschema_rs import Draft202012Validator
from starlette.testclient import TestClient

from api.schemas.common import WHITESPACE
from tests.support import assert_problem

SPACES = sorted(
    {c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()}  # Python's, \x1c-\x1f too
    | {"\ufeff", "\u200b", "\u180e"}  # ECMAScript's \s has U+FEFF; the others are no space
)
MAX = 100


def _cases() -> list[str]:
    cases = ["a", " a ", "a" * MAX, "a" * (MAX + 1)]
    for c in SPACES:
        cases += [c, c * 3, c + "a" * (MAX - 1), "a" + c * MAX]
    return cases


def _nome_schema(api: TestClient) -> Draft202012Validator:
    document = api.get("/openapi.json").json()
    body = document["paths"]["/producoes/tipos"]["post"]["requestBody"]
    return Draft202012Validator(body["content"]["application/json"]["schema"]["properties"]["nome"])


def test_the_document_says_what_is_stored(api: TestClient) -> None:
    nome_schema = _nome_schema(api)
    surprises = []
    for n, nome in enumerate(_cases()):
        response = api.post("/producoes/tipos", json={"codigo": f"t{n}", "nome": nome})
        valid = nome_schema.is_valid(nome)
        if valid and response.status_code == 201:
            assert response.json()["nome"] == nome.strip(WHITESPACE)
        elif valid or response.status_code != 422:
            surprises.append((nome, valid, response.status_code))
    assert surprises == []


def test_a_blank_value_is_refused_in_words(api: TestClient) -> None:
    response = api.post("/producoes/tipos", json={"codigo": "x", "nome": " \n\u3000"})
    errors = assert_problem(response, 422, "validation")["errors"]
    assert errors == [{"field": "nome", "message": "must not be blank, nor contain NUL characters"}]
