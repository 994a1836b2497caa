# moonwatch explain: a near-miss story, event by event, and why sequences did
# not complete
ARC=rules/azure/sp_signin_then_arc_credential_access.lua
F=tests/fixtures/arc
mw explain --rule $ARC $F/failed_signin.ndjson
expect_match "explain: failed sign-in names error_code" "$T/out" 'step 1: no: eq azure.signinlogs.properties.status.error_code wants 0, has 7000215'
# explain follows run's event-time policy (default --max-lateness 5m, where
# expired sequences are kept for late events); these traces are the
# in-order ones, so this run asks for no lateness, as `run --max-lateness 0s`
mw explain --max-lateness 0s --rule $ARC $F/beyond_maxspan.ndjson $F/missing_key_stage2.ndjson $F/replaced_start.ndjson
expect_eq "explain: exit" "$RC" 0
O="$T/out"
expect_match "explain: header" "$O" '^rule dacfbecd-7927-46a7-a8ba-feb65a2e990d .*sequence of 2 steps, maxspan 30m$'
expect_match "explain: step keys" "$O" '^  step 2 by azure.activitylogs.identity.claims.appid$'
expect_match "explain: failing leaf with field and value" "$O" "step 2: no: eq event.dataset wants 'azure.activitylogs', has \"azure.signinlogs\""
expect_match "explain: join key" "$O" '^    key \["6131d760-7fda-4db5-8bb1-b771898e9f15"\]$'
expect_match "explain: started" "$O" '-> started a sequence at step 1, key \["6131d760'
expect_match "explain: key missing" "$O" 'step 2 matched but key field azure.activitylogs.identity.claims.appid is missing'
expect_match "explain: replaced" "$O" 'reached step 1: replaced at step 1 by the newer event'
expect_match "explain: expired by maxspan" "$O" 'expired by maxspan 30m: event [0-9]+ \(tests/fixtures/arc/beyond_maxspan.ndjson:2\) came 30m \(1800.001s\) after its first event'
expect_match "explain: no pending" "$O" 'but no sequence for that key is waiting at step 1'
expect_match "explain: completed" "$O" '-> completed the sequence started by event [0-9]+ \(tests/fixtures/arc/replaced_start.ndjson:2\): ALERT'
expect_match "explain: alert message" "$O" '-> alert: Service principal Terraform-Datadog-CLI'
expect_match "explain: key-missing summary" "$O" '^events that matched a step but had no usable join key: 1$'
expect_match "explain: totals" "$O" '^[0-9]+ event\(s\), 1 alert\(s\)$'

# still pending at the end, wrong order, --matched
head -1 $F/true_positive.ndjson >"$T/only_signin.ndjson"
mw explain --rule $ARC "$T/only_signin.ndjson"
expect_match "explain: still pending" "$T/out" 'still pending at the end of the input, waiting for step 2 of 2'
mw explain --rule $ARC $F/same_timestamp_reversed.ndjson
expect_match "explain: equal time, wrong arrival order" "$T/out" 'no sequence for that key is waiting at step 1'
mw explain --matched --rule $ARC $F/other_operation.ndjson
expect_eq "explain --matched: only matching events" "$(grep -c '^event ' "$T/out")" 1
mw explain --rule $ARC $F/other_operation.ndjson
expect_match "explain: ieq leaf" "$T/out" "step 2: no: ieq azure.activitylogs.operation_name wants 'microsoft.kubernetes/connectedclusters/listclusterusercredential/action', has \"MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERADMINCREDENTIAL/ACTION\""

# until cancels, and a single-event rule
cat >"$T/until.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "e2e-until", name = "login then sudo unless logout",
  sequence = mw.sequence {
    maxspan = "1h", by = "user.name",
    { where = mw.eq("event.action", "login") },
    { where = mw.eq("event.action", "sudo") },
    ["until"] = { where = mw.eq("event.action", "logout") },
  },
}
LUA
printf '%s\n' '{"@timestamp":"2025-01-01T00:00:00Z","event":{"action":"login"},"user":{"name":"ann"}}' \
    '{"@timestamp":"2025-01-01T00:01:00Z","event":{"action":"logout"},"user":{"name":"ann"}}' \
    '{"@timestamp":"2025-01-01T00:02:00Z","event":{"action":"sudo"},"user":{"name":"ann"}}' >"$T/until.ndjson"
mw explain --rule "$T/until.lua" "$T/until.ndjson"
expect_match "explain: until matched" "$T/out" '-> until matched, key \["ann"\]'
expect_match "explain: cancelled by until" "$T/out" 'cancelled by the until condition at event 2'
expect_match "explain: no alert after until" "$T/out" '^3 event\(s\), 0 alert\(s\)$'
cat >"$T/query.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule { id = "e2e-q", name = "q", where = mw.all { mw.eq("event.action", "sudo"), mw.not_(mw.eq("user.name", "ann")) } }
LUA
mw explain --rule "$T/query.lua" "$T/until.ndjson"
expect_match "explain query: single event" "$T/out" 'single event$'
expect_match "explain query: negated leaf" "$T/out" "where: no: not\(eq user.name wants 'ann', has \"ann\"\) is false"

# usage errors
mw explain --rule $ARC
expect_eq "explain without input: exit 2" "$RC" 2
mw explain "$T/until.ndjson"
expect_eq "explain without rule: exit 2" "$RC" 2
mw explain --rule "$T/nope.lua" "$T/until.ndjson"
expect_eq "explain missing rule: exit 2" "$RC" 2
