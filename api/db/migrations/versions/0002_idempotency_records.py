"""Idempotency records: forget the stored answers of POST /chaves, which hold a key's token;
index the records by age, for pruning the expired ones.

Such an answer was stored when the request carried an Idempotency-Key; POST /chaves now refuses
one. Every such answer, and only those, made a key: its Location is /chaves/<id>.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM idempotency_keys WHERE location LIKE '/chaves/%'")
    op.create_index("ix_idempotency_keys_criado_em", "idempotency_keys", ["criado_em"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_criado_em", "idempotency_keys")
    # The deleted answers stay deleted: the tokens in them are gone for good, which is the point.
