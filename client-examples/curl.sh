#!/usr/bin/env bash
# GraphQL over plain HTTP with curl. Usage: MAESTRO_TOKEN=<token> bash client-examples/curl.sh [http://127.0.0.1:8000]
# (serve prints an admin token; `maestro-graph token --sub me --role editor` mints another)
set -euo pipefail
base=${1:-http://127.0.0.1:8000}
: "${MAESTRO_TOKEN:?set MAESTRO_TOKEN to a bearer token}"
q() { curl -sS "$base/graphql" -H 'content-type: application/json' -H "Authorization: Bearer $MAESTRO_TOKEN" -d "$1"; echo; }

curl -sS "$base/readyz"; echo
q '{"query":"{ nodeCounts { label count } }"}'
q '{"query":"query($f: ArtifactFilter) { artifacts(first: 5, filter: $f) { totalCount edges { node { name type impactScore } } } }","variables":{"f":{"types":["FEATURE_PIPELINE"],"minImpactScore":5}}}'
# An error a client can act on: extensions.code and extensions.field
q '{"query":"mutation { createProject(input: {name: \"x\", problemClass: NLP, complexityScore: 11}) { id } }"}'
