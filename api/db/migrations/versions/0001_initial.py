"""Initial schema: keys, clientes, tipos de produção, pedidos and their eventos, idempotency.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.db.tables import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("nome", sa.String(100), nullable=False),
        sa.Column("prefixo", sa.String(16), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("escopos", sa.String(50), nullable=False),
        sa.Column("criado_em", UTCDateTime, nullable=False),
        sa.Column("revogado_em", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("nome", name="uq_api_keys_nome"),
        sa.UniqueConstraint("prefixo", name="uq_api_keys_prefixo"),
    )
    op.create_table(
        "clientes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("nome", sa.String(200), nullable=False),
        sa.Column("documento", sa.String(14)),
        sa.Column("email", sa.String(254)),
        sa.Column("telefone", sa.String(30)),
        sa.Column("cidade", sa.String(100)),
        sa.Column("uf", sa.String(2)),
        sa.Column("observacoes", sa.Text),
        sa.Column("criado_em", UTCDateTime, nullable=False),
        sa.Column("atualizado_em", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_clientes"),
        sa.UniqueConstraint("documento", name="uq_clientes_documento"),
    )
    op.create_index("ix_clientes_cidade", "clientes", ["cidade"])
    op.create_table(
        "tipos_producao",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("codigo", sa.String(50), nullable=False),
        sa.Column("nome", sa.String(100), nullable=False),
        sa.Column("descricao", sa.Text),
        sa.Column("prazo_padrao_dias", sa.Integer, nullable=False),
        sa.Column("ativo", sa.Boolean, nullable=False),
        sa.Column("criado_em", UTCDateTime, nullable=False),
        sa.Column("atualizado_em", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tipos_producao"),
        sa.UniqueConstraint("codigo", name="uq_tipos_producao_codigo"),
    )
    op.create_table(
        "pedidos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("numero", sa.Integer, nullable=False),
        sa.Column("cliente_id", sa.Integer, nullable=False),
        sa.Column("tipo_id", sa.Integer, nullable=False),
        sa.Column("descricao", sa.Text, nullable=False),
        sa.Column("quantidade", sa.Integer, nullable=False),
        sa.Column("valor_unitario", sa.Integer, nullable=False),
        sa.Column("prazo", sa.Date, nullable=False),
        sa.Column("prioridade", sa.String(10), nullable=False),
        sa.Column("status", sa.String(15), nullable=False),
        sa.Column("criado_em", UTCDateTime, nullable=False),
        sa.Column("atualizado_em", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pedidos"),
        sa.UniqueConstraint("numero", name="uq_pedidos_numero"),
        sa.ForeignKeyConstraint(["cliente_id"], ["clientes.id"], name="fk_pedidos_cliente_id"),
        sa.ForeignKeyConstraint(["tipo_id"], ["tipos_producao.id"], name="fk_pedidos_tipo_id"),
        sa.CheckConstraint("quantidade > 0", name="ck_pedidos_quantidade_positiva"),
        sa.CheckConstraint("valor_unitario >= 0", name="ck_pedidos_valor_nao_negativo"),
    )
    for column in ("cliente_id", "tipo_id", "prazo", "status"):
        op.create_index(f"ix_pedidos_{column}", "pedidos", [column])
    op.create_table(
        "pedido_eventos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pedido_id", sa.Integer, nullable=False),
        sa.Column("de", sa.String(15)),
        sa.Column("para", sa.String(15), nullable=False),
        sa.Column("em", UTCDateTime, nullable=False),
        sa.Column("chave", sa.String(100), nullable=False),
        sa.Column("nota", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_pedido_eventos"),
        sa.ForeignKeyConstraint(["pedido_id"], ["pedidos.id"], name="fk_pedido_eventos_pedido_id"),
    )
    op.create_index("ix_pedido_eventos_pedido_id", "pedido_eventos", ["pedido_id"])
    op.create_table(
        "contadores",
        sa.Column("nome", sa.String(50), nullable=False),
        sa.Column("valor", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("nome", name="pk_contadores"),
    )
    # Seeded here so that handing out a number is always a single UPDATE … RETURNING, which
    # concurrent transactions queue on, rather than an insert-if-missing that two could race.
    op.execute("INSERT INTO contadores (nome, valor) VALUES ('pedidos', 0)")
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("api_key_id", sa.Integer, nullable=False),
        sa.Column("chave", sa.String(255), nullable=False),
        sa.Column("impressao", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("corpo", sa.LargeBinary, nullable=False),
        sa.Column("location", sa.String(255)),
        sa.Column("criado_em", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_idempotency_keys"),
        sa.UniqueConstraint("api_key_id", "chave", name="uq_idempotency_keys_api_key_id_chave"),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name="fk_idempotency_keys_api_key_id"
        ),
    )


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "contadores",
        "pedido_eventos",
        "pedidos",
        "tipos_producao",
        "clientes",
        "api_keys",
    ):
        op.drop_table(table)
