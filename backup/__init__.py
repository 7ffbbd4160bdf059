"""Backups of the database: snapshots (SQLite's backup API, or pg_dump for PostgreSQL), their
verification, retention and off-site copies, the scheduler, continuous replication of SQLite
with Litestream, and restore from either."""
