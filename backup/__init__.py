"""Backups of the SQLite database: snapshot, verify, retention, restore, scheduler."""
