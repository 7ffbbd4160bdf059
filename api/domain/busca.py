"""Text as searches compare it, the same on every database: Unicode case folding.

SQLite's ``lower()`` and ``LIKE`` know ASCII letters only, and PostgreSQL's depend on the
database's locale (none at all under the C locale), so case is folded here, when a row is written
and when a search is asked, and the database compares for equality, which an index serves.
What ``folded`` returns is stored (``clientes.cidade_busca``): a change to it needs a migration
that folds the stored rows again, as 0003 first did.
"""

from __future__ import annotations

import unicodedata

# Each character folds to at most three (measured over every code point): a column of
# MAX_GROWTH times the text's length holds any folded text.
MAX_GROWTH = 3


def folded(text: str) -> str:
    """``text`` caseless: "São Paulo", "SÃO PAULO" and "sa\\u0303o paulo" fold alike, and so do
    "Straße" and "STRASSE". Unicode's canonical caseless match (NFD, then case folding), stored
    composed (NFC), which is shorter and compares the same."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())
