"""PCs writing orders as fast as they are answered: the load of the disk-loss drill (the test in
tests/integration/test_disk_loss.py and benchmarks/replication.py).

In Python rather than k6 because the drill needs each acknowledged order's id and the moment
its 201 arrived, to check every one against the restored database. One thread per PC, each with
its own keep-alive connection (``http.client``: the standard library is all it takes, and the
threads wait on sockets, not on the GIL)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Acknowledged:
    """Each order the API answered 201, with when the answer arrived; what failed, and how."""

    at: dict[int, float] = field(default_factory=dict)  # pedido id → time.time() of the 201
    failures: list[str] = field(default_factory=list)


class OrderWriters:
    """``pcs`` threads, each posting an order (with its own Idempotency-Key), waiting ``think``
    seconds, and again, from ``start()`` until ``stop()``; every answer recorded in
    ``acknowledged``."""

    def __init__(self, base_url: str, token: str, pcs: int, think: float) -> None:
        self.address = urlsplit(base_url).netloc
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.think = think
        self.acknowledged = Acknowledged()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._pc, args=(n,)) for n in range(pcs)]
        self._run = f"drill-{time.time_ns()}"

    def start(self) -> OrderWriters:
        connection = http.client.HTTPConnection(self.address, timeout=10)
        self._cliente = self._post(connection, "/clientes", {"nome": "Drill"})["id"]
        tipo = {"codigo": self._run, "nome": "Drill"}
        self._tipo = self._post(connection, "/producoes/tipos", tipo)["id"]
        connection.close()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> Acknowledged:
        self._stopping.set()
        for thread in self._threads:
            thread.join()
        return self.acknowledged

    def _post(self, connection: http.client.HTTPConnection, path: str, body: object) -> Any:
        connection.request("POST", path, json.dumps(body), self.headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        if response.status != 201:
            raise RuntimeError(f"POST {path}: {response.status} {answer}")
        return answer

    def _pc(self, number: int) -> None:
        connection = http.client.HTTPConnection(self.address, timeout=10)
        n = 0
        while not self._stopping.is_set():
            n += 1
            body = {
                "cliente_id": self._cliente,
                "tipo_id": self._tipo,
                "descricao": f"PC {number} #{n}",
                "quantidade": 1,
                "valor_unitario": 100,
            }
            headers = {**self.headers, "Idempotency-Key": f"{self._run}-{number}-{n}"}
            try:
                connection.request("POST", "/pedidos", json.dumps(body), headers)
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()  # reconnects at the next request
                self._record_failure(repr(exc))
            else:
                if response.status == 201:
                    with self._lock:
                        self.acknowledged.at[json.loads(answer)["id"]] = time.time()
                else:
                    self._record_failure(f"{response.status} {answer[:200]!r}")
            self._stopping.wait(self.think)
        connection.close()

    def _record_failure(self, what: str) -> None:
        with self._lock:
            self.acknowledged.failures.append(what)
