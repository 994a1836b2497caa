#!/usr/bin/env bash
# tests/tools/eql_census.sh - parses every EQL query of Elastic's detection
# rules and of Elasticsearch's EQL QA suite; exits 1 when fewer parse than
# the thresholds (the numbers docs/EQL.md records), 0 with a note when the
# query sets (../shared) are absent. Offline, well under a second once
# built. Not wired into tests/run-all.sh (the lead decides where it goes).
#
#   tests/tools/eql_census.sh [-v]     -v: also print every query's AST
set -u
cd "$(dirname "$0")/../.."
corpus=${MW_EQL_CORPUS:-../shared/rule-corpus/elastic-detection-rules/queries.jsonl}
suite=${MW_EQL_SUITE:-../shared/conformance/elasticsearch-eql/suite}
min_corpus=${MW_EQL_MIN_CORPUS:-1024}
min_suite=${MW_EQL_MIN_SUITE:-301}
if [ ! -f "$corpus" ] || [ ! -d "$suite" ]; then
    echo "eql census: skipped ($corpus or $suite not found)"
    exit 0
fi
make --no-print-directory -s build/tools/eql_census >&2 || exit 2
exec build/tools/eql_census "$@" --min-corpus "$min_corpus" --min-suite "$min_suite" \
    "$corpus" "$suite"
