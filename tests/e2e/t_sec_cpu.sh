# CPU outside the instruction budget (issue 18, item 3): no rule holds an
# event longer than its time bound (50 ms per rule per event by default),
# whether the time goes into Lua, into one C library call (a backtracking
# pattern, a plain find) or into loops of C calls; the other rules keep
# alerting. Stock Lua takes 37 s (pattern), hours (loops), 5 s (2,000
# predicates) and 18 s (URL) per event for these rules.
H=tests/fixtures/rules/hostile
SYN=tests/fixtures/arc/true_positive.ndjson
HOSTILE="--rules $H/cpu_pattern.lua --rules $H/cpu_c_loops.lua --rules $H/cpu_many_predicates.lua --rules $H/cpu_url_match.lua"
NH=4
# 8 events with a 3 KB attacker URL, then the Arc true positive (2 events)
url="http://h/$(printf 'a/%.0s' $(seq 1500))"
for i in 1 2 3 4 5 6 7 8; do
    printf '{"@timestamp":"2025-10-14T08:59:0%d.000Z","url":{"original":"%s"}}\n' "$i" "$url"
done >"$T/cpu.ndjson"
cat $SYN >>"$T/cpu.ndjson"
NE=$(lines "$T/cpu.ndjson")

now_ms() { date +%s%3N; }
# the same run without the hostile rules: the throughput to compare with
t0=$(now_ms)
mw run --rules rules --summary json "$T/cpu.ndjson"
base_ms=$(( $(now_ms) - t0 ))
expect_eq "cpu: baseline alerts" "$(lines "$T/out")" 1

t0=$(now_ms)
MW_SAVE=$MW
MW="timeout 120 $MW_SAVE"
mw run --rules rules $HOSTILE --summary json "$T/cpu.ndjson"
MW=$MW_SAVE
run_ms=$(( $(now_ms) - t0 ))
expect_eq "cpu: exit" "$RC" 0
expect_eq "cpu: the seed rule still alerts" "$(jq -r '.rule.id' "$T/out" | sort -u)" "dacfbecd-7927-46a7-a8ba-feb65a2e990d"
errs() { summary ".rules[] | select(.id==\"$1\") | .errors.instructions"; }
expect_eq "cpu: pattern stopped on every event" "$(errs test-cpu-pattern)" "$NE"
expect_eq "cpu: C-call loops stopped on every event" "$(errs test-cpu-c-loops)" "$NE"
expect_eq "cpu: 2,000 predicates stopped once per event" "$(errs test-cpu-many-predicates)" "$NE"
expect_eq "cpu: URL pattern stopped on each attacker URL" "$(errs test-cpu-url-match)" 8
expect_match "cpu: time bound named" "$T/err" "test-cpu-many-predicates .*time budget exceeded \(50 ms\)"
# per event, the hostile rules add at most their bound each (50 ms), with
# slack for one library call past the bound and a slow (sanitizer) build:
# 3x the bound per rule per event on top of the baseline run
extra=$(( run_ms - base_ms ))
per_ev=$(( extra / NE ))
[ "$per_ev" -le $(( NH * 150 )) ] && ok ||
    fail "cpu: ${per_ev} ms per event for $NH hostile rules (bound 50 ms per rule; baseline ${base_ms} ms, run ${run_ms} ms for $NE events)"
echo "    cpu: $NE events, $NH hostile rules: ${per_ev} ms per event over the baseline (${base_ms} ms run)" >&2

# a smaller bound with --rule-time holds too, and a generous one lets the
# 2,000 predicates of one event run longer
t0=$(now_ms)
mw run --rules $H/cpu_many_predicates.lua --rule-time 10ms --summary json "$T/cpu.ndjson"
ms=$(( $(now_ms) - t0 ))
expect_eq "cpu: --rule-time 10ms: stopped" "$(errs test-cpu-many-predicates)" "$NE"
[ $(( ms / NE )) -le 150 ] && ok || fail "cpu: --rule-time 10ms: $((ms / NE)) ms per event"
mw run --rules rules --rule-time 0 "$T/cpu.ndjson"
expect_eq "cpu: --rule-time 0 refused" "$RC" 2
