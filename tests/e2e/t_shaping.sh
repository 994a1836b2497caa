# Alert shaping through the binary: dedup by alert id (within a run and
# across restarts with --state-dir), suppression windows with docs_count,
# the Arc rule's cap of 100 alerts per 15m with its health record, and
# on_alert hooks (enrichment, drop, failures delivered unenriched).
TP=tests/fixtures/arc/true_positive.ndjson
SH=tests/fixtures/rules/shaping
EX="examples/azure-arc/signinlogs.ndjson examples/azure-arc/activitylogs.ndjson"

# gen_signins APPS N STEP_S OFFSET_S: N sign-ins per app, STEP_S apart, from
# 09:00 + OFFSET_S (the true-positive sign-in with new ids, times, app ids)
gen_signins() {
    jq -c --argjson apps "$1" --argjson n "$2" --argjson step "$3" --argjson off "$4" '
        select(.event.dataset == "azure.signinlogs") | . as $e
        | range(0; $n) as $i | range(0; $apps) as $a
        | $e | ."@timestamp" = ((("2025-10-14T09:00:00Z" | fromdate) + $off + $i * $step + $a) | todate)
        | .event.id = "gen-\($off)-\($i)-\($a)"
        | .azure.signinlogs.properties.app_id = "00000000-0000-4000-8000-\(100000000000 + $a)"' $TP
}
# gen_pairs N OFFSET_S: N apps, each a sign-in and, 60s later, a credential
# listing (one Arc alert each), sign-ins 2s apart, from 09:00 + OFFSET_S
gen_pairs() {
    jq -c -s --argjson n "$1" --argjson off "$2" '
        .[0] as $s | .[1] as $l | [range(0; $n) as $i
        | ("00000000-0000-4000-8000-\(200000000000 + $off + $i)") as $app
        | (("2025-10-14T09:00:00Z" | fromdate) + $off + 2 * $i) as $t
        | ($s | ."@timestamp" = ($t | todate) | .event.id = "s-\($off)-\($i)"
              | .azure.signinlogs.properties.app_id = $app),
          ($l | ."@timestamp" = ($t + 60 | todate) | .event.id = "l-\($off)-\($i)"
              | .azure.activitylogs.identity.claims.appid = $app)]
        | sort_by(."@timestamp")[]' $TP
}

# --- dedup -------------------------------------------------------------
# the same sign-in twice (two copies of the input): one alert, one duplicate
mw run --rules tests/fixtures/rules/good/sp_terraform_signin.lua --summary json $TP $TP
expect_eq "dedup in a run: delivered" "$(lines "$T/out")" 1
expect_eq "dedup in a run: raised" "$(summary '.rules[0].raised')" 2
expect_eq "dedup in a run: deduplicated" "$(summary '.rules[0].deduplicated')" 1

# across restarts: the second run over the same story delivers nothing
rm -rf "$T/state"
mw run --rules rules --state-dir "$T/state" --summary json $EX
expect_eq "state run 1: alerts" "$(lines "$T/out")" 2
expect_eq "state run 1: ids recorded" "$(lines "$T/state/alert-ids")" 2
mw run --rules rules --state-dir "$T/state" --summary json $EX
expect_eq "state run 2: no alert twice" "$(lines "$T/out")" 0
expect_eq "state run 2: deduplicated" "$(summary '(.rules[] | select(.id == "dacfbecd-7927-46a7-a8ba-feb65a2e990d")).deduplicated')" 2
expect_eq "state run 2: summary alerts" "$(summary .alerts)" 0
mw run --rules rules --summary json $EX
expect_eq "without --state-dir every run delivers" "$(lines "$T/out")" 2

# --- suppression ---------------------------------------------------------
# 3 apps, a sign-in every 2 minutes from 09:00 to 09:28 (15 each): windows of
# 10m open at 09:00, 09:10, 09:20 -> 3 alerts per app, 4 suppressed in each
# window; the last window's 4 are still pending at the end
gen_signins 3 15 120 0 >"$T/supp1.ndjson"
rm -rf "$T/state"
mw run --rules $SH/signin_suppressed.lua --state-dir "$T/state" --alert-time event --summary json "$T/supp1.ndjson"
expect_eq "suppression: delivered" "$(lines "$T/out")" 9
expect_eq "suppression: summary alerts" "$(summary .alerts)" 9
expect_eq "suppression: suppressed" "$(summary '.rules[0].suppressed')" 36
expect_eq "suppression: pending" "$(summary '.rules[0].suppressed_pending')" 12
expect_eq "suppression: docs_count per alert" \
    "$(jq -r '.moonwatch.suppression.docs_count' "$T/out" | tr '\n' ' ')" "0 0 0 4 4 4 4 4 4 "
expect_eq "suppression: one app's alert times" \
    "$(jq -r 'select(.moonwatch.suppression.terms[0].value | endswith("100000000000")) | .event.end' "$T/out" | tr '\n' ' ')" \
    "2025-10-14T09:00:00.000Z 2025-10-14T09:10:00.000Z 2025-10-14T09:20:00.000Z "
expect_eq "suppression: terms name the field" \
    "$(jq -r '.moonwatch.suppression.terms[0].field' "$T/out" | sort -u)" "azure.signinlogs.properties.app_id"
expect_eq "suppression: suppressed span" \
    "$(jq -r 'select(.event.end == "2025-10-14T09:10:00.000Z") | "\(.moonwatch.suppression.start) \(.moonwatch.suppression.end)"' "$T/out" | head -1)" \
    "2025-10-14T09:02:00.000Z 2025-10-14T09:08:00.000Z"
mw run --rules $SH/signin_suppressed.lua --summary text "$T/supp1.ndjson"
expect_match "suppression: text summary counts" "$T/err" "alerts 9, suppressed 36, suppressed_pending 12"
# a later run (restart, same state): the next alert per app carries the 4
# suppressed at 09:22..09:28 in the previous run
gen_signins 3 1 120 2400 >"$T/supp2.ndjson"
mw run --rules $SH/signin_suppressed.lua --state-dir "$T/state" --summary json "$T/supp2.ndjson"
expect_eq "suppression after restart: delivered" "$(lines "$T/out")" 3
expect_eq "suppression after restart: docs_count" \
    "$(jq -r '.moonwatch.suppression.docs_count' "$T/out" | tr '\n' ' ')" "4 4 4 "
expect_eq "suppression after restart: nothing pending" "$(summary '.rules[0].suppressed_pending')" 0

# --- caps ----------------------------------------------------------------
# 150 Arc detections between 09:01 and 09:06, then 30 at 09:21..09:22: the
# rule's max_alerts (100 per 15m) lets 100 + 30 through
{ gen_pairs 150 0; gen_pairs 30 1200; } >"$T/caps.ndjson"
mw run --rules rules --summary json "$T/caps.ndjson"
expect_eq "caps: delivered" "$(lines "$T/out")" 130
expect_eq "caps: raised" "$(summary '(.rules[] | select(.id == "dacfbecd-7927-46a7-a8ba-feb65a2e990d")).raised')" 180
expect_eq "caps: capped" "$(summary '(.rules[] | select(.id == "dacfbecd-7927-46a7-a8ba-feb65a2e990d")).capped')" 50
grep '"health":"alerts_capped"' "$T/err" >"$T/caps_health"
expect_eq "caps: one health record" "$(lines "$T/caps_health")" 1
expect_eq "caps: health record says what" \
    "$(jq -r '"\(.rule_id) \(.max_alerts) \(.dropped) \(.interval_start) \(.interval_end)"' "$T/caps_health")" \
    "dacfbecd-7927-46a7-a8ba-feb65a2e990d 100 50 2025-10-14T09:00:00.000Z 2025-10-14T09:15:00.000Z"
expect_eq "caps: the first 100 are kept" \
    "$(jq -r '.moonwatch.events[0].event.event.id' "$T/out" | sed -n '1p;100p;101p' | tr '\n' ' ')" \
    "s-0-0 s-0-99 s-1200-0 "
# --health FILE takes the records off stderr
mw run --rules rules --summary none --health "$T/health.ndjson" "$T/caps.ndjson"
expect_eq "caps: --health file" "$(grep -c alerts_capped "$T/health.ndjson")" 1
expect_nomatch "caps: not on stderr with --health" "$T/err" "alerts_capped"

# --- hooks ---------------------------------------------------------------
jq -c 'select(.event.dataset == "azure.signinlogs")' $TP >"$T/h0.ndjson"
jq -c --arg sp "$(printf '%s\n' Terraform-Datadog-CLI Backup-Agent Hook-Raises Hook-Bad-Severity Deploy-Bot)" '
    . as $e | ($sp | split("\n")) | to_entries[] | .key as $i | .value as $name
    | $e | ."@timestamp" = ((("2025-10-14T09:00:00Z" | fromdate) + 60 * $i) | todate)
    | .event.id = "hook-\($i)" | .azure.signinlogs.properties.service_principal_name = $name
    | if $name == "Deploy-Bot" then .source.ip = "203.0.113.9" else . end' "$T/h0.ndjson" >"$T/hooks.ndjson"
mw run --rules $SH/signin_hook.lua --summary json "$T/hooks.ndjson"
expect_eq "hooks: delivered (one dropped)" "$(lines "$T/out")" 4
expect_eq "hooks: hook_dropped" "$(summary '.rules[0].hook_dropped')" 1
expect_eq "hooks: hook_errors" "$(summary '.rules[0].hook_errors')" 2
expect_eq "hooks: script errors counted" "$(summary '.rules[0].errors.script')" 2
expect_nomatch "hooks: the allow-listed principal is not delivered" "$T/out" "Backup-Agent"
expect_eq "hooks: dynamic message" "$(jq -r 'select(.event.id != null) | .message' "$T/out" | sed -n 1p)" \
    "Service principal Terraform-Datadog-CLI (app 6131d760-7fda-4db5-8bb1-b771898e9f15) signed in from 1.128.3.4"
expect_eq "hooks: title, severity, risk from the event" \
    "$(jq -r '"\(.moonwatch.title)|\(.moonwatch.severity)|\(.event.severity)|\(.event.risk_score)|\(.moonwatch.context.foreign_ip)"' "$T/out" | sed -n '1p;4p' | tr '\n' ' ')" \
    "Sign-in by Terraform-Datadog-CLI|medium|47|50|false Sign-in by Deploy-Bot|high|73|80|true "
expect_eq "hooks: context fields" "$(jq -r '.moonwatch.context.rule' "$T/out" | sed -n 1p)" "test-signin-hook"
expect_eq "hooks: a failing hook delivers the alert unenriched" \
    "$(jq -r 'select(.moonwatch.context == null) | "\(.moonwatch.severity) \(.event.risk_score) \(.message)"' "$T/out")" \
    "low 21 Test: service principal sign-in with a hook
low 21 Test: service principal sign-in with a hook"
expect_match "hooks: the failure is logged with the rule" "$T/err" "rule test-signin-hook .*on_alert failed \[script\]: .*hook exploded on Hook-Raises"
expect_eq "hooks: logged once a minute" "$(grep -c 'on_alert failed' "$T/err")" 1
# a dropped alert counts as processed: a restart does not raise it again
rm -rf "$T/state"
mw run --rules $SH/signin_hook.lua --state-dir "$T/state" --summary json "$T/hooks.ndjson"
mw run --rules $SH/signin_hook.lua --state-dir "$T/state" --summary json "$T/hooks.ndjson"
expect_eq "hooks + state: nothing again" "$(lines "$T/out")" 0
expect_eq "hooks + state: deduplicated" "$(summary '.rules[0].deduplicated')" 5

# --- file output: moved away (logrotate) and SIGHUP ---------------------
rm -f "$T/fifo" "$T/alerts.ndjson" "$T/alerts.ndjson.1"
mkfifo "$T/fifo"
jq -c '.event.id = "f1"' "$T/h0.ndjson" >"$T/f1.ndjson"
jq -c '.event.id = "f2" | ."@timestamp" = "2025-10-14T09:01:00Z"' "$T/h0.ndjson" >"$T/f2.ndjson"
jq -c '.event.id = "f3" | ."@timestamp" = "2025-10-14T09:02:00Z"' "$T/h0.ndjson" >"$T/f3.ndjson"
$MW run --rules tests/fixtures/rules/good/sp_terraform_signin.lua --summary none \
    -o "file:$T/alerts.ndjson" <"$T/fifo" 2>"$T/ferr" &
fpid=$!
exec 7>"$T/fifo"
wait_lines() { # file n
    for _ in $(seq 1 100); do [ "$(lines "$1" 2>/dev/null)" -ge "$2" ] 2>/dev/null && return 0; sleep 0.05; done
    return 1
}
cat "$T/f1.ndjson" >&7
wait_lines "$T/alerts.ndjson" 1
mv "$T/alerts.ndjson" "$T/alerts.ndjson.1"
cat "$T/f2.ndjson" >&7
wait_lines "$T/alerts.ndjson" 1
expect_eq "file moved away: a new file is opened" "$(lines "$T/alerts.ndjson")" 1
expect_eq "file moved away: the old one keeps its alert" "$(lines "$T/alerts.ndjson.1")" 1
kill -HUP $fpid
sleep 0.1
cat "$T/f3.ndjson" >&7
wait_lines "$T/alerts.ndjson" 2
exec 7>&-
wait $fpid
expect_eq "SIGHUP: the run goes on (exit 0)" "$?" 0
expect_eq "SIGHUP: reopened and appended" "$(jq -r '.moonwatch.events[0].event.event.id' "$T/alerts.ndjson" | tr '\n' ' ')" "f2 f3 "
