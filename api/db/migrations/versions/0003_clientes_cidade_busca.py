"""Clientes: the cidade folded for search (api/domain/busca.py), filled in, and its index.

The ?cidade= filter compared with ILIKE, case-insensitive for ASCII only on SQLite and as the
locale has it on PostgreSQL; it now compares ``cidade_busca`` for equality, which replaces the
index on ``cidade``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.domain.busca import MAX_GROWTH, folded

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_clientes = sa.table(
    "clientes",
    sa.column("id", sa.Integer),
    sa.column("cidade", sa.String),
    sa.column("cidade_busca", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("clientes") as batch:
        batch.add_column(sa.Column("cidade_busca", sa.String(100 * MAX_GROWTH)))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_clientes.c.id, _clientes.c.cidade).where(_clientes.c.cidade.is_not(None))
    ).all()
    if rows:
        conn.execute(
            sa.update(_clientes)
            .where(_clientes.c.id == sa.bindparam("ident"))
            .values(cidade_busca=sa.bindparam("busca")),
            [{"ident": ident, "busca": folded(cidade)} for ident, cidade in rows],
        )
    op.drop_index("ix_clientes_cidade", "clientes")
    op.create_index("ix_clientes_cidade_busca", "clientes", ["cidade_busca", "id"])


def downgrade() -> None:
    op.drop_index("ix_clientes_cidade_busca", "clientes")
    op.create_index("ix_clientes_cidade", "clientes", ["cidade"])
    with op.batch_alter_table("clientes") as batch:
        batch.drop_column("cidade_busca")
