"""``fichas up``: the whole cluster — migrations, N API instances, Caddy in front, supervised."""

from __future__ import annotations

import argparse
import asyncio
import logging

from api.cli.migrate import apply_migrations
from api.cli.serve import announce_admin_key, event_loop_runner
from api.settings import load_settings
from proxy.cluster import build_cluster

DEFAULT_LISTEN = "0.0.0.0:8080"


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("up", help="run the cluster: API instances behind Caddy")
    parser.add_argument("--instances", type=int, default=3, help="API instances (default 3)")
    parser.add_argument(
        "--listen", default=DEFAULT_LISTEN, help=f"public host:port (default {DEFAULT_LISTEN})"
    )
    parser.add_argument("--tls", action="store_true", help="HTTPS with Caddy's internal CA")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.instances <= 32:
        print("fichas: --instances must be between 1 and 32")
        return 2
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    print(apply_migrations(settings), flush=True)
    announce_admin_key(settings)
    supervisor = build_cluster(settings, instances=args.instances, listen=args.listen, tls=args.tls)

    async def main() -> int:
        ready = asyncio.Event()
        running = asyncio.create_task(supervisor.run(ready))
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set():
            scheme = "https" if args.tls else "http"
            print(
                f"fichas is up on {scheme}://{args.listen} with {args.instances} instances; "
                f"admin key in {settings.data_dir / 'admin.key'}; "
                "stop with Ctrl+C (SIGTERM), rolling restart with SIGHUP",
                flush=True,
            )
        waiting.cancel()
        return await running

    return event_loop_runner(main())
