"""Schema migrations (Alembic), applied by ``fichas migrate`` and checked at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from api.db.engine import StorageError, one_at_a_time, writing

_SCRIPTS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Bring the schema to ``revision`` (the newest by default; tests stop earlier to put data
    in the shape an older version left it); return (before, after). Hosts started together
    migrate one at a time: the later ones find it done."""
    config = _config()
    with writing(engine) as conn:
        one_at_a_time(conn, "fichas: schema migration")
        before = MigrationContext.configure(conn).get_current_revision()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return before, head_revision() if revision == "head" else revision


def ensure_current(engine: Engine) -> None:
    """Refuse to serve a database whose schema is not the one this code was written for."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise StorageError(
            f"database schema is at revision {current or 'none (empty database)'}, "
            f"this version needs {head}: run `fichas migrate` first"
        )
