#!/usr/bin/env bash
# The test command (README): installs what the tests need, starts a real PostgreSQL, Redis and
# Neo4j on loopback ports, runs every test on every backend, and stops the servers again.
#   bash tests/run.sh                 # everything
#   bash tests/run.sh tests/contract  # any pytest arguments
# Under CI=true a server that does not start is a failure; elsewhere its tests are skipped loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
ci=${CI:-false}

say() { printf '\n== %s\n' "$*" >&2; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
say "installing maestro-graph and its test dependencies"
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e ".[test]"

# need COMMAND "PACKAGES" "WHAT NEEDS IT": install Debian's PACKAGES when COMMAND is missing; under
# CI a COMMAND still missing then is a failure (CI must test what it was asked to test).
need() {
  local cmd=$1 packages=$2 purpose=$3
  command -v "$cmd" >/dev/null && return 0
  say "installing $packages (Debian's packages) for $purpose"
  if [ "$(id -u)" = 0 ]; then
    # shellcheck disable=SC2086  # the package list is words
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null \
      || echo "WARNING: $packages could not be installed: $purpose will fail" >&2
  else
    echo "WARNING: $cmd is missing and installing it needs root (apt-get install $packages)" >&2
  fi
  if [ "$ci" = "true" ] && ! command -v "$cmd" >/dev/null; then
    echo "FAILED: $cmd is missing, and CI must run $purpose." >&2
    exit 1
  fi
}
# The TypeScript client example runs under node; the test installs its npm packages itself.
need node "nodejs npm" "the TypeScript client example and the web explorer's vendoring check"
need npm "npm" "the TypeScript client example and the web explorer's vendoring check"
# Model cards' PDF is read back with pdftotext in tests/e2e/test_model_cards.py.
need pdftotext "poppler-utils" "the model card PDF test"
# The web explorer's tests (tests/browser) drive Debian's Chromium through Playwright.
need chromium "chromium fonts-dejavu-core" "the web explorer's browser tests"

stop_all() {
  bash tests/services/postgres.sh stop >/dev/null 2>&1 || true
  bash tests/services/redis.sh stop >/dev/null 2>&1 || true
  bash deploy/neo4j/neo4j-local.sh stop >/dev/null 2>&1 || true
}
trap stop_all EXIT

start() {  # start NAME SCRIPT VAR: run SCRIPT start, export its last line as VAR
  local name=$1 script=$2 var=$3 out  # $4: extra arguments for start
  say "starting $name"
  if out=$(bash "$script" start ${4:-} | tail -n 1) && [ -n "$out" ]; then
    export "$var=$out"
    echo "$name at $out" >&2
  elif [ "$ci" = "true" ]; then
    echo "FAILED: $name did not start, and CI must test it. See the messages above." >&2
    exit 1
  else
    echo "WARNING: $name did not start: its tests will be SKIPPED. See the messages above." >&2
  fi
}

start PostgreSQL tests/services/postgres.sh MAESTRO_TEST_PG_URL
start Redis tests/services/redis.sh MAESTRO_TEST_REDIS_URL  # MAESTRO_EVENT_BUS between server processes
export MAESTRO_NEO4J_PASSWORD=${MAESTRO_NEO4J_PASSWORD:-maestro-test-pw}
export MAESTRO_TEST_NEO4J_PASSWORD=$MAESTRO_NEO4J_PASSWORD
start Neo4j deploy/neo4j/neo4j-local.sh MAESTRO_TEST_NEO4J_URL --fresh  # each run on an empty store

# tests/e2e/test_mlflow_sync.py runs a real `mlflow server` and a training script that logs to it,
# from a venv of their own: the full `mlflow` pins graphql-core below 3.3 (through graphene), and
# the server's strawberry needs 3.3. The server's own venv has only the client (mlflow-skinny).
say "installing mlflow (server, pandas, scikit-learn) into .venv-mlflow"
if { [ -x .venv-mlflow/bin/python ] || python3 -m venv .venv-mlflow; } \
    && .venv-mlflow/bin/pip install -q --upgrade pip >/dev/null \
    && .venv-mlflow/bin/pip install -q "mlflow>=3.0" "pandas>=2.0" "scikit-learn>=1.3"; then
  export MAESTRO_TEST_MLFLOW_PYTHON=$PWD/.venv-mlflow/bin/python
elif [ "$ci" = "true" ]; then
  echo "FAILED: mlflow could not be installed into .venv-mlflow, and CI must test the MLflow sync." >&2
  exit 1
else
  echo "WARNING: mlflow could not be installed: the MLflow sync test will be SKIPPED." >&2
fi

say "running the tests"
set +e
.venv/bin/python -m pytest -p no:cacheprovider -ra "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "FAILED: pytest collected no tests" >&2
fi
exit "$status"
