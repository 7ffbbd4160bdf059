"""Storage: tables, engines, the async gateway to them, and migrations."""
