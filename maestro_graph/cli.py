"""The `maestro-graph` command: serve, token, migrate, demo, ingest, metamodel, mlflow, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from maestro_graph import __version__
from maestro_graph.domain.errors import MaestroError
from maestro_graph.settings import BULK_BATCH, Settings


# CLI flags that override a Settings field of the same name (None: not given, keep env/default).
FLAG_SETTINGS = ("host", "port", "no_auth", "jwt_public_key", "jwt_jwks_url", "jwt_algorithms", "jwt_issuer",
                 "jwt_audience", "introspection", "graphiql", "max_cost", "max_body_bytes", "rate_limit_per_minute")


def _settings(args: argparse.Namespace) -> Settings:
    flags = {name: getattr(args, name, None) for name in FLAG_SETTINGS}
    return Settings.from_env(store_url=getattr(args, "store", None), data_dir=getattr(args, "data_dir", None), **flags)


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
    from maestro_graph.runtime import tune_gc

    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings, load_demo=args.demo, announce=True)
    tune_gc()
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False, ws="websockets-sansio")


def cmd_token(args: argparse.Namespace) -> None:
    from maestro_graph.auth.principal import Role
    from maestro_graph.auth.setup import auth_from_settings
    from maestro_graph.auth.tokens import parse_ttl

    settings = _settings(args)
    if settings.no_auth:
        sys.exit("maestro-graph: token: authentication is off (MAESTRO_NO_AUTH): no token is needed or checked")
    auth = auth_from_settings(settings)
    if auth.minter is None:
        sys.exit("maestro-graph: token: this server checks tokens from an identity provider "
                 "(MAESTRO_JWT_PUBLIC_KEY or MAESTRO_JWT_JWKS_URL): mint tokens there")
    try:
        role = Role.parse(args.role)
    except ValueError as err:
        sys.exit(f"maestro-graph: token: --role: {err}")
    print(auth.minter.mint(args.sub, args.tenant or settings.tenant, [role], parse_ttl(args.ttl)))


def cmd_migrate(args: argparse.Namespace) -> None:
    settings = _settings(args)

    async def work(store, services) -> None:  # type: ignore[no-untyped-def]
        applied = await store.migrate()
        print(f"{store.backend}: applied {', '.join(applied)}" if applied else f"{store.backend}: schema is up to date")

    asyncio.run(_with_store(settings, work))


def cmd_demo(args: argparse.Namespace) -> None:
    from maestro_graph.demo import load_demo
    from maestro_graph.history import MAX_PROJECTS, load_history
    from maestro_graph.types import DEFAULT_TENANT

    if args.projects is None and args.seed is not None:
        sys.exit("maestro-graph: demo: --seed goes with --projects (a generated history); the demo graph has no seed")
    if args.projects is not None and not 1 <= args.projects <= MAX_PROJECTS:
        sys.exit(f"maestro-graph: demo: --projects must be from 1 to {MAX_PROJECTS:,}, got {args.projects}")

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    async def work(store, services) -> None:  # type: ignore[no-untyped-def]
        await store.migrate()
        tenant = args.tenant or DEFAULT_TENANT
        if args.projects is None:
            await load_demo(services, tenant)
        else:
            await load_history(services, tenant, args.projects, 1 if args.seed is None else args.seed, progress)

    asyncio.run(_with_store(_settings(args), work))


def cmd_ingest(args: argparse.Namespace) -> None:
    """Backfill: OpenLineage event files into the store, as the HTTP endpoint would store them.
    Every event is checked before any is stored, so a bad one stores nothing."""
    import time

    from maestro_graph.auth.principal import system
    from maestro_graph.domain.errors import BadInput
    from maestro_graph.integrations.openlineage_files import check_events, read_events
    from maestro_graph.runtime import tune_gc

    settings = _settings(args)
    tenant = args.tenant or settings.tenant
    paths = [Path(p) for p in args.files]
    if args.batch < 1:
        sys.exit("maestro-graph: ingest: --batch must be at least 1")
    for path in paths:
        if not path.is_file():
            sys.exit(f"maestro-graph: ingest: {path} is not a file")
    tune_gc()

    async def work(store, services) -> None:  # type: ignore[no-untyped-def]
        await store.migrate()
        try:
            total = check_events(paths)
        except BadInput as err:
            sys.exit(f"maestro-graph: ingest: {err.message}. Nothing was stored: fix that event and run again.")
        actor, stored = system(tenant, "cli"), 0
        start = shown = time.perf_counter()

        def batches() -> Iterator[list[Any]]:
            batch: list[Any] = []
            for path in paths:
                for _, raw in read_events(path):
                    batch.append(raw)
                    if len(batch) == args.batch:
                        yield batch
                        batch = []
            if batch:
                yield batch

        try:  # batches in order, a few under way: one is written while the next are translated
            async for result in services.lineage.ingest_batches(actor, batches(), operation="ingestLineageFiles"):
                stored += result.events
                if time.perf_counter() - shown >= 2:
                    shown = time.perf_counter()
                    print(f"ingest: {stored:,}/{total:,} events, {stored / (shown - start):,.0f} events/s", file=sys.stderr, flush=True)
        except MaestroError as err:
            sys.exit(f"maestro-graph: ingest: {err.message}. The {stored:,} events before it (of {total:,}) were stored, "
                     "and maybe some after it; running the same files again is safe (ingestion is idempotent).")
        took = time.perf_counter() - start
        print(f"ingested {total:,} events from {len(paths)} file(s) into tenant {tenant} in {took:.1f} s "
              f"({total / max(took, 1e-9):,.0f} events/s)")

    asyncio.run(_with_store(settings, work))


def cmd_metamodel(args: argparse.Namespace) -> None:
    """train, evaluate or score-artifacts for one tenant, with a progress bar and a table."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from maestro_graph.auth.principal import system

    settings = _settings(args)
    tenant = args.tenant or settings.tenant
    console = Console(stderr=True)
    out = Console(width=None if sys.stdout.isatty() else 140)  # a file or a pipe gets the whole table

    async def work(store, services) -> None:  # type: ignore[no-untyped-def]
        await store.migrate()
        actor = system(tenant, "cli")
        metamodel = services.metamodel
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task("reading the graph", total=1)

            def progress(what: str, done: int, of: int) -> None:
                bar.update(task, description=what, completed=done, total=of)

            if args.action == "train":
                model = await metamodel.train(actor, progress)
                bar.stop()
                table = Table(title=f"meta-model v{model.version} for tenant {tenant}: {model.n} projects, "
                                    f"{len(model.features)} features, 5-fold cross-validation")
                for column in ("target", "MAE", "R²", "80% interval coverage"):
                    table.add_column(column, justify="right" if column != "target" else "left")
                for target, m in model.targets.items():
                    table.add_row(target, f"{m.cv['mae']:.3f}", f"{m.cv['r2']:.3f}", f"{m.cv['coverage']:.1%}")
                out.print(table)
            elif args.action == "evaluate":
                report, n, cut = await metamodel.evaluate(tenant, progress)
                bar.stop()
                table = Table(title=f"tenant {tenant}: {n} finished projects; time-ordered: trained on the first {cut} "
                                    f"to finish, tested on the {n - cut} after; cv: 5-fold")
                for column in ("target", "evaluation", "model", "MAE", "R²", "80% interval coverage", "n"):
                    table.add_column(column, justify="left" if column in ("target", "evaluation", "model") else "right")
                for target, by in report.items():
                    for key, s in by.items():
                        how, model_name = key.split(":")
                        table.add_row(target, how, {"graph": "XGBoost, graph features", "plain": "XGBoost, non-graph",
                                                    "mean": "training mean"}[model_name],
                                      f"{s['mae']:.3f}", f"{s['r2']:.3f}", f"{s['coverage']:.1%}", str(s["n"]))
                out.print(table)
                for target, by in report.items():
                    for how in ("time", "cv"):
                        cut_by = 1 - by[f"{how}:graph"]["mae"] / by[f"{how}:plain"]["mae"]
                        out.print(f"{target} ({how}): graph features cut MAE by {cut_by:.1%} against the non-graph baseline")
            else:
                changed = await metamodel.score_artifacts(actor)
                bar.stop()
                out.print(f"rescored {changed} artifacts from the outcomes of the projects using them")

    asyncio.run(_with_store(settings, work))


def cmd_mlflow(args: argparse.Namespace) -> None:
    """sync: MLflow's experiments, runs and registered models into one tenant's graph, once or
    (--watch) every MAESTRO_MLFLOW_SYNC_INTERVAL seconds, with progress on stderr."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from maestro_graph.auth.principal import system
    from maestro_graph.services.mlflow_sync import MlflowSync

    settings = _settings(args)
    uri = args.tracking_uri or settings.mlflow_tracking_uri
    if not uri:
        sys.exit("maestro-graph: mlflow sync: no tracking server: pass --tracking-uri or set MAESTRO_MLFLOW_TRACKING_URI")
    tenant = args.tenant or settings.tenant
    interval = settings.mlflow_sync_interval if settings.mlflow_sync_interval > 0 else 300.0
    console = Console(stderr=True)

    async def work(store, services) -> None:  # type: ignore[no-untyped-def]
        await store.migrate()
        sync = MlflowSync.from_settings(services.graph, settings)
        while True:
            began = time.perf_counter()
            with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                          TimeElapsedColumn(), console=console, transient=not console.is_terminal) as bar:
                task = bar.add_task(f"syncing {uri}", total=1)

                def progress(what: str, done: int, of: int) -> None:
                    if not console.is_terminal and what != bar.tasks[0].description:
                        console.print(f"mlflow sync: {what}")  # a pipe or a file gets one line a step
                    bar.update(task, description=what, completed=done, total=of)

                try:
                    result = await sync.sync(system(tenant, "cli"), uri, progress)
                except MaestroError as err:
                    if not args.watch:
                        sys.exit(f"maestro-graph: mlflow sync: {err.message}. Nothing was written.")
                    console.print(f"mlflow sync: {err.message}. Nothing was written; trying again in {interval:.0f} s.")
                    result = None
            if result is not None:
                print(f"mlflow sync of {uri} into tenant {tenant}: {result.summary()} "
                      f"({time.perf_counter() - began:.1f} s)", flush=True)
                if result.unmatched:
                    print(f"  dataset sources no dataset matched: {', '.join(result.unmatched)}", flush=True)
            if not args.watch:
                return
            await asyncio.sleep(interval)

    asyncio.run(_with_store(settings, work))


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
    on = {"action": "store_const", "const": True}
    off = {"action": "store_const", "const": False}
    s.add_argument("--no-auth", dest="no_auth", **on,  # type: ignore[arg-type]
                   help="no tokens: every request is an admin of the default tenant; loopback hosts only [MAESTRO_NO_AUTH]")
    s.add_argument("--jwt-public-key", help="PEM public key (or its path) for RS256/ES256 tokens [MAESTRO_JWT_PUBLIC_KEY]; "
                                            "an HS256 secret is set by MAESTRO_JWT_SECRET only (not on the command line)")
    s.add_argument("--jwt-jwks-url", help="JWKS URL of your identity provider [MAESTRO_JWT_JWKS_URL]")
    s.add_argument("--jwt-algorithms", help="accepted algorithms, comma-separated [MAESTRO_JWT_ALGORITHMS]")
    s.add_argument("--jwt-issuer", help="required `iss` [MAESTRO_JWT_ISSUER]")
    s.add_argument("--jwt-audience", help="required `aud` [MAESTRO_JWT_AUDIENCE]")
    s.add_argument("--no-introspection", dest="introspection", **off,  # type: ignore[arg-type]
                   help="refuse schema introspection [MAESTRO_INTROSPECTION=false]")
    s.add_argument("--no-graphiql", dest="graphiql", **off,  # type: ignore[arg-type]
                   help="do not serve GraphiQL on GET /graphql [MAESTRO_GRAPHIQL=false]")
    s.add_argument("--max-cost", type=int, help="largest query cost (default 50000) [MAESTRO_MAX_COST]")
    s.add_argument("--max-body-bytes", type=int, help="largest GraphQL request body (default 1 MiB) [MAESTRO_MAX_BODY_BYTES]")
    s.add_argument("--rate-limit", dest="rate_limit_per_minute", type=int,
                   help="requests a minute per token (default 1000) [MAESTRO_RATE_LIMIT_PER_MINUTE]")
    s.set_defaults(func=cmd_serve)
    t = sub.add_parser("token", help="mint a bearer token with the server's secret (MAESTRO_JWT_SECRET or <data dir>/jwt-secret)")
    t.add_argument("--sub", required=True, help="who the token is for")
    t.add_argument("--tenant", help="the tenant it may see (default: default)")
    t.add_argument("--role", default="viewer", help="viewer, editor or admin (default viewer)")
    t.add_argument("--ttl", default="8h", help="lifetime: 30m, 8h, 7d, ... (default 8h)")
    t.add_argument("--data-dir", type=Path, help="where serve keeps its generated secret [MAESTRO_DATA_DIR]")
    t.set_defaults(func=cmd_token)
    with_store(sub.add_parser("migrate", help="bring the store's schema up to date")).set_defaults(func=cmd_migrate)
    d = with_store(sub.add_parser("demo", help="load the demo graph into the store"))
    d.add_argument("--tenant", help="tenant to load into (default: default)")
    d.add_argument("--projects", type=int, help="instead of the demo graph, a generated history of this many projects "
                                                "(docs/history-generator.md), into an empty tenant")
    d.add_argument("--seed", type=int, help="the history's seed (default 1): the same projects and seed give the same graph")
    d.set_defaults(func=cmd_demo)
    i = with_store(sub.add_parser("ingest", help="store OpenLineage events from files (a backfill): JSON lines, "
                                                 "as the file transport appends them, or JSON documents"))
    i.add_argument("files", nargs="+", help="event files")
    i.add_argument("--tenant", help="tenant to store into (default: default) [MAESTRO_TENANT]")
    i.add_argument("--batch", type=int, default=BULK_BATCH, help=f"events per transaction (default {BULK_BATCH})")
    i.set_defaults(func=cmd_ingest)
    m = with_store(sub.add_parser("metamodel", help="the meta-model: train it, evaluate it, rescore artifacts"))
    m.add_argument("action", choices=["train", "evaluate", "score-artifacts"],
                   help="train: on the tenant's finished projects, stored as a new version; evaluate: time-ordered and "
                        "5-fold scores beside two baselines; score-artifacts: impact scores from outcomes")
    m.add_argument("--tenant", help="tenant (default: default) [MAESTRO_TENANT]")
    m.set_defaults(func=cmd_metamodel)
    ml = with_store(sub.add_parser("mlflow", help="MLflow: sync its experiments, runs and registered models into the graph"))
    ml.add_argument("action", choices=["sync"], help="sync: once, or with --watch every MAESTRO_MLFLOW_SYNC_INTERVAL seconds")
    ml.add_argument("--tracking-uri", help="the MLflow tracking server [MAESTRO_MLFLOW_TRACKING_URI]")
    ml.add_argument("--tenant", help="tenant to sync into (default: default) [MAESTRO_TENANT]")
    ml.add_argument("--watch", action="store_true", help="keep syncing, every MAESTRO_MLFLOW_SYNC_INTERVAL seconds (default 300)")
    ml.set_defaults(func=cmd_mlflow)
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


if __name__ == "__main__":  # python -m maestro_graph.cli, as the maestro-graph script does
    main()
