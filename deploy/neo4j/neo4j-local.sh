#!/usr/bin/env bash
# Runs a genuine Neo4j 5.26 LTS Community server (embedded DBMS + Bolt) on loopback, without Docker.
#
#   neo4j-local.sh start [--fresh]   build the launcher if needed, start, wait for Bolt; prints the URL last
#   neo4j-local.sh stop              SIGTERM, wait (SIGKILL after MAESTRO_NEO4J_STOP_TIMEOUT s); idempotent
#   neo4j-local.sh kill              SIGKILL (simulates a crash; data survives, recovery runs on next start)
#   neo4j-local.sh status            exit 0 if running and answering a query over Bolt
#   neo4j-local.sh reset             stop, then wipe the data (and logs)
#   neo4j-local.sh url               print neo4j://127.0.0.1:<port>
#   neo4j-local.sh build             only build (or find cached) the launcher; prints its directory
#
# Env: MAESTRO_NEO4J_PORT (7697), MAESTRO_NEO4J_PASSWORD (maestro-test-pw), MAESTRO_NEO4J_HOME
# (${MAESTRO_CACHE_DIR:-~/.cache/maestro-graph}/neo4j/run-<port>), MAESTRO_NEO4J_HEAP (1g),
# MAESTRO_NEO4J_PAGECACHE_MB (256), MAESTRO_NEO4J_JAVA_OPTS (extra JVM flags), MAESTRO_NEO4J_START_TIMEOUT (120), MAESTRO_NEO4J_STOP_TIMEOUT (60).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAUNCHER_SRC="$HERE/launcher"
MAIN_CLASS="maestro.neo4j.Launcher"

PORT="${MAESTRO_NEO4J_PORT:-7697}"
CACHE_ROOT="${MAESTRO_CACHE_DIR:-$HOME/.cache/maestro-graph}/neo4j"
N4J_HOME="${MAESTRO_NEO4J_HOME:-$CACHE_ROOT/run-$PORT}"
export MAESTRO_NEO4J_PASSWORD="${MAESTRO_NEO4J_PASSWORD:-maestro-test-pw}"
HEAP="${MAESTRO_NEO4J_HEAP:-1g}"
START_TIMEOUT="${MAESTRO_NEO4J_START_TIMEOUT:-120}"
STOP_TIMEOUT="${MAESTRO_NEO4J_STOP_TIMEOUT:-60}"

PIDFILE="$N4J_HOME/neo4j.pid"
READY="$N4J_HOME/ready"
LOG="$N4J_HOME/logs/launcher.log"
URL="neo4j://127.0.0.1:$PORT"

say() { echo "neo4j-local: $*" >&2; }

die() {
    say "$1"
    if [[ "${2:-}" == "log" && -f "$LOG" ]]; then
        echo "---- last lines of $LOG ----" >&2
        tail -n 40 "$LOG" >&2 || true
        if [[ -f "$N4J_HOME/logs/debug.log" ]]; then
            echo "---- last ERROR/WARN lines of $N4J_HOME/logs/debug.log ----" >&2
            grep -E ' (ERROR|WARN) ' "$N4J_HOME/logs/debug.log" | tail -n 10 >&2 || true
        fi
    fi
    exit 1
}

[[ "$PORT" =~ ^[0-9]+$ ]] || die "MAESTRO_NEO4J_PORT must be a number, got '$PORT'."

# ---------------------------------------------------------------- build

need_tools() {
    command -v java >/dev/null || die "java (17 or newer) is not on PATH; install e.g. openjdk-17-jre-headless."
    local major
    major="$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
    [[ "${major%%.*}" =~ ^[0-9]+$ && "${major%%.*}" -ge 17 ]] ||
        die "Neo4j 5.26 needs Java 17 or newer; 'java' here is version '${major:-unknown}'."
}

source_hash() {
    (cd "$LAUNCHER_SRC" && { cat pom.xml; find src -type f | LC_ALL=C sort | xargs cat; }) |
        sha256sum | cut -c1-16
}

# Sets BUILD_DIR to a directory holding maestro-neo4j-launcher.jar and lib/*.jar (all dependencies).
build_launcher() {
    need_tools
    BUILD_DIR="$CACHE_ROOT/launcher-$(source_hash)"
    [[ -f "$BUILD_DIR/ok" ]] && return 0
    command -v mvn >/dev/null || die "mvn (Maven 3) is not on PATH; it is needed once to build the launcher."
    mkdir -p "$CACHE_ROOT"
    exec 8>"$CACHE_ROOT/build.lock"
    flock 8
    if [[ ! -f "$BUILD_DIR/ok" ]]; then
        say "building the Neo4j launcher (first run downloads Neo4j from Maven Central into ~/.m2) ..."
        local work
        work="$(mktemp -d "$CACHE_ROOT/build.XXXXXX")"
        cp -r "$LAUNCHER_SRC/pom.xml" "$LAUNCHER_SRC/src" "$work/"
        if ! mvn -B -q -f "$work/pom.xml" package >"$work/build.log" 2>&1; then
            tail -n 40 "$work/build.log" >&2
            die "Maven could not build the launcher (full log: $work/build.log)."
        fi
        rm -rf "$BUILD_DIR"
        mkdir -p "$BUILD_DIR"
        mv "$work/target/maestro-neo4j-launcher.jar" "$work/target/lib" "$BUILD_DIR/"
        touch "$BUILD_DIR/ok"
        rm -rf "$work"
        say "launcher built in $BUILD_DIR"
        local old
        for old in "$CACHE_ROOT"/launcher-*; do
            # Drop builds of older sources unless a running server still uses them.
            [[ "$old" == "$BUILD_DIR" || ! -d "$old" ]] && continue
            grep -qsF "$old/" /proc/[0-9]*/cmdline || rm -rf "$old"
        done
    fi
    flock -u 8
    exec 8>&-
}

classpath() { echo "$BUILD_DIR/maestro-neo4j-launcher.jar:$BUILD_DIR/lib/*"; }

# ---------------------------------------------------------------- process helpers

alive() {
    # kill -0 also succeeds on a zombie (our own child that died during start), so look at its state.
    local pid="$1" state
    kill -0 "$pid" 2>/dev/null || return 1
    state="$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

server_pid() {
    # Prints the pid of this home's server if it is alive (and really is our launcher).
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$MAIN_CLASS" || return 1
    echo "$pid"
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; }

is_ready() {
    # The launcher writes "<pid> <port>" to $READY after a query went through Bolt with auth.
    local pid="$1"
    [[ -f "$READY" ]] && [[ "$(cut -d' ' -f1 "$READY" 2>/dev/null)" == "$pid" ]] && port_open
}

wait_gone() {
    local pid="$1" secs="$2" i
    for ((i = 0; i < secs * 10; i++)); do
        alive "$pid" || return 0
        sleep 0.1
    done
    return 1
}

cleanup_files() { rm -f "$PIDFILE" "$READY"; }

# ---------------------------------------------------------------- commands

cmd_start() {
    local fresh=0
    for a in "$@"; do
        case "$a" in
            --fresh) fresh=1 ;;
            *) die "unknown option for start: $a" ;;
        esac
    done
    mkdir -p "$N4J_HOME/logs"
    exec 9>"$N4J_HOME/.lock"
    flock 9

    local pid
    if pid="$(server_pid)"; then
        if [[ $fresh -eq 1 ]]; then
            flock -u 9
            cmd_stop
            flock 9
        elif is_ready "$pid"; then
            say "already running (pid $pid)"
            echo "$URL"
            return 0
        fi
    fi
    if ! pid="$(server_pid)"; then
        cleanup_files
        if port_open; then
            die "port $PORT on 127.0.0.1 is already in use by another process; set MAESTRO_NEO4J_PORT."
        fi
        build_launcher
        if [[ $fresh -eq 1 ]]; then
            say "wiping data in $N4J_HOME"
            rm -rf "$N4J_HOME/data" "$N4J_HOME/logs"
            mkdir -p "$N4J_HOME/logs"
        fi
        local -a jvm=(
            "-Xms$HEAP" "-Xmx$HEAP"
            -XX:+UseG1GC -XX:-OmitStackTraceInFastThrow -XX:+ExitOnOutOfMemoryError
            -XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints
            -Djdk.nio.maxCachedBufferSize=1024 -Dio.netty.tryReflectionSetAccessible=true
            -Dlog4j2.disable.jmx=true -Dfile.encoding=UTF-8
            --add-opens=java.base/java.nio=ALL-UNNAMED
            --add-opens=java.base/java.io=ALL-UNNAMED
            --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
        )
        # shellcheck disable=SC2206
        [[ -n "${MAESTRO_NEO4J_JAVA_OPTS:-}" ]] && jvm+=(${MAESTRO_NEO4J_JAVA_OPTS})
        echo "==== $(date -u +%FT%TZ) start (port $PORT, launcher $BUILD_DIR)" >>"$LOG"
        # setsid: own session, so a Ctrl-C in the caller's terminal later does not reach the server.
        # In a non-interactive shell the background child is no group leader, so setsid execs (same pid).
        setsid java "${jvm[@]}" -cp "$(classpath)" "$MAIN_CLASS" --home "$N4J_HOME" --port "$PORT" \
            </dev/null >>"$LOG" 2>&1 8>&- 9>&- &
        pid=$!
        echo "$pid" >"$PIDFILE"
        say "started pid $pid (home $N4J_HOME), waiting for Bolt on 127.0.0.1:$PORT ..."
    fi

    trap 'kill -KILL "$pid" 2>/dev/null || true; cleanup_files; exit 130' INT TERM
    local deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! alive "$pid"; then
            cleanup_files
            die "the Neo4j server exited during startup." log
        fi
        if is_ready "$pid"; then
            trap - INT TERM
            say "ready: $URL (user neo4j)"
            echo "$URL"
            return 0
        fi
        sleep 0.5
    done
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 20 || kill -KILL "$pid" 2>/dev/null || true
    cleanup_files
    die "Neo4j did not answer on Bolt (127.0.0.1:$PORT) within ${START_TIMEOUT}s; server stopped." log
}

cmd_stop() {
    local pid
    if ! pid="$(server_pid)"; then
        cleanup_files
        say "not running"
        return 0
    fi
    say "stopping pid $pid ..."
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
        say "still alive after ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 10 || die "pid $pid survived SIGKILL."
    fi
    cleanup_files
    say "stopped"
}

cmd_kill() {
    local pid
    if ! pid="$(server_pid)"; then
        cleanup_files
        say "not running"
        return 0
    fi
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "pid $pid survived SIGKILL."
    cleanup_files
    say "killed pid $pid (SIGKILL); data is kept, recovery runs on next start"
}

cmd_status() {
    local pid
    if ! pid="$(server_pid)"; then
        say "not running"
        return 3
    fi
    if ! is_ready "$pid"; then
        say "pid $pid is alive but not ready (starting, or Bolt not answering)"
        return 1
    fi
    # A real query over Bolt, with authentication (the launcher's --probe mode uses the Java driver).
    # Use the build the server runs from; never start a Maven build just for a status check.
    BUILD_DIR="$(tr '\0' '\n' <"/proc/$pid/cmdline" | grep -o "^$CACHE_ROOT/launcher-[0-9a-f]*" | head -n 1 || true)"
    if [[ -z "$BUILD_DIR" || ! -f "$BUILD_DIR/ok" ]]; then
        say "running (pid $pid), Bolt port open, ready marker present at $URL (query probe skipped)"
        return 0
    fi
    if java -Xmx64m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$(classpath)" "$MAIN_CLASS" --probe --port "$PORT" >/dev/null 2>&1; then
        say "running (pid $pid) and answering at $URL"
        return 0
    fi
    say "pid $pid is alive but did not answer a query over Bolt"
    return 1
}

cmd_reset() {
    cmd_stop
    say "wiping $N4J_HOME"
    rm -rf "$N4J_HOME/data" "$N4J_HOME/logs"
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) cmd_stop ;;
    kill) cmd_kill ;;
    status) cmd_status ;;
    reset) cmd_reset ;;
    url) echo "$URL" ;;
    build) build_launcher; echo "$BUILD_DIR" ;;
    *)
        sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
