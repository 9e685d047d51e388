"""The `maestro-graph` command: serve, migrate, demo, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from maestro_graph import __version__
from maestro_graph.domain.errors import MaestroError
from maestro_graph.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(store_url=getattr(args, "store", None), data_dir=getattr(args, "data_dir", None),
                             host=getattr(args, "host", None), port=getattr(args, "port", None))


async def _with_store(settings: Settings, work) -> None:  # type: ignore[no-untyped-def]
    from maestro_graph.services import Services
    from maestro_graph.store.factory import create_store

    store = create_store(settings)
    await store.open()
    try:
        await work(store, Services.build(store))
    finally:
        await store.close()


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from maestro_graph.app import create_app
    from maestro_graph.logs import configure_logging

    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings, load_demo=args.demo, announce=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False, ws="websockets-sansio")


def cmd_migrate(args: argparse.Namespace) -> None:
    settings = _settings(args)

    async def work(store, services) -> None:  # type: ignore[no-untyped-def]
        applied = await store.migrate()
        print(f"{store.backend}: applied {', '.join(applied)}" if applied else f"{store.backend}: schema is up to date")

    asyncio.run(_with_store(settings, work))


def cmd_demo(args: argparse.Namespace) -> None:
    from maestro_graph.demo import load_demo
    from maestro_graph.types import DEFAULT_TENANT

    async def work(store, services) -> None:  # type: ignore[no-untyped-def]
        await store.migrate()
        await load_demo(services, args.tenant or DEFAULT_TENANT)

    asyncio.run(_with_store(_settings(args), work))


def cmd_export_schema(args: argparse.Namespace) -> None:
    from resolvers.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if args.output:
        Path(args.output).write_text(sdl)
    else:
        sys.stdout.write(sdl)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="maestro-graph", description="GraphQL metadata and lineage server for ML teams.")
    p.add_argument("--version", action="version", version=f"maestro-graph {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def with_store(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--store", help="store URL: sqlite:///path.db (default, under the data dir), "
                                        "postgresql://user:pass@host/db, neo4j://host:7687 [MAESTRO_STORE]")
        sp.add_argument("--data-dir", type=Path, help="where the embedded store lives [MAESTRO_DATA_DIR]")
        return sp

    s = with_store(sub.add_parser("serve", help="run the GraphQL server"))
    s.add_argument("--host", help="address to listen on (default 127.0.0.1) [MAESTRO_HOST]")
    s.add_argument("--port", type=int, help="port (default 8000) [MAESTRO_PORT]")
    s.add_argument("--demo", action="store_true", help="load the demo graph first (if not loaded yet)")
    s.set_defaults(func=cmd_serve)
    with_store(sub.add_parser("migrate", help="bring the store's schema up to date")).set_defaults(func=cmd_migrate)
    d = with_store(sub.add_parser("demo", help="load the demo graph into the store"))
    d.add_argument("--tenant", help="tenant to load into (default: default)")
    d.set_defaults(func=cmd_demo)
    e = sub.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    e.add_argument("-o", "--output", help="write to this file instead of stdout")
    e.set_defaults(func=cmd_export_schema)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except MaestroError as err:
        sys.exit(f"maestro-graph: {err.message}")
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as err:
        sys.exit(f"maestro-graph: {err}")
