#!/usr/bin/env bash
# tests/bench/bench.sh - the state benchmark (make bench); not a timed test
#
# Reports, from runs of bin/moonwatch over generated events (tests/bench/gen.lua):
#   1. events/s and peak RSS over a realistic mix through all shipped rules;
#   2. bytes per open partial sequence with N (default 1,000,000) distinct join
#      keys open at once in the Arc sequence rule: (peak RSS - baseline RSS) / N;
#   3. RSS at the end of that run, after every one of them expired, against
#      the baseline (a run over one event).
# BENCH_EVENTS (mix size, default 1000000) and BENCH_KEYS (default 1000000)
# override the sizes.
set -eu
cd "$(dirname "$0")/../.."
MW=${MW_BIN:-bin/moonwatch}
EVENTS=${BENCH_EVENTS:-1000000}
KEYS=${BENCH_KEYS:-1000000}
SEQ=rules/azure/sp_signin_then_arc_credential_access.lua
T=$(mktemp -d "${TMPDIR:-/tmp}/mw-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT

now() { date +%s.%N; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

echo "moonwatch state benchmark ($(nproc) cores; events from tests/bench/gen.lua)"

lua5.4 tests/bench/gen.lua mix "$EVENTS" >"$T/mix.ndjson"
t0=$(now)
"$MW" run --rules rules --summary json --alert-time event "$T/mix.ndjson" >"$T/alerts" 2>"$T/sum"
t1=$(now)
sum=$(grep '^{' "$T/sum" | tail -1)
rate=$(awk -v n="$EVENTS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
echo "1. mix: $EVENTS events, all shipped rules ($(jq '.rules | length' <<<"$sum")), $(wc -l <"$T/alerts") alerts"
echo "   throughput: $rate events/s (wall $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s, file input, one core)"
echo "   peak RSS: $(mb "$(jq .memory.peak_rss_bytes <<<"$sum")")"

lua5.4 tests/bench/gen.lua open 1 | head -1 >"$T/one.ndjson"
"$MW" run --rules $SEQ --summary json "$T/one.ndjson" >/dev/null 2>"$T/base"
base=$(grep '^{' "$T/base" | tail -1 | jq .memory.peak_rss_bytes)

# the open run, twice: stopped while all keys are open (head drops the last,
# expiring event), then through to the end
lua5.4 tests/bench/gen.lua open "$KEYS" >"$T/open.ndjson"
head -n "$KEYS" "$T/open.ndjson" >"$T/open_only.ndjson"
"$MW" run --rules $SEQ --summary json "$T/open_only.ndjson" >/dev/null 2>"$T/s1"
s1=$(grep '^{' "$T/s1" | tail -1)
"$MW" run --rules $SEQ --summary json "$T/open.ndjson" >/dev/null 2>"$T/s2"
s2=$(grep '^{' "$T/s2" | tail -1)
open=$(jq '.rules[0].sequences.open' <<<"$s1")
peak=$(jq .memory.peak_rss_bytes <<<"$s2")
echo "2. open: $KEYS sign-ins by distinct apps within 10 minutes: $open partial sequences open at once"
echo "   baseline RSS (one event): $(mb "$base"); peak RSS: $(mb "$peak")"
echo "   bytes per open partial sequence: $(( (peak - base) / KEYS )) (each keeps its sign-in as text, parsed again if the alert needs it)"
echo "3. after they expire (one event 40 minutes later): open $(jq '.rules[0].sequences.open' <<<"$s2"),"\
     "expired $(jq '.rules[0].sequences.expired' <<<"$s2"), RSS $(mb "$(jq .memory.rss_bytes <<<"$s2")")"\
     "against a baseline of $(mb "$base")"
