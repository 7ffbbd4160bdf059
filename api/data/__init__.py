"""Data access: every SQL statement of the application lives here, one module per resource.

Functions are synchronous, take a Connection first and run inside a transaction opened by
``api.db.gateway.Database``; they return plain dicts and raise ``api.domain.errors``.
"""
