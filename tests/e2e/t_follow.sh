# Follow mode and hot reload, through the real binary: append events to a
# followed file and see alerts; edit, replace (temp file + mv), break and
# delete rules under the running host; state kept or dropped on reload;
# quarantine; health records; metrics; SIGHUP; SIGTERM flushes and exits 0.
F=$T/follow
mkdir -p "$F/rules"
SRC=tests/fixtures/arc/true_positive.ndjson
SEED=rules/azure/sp_signin_then_arc_credential_access.lua
SEED_ID=dacfbecd-7927-46a7-a8ba-feb65a2e990d
IN=$F/in.ndjson
HEALTH=$F/health.ndjson
ALERTS=$F/alerts.ndjson
: >"$IN"
# a slower binary (valgrind) gets more time; the 1-second check is skipped
WAIT_S=10
[ -n "${MW_VALGRIND:-}" ] && WAIT_S=60

# sig H / act H: the fixture's sign-in and credential listing at hour H
sig() { sed -n 1p $SRC | jq -c --arg t "2025-10-14T$1:00:00.000Z" '."@timestamp" = $t'; }
act() { sed -n 2p $SRC | jq -c --arg t "2025-10-14T$1:04:12.000Z" '."@timestamp" = $t'; }
now_ms() { date +%s%3N; }
# wait_for FILE JQ-FILTER WANT: polls until the filter over FILE (slurped
# NDJSON) prints WANT, or WAIT_S passes; sets GOT
wait_for() {
    local end=$(( $(now_ms) + WAIT_S * 1000 ))
    while :; do
        GOT=$(jq -rs "$2" "$1" 2>/dev/null)
        [ "$GOT" = "$3" ] && return 0
        [ "$(now_ms)" -ge "$end" ] && return 1
        sleep 0.02
    done
}
# expect_soon NAME FILE FILTER WANT
expect_soon() { if wait_for "$2" "$3" "$4"; then ok; else fail "$1: got '$GOT', want '$4'"; sed 's/^/    /' "$F/err" | tail -15; fi; }
alerts_of() { echo "[.[] | select(.rule.id == \"$1\")] | length"; }
health_n() { echo "[.[] | select(.health == \"$1\"${2:-})] | length"; }
rule_v() { # rule_v VERSION DATASET: a query rule whose message says its version
    cat <<LUA
local mw = require("moonwatch")
return mw.rule {
  id = "test-follow-query",
  name = "Test: follow query rule",
  message = "v$1 {1:event.dataset}",
  where = mw.all { mw.eq("event.dataset", "$2"), function(ev) return ev:get("@timestamp") ~= nil end },
}
LUA
}

cp $SEED "$F/rules/seed.lua"
rule_v 1 azure.signinlogs >"$F/rules/query.lua"
: >"$ALERTS"
$MW run --follow --rules "$F/rules" --alert-time event -o "file:$ALERTS" \
    --health-output "file:$HEALTH" --metrics-file "$F/metrics.prom" --metrics-interval 1 \
    --quarantine-after 3 --summary json "$IN" >"$F/out" 2>"$F/err" &
PID=$!
expect_soon "follow: started" "$HEALTH" "$(health_n started)" 1
expect_eq "follow: both rules loaded" "$(jq -rs "$(health_n rule_loaded)" "$HEALTH")" 2

# appended events are detected
{ sig 10; act 10; } >>"$IN"
expect_soon "follow: seed rule alerts on appended events" "$ALERTS" "$(alerts_of $SEED_ID)" 1
expect_soon "follow: query rule v1 alerts on the sign-in" "$ALERTS" \
    '[.[] | select(.rule.id == "test-follow-query") | .message] | join(",")' "v1 azure.signinlogs"

# a partial line waits for its newline (no rejection, no early event)
line=$(sig 11)
printf '%s' "${line:0:100}" >>"$IN"
sleep 0.3
expect_nomatch "follow: partial line not rejected" "$F/err" "rejected"
printf '%s\n' "${line:100}" >>"$IN"
expect_soon "follow: completed line parsed" "$ALERTS" "$(alerts_of test-follow-query)" 2

# edit in place: v2 matches the credential listing instead, live within 1 s
t0=$(now_ms)
rule_v 2 azure.activitylogs >"$F/rules/query.lua"
expect_soon "follow: in-place edit reloaded" "$HEALTH" \
    "$(health_n rule_loaded ' and .rule_id == "test-follow-query" and .reload')" 1
t1=$(now_ms)
if [ -z "${MW_VALGRIND:-}" ]; then
    [ $((t1 - t0)) -lt 1000 ] && ok || fail "follow: reload took $((t1 - t0)) ms (limit 1000)"
fi
{ sig 12; act 12; } >>"$IN"
expect_soon "follow: v2 behaviour after in-place edit" "$ALERTS" \
    '[.[] | select(.rule.id == "test-follow-query") | .message] | join(",")' \
    "v1 azure.signinlogs,v1 azure.signinlogs,v2 azure.activitylogs"

# replace by temp file + mv (how editors and deploy tools write)
rule_v 3 azure.signinlogs >"$F/query.lua.tmp"
t0=$(now_ms)
mv "$F/query.lua.tmp" "$F/rules/query.lua"
expect_soon "follow: mv replacement reloaded" "$HEALTH" \
    "$(health_n rule_loaded ' and .rule_id == "test-follow-query" and .reload')" 2
t1=$(now_ms)
if [ -z "${MW_VALGRIND:-}" ]; then
    [ $((t1 - t0)) -lt 1000 ] && ok || fail "follow: mv reload took $((t1 - t0)) ms (limit 1000)"
fi
{ sig 13; act 13; } >>"$IN"
expect_soon "follow: v3 behaviour after mv" "$ALERTS" \
    '[.[] | select(.rule.id == "test-follow-query") | .message] | last' "v3 azure.signinlogs"

# a broken version: reported with file and line, the running version stays
printf 'local mw = require("moonwatch")\nreturn mw.rule {\n  id = "test-follow-query",\n  name = "broken" "x",\n}\n' >"$F/rules/query.lua"
expect_soon "follow: broken version reported as a health record" "$HEALTH" \
    "$(health_n reload_failed ' and .previous_version_kept')" 1
expect_match "follow: reload error has file and line" "$HEALTH" "rules/query.lua:4: "
expect_match "follow: reload error on stderr" "$F/err" "reload failed, rule test-follow-query keeps running its previous version: .*query.lua:4:"
{ sig 14; act 14; } >>"$IN"
expect_soon "follow: old (v3) behaviour continues" "$ALERTS" \
    '[.[] | select(.rule.id == "test-follow-query" and .message == "v3 azure.signinlogs")] | length' 2

# window state survives a reload that keeps the shape ...
count() { jq -rs "$(alerts_of "$1")" "$ALERTS"; }
seed0=$(count $SEED_ID)   # 4: hours 10, 12, 13, 14
sig 15 >>"$IN"
expect_soon "follow: sign-in seen" "$ALERTS" "$(alerts_of test-follow-query)" 6
sed 's/severity = "medium"/severity = "high"/' $SEED >"$F/rules/seed.lua"
expect_soon "follow: metadata edit keeps state" "$HEALTH" \
    "$(health_n rule_loaded " and .rule_id == \"$SEED_ID\" and .state == \"kept\" and .open_sequences == 1")" 1
act 15 >>"$IN"
expect_soon "follow: sequence completes across the reload" "$ALERTS" "$(alerts_of $SEED_ID)" $((seed0 + 1))
expect_eq "follow: the new version raised it" "$(jq -rs "[.[] | select(.rule.id == \"$SEED_ID\")] | last | .moonwatch.severity" "$ALERTS")" high

# ... and is dropped, with a record, when the shape changes
sig 16 >>"$IN"
sleep 0.2
sed 's/maxspan = "30m"/maxspan = "20m"/' $SEED >"$F/rules/seed.lua"
expect_soon "follow: shape change drops state" "$HEALTH" \
    "$(health_n state_dropped " and .rule_id == \"$SEED_ID\" and .open_sequences_dropped == 1")" 1
expect_match "follow: state drop logged" "$F/err" "detection shape changed on reload .*window state dropped"
act 16 >>"$IN"
sig 17 >>"$IN"   # a later event proves act 16 was processed
expect_soon "follow: processed after the drop" "$ALERTS" "$(alerts_of test-follow-query)" 8
expect_eq "follow: no alert from dropped state" "$(count $SEED_ID)" $((seed0 + 1))

# quarantine: a rule failing 3 times in a row is quarantined (reported); on
# script errors every event still probes it
cp tests/fixtures/rules/hostile/failing_predicate.lua "$F/rules/failing.lua"
expect_soon "follow: failing rule loaded" "$HEALTH" \
    "$(health_n rule_loaded ' and .rule_id == "test-failing-predicate"')" 1
{ sig 18; act 18; sig 19; act 19; } >>"$IN"
expect_soon "follow: quarantined record" "$HEALTH" \
    "$(health_n quarantined ' and .rule_id == "test-failing-predicate" and .consecutive_failures == 3 and .last_error_class == "script"')" 1
expect_match "follow: quarantine logged" "$F/err" "test-failing-predicate .*quarantined after 3 consecutive failures"
end=$(( $(now_ms) + WAIT_S * 1000 ))
until grep -q 'moonwatch_rule_quarantined{rule_id="test-failing-predicate"} 1' "$F/metrics.prom" 2>/dev/null || [ "$(now_ms)" -ge "$end" ]; do sleep 0.05; done
expect_match "follow: metrics show the quarantine" "$F/metrics.prom" 'moonwatch_rule_quarantined\{rule_id="test-failing-predicate"\} 1'
# `moonwatch list --metrics-file` shows the running host's quarantine
cp "$F/metrics.prom" "$F/metrics.snapshot"
$MW_BIN list --format json --metrics-file "$F/metrics.snapshot" "$F/rules/failing.lua" $SEED >"$F/list.json" 2>"$F/list.err"
expect_eq "list: quarantined rule from the metrics file" \
    "$(jq -r '.[] | select(.id == "test-failing-predicate") | .state' "$F/list.json")" quarantined
expect_eq "list: healthy rule stays loaded" "$(jq -r --arg id "$SEED_ID" '.[] | select(.id == $id) | .state' "$F/list.json")" loaded
$MW_BIN list --format json "$F/rules/failing.lua" >"$F/list2.json" 2>/dev/null
expect_eq "list: without the metrics file the rule is loaded" "$(jq -r '.[0].state' "$F/list2.json")" loaded
$MW_BIN list --metrics-file "$F/no-such.prom" "$F/rules/failing.lua" >/dev/null 2>&1
expect_eq "list: unreadable metrics file is a usage error" "$?" 2
# a quarantine on script errors still probes every event (issue 18 item 2:
# data errors cannot switch a rule off), so all four events count
end=$(( $(now_ms) + WAIT_S * 1000 ))
until grep -q 'moonwatch_rule_errors_total{rule_id="test-failing-predicate",class="script"} 4' "$F/metrics.prom" 2>/dev/null || [ "$(now_ms)" -ge "$end" ]; do sleep 0.05; done
expect_match "follow: metrics count script errors" "$F/metrics.prom" 'moonwatch_rule_errors_total\{rule_id="test-failing-predicate",class="script"\} 4'
expect_match "follow: metrics count reloads" "$F/metrics.prom" 'moonwatch_reloads_total\{result="failed"\} 1'
expect_match "follow: metrics per input" "$F/metrics.prom" "moonwatch_input_parsed_total\\{input=\"[^\"]*in.ndjson\"\\} [1-9]"
expect_match "follow: metrics per step" "$F/metrics.prom" "moonwatch_rule_matched_total\\{rule_id=\"$SEED_ID\",step=\"2\"\\} [1-9]"
expect_eq "follow: metrics file rewritten atomically (no temp left)" "$(ls "$F" | grep -c 'metrics.prom.tmp')" 0

# delete a rule: it stops, its state is freed
rm "$F/rules/query.lua"
expect_soon "follow: deleted rule removed" "$HEALTH" \
    "$(health_n rule_removed ' and .rule_id == "test-follow-query"')" 1
before=$(jq -rs "$(alerts_of test-follow-query)" "$ALERTS")
{ sig 20; act 20; } >>"$IN"
expect_soon "follow: seed rule still alerts" "$ALERTS" "$(alerts_of $SEED_ID)" $((seed0 + 4))
expect_eq "follow: deleted rule no longer alerts" "$(jq -rs "$(alerts_of test-follow-query)" "$ALERTS")" "$before"

# SIGHUP reloads every file (and lifts the quarantine)
kill -HUP $PID
expect_soon "follow: SIGHUP reloads every rule" "$HEALTH" \
    "$(health_n rule_loaded ' and .rule_id == "test-failing-predicate" and .quarantine_lifted')" 1

# SIGTERM: a last line without newline is processed, then exit 0
line=$(act 21)
sig 21 >>"$IN"
printf '%s' "$line" >>"$IN"
sleep 0.2
kill -TERM $PID
wait $PID
RC=$?
expect_eq "follow: SIGTERM exit status" "$RC" 0
expect_eq "follow: stopped record" "$(jq -rs "$(health_n stopped ' and .reason == "SIGTERM"')" "$HEALTH")" 1
expect_eq "follow: last line flushed at exit" "$(count $SEED_ID)" $((seed0 + 5))
expect_eq "follow: summary at exit" "$(grep '^{' "$F/err" | tail -1 | jq -r '.inputs[0].rejected')" 0
expect_eq "follow: nothing on stdout" "$(lines "$F/out")" 0
expect_eq "follow: every health line is JSON" "$(jq -c . "$HEALTH" | wc -l | tr -d ' ')" "$(lines "$HEALTH")"
