#!/bin/bash
# tests/tools/elastic_census.sh [CORPUS_DIR] - the Elastic corpus census with
# thresholds: builds build/tools/elastic_census, runs it over CORPUS_DIR
# (default ../shared/rule-corpus/elastic-detection-rules), prints its table
# and fails when fewer files or queries than required get through.
#
# Thresholds (environment): MIN_TOML (default 2068: every file parses as
# TOML), MIN_KQL (default 729: every kuery query parses), MIN_STREAMABLE
# (default 719: queries that need no construct mw_kql_check reports),
# MAX_INDEX_MISMATCH (default 0: type and language agree with
# rules-index.tsv). A corpus that is absent is a skip (exit 0, one line),
# so the script can run where ../shared is not present.
set -u
cd "$(dirname "$0")/../.."
corpus=${1:-../shared/rule-corpus/elastic-detection-rules}
if [ ! -d "$corpus/rules" ]; then
    echo "elastic-census: skipped (no corpus at $corpus)"
    exit 0
fi
make --no-print-directory build/tools/elastic_census >&2 || exit 2
out=$(build/tools/elastic_census "$corpus") || { echo "$out"; exit 2; }
echo "$out"
line=$(echo "$out" | grep '^census: ')
read -r toml toml_n kql kql_n stream stream_n mism <<<"$(echo "$line" |
    sed -E 's#^census: toml ([0-9]+)/([0-9]+) kql ([0-9]+)/([0-9]+) streamable ([0-9]+)/([0-9]+) index-mismatch ([0-9]+)$#\1 \2 \3 \4 \5 \6 \7#')"
fail=0
check() { # name got want
    if [ "$2" -lt "$3" ]; then
        echo "FAIL: elastic-census: $1 $2, want at least $3"
        fail=1
    fi
}
check "TOML files parsed" "$toml" "${MIN_TOML:-2068}"
check "KQL queries parsed" "$kql" "${MIN_KQL:-729}"
check "KQL queries streamable" "$stream" "${MIN_STREAMABLE:-719}"
if [ "$mism" -gt "${MAX_INDEX_MISMATCH:-0}" ]; then
    echo "FAIL: elastic-census: $mism rules differ from rules-index.tsv"
    fail=1
fi
[ "$fail" -eq 0 ] && echo "elastic-census: ok (toml $toml/$toml_n, kql $kql/$kql_n, streamable $stream/$stream_n)"
exit $fail
