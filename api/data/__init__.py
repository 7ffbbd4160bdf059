"""Data access: every SQL statement of the application lives here, one module per resource.

Functions are synchronous, take a Connection first and run inside a transaction opened by
``api.db.gateway.Database``; they return plain dicts and raise ``api.domain.errors``.
SQLAlchemy is imported as ``sa`` (``sa.select``, ``sa.update``…), so that a module's own
functions can be named ``update`` or ``delete`` without shadowing its constructs.
"""
