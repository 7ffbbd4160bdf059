"""Idempotency records: English column names, like the rest of the machinery (the domain's
tables and columns are Portuguese): chave -> key, impressao -> fingerprint, corpo -> body,
criado_em -> created_at. The unique constraint and the index on age are renamed to match.

SQLite can rename neither, so both are dropped and made again. There batch mode copies the table
(PostgreSQL alters it in place), and the copy leaves out a constraint added on a column renamed
in the same batch: the constraint is added by a second batch.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Old (Portuguese) name -> new (English) name.
_RENAMED = {"chave": "key", "impressao": "fingerprint", "corpo": "body", "criado_em": "created_at"}


def upgrade() -> None:
    op.drop_index("ix_idempotency_keys_criado_em", "idempotency_keys")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_constraint("uq_idempotency_keys_api_key_id_chave", type_="unique")
        for old, new in _RENAMED.items():
            batch.alter_column(old, new_column_name=new)
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.create_unique_constraint("uq_idempotency_keys_api_key_id_key", ["api_key_id", "key"])
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", "idempotency_keys")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_constraint("uq_idempotency_keys_api_key_id_key", type_="unique")
        for old, new in _RENAMED.items():
            batch.alter_column(new, new_column_name=old)
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.create_unique_constraint(
            "uq_idempotency_keys_api_key_id_chave", ["api_key_id", "chave"]
        )
    op.create_index("ix_idempotency_keys_criado_em", "idempotency_keys", ["criado_em"])
