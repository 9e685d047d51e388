#!/usr/bin/env bash
# GraphQL over plain HTTP with curl. Usage: bash client-examples/curl.sh [http://127.0.0.1:8000]
set -euo pipefail
base=${1:-http://127.0.0.1:8000}
q() { curl -sS "$base/graphql" -H 'content-type: application/json' -d "$1"; echo; }

curl -sS "$base/readyz"; echo
q '{"query":"{ nodeCounts { label count } }"}'
q '{"query":"query($f: ArtifactFilter) { artifacts(first: 5, filter: $f) { totalCount edges { node { name type impactScore } } } }","variables":{"f":{"types":["FEATURE_PIPELINE"],"minImpactScore":5}}}'
# An error a client can act on: extensions.code and extensions.field
q '{"query":"mutation { createProject(input: {name: \"x\", problemClass: NLP, complexityScore: 11}) { id } }"}'
