"""The ficha: a pedido's printable production card, pinned to the work on the shop floor."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape


@cache
def _environment() -> Environment:
    # Autoescaping is what keeps a cliente named "<script>…" inert on the printed page.
    return Environment(
        loader=PackageLoader("api", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _money(cents: int) -> str:
    reais, centavos = divmod(cents, 100)
    return f"R$ {reais:,}".replace(",", ".") + f",{centavos:02d}"


def render_ficha(
    pedido: dict[str, Any],
    cliente: dict[str, Any],
    tipo: dict[str, Any],
    eventos: list[dict[str, Any]],
) -> str:
    template = _environment().get_template("ficha.html")
    return template.render(pedido=pedido, cliente=cliente, tipo=tipo, eventos=eventos, money=_money)
