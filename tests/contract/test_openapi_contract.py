"""The served ``/openapi.json`` is the contract, and a schemathesis run finds nothing against it.

On SQLite and on PostgreSQL (the ``backend`` fixtures run this once on each), schemathesis' own
engine — what ``schemathesis run`` drives — is pointed at the ``/openapi.json`` a fresh app serves,
in-process over ASGI, with every phase on:

- **coverage and fuzzing** for *all* operations, with schema-valid and schema-invalid input
  (generation mode ``all``); the examples phase has nothing to do, as the document has none;
- **stateful**: scenarios that chain calls on the ids earlier responses returned (register a
  cliente, then read, change or delete it; open a pedido, then move it along its workflow, read
  its eventos and its ficha; issue a key, then revoke it; …).

Every response must pass these checks: ``not_a_server_error`` (zero 5xx; an exception the app
lets escape counts too), ``status_code_conformance``, ``content_type_conformance``,
``response_schema_conformance``, ``response_headers_conformance`` (zero responses the document
does not describe), ``negative_data_rejection`` (schema-invalid input gets a 4xx),
``positive_data_acceptance`` (schema-valid input is never refused as malformed; see ``_config``),
``missing_required_header``, ``unsupported_method``, ``allow_header_conformance``, ``ignored_auth``
(calls without a valid key are refused), and the stateful ``use_after_free`` and
``ensure_resource_availability``. Hypothesis' ``deadline`` is off (schemathesis' default) and
health checks are suppressed: slow database calls are not what this test is about.

**Stateful chains follow the document's OpenAPI links**: a created resource's ``id`` leads to
its other operations, and a read's ``ETag`` leads, as ``If-Match``, to its guarded changes
(``api/openapi.py`` derives them from the operation table); schemathesis adds the transitions it
infers by itself.

How the run is steered, without relaxing any check:

- every call carries a key with the ``read``, ``write`` and ``admin`` scopes, so that successful
  paths are reached; ``DELETE /chaves/{id}`` may well revoke that very key mid-run, so it is
  checked before every call and replaced once revoked;
- a few clientes, tipos, pedidos and spare keys exist before the run, and schema-valid ``{id}``
  values are often swapped for theirs, so that operations on one resource are not all 404s;
- fuzzing dictionaries mix strings that have broken real systems into the free-text fields, and
  forged cursors into ``cursor``;
- schema-valid ``Idempotency-Key`` values are made unique (see ``map_headers``);
- the failed-authentication limit is lifted: every call comes from one address and the
  ``ignored_auth`` probes send no key or a wrong one on purpose, so past 20 a minute they would
  meet 429 (an address over its budget, tests/security/test_keys.py) instead of the 401 probed.

Why the engine and not ``@schema.parametrize()``: the app has to be built per backend from
fixtures, and ``schemathesis.pytest.from_fixture`` fails under pytest 9.2 (``'Function' object has
no attribute '_nodeid'``). Driving the engine also runs exactly the phases ``schemathesis run``
runs, stateful included, and the failure report below lists each distinct problem once, with a
``curl`` line that reproduces it.

The run is bounded (``MAX_EXAMPLES`` per operation and phase, ``STATEFUL_STEPS`` per scenario):
about a minute for both backends when nothing fails, a few when shrinking failures.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.auths import AuthContext
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.engine.recorder import CheckFailureInfo
from schemathesis.hooks import HookContext
from schemathesis.schemas import BaseSchema
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from api.app import create_app
from api.db.tables import api_keys
from api.domain.documento import (
    DOCUMENTO_FORMAT,
    cnpj_check_digits,
    cpf_check_digits,
    normalize_documento,
)
from api.routes.idempotency import KEY_PATTERN
from api.schemas.common import MAX_ID
from fichas.settings import Settings
from tests.support import create, make_token, new_cliente, new_pedido, new_tipo

MAX_EXAMPLES = 50  # per operation, per phase and generation mode
STATEFUL_STEPS = 10
MAX_KEY = 255  # Idempotency-Key length
SCOPES = ["read", "write", "admin"]

# Fuzzing dictionaries, mixed into what schemathesis generates for the fields they are bound to
# (where the schema allows them; in negative mode, also where it does not).
# Free text: strings that have broken real systems.
AWKWARD_TEXT = [
    "nul \x00 byte",  # PostgreSQL text columns cannot hold NUL
    "ção ✓ 🧵",  # non-ASCII, astral plane
    "' OR 1=1 --",
    "100%_off",  # LIKE wildcards
]
TEXT_FIELDS = (
    "query.q",
    "query.cidade",
    "body.nome",
    "body.descricao",
    "body.observacoes",
    "body.cidade",
    "body.nota",
)
# Cursors are opaque strings to the document; forged ones must be refused, never fail the server.
FORGED_CURSORS = [
    "aWQ6MjE0NzQ4MzY0OA",  # "id:2147483648", past a 32-bit id
    "aWQ6OTk5OTk5OTk5OTk5OTk5OTk5",  # "id:999999999999999999"
    "aWQ6LTE",  # "id:-1"
    "aWQ6MA",  # "id:0"
]

# Every check that applies to this API, all of them enabled and none with relaxed statuses.
CHECKS = (
    "not_a_server_error",
    "positive_data_acceptance",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
)


# What ``positive_data_acceptance`` counts as accepting schema-valid input: schemathesis'
# defaults, plus 412. A well-formed ``If-Match`` that names another version is a precondition
# found false (RFC 9110 §13.1.1), like a 404 for an id that does not exist: the request was
# understood and answered, not rejected as malformed.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]

# The one format of the document that JSON Schema cannot check by itself: a CPF or CNPJ with
# right check digits (punctuated or not), as the document's description says.
schemathesis.openapi.format(
    DOCUMENTO_FORMAT,
    st.one_of(
        st.from_regex(r"[0-9]{9}", fullmatch=True).map(cpf_check_digits),
        st.from_regex(r"[0-9]{12}", fullmatch=True).map(cnpj_check_digits),
    ).filter(lambda digits: len(set(digits)) > 1),
)


@schemathesis.hook  # before_call is a global hook in schemathesis 4
def before_call(context: HookContext, case: Case[Any], **kwargs: Any) -> None:
    # Generated keys repeat across cases (the coverage phase sends the same few). A key
    # reused with another body is rightly refused (422), and with the same body replays the
    # stored 201 even after that resource was deleted — both right by the idempotency
    # contract, but false "valid data rejected" and "created resource not found" findings.
    # Schema-valid keys are made unique in every phase; invalid ones stay invalid.
    key = case.headers.get("Idempotency-Key") if case.headers else None
    if isinstance(key, str) and re.fullmatch(KEY_PATTERN, key):
        case.headers["Idempotency-Key"] = f"{key[: MAX_KEY - 33]}-{uuid.uuid4().hex}"
    # Some phases fill string fields with words harvested from the document and from earlier
    # answers ("PATCH", "properties"), whatever the field's `format`: not the schema-valid data
    # they are sent as. A positive case's documento gets a value of its format instead.
    body: dict[str, Any] = case.body if isinstance(case.body, dict) else {}
    documento = body.get("documento")
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if positive and isinstance(documento, str) and not _valid_documento(documento):
        body["documento"] = VALID_CPF


VALID_CPF = "529.982.247-25"


def _valid_documento(value: str) -> bool:
    try:
        normalize_documento(value)
    except ValueError:
        return False
    return True


class Keyring:
    """The key every call carries, re-issued whenever the run itself has revoked it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.issued = 0
        self.token = self._issue()

    def _issue(self) -> str:
        self.issued += 1
        return make_token(self.engine, f"contrato-{self.issued}", SCOPES)

    def current(self) -> str:
        prefixo = self.token.split("_")[1]
        with self.engine.connect() as conn:
            revoked = conn.execute(
                select(api_keys.c.revogado_em).where(api_keys.c.prefixo == prefixo)
            ).scalar_one()
        if revoked is not None:
            self.token = self._issue()
        return self.token


@dataclass(frozen=True)
class Seed:
    """Rows that exist before the run, by the path prefix of the operations that address them."""

    ids: dict[str, tuple[int, ...]]

    def ids_for(self, path: str) -> tuple[int, ...]:
        for prefix, ids in self.ids.items():
            if path.startswith(prefix):
                return ids
        return ()


def _seed(settings: Settings, token: str) -> Seed:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        spare_keys = tuple(
            create(client, "/chaves", {"nome": f"reserva-{n}", "escopos": ["read"]})["id"]
            for n in range(2)
        )
        ana = new_cliente(client, nome="Ana Bordados", documento="529.982.247-25", uf="SC")
        bruno = new_cliente(client, nome="Bruno Costa", email="bruno@exemplo.com.br")
        sem_pedidos = new_cliente(client, nome="Carla Lima", cidade="Recife")
        bordado = new_tipo(client, codigo="bordado", nome="Bordado")
        serigrafia = new_tipo(client, codigo="serigrafia", nome="Serigrafia")
        pedidos = [
            new_pedido(client, cliente_id=ana["id"], tipo_id=bordado["id"]),
            new_pedido(client, cliente_id=ana["id"], tipo_id=serigrafia["id"]),
            new_pedido(client, cliente_id=bruno["id"], tipo_id=bordado["id"], prioridade="alta"),
        ]
        for pedido, status in ((pedidos[1], "em_producao"), (pedidos[2], "cancelado")):
            moved = client.post(f"/pedidos/{pedido['id']}/status", json={"status": status})
            assert moved.status_code == 200, moved.text
    return Seed(
        ids={
            "/clientes/": (ana["id"], bruno["id"], sem_pedidos["id"]),
            "/producoes/tipos/": (bordado["id"], serigrafia["id"]),
            "/pedidos/": tuple(p["id"] for p in pedidos),
            "/chaves/": spare_keys,
        },
    )


def _config() -> SchemathesisConfig:
    """Every phase and generation mode, bounded; exactly the checks in ``CHECKS``.

    ``positive_data_acceptance`` holds the document to its word: schema-valid input is never
    refused as malformed (400/413/415/422). What a schema cannot say is answered as state — a
    ``cliente_id`` naming nothing or a forbidden move is a 409, a stale ``If-Match`` a 412 — or
    named as a format the generator is taught (a CPF/CNPJ's check digits).
    """
    checks: dict[str, Any] = {"enabled": False}
    checks.update({name: {"enabled": True} for name in CHECKS})
    checks["positive_data_acceptance"]["expected-statuses"] = ACCEPTED
    return SchemathesisConfig.from_dict(
        {
            "suppress-health-check": ["all"],
            "continue-on-failure": True,
            "workers": 1,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
            "dictionaries": {
                "awkward-text": {"values": AWKWARD_TEXT},
                "forged-cursors": {"values": FORGED_CURSORS},
            },
            "parameters": {
                "query.cursor": {"dictionary": "forged-cursors", "probability": 0.3},
                **{
                    field: {"dictionary": "awkward-text", "probability": 0.15}
                    for field in TEXT_FIELDS
                },
            },
            # Values harvested from earlier responses are put into any string field regardless
            # of its `format` (a "documento" of "X-Request-ID"): schema-invalid data sent as
            # positive. The stateful phase chains real ids through the document's links instead.
            "phases": {
                "fuzzing": {"extra-data-sources": {"responses": False}},
                "stateful": {"max-steps": STATEFUL_STEPS},
            },
            "checks": checks,
        }
    )


def _load(settings: Settings, keyring: Keyring, seed: Seed) -> BaseSchema:
    """The document as a fresh app serves it, bound to that app, the key and the seeded ids."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings), config=_config())

    @schema.auth(refresh_interval=None)
    class ContractKey:
        def get(self, case: Case[Any], context: AuthContext) -> str:
            return keyring.current()

        def set(self, case: Case[Any], data: str, context: AuthContext) -> None:
            case.headers["Authorization"] = f"Bearer {data}"

    @schema.hook
    def flatmap_path_parameters(
        context: HookContext, path_parameters: dict[str, Any] | None
    ) -> st.SearchStrategy[dict[str, Any] | None]:
        # Only a schema-valid id is swapped for an existing one, so a negative case stays one.
        value = (path_parameters or {}).get("id")
        existing = seed.ids_for(context.operation.path) if context.operation else ()
        if path_parameters is None or not existing or type(value) is not int:
            return st.just(path_parameters)
        if not 1 <= value <= MAX_ID:
            return st.just(path_parameters)
        return st.sampled_from((value, *existing)).map(lambda id_: {**path_parameters, "id": id_})

    return schema


@dataclass
class Report:
    """What a run found: each distinct check failure or error once, with a way to reproduce it."""

    problems: dict[tuple[str, ...], str] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    phases: dict[str, str] = field(default_factory=dict)

    def record(self, event: events.EngineEvent) -> None:
        if isinstance(event, events.PhaseFinished):
            self.phases[event.phase.name.value] = str(event.phase.skip_reason or event.status)
        elif isinstance(event, events.ScenarioFinished):
            phase = event.phase.value
            self.calls[phase] = self.calls.get(phase, 0) + len(event.recorder.interactions)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        self._failure(event, case_id, check.name, check.failure_info)
        elif isinstance(event, events.NonFatalError):
            # Mostly an exception the app let escape: it answered 500, and the ASGI transport
            # re-raises it (stateful runs group several of them).
            phase = event.phase.value if event.phase else "-"
            for error in _leaves(event.value):
                summary = f"{type(error).__name__}: {_first_line(error)}"
                notes = "\n".join(getattr(error, "__notes__", []))
                self._add(
                    (event.label, summary), f"[error] {event.label} ({phase}): {summary}{notes}"
                )
        elif isinstance(event, events.FatalError):
            self._add(("fatal",), f"[fatal] {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures:
                self._add(("after run", str(failure)), f"[after run] {failure}")

    def _add(self, key: tuple[str, ...], text: str) -> None:
        self.problems.setdefault(key, text)

    def _failure(
        self, event: events.ScenarioFinished, case_id: str, check: str, info: CheckFailureInfo
    ) -> None:
        failure = info.failure
        operation = failure.operation or event.recorder.label
        interaction = event.recorder.interactions.get(failure.case_id or case_id)
        response = interaction.response if interaction is not None else None
        answered = (
            f"{response.status_code} {response.content[:300].decode(errors='replace')}"
            if response is not None
            else "(no response)"
        )
        self._add(
            (check, operation, failure.title),
            f"[{check}] {operation} ({event.phase.value}): {failure.title}\n"
            f"{failure.message}\n{info.code_sample}\n-> {answered}",
        )

    def render(self) -> str:
        header = (
            f"schemathesis found {len(self.problems)} problem(s); "
            f"calls per phase: {self.calls}; phases: {self.phases}"
        )
        return "\n\n".join([header, *self.problems.values()])


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _first_line(error: BaseException) -> str:
    lines = str(error).splitlines()
    return lines[0] if lines else ""


def run(schema: BaseSchema) -> Report:
    report = Report()
    for event in from_schema(schema).execute():
        report.record(event)
    return report


@pytest.fixture
def keyring(engine: Engine) -> Keyring:
    return Keyring(engine)


@pytest.fixture
def seed(settings: Settings, keyring: Keyring) -> Seed:
    return _seed(settings, keyring.token)


@pytest.fixture
def contract(settings: Settings, keyring: Keyring, seed: Seed) -> BaseSchema:
    # The app's lifespan starts with the first call; schemathesis' pytest plugin ends it (and so
    # closes the app's database pool) when the test item tears down.
    return _load(settings.model_copy(update={"rate_limit_auth_failures": "1000000/minute"}),
                 keyring, seed)  # fmt: skip


# Hypothesis warns when it formats a huge failing example; the failure itself is what matters.
@pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)
def test_schemathesis_finds_no_5xx_and_no_response_outside_the_document(
    contract: BaseSchema, caplog: pytest.LogCaptureFixture
) -> None:
    # Each 500 is in the report with its request; the app's traceback for every shrinking step
    # would only bury it.
    caplog.set_level(logging.CRITICAL, logger="fichas.errors")
    report = run(contract)
    if report.problems or not report.calls.get("stateful"):
        pytest.fail(report.render(), pytrace=False)
