# Hardening: no single input line, nor a handful, may move event time so that
# correct events are refused. A line dated now+55 min (inside the default
# --max-future 1h, matching no rule) used to move event time for every input
# and make every correct event after it too_late. Now an event that jumps
# ahead of event time by more than the jump bound (or of the wall clock by
# more than --max-skew) is set aside until further events confirm the jump,
# counted, and processed in time order (docs/WINDOWS.md, "Event time").
F=tests/fixtures/arc
sig=$(head -1 $F/true_positive.ndjson)
act=$(tail -1 $F/true_positive.ndjson)
future() { # minutes ahead of the wall clock
    jq -nc --arg t "$(date -u -d "+$1 min" +%Y-%m-%dT%H:%M:%S.000Z)" \
        '{"@timestamp": $t, "event": {"dataset": "azure.signinlogs"}, "message": "ahead"}'
}
{ printf '%s\n' "$sig"; future 55; printf '%s\n' "$act"; } >"$T/one.ndjson"
mw run --rules rules --summary json "$T/one.ndjson"
expect_eq "one future line: the sequence after it still alerts" "$(lines "$T/out")" 1
expect_eq "one future line: nothing refused as too_late" "$(summary '.rejected_by_reason.too_late // 0')" 0
expect_eq "one future line: counted as a time outlier" "$(summary '.inputs[0].time_outliers')" 1

# a handful (5), with the prefilter on and off
{ printf '%s\n' "$sig"; for i in 1 2 3 4 5; do future $((50 + i)); done; printf '%s\n' "$act"; } >"$T/five.ndjson"
mw run --rules rules --summary json "$T/five.ndjson"
expect_eq "five future lines: still alerts" "$(lines "$T/out")" 1
expect_eq "five future lines: nothing too_late" "$(summary '.rejected_by_reason.too_late // 0')" 0
mw run --rules rules --summary json --no-prefilter "$T/five.ndjson"
expect_eq "five future lines, no prefilter: still alerts" "$(lines "$T/out")" 1

# a past-dated jump (a day ahead of the stream, not of the clock): historic
# inputs have no clock to compare with; --max-jump sets such jumps aside
day=$(printf '%s\n' "$sig" | jq -c '."@timestamp" = "2025-10-15T09:00:00.000Z" | .azure.signinlogs.properties.app_id = "other"')
{ printf '%s\n' "$sig"; printf '%s\n' "$day"; printf '%s\n' "$act"; } >"$T/day.ndjson"
mw run --rules rules --summary json "$T/day.ndjson"
expect_eq "one line a day ahead of the stream, no --max-jump: the listing is too late (the default)" "$(summary '.rejected_by_reason.too_late')" 1
mw run --rules rules --summary json --max-jump 5m "$T/day.ndjson"
expect_eq "one line a day ahead of the stream, --max-jump 5m: the sequence still alerts" "$(lines "$T/out")" 1
expect_eq "one line a day ahead: it is still processed (nothing lost)" "$(summary '.events_parsed + .events_skipped')" 3

# a real jump confirmed by the events after it: time moves, and older events
# after the confirmed jump are too late as before
{ printf '%s\n' "$act"; for i in $(seq 1 40); do
      printf '%s\n' "$sig" | jq -c --argjson i "$i" '."@timestamp" = "2025-10-14T12:00:00.000Z" | .azure.signinlogs.properties.id = "later-\($i)"'
  done; printf '%s\n' "$sig"; } >"$T/jump.ndjson"
mw run --rules rules --summary json --max-jump 5m "$T/jump.ndjson"
expect_eq "confirmed jump: the late sign-in after 40 later events is too late" "$(summary '.rejected_by_reason.too_late')" 1

# follow mode, two inputs: the future line arrives on one, the attack on the other
mkdir -p "$T/f"
: >"$T/f/a.ndjson"; : >"$T/f/b.ndjson"
$MW_BIN run --follow --rules rules --summary json "$T/f/a.ndjson" "$T/f/b.ndjson" >"$T/f/out" 2>"$T/f/err" &
pid=$!
sleep 0.5
future 55 >>"$T/f/a.ndjson"
sleep 0.3
now_sig=$(printf '%s\n' "$sig" | jq -c --arg t "$(date -u -d '-2 min' +%Y-%m-%dT%H:%M:%S.000Z)" '."@timestamp" = $t')
now_act=$(printf '%s\n' "$act" | jq -c --arg t "$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%S.000Z)" '."@timestamp" = $t')
printf '%s\n%s\n' "$now_sig" "$now_act" >>"$T/f/b.ndjson"
for _ in $(seq 1 100); do [ -s "$T/f/out" ] && break; sleep 0.05; done
kill -TERM $pid; wait $pid
expect_eq "follow, two inputs: the attack on input b alerts despite the future line on a" "$(lines "$T/f/out")" 1
expect_nomatch "follow, two inputs: nothing refused as too late" "$T/f/err" 'too_late'
