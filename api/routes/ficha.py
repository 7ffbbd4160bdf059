"""The ficha: a pedido's printable production card, pinned to the work on the shop floor."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, tzinfo
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

from api.domain.documento import formatted

TEMPLATE = "ficha.html"


@cache
def _environment() -> Environment:
    # Autoescaping is what keeps a cliente named "<script>…" inert on the printed page.
    return Environment(
        loader=PackageLoader("api", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def _headers() -> dict[str, str]:
    """The page may use its own style block and nothing else: should some text ever slip past
    escaping, no script, image, font, form target or frame would load, and no other site may
    frame the page. The style is fixed, so the policy names it by its hash (no
    'unsafe-inline'); it is read from the template, where it is not templated."""
    environment = _environment()
    assert environment.loader is not None
    source = environment.loader.get_source(environment, TEMPLATE)[0]
    (style,) = re.findall(r"<style>(.*?)</style>", source, flags=re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = (
        f"default-src 'none'; style-src 'sha256-{digest}'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {"Content-Security-Policy": policy}


def _money(cents: int) -> str:
    reais, centavos = divmod(cents, 100)
    return f"R$ {reais:,}".replace(",", ".") + f",{centavos:02d}"


def ficha_page(
    pedido: dict[str, Any],
    cliente: dict[str, Any],
    tipo: dict[str, Any],
    eventos: list[dict[str, Any]],
    *,
    zone: tzinfo,
) -> HTMLResponse:
    """The ficha, its times on the factory's clock (``zone``: the app's ``Services.zone``)."""

    def local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M")

    template = _environment().get_template(TEMPLATE)
    html = template.render(
        pedido=pedido,
        cliente=cliente,
        tipo=tipo,
        eventos=eventos,
        money=_money,
        documento=formatted,
        local=local,
        zone=str(zone),
    )
    return HTMLResponse(html, headers=_headers())
