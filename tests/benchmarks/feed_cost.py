"""The change feed's cost on ingestion: the lineage benchmark's bulk and HTTP ingestion steps
(tests/benchmarks/lineage/run.py --ingest-only) run alternately on the commit before the feed
(BASE) and on this checkout (NEW), each run a fresh process, and compared run for run.

    .venv/bin/python -m tests.benchmarks.feed_cost                                      # SQLite
    .venv/bin/python -m tests.benchmarks.feed_cost --store sqlite --store "$MAESTRO_TEST_PG_URL"
    .venv/bin/python -m tests.benchmarks.feed_cost --base abd8a77^1 --new abd8a77  # the feed's merge alone

0c52c57^ against this checkout measures every change since, not the feed alone (the guard, for
one, no longer parses a lineage POST's body before the handler does); --new measures a commit
instead of this checkout, so that a merge can be measured against its first parent.

A round is one BASE run then one NEW run, into a new tenant of a new database: for SQLite a file
in a temporary directory, for PostgreSQL a schema of its own (`?search_path=`), created before the
run and dropped after it, so that neither side inherits the other's rows or migrations. Each
run reports bulk ingestion (every generated event, in batches, through
LineageService.ingest_batches), HTTP ingestion of events writing new datasets and HTTP ingestion of
re-runs (16 clients, a real server process), in events/s. The ratio is NEW over BASE in the same
round; the cost is 1 - the median ratio over the rounds. This machine drifts by 15-25% within an
hour: only runs next to each other are compared.

Both sides run the same benchmark code (this checkout's tests/), each against its own package:
PYTHONPATH puts the side's tree first, and a sitecustomize.py in a per-side directory points
maestro_graph.migrations at the side's migrations/ (the editable install would otherwise serve
the main checkout's). BASE (and NEW with --new) is a detached git worktree in the temporary
directory, made once and reused; `git worktree remove --force <path>` removes it. Loopback only; one run at a time, each
bounded by --timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]  # this checkout: the benchmark both sides run
BENCH_SITE = "/tmp/bench-site"  # where `pip install --target` put aiohttp and networkx, if not in the venv
KINDS = ("bulk", "HTTP new", "HTTP re-runs")
LINE = re.compile(r"^(\w+): bulk ([\d.]+) ev/s \((\d+) events\), HTTP ([\d.]+) ev/s \(new datasets\), "
                  r"([\d.]+) ev/s \(re-runs\)$", re.M)

SITECUSTOMIZE = '''"""Written by tests/benchmarks/feed_cost.py: maestro_graph.migrations from {tree}, not from
the checkout the editable install points to."""
import importlib.util
import sys

_MIGRATIONS = {migrations!r}


class _SideMigrations:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "maestro_graph.migrations":
            return None
        return importlib.util.spec_from_file_location(name, _MIGRATIONS + "/__init__.py",
                                                      submodule_search_locations=[_MIGRATIONS])


sys.meta_path.insert(0, _SideMigrations)
'''

CHECK = """
import importlib.util, json, maestro_graph, resolvers, tests.benchmarks.lineage.run as run
from maestro_graph.store.sql.migrate import script_location
print(json.dumps({"maestro_graph": maestro_graph.__file__, "resolvers": resolvers.__file__, "run": run.__file__,
                  "migrations": str(script_location()),
                  "feed": importlib.util.find_spec("maestro_graph.domain.feed") is not None}))
"""


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def git(*args: str, cwd: Path = HERE) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def detached_tree(rev: str, root: Path) -> tuple[Path, str]:
    """A detached worktree of `rev` under `root`, made once and reused."""
    sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    path = root / f"maestro-feedcost-{sha[:12]}"
    if path.exists():
        if git("rev-parse", "HEAD", cwd=path) != sha:
            raise SystemExit(f"{path} exists but is not at {sha}: remove it (git worktree remove --force {path})")
    else:
        progress(f"making a detached worktree of {rev} ({sha[:12]}) at {path}")
        git("worktree", "add", "--detach", str(path), sha)
    return path, sha


def side_env(name: str, tree: Path, shims: Path) -> dict[str, str]:
    """The environment a side's processes (the benchmark and the server it starts) run in."""
    shim = shims / name
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SITECUSTOMIZE.format(tree=tree, migrations=str(tree / "migrations")))
    # `tests` is a namespace package: this entry first makes both sides run this checkout's benchmark.
    (shim / "tests").symlink_to(HERE / "tests")
    path = [str(shim), str(tree)] + ([BENCH_SITE] if Path(BENCH_SITE).is_dir() else [])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


def shim_of(env: dict[str, str]) -> str:
    """The directory to run a side's processes in: `python -m` and `-c` put the working directory
    first on sys.path, and the shim is the one that names the right trees."""
    return env["PYTHONPATH"].split(os.pathsep)[0]


def check_side(name: str, tree: Path, env: dict[str, str]) -> bool:
    """The side imports its own package and migrations and this checkout's benchmark; returns
    whether it has the change feed."""
    out = subprocess.run([sys.executable, "-c", CHECK], env=env, cwd=shim_of(env), check=True, capture_output=True, text=True)
    seen = json.loads(out.stdout)
    for key, want in (("maestro_graph", tree), ("resolvers", tree), ("migrations", tree), ("run", HERE)):
        if not Path(seen[key]).resolve().is_relative_to(want.resolve()):
            raise SystemExit(f"{name}: {key} comes from {seen[key]}, not from {want}")
    progress(f"{name}: {tree}, change feed {'present' if seen['feed'] else 'absent'}")
    return bool(seen["feed"])


async def _pg(url: str, sql: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").difference_update_query(["search_path"])
    conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def one_run(name: str, tree: Path, env: dict[str, str], store: str, args: argparse.Namespace, n: int) -> tuple[float, ...]:
    """One run of the ingestion steps in a fresh process: (bulk, HTTP new, HTTP re-runs) events/s,
    then the machine's load average when it started (other work on the machine shows there)."""
    schema = None
    if store != "sqlite":
        from sqlalchemy.engine import make_url

        schema = f"feedcost_{os.getpid()}_{n}"
        asyncio.run(_pg(store, f"CREATE SCHEMA {schema}"))
        store = make_url(store).update_query_dict({"search_path": schema}).render_as_string(hide_password=False)
    cmd = [sys.executable, "-m", "tests.benchmarks.lineage.run", "--ingest-only", "--store", store,
           "--datasets", str(args.datasets), "--http-events", str(args.http_events),
           "--http-clients", str(args.http_clients)]
    load = os.getloadavg()[0]
    progress(f"{name}: run {n} (load average {load:.2f})")
    t = time.perf_counter()
    # A session of its own, so that a timeout ends the server process the run started too.
    proc = subprocess.Popen(cmd, env=env, cwd=shim_of(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise SystemExit(f"{name}: run {n} took over {args.timeout} s")
    finally:
        if schema:
            asyncio.run(_pg(store, f"DROP SCHEMA {schema} CASCADE"))
    m = LINE.search(out)
    if proc.returncode or not m:
        raise SystemExit(f"{name}: run {n} failed ({proc.returncode}):\n{out[-2000:]}\n{err[-3000:]}")
    rates = (float(m[2]), float(m[4]), float(m[5]))
    progress(f"{name}: run {n} in {time.perf_counter() - t:.0f} s: "
             + ", ".join(f"{k} {r:,.0f} ev/s" for k, r in zip(KINDS, rates)))
    return (*rates, load)


def table(label: str, rounds: list[tuple[tuple[float, ...], tuple[float, ...]]]) -> str:
    head = "| round | load | " + " | ".join(f"{k} base | {k} new | ratio" for k in KINDS) + " |"
    lines = [f"{label}: events/s, ratio = new / base in the same round, load = the 1-minute load average as "
             "each run started (base/new)", "", head, "|---|---" + "|---:" * 3 * len(KINDS) + "|"]
    for i, (base, new) in enumerate(rounds, 1):
        lines.append(f"| {i} | {base[-1]:.1f}/{new[-1]:.1f} | "
                     + " | ".join(f"{b:,.0f} | {n:,.0f} | {n / b:.3f}" for b, n in zip(base[:-1], new[:-1])) + " |")
    medians = [statistics.median(n[k] / b[k] for b, n in rounds) for k in range(len(KINDS))]
    lines.append("| median | | " + " | ".join(f" |  | {m:.3f}" for m in medians) + " |")
    lines.append("")
    lines.append("cost (1 - median ratio): " + ", ".join(f"{k} {(1 - m) * 100:+.1f}%" for k, m in zip(KINDS, medians)))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="0c52c57^", help="the commit to compare against (default 0c52c57^, before the feed)")
    ap.add_argument("--new", help="a commit to measure instead of this checkout (e.g. abd8a77 against --base abd8a77^1: "
                                   "the feed's merge alone, without the other changes since 0c52c57^)")
    ap.add_argument("--store", action="append", help="'sqlite' or a PostgreSQL URL (repeatable; default sqlite)")
    ap.add_argument("--rounds", type=int, default=3, help="base/new pairs per store (default 3)")
    ap.add_argument("--datasets", type=int, default=2000, help="datasets generated for bulk ingestion (default 2000)")
    ap.add_argument("--http-events", type=int, default=1500, help="events POSTed writing new datasets (default 1500); "
                                                                  "half their jobs then run again, 2 events a run")
    ap.add_argument("--http-clients", type=int, default=16, help="concurrent HTTP clients (default 16)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds one run may take (default 900)")
    args = ap.parse_args()
    if not 1 <= args.rounds <= 20:
        ap.error("--rounds must be between 1 and 20")
    stores = args.store or ["sqlite"]
    for s in stores:
        if s != "sqlite" and not s.startswith("postgresql"):
            ap.error(f"--store {s}: only sqlite and PostgreSQL URLs (Neo4j has no schema to give each run)")

    base, sha = detached_tree(args.base, Path(tempfile.gettempdir()))
    new = detached_tree(args.new, Path(tempfile.gettempdir()))[0] if args.new else HERE
    with tempfile.TemporaryDirectory(prefix="maestro-feedcost-") as shims:
        sides = [("base", base, side_env("base", base, Path(shims))),
                 ("new", new, side_env("new", new, Path(shims)))]
        compare(args, stores, sides, sha)


def compare(args: argparse.Namespace, stores: list[str], sides: list[tuple[str, Path, dict[str, str]]], sha: str) -> None:
    feed = {name: check_side(name, tree, env) for name, tree, env in sides}
    if feed["base"] or not feed["new"]:
        progress("warning: the change feed is not absent from base and present in new; the figures compare other changes")
    new = sides[1][1]
    dirty = git("status", "--porcelain", "--untracked-files=no", cwd=new)
    progress(f"base {sha[:12]} ({args.base}), new {git('rev-parse', '--short=12', 'HEAD', cwd=new)}"
             + (" with uncommitted changes" if dirty else ""))

    start, n = time.perf_counter(), 0
    for store in stores:
        rounds = []
        for _ in range(args.rounds):
            pair = []
            for name, tree, env in sides:
                n += 1
                pair.append(one_run(name, tree, env, store, args, n))
            rounds.append((pair[0], pair[1]))
        label = "SQLite" if store == "sqlite" else "PostgreSQL"
        print("\n" + table(f"{label}, bulk {args.datasets:,} events (one a dataset), HTTP {args.http_events:,} events "
                            f"then {args.http_events // 2 * 2:,} of re-runs, {args.http_clients} clients", rounds), flush=True)
    progress(f"{n} runs in {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
