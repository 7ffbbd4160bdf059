"""The relational schema (SQLAlchemy Core). Alembic migrations are the source of truth on disk;
these definitions must match them, which ``tests/db/test_migrations.py`` checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect

from api.domain.busca import MAX_GROWTH

# Stable constraint names, so migrations can refer to them on every database.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite has no time zones), always returned as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use UTC-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        # SQLite hands back the stored text ("2026-11-29 12:00:00.123456"); one C call turns it
        # into an aware datetime, where the generic path (parse, then replace the tzinfo)
        # measured half the cost of reading a 50-row page.
        def to_utc(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value + "+00:00")

        return to_utc


api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("nome", String(100), nullable=False, unique=True),
    Column("prefixo", String(16), nullable=False, unique=True),
    Column("hash", String(64), nullable=False),
    Column("escopos", String(50), nullable=False),
    Column("criado_em", UTCDateTime, nullable=False),
    Column("revogado_em", UTCDateTime),
)

clientes = Table(
    "clientes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("nome", String(200), nullable=False),
    Column("documento", String(14), unique=True),
    Column("email", String(254)),
    Column("telefone", String(30)),
    Column("cidade", String(100)),
    Column("uf", String(2)),
    Column("observacoes", Text),
    Column("criado_em", UTCDateTime, nullable=False),
    Column("atualizado_em", UTCDateTime, nullable=False),
    # ``folded(cidade)``, written with it (api/data/clientes.py): the ?cidade= filter compares
    # it for equality, Unicode-aware on every database; with the id, pages come in index order.
    Column("cidade_busca", String(100 * MAX_GROWTH)),
    Index("ix_clientes_cidade_busca", "cidade_busca", "id"),
)

tipos_producao = Table(
    "tipos_producao",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("codigo", String(50), nullable=False, unique=True),
    Column("nome", String(100), nullable=False),
    Column("descricao", Text),
    Column("prazo_padrao_dias", Integer, nullable=False),
    Column("ativo", Boolean, nullable=False),
    Column("criado_em", UTCDateTime, nullable=False),
    Column("atualizado_em", UTCDateTime, nullable=False),
)

pedidos = Table(
    "pedidos",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("numero", Integer, nullable=False, unique=True),
    Column("cliente_id", Integer, ForeignKey("clientes.id"), nullable=False, index=True),
    Column("tipo_id", Integer, ForeignKey("tipos_producao.id"), nullable=False, index=True),
    Column("descricao", Text, nullable=False),
    Column("quantidade", Integer, nullable=False),
    Column("valor_unitario", Integer, nullable=False),
    Column("prazo", Date, nullable=False, index=True),
    Column("prioridade", String(10), nullable=False),
    Column("status", String(15), nullable=False, index=True),
    Column("criado_em", UTCDateTime, nullable=False),
    Column("atualizado_em", UTCDateTime, nullable=False),
    CheckConstraint("quantidade > 0", name="quantidade_positiva"),
    CheckConstraint("valor_unitario >= 0", name="valor_nao_negativo"),
)

pedido_eventos = Table(
    "pedido_eventos",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("pedido_id", Integer, ForeignKey("pedidos.id"), nullable=False, index=True),
    Column("de", String(15)),
    Column("para", String(15), nullable=False),
    Column("em", UTCDateTime, nullable=False),
    Column("chave", String(100), nullable=False),
    Column("nota", Text),
)

# Named counters handed out inside write transactions: gap-free and safe across processes,
# because the row lock (PostgreSQL) or the write lock (SQLite) serialises the increments.
contadores = Table(
    "contadores",
    metadata,
    Column("nome", String(50), primary_key=True),
    Column("valor", Integer, nullable=False),
)

# Machinery rather than domain, so its names are English (the domain's are Portuguese).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("api_key_id", Integer, ForeignKey("api_keys.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("location", String(255)),
    Column("created_at", UTCDateTime, nullable=False, index=True),  # expiry: pruned by age
    UniqueConstraint("api_key_id", "key", name="uq_idempotency_keys_api_key_id_key"),
)
