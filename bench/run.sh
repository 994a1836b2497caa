#!/usr/bin/env bash
# bench/run.sh - `make bench-throughput` (and `make bench`): generate corpora,
# measure, check, report
#
# Generates two corpora with build/bench/gen (an all-relevant one: sign-in and
# activity logs as two exports; a realistic Event Hub mix where 2% of events
# are in the Arc rule's data sets), then measures in one run, the median of
# BENCH_RUNS rounds (configurations interleaved within each round):
#   - the bare jansson parse loop over the same files (the baseline),
#   - moonwatch run with the Arc rule, prefilter on and off, 1 and 2 threads,
#   - moonwatch run with 50 rules (bench/rules50.lua), prefilter on and off,
#   - two parse loops at once (what this machine gives two parsers).
# Every moonwatch run's alert count is checked against the injected chains
# (and the 50-rule runs against each other): a fast wrong answer fails.
# Prints a table and one JSON object (also in build/bench/results.json).
#
# Knobs: BENCH_REL_EVENTS (40000), BENCH_MIX_EVENTS (100000), BENCH_RUNS (5),
# BENCH_CHAINS (24).
set -u
cd "$(dirname "$0")/.."

REL_EVENTS=${BENCH_REL_EVENTS:-40000}
MIX_EVENTS=${BENCH_MIX_EVENTS:-100000}
RUNS=${BENCH_RUNS:-5}
CHAINS=${BENCH_CHAINS:-24}
B=build/bench
D=$B/data
MW=bin/moonwatch
ARC_ID=dacfbecd-7927-46a7-a8ba-feb65a2e990d
ARC_RULE=rules/azure/sp_signin_then_arc_credential_access.lua   # the Arc rule alone, as the issue measures it

for t in $B/gen $B/parse_loop $B/measure $MW; do
    [ -x "$t" ] || { echo "bench: $t is missing (run make bench-throughput)" >&2; exit 2; }
done
command -v jq >/dev/null || { echo "bench: jq is needed" >&2; exit 2; }

echo "== generating corpora" >&2
rm -rf "$D" "$B/rules50" "$B/runs"
mkdir -p "$D/rel" "$D/mix" "$B/rules50" "$B/runs"
$B/gen --out "$D/rel" --events "$REL_EVENTS" --relevant 100 --chains "$CHAINS" --seed 11
$B/gen --out "$D/mix" --events "$MIX_EVENTS" --relevant 2 --chains "$CHAINS" --seed 12
lua5.4 bench/rules50.lua "$B/rules50"
$MW check "$B/rules50" >"$B/rules50.check" 2>&1 || { cat "$B/rules50.check"; exit 2; }
REL_FILES="$D/rel/signinlogs.ndjson $D/rel/activitylogs.ndjson"
MIX_FILES="$D/mix/eventhub.ndjson"

# name corpus command... The runs a target ratio compares are neighbours
# (parse loop, then moonwatch 1 thread, then 2 threads): on a shared machine
# whose speed drifts by the second, a ratio is taken within a round, from
# runs seconds apart, and every other round runs the list backwards so a
# drift favours neither side.
CONFIGS=(
  "parse rel $B/parse_loop $REL_FILES"
  "arc_nopf_t1 rel $MW run --rules $ARC_RULE --alert-time event --summary json -q --no-prefilter $REL_FILES"
  "arc_nopf_t2 rel $MW run --rules $ARC_RULE --alert-time event --summary json -q --threads 2 --no-prefilter $REL_FILES"
  "parse_pool rel $B/parse_loop --pool $REL_FILES"
  "arc_pf_t1 rel $MW run --rules $ARC_RULE --alert-time event --summary json -q $REL_FILES"
  "arc_pf_t2 rel $MW run --rules $ARC_RULE --alert-time event --summary json -q --threads 2 $REL_FILES"
  "r50_pf_t1 rel $MW run --rules $B/rules50 --alert-time event --summary json -q $REL_FILES"
  "r50_nopf_t1 rel $MW run --rules $B/rules50 --alert-time event --summary json -q --no-prefilter $REL_FILES"
  "r50_pf_t2 rel $MW run --rules $B/rules50 --alert-time event --summary json -q --threads 2 $REL_FILES"
  "parse mix $B/parse_loop $MIX_FILES"
  "arc_pf_t1 mix $MW run --rules $ARC_RULE --alert-time event --summary json -q $MIX_FILES"
  "arc_pf_t2 mix $MW run --rules $ARC_RULE --alert-time event --summary json -q --threads 2 $MIX_FILES"
  "arc_nopf_t1 mix $MW run --rules $ARC_RULE --alert-time event --summary json -q --no-prefilter $MIX_FILES"
  "r50_pf_t1 mix $MW run --rules $B/rules50 --alert-time event --summary json -q $MIX_FILES"
  "r50_nopf_t1 mix $MW run --rules $B/rules50 --alert-time event --summary json -q --no-prefilter $MIX_FILES"
  "r50_pf_t2 mix $MW run --rules $B/rules50 --alert-time event --summary json -q --threads 2 $MIX_FILES"
)

failures=0
check_fail() { echo "bench: CHECK FAILED: $*" >&2; failures=$((failures + 1)); }

for round in $(seq 1 "$RUNS"); do
    echo "== round $round of $RUNS" >&2
    order=("${CONFIGS[@]}")
    if [ $((round % 2)) -eq 0 ]; then
        order=()
        for ((k = ${#CONFIGS[@]} - 1; k >= 0; k--)); do order+=("${CONFIGS[k]}"); done
    fi
    for cfg in "${order[@]}"; do
        set -- $cfg
        name=$1 corpus=$2
        shift 2
        out="$B/runs/$corpus.$name.$round"
        $B/measure "$out.m.json" "$@" >"$out.stdout" 2>"$out.stderr"
        rc=$?
        [ "$rc" -eq 0 ] || check_fail "$corpus $name exited $rc: $(tail -3 "$out.stderr")"
        printf '  %-4s %-12s %6.2f s\n' "$corpus" "$name" "$(jq .wall_s "$out.m.json")" >&2
    done
    # what the machine gives two parsers at once (other load included)
    $B/measure "$B/runs/capacity.one.$round.m.json" $B/parse_loop $REL_FILES >/dev/null
    $B/measure "$B/runs/capacity.a.$round.m.json" $B/parse_loop $REL_FILES >/dev/null &
    $B/measure "$B/runs/capacity.b.$round.m.json" $B/parse_loop $REL_FILES >/dev/null
    wait
done

# ---------------------------------------------------------------- checks
for corpus in rel mix; do
    chains=$(jq .chains "$D/$corpus/expected.json")
    events=$(jq .events "$D/$corpus/expected.json")
    for f in "$B"/runs/$corpus.parse.*.stdout "$B"/runs/$corpus.parse_pool.*.stdout; do
        [ -e "$f" ] || continue
        [ "$(jq .events "$f")" = "$events" ] || check_fail "$f: parse loop saw $(jq .events "$f") events, corpus has $events"
    done
    r50_alerts=""
    for f in "$B"/runs/$corpus.{arc,r50}_*.stderr; do
        sum=$(grep '^{' "$f" | tail -1)
        [ -n "$sum" ] || { check_fail "$f: no summary"; continue; }
        got=$(printf '%s' "$sum" | jq --arg id "$ARC_ID" '.rules[] | select(.id == $id) | .alerts')
        [ "$got" = "$chains" ] || check_fail "$f: Arc rule raised $got alerts, $chains chains were injected"
        read_=$(printf '%s' "$sum" | jq .events_read)
        [ "$read_" = "$events" ] || check_fail "$f: read $read_ events of $events"
        alerts=$(wc -l <"${f%.stderr}.stdout" | tr -d ' ')
        [ "$alerts" = "$(printf '%s' "$sum" | jq .alerts)" ] || check_fail "$f: $alerts alert lines, summary says otherwise"
        case "$f" in
        *r50_*)
            if [ -z "$r50_alerts" ]; then r50_alerts=$alerts
            elif [ "$alerts" != "$r50_alerts" ]; then check_fail "$f: 50 rules raised $alerts alerts, another mode $r50_alerts"; fi ;;
        esac
    done
done

# ---------------------------------------------------------------- report
medians=$(for m in "$B"/runs/*.m.json; do
    base=$(basename "$m" .m.json)             # corpus.name.round
    key=${base%.*}
    printf '{"key":"%s","round":%s,"wall":%s,"cpu":%s,"rss":%s}\n' "$key" "${base##*.}" \
        "$(jq .wall_s "$m")" "$(jq '.user_s + .sys_s' "$m")" "$(jq .maxrss_kb "$m")"
done | jq -s 'group_by(.key) | map({key: .[0].key,
        value: {wall_s: (map(.wall) | sort | .[(length - 1) / 2 | floor]),
                runs: (map(.wall) | sort),
                cpu_s: (map(.cpu) | sort | .[(length - 1) / 2 | floor]),
                by_round: (sort_by(.round) | map({wall, cpu})),
                maxrss_kb: (map(.rss) | max)}}) | from_entries')

json=$(jq -n --argjson m "$medians" \
    --argjson rel "$(cat "$D/rel/expected.json")" --argjson mix "$(cat "$D/mix/expected.json")" \
    --arg host "$(uname -srm), $(nproc) cpu" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --argjson runs "$RUNS" --argjson failures "$failures" '
  def row($corpus; $name): ($m[$corpus + "." + $name]) as $r |
    (if $corpus == "rel" then $rel else $mix end) as $c |
    {corpus: $corpus, config: $name, wall_s: $r.wall_s, runs_s: $r.runs, cpu_s: $r.cpu_s,
     events_per_s: ($c.events / $r.wall_s | floor),
     mb_per_s: ($c.bytes / $r.wall_s / 1e6 * 100 | round / 100),
     peak_rss_kb: $r.maxrss_kb};
  def ratio($a; $b): ($a / $b * 100 | round / 100);
  def median: sort | .[(length - 1) / 2 | floor];
  # the median over rounds of a/b within each round (f: wall or cpu)
  def pr($a; $b; f): [range(0; $m[$a].by_round | length) as $i |
      ($m[$a].by_round[$i] | f) / ($m[$b].by_round[$i] | f)] | median | . * 100 | round / 100;
  def pratio($a; $b): pr($a; $b; .wall);
  def pratio_cpu($a; $b): pr($a; $b; .cpu);
  ([ "parse", "parse_pool", "arc_pf_t1", "arc_nopf_t1", "arc_pf_t2", "arc_nopf_t2", "r50_pf_t1",
     "r50_nopf_t1", "r50_pf_t2" ] | map(row("rel"; .))) as $relrows |
  ([ "parse", "arc_pf_t1", "arc_nopf_t1", "arc_pf_t2", "r50_pf_t1", "r50_nopf_t1",
     "r50_pf_t2" ] | map(row("mix"; .))) as $mixrows |
  ($m["rel.parse"].wall_s) as $prel | ($m["mix.parse"].wall_s) as $pmix |
  {
    benchmark: "moonwatch", version: 1, date: $date, commit: $commit, host: $host,
    runs: $runs, statistic: "median wall time; ratios: median over rounds of the ratio within a round",
    corpora: {all_relevant: $rel, mix_2pct: $mix},
    results: ($relrows + $mixrows),
    ratios: {
      all_relevant_vs_parse: {value: pratio("rel.parse"; "rel.arc_nopf_t1"), target: 0.85,
        what: "parse loop time / moonwatch time, Arc rule, prefilter off, 1 thread, all-relevant corpus"},
      all_relevant_vs_parse_on_pool: {value: pratio("rel.parse_pool"; "rel.arc_nopf_t1"),
        what: "the same against a parse loop on the moonwatch allocator (mw_pool): the cost of moonwatch beyond parsing"},
      all_relevant_prefilter_vs_parse: {value: pratio("rel.parse"; "rel.arc_pf_t1"),
        what: "the same with the prefilter on (it skips the events no step can match)"},
      mix_2pct_vs_parse: {value: pratio("mix.parse"; "mix.arc_pf_t1"), target: 20,
        what: "parse loop time / moonwatch time, Arc rule, prefilter on, 1 thread, 2% relevant"},
      all_relevant_vs_parse_cpu: {value: pratio_cpu("rel.parse"; "rel.arc_nopf_t1"),
        what: "as all_relevant_vs_parse, with CPU time (user+sys): less sensitive to other load"},
      mix_2pct_vs_parse_cpu: {value: pratio_cpu("mix.parse"; "mix.arc_pf_t1"),
        what: "as mix_2pct_vs_parse, with CPU time"},
      threads_2_cpu_overhead: {value: pratio_cpu("rel.arc_nopf_t2"; "rel.arc_nopf_t1"),
        what: "CPU time of 2 threads / 1 thread (1.0: threading costs no extra work)"},
      threads_2_vs_1: {value: pratio("rel.arc_nopf_t1"; "rel.arc_nopf_t2"), target: 1.6,
        what: "1-thread time / 2-thread time, Arc rule, prefilter off, all-relevant corpus"},
      threads_2_vs_1_prefilter: {value: pratio("rel.arc_pf_t1"; "rel.arc_pf_t2"),
        what: "the same with the prefilter on"},
      machine_two_parsers: {value: ([range(0; $m["capacity.one"].by_round | length) as $i |
                                 2 * $m["capacity.one"].by_round[$i].wall /
                                 ([$m["capacity.a"].by_round[$i].wall, $m["capacity.b"].by_round[$i].wall] | max)]
                                | median | . * 100 | round / 100),
        what: "throughput of two parse loops at once / one: the ceiling for 2 threads on this machine now"},
      rules50_vs_parse: {value: pratio("rel.parse"; "rel.r50_pf_t1"),
        what: "parse loop time / moonwatch time, 50 rules, prefilter on, all-relevant corpus"},
      rules50_mix_prefilter_gain: {value: pratio("mix.r50_nopf_t1"; "mix.r50_pf_t1"),
        what: "50 rules on the mix: prefilter-off time / prefilter-on time"}
    },
    checks: {alerts_match_injected_chains: ($failures == 0), failures: $failures}
  }')
printf '%s\n' "$json" >"$B/results.json"

printf '%s' "$json" | jq -r '
  "## Results (\(.date), \(.host), commit \(.commit), median of \(.runs); ratios within rounds)",
  "",
  "| corpus | configuration | wall s | CPU s | events/s | MB/s | peak RSS MiB |",
  "|---|---|---:|---:|---:|---:|---:|",
  (.results[] | "| \(.corpus) | \(.config) | \(.wall_s * 100 | round / 100) | \(.cpu_s * 100 | round / 100) | \(.events_per_s) | \(.mb_per_s) | \(.peak_rss_kb / 1024 * 10 | round / 10) |"),
  "",
  "| ratio | value | target | met |",
  "|---|---:|---:|---|",
  (.ratios | to_entries[] | "| \(.key) | \(.value.value) | \(.value.target // "") | \(if .value.target then (if .value.value >= .value.target then "yes" else "no" end) else "" end) |"),
  "",
  "Alert counts match the injected chains: \(.checks.alerts_match_injected_chains)"'
echo
echo "BENCH_JSON $(printf '%s' "$json" | jq -c .)"
[ "$failures" -eq 0 ]
