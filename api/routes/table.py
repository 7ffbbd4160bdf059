"""Every operation the API serves, in the order the OpenAPI document lists them."""

from __future__ import annotations

from api.routes import chaves, clientes, pedidos, service, tipos
from api.routes.operation import Operation


def all_operations() -> list[Operation]:
    return [
        *service.OPERATIONS,
        *clientes.OPERATIONS,
        *tipos.OPERATIONS,
        *pedidos.OPERATIONS,
        *chaves.OPERATIONS,
    ]
