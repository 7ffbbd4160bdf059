"""``fichas demo-data``: a realistic Brazilian factory's data, for trying Fichas and benchmarks.

Deterministic (seeded) and idempotent: a second run finds its marker and changes nothing.
"""

from __future__ import annotations

import argparse
import itertools
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from api.domain.documento import cnpj_check_digits, cpf_check_digits
from api.domain.workflow import Status

TIPOS = [
    ("bordado", "Bordado", "Bordado computadorizado em peças e bonés", 7),
    ("serigrafia", "Serigrafia", "Estampa em tela, até 6 cores", 5),
    ("sublimacao", "Sublimação", "Estampa digital em poliéster", 3),
    ("dtf", "DTF", "Transfer digital para algodão e misturas", 4),
    ("corte", "Corte", "Corte de tecido por molde ou a laser", 2),
    ("costura", "Costura", "Montagem e acabamento de peças", 10),
]
NOMES = [
    "Ana",
    "Bruno",
    "Carla",
    "Diego",
    "Eduarda",
    "Felipe",
    "Gabriela",
    "Heitor",
    "Isabela",
    "João",
    "Larissa",
    "Marcos",
    "Natália",
    "Otávio",
    "Patrícia",
    "Rafael",
    "Sofia",
    "Tiago",
]
SOBRENOMES = [
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Lima",
    "Pereira",
    "Ferreira",
    "Costa",
    "Rodrigues",
    "Almeida",
    "Nascimento",
    "Carvalho",
    "Gomes",
    "Ribeiro",
]
EMPRESAS = ["Confecções", "Uniformes", "Malharia", "Esportes", "Brindes", "Moda", "Têxtil"]
CIDADES = [
    ("São Paulo", "SP"),
    ("Campinas", "SP"),
    ("Belo Horizonte", "MG"),
    ("Curitiba", "PR"),
    ("Blumenau", "SC"),
    ("Porto Alegre", "RS"),
    ("Fortaleza", "CE"),
    ("Recife", "PE"),
    ("Goiânia", "GO"),
    ("Nova Friburgo", "RJ"),
    ("Jaraguá do Sul", "SC"),
    ("Divinópolis", "MG"),
]
CORES = ["brancas", "pretas", "azuis", "sortidas"]
PECAS = ["camisetas", "bonés", "uniformes", "aventais", "jalecos", "bolsas", "moletons", "polos"]
PATH = [Status.ABERTO, Status.EM_PRODUCAO, Status.PRONTO, Status.ENTREGUE]  # fmt: skip


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("demo-data", help="load realistic demo data (idempotent)")
    parser.add_argument("--clientes", type=int, default=500, help="how many clientes (default 500)")
    parser.add_argument("--pedidos", type=int, default=3000, help="how many pedidos (default 3000)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.set_defaults(run=run)


def _cliente(rng: random.Random, i: int, stamp: datetime) -> dict[str, Any]:
    cidade, uf = rng.choice(CIDADES)
    if i % 3 == 0:  # a company
        nome = f"{rng.choice(SOBRENOMES)} {rng.choice(EMPRESAS)} Ltda"
        documento = cnpj_check_digits(f"{i:08d}0001")
    else:
        nome = f"{rng.choice(NOMES)} {rng.choice(SOBRENOMES)} {rng.choice(SOBRENOMES)}"
        documento = cpf_check_digits(f"{i + 100_000_000:09d}"[-9:])
    slug = nome.split()[0].lower().encode("ascii", "ignore").decode() or "cliente"
    return {
        "nome": nome,
        "documento": documento,
        "email": f"{slug}.{i}@exemplo.com.br",
        "telefone": f"({rng.randint(11, 99)}) 9{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
        "cidade": cidade,
        "uf": uf,
        "observacoes": None,
        "criado_em": stamp,
        "atualizado_em": stamp,
    }


def _pedido(
    rng: random.Random, cliente_ids: list[int], tipo_ids: list[int], today: date, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    criado = now - timedelta(days=rng.randint(0, 120), minutes=rng.randint(0, 600))
    cancelado = rng.random() < 0.07
    steps = rng.randint(0, 2) if cancelado else rng.randint(0, 3)
    path: list[Status | None] = [None, *PATH[: steps + 1]]
    if cancelado:
        path.append(Status.CANCELADO)
    eventos = [
        {"de": de.value if de else None, "para": para.value, "nota": None, "chave": "demo-data",
         "em": criado + timedelta(hours=6 * n)}
        for n, (de, para) in enumerate(itertools.pairwise(path))
        if para is not None
    ]  # fmt: skip
    quantidade = rng.choice([10, 12, 20, 24, 30, 50, 60, 100, 150, 200, 500])
    pedido = {
        "cliente_id": rng.choice(cliente_ids),
        "tipo_id": rng.choice(tipo_ids),
        "descricao": f"{quantidade} {rng.choice(PECAS)} {rng.choice(CORES)}",
        "quantidade": quantidade,
        "valor_unitario": rng.randint(5, 120) * 100 + rng.choice([0, 50, 90]),
        "prazo": criado.date() + timedelta(days=rng.randint(2, 30)),
        "prioridade": rng.choices(["baixa", "normal", "alta", "urgente"], [2, 6, 2, 1])[0],
        "status": eventos[-1]["para"],
        "criado_em": criado,
        "atualizado_em": eventos[-1]["em"],
    }
    return pedido, eventos


def run(args: argparse.Namespace) -> int:
    from api.cache.responses import GENERATION_KEYS
    from api.data import bulk, generations
    from api.db.engine import build_engine, writing
    from api.db.migrate import ensure_current
    from fichas.settings import load_settings

    rng = random.Random(args.seed)
    now = datetime.now(UTC)
    engine = build_engine(load_settings())
    try:
        ensure_current(engine)
        with writing(engine) as conn:
            if bulk.already_loaded(conn):
                print("demo data already loaded; nothing to do")
                return 0
            known = bulk.existing_tipos(conn)
            bulk.insert_tipos(conn, [
                {"codigo": c, "nome": n, "descricao": d, "prazo_padrao_dias": p, "ativo": True,
                 "criado_em": now, "atualizado_em": now}
                for c, n, d, p in TIPOS if c not in known
            ])  # fmt: skip
            tipo_ids = list(bulk.existing_tipos(conn).values())
            cliente_ids = bulk.insert_clientes(
                conn, [_cliente(rng, i, now) for i in range(1, args.clientes + 1)]
            )
            made = [
                _pedido(rng, cliente_ids, tipo_ids, now.date(), now) for _ in range(args.pedidos)
            ]
            bulk.insert_pedidos(conn, [p for p, _ in made], [e for _, e in made])
            # Instances caching without Redis see the new rows at once (api/cache/local.py).
            generations.renew(conn, GENERATION_KEYS)
    finally:
        engine.dispose()
    print(f"loaded {len(TIPOS)} tipos, {args.clientes} clientes and {args.pedidos} pedidos")
    return 0
