# Shaping state over restarts and crashes: the dedup store expires ids
# after --dedup-ttl (default 7d) and compacts STATE/alert-ids; suppression
# windows and cap intervals are saved every --state-interval while the run
# goes on, so a kill -9 in the middle of a stream loses at most that much.
ST_TP=tests/fixtures/arc/true_positive.ndjson
ST_SH=tests/fixtures/rules/shaping
ST_RULE=tests/fixtures/rules/good/sp_terraform_signin.lua

# st_signin ID MINUTE [APPS]: the true-positive sign-in as event ID at 09:MM
# (one per app 0..APPS-1, app ids ...3000000000NN)
st_signin() {
    jq -c --arg id "$1" --argjson m "$2" --argjson apps "${3:-1}" '
        select(.event.dataset == "azure.signinlogs") | . as $e | range(0; $apps) as $a
        | $e | .event.id = "\($id)-\($a)"
        | ."@timestamp" = ((("2025-10-14T09:00:00Z" | fromdate) + 60 * $m + $a) | todate)
        | if $apps > 1 then .azure.signinlogs.properties.app_id = "00000000-0000-4000-8000-\(300000000000 + $a)" else . end' $ST_TP
}
# st_pairs N OFFSET_S: N Arc detections (sign-in, listing 60s later), new apps
st_pairs() {
    jq -c -s --argjson n "$1" --argjson off "$2" '
        .[0] as $s | .[1] as $l | [range(0; $n) as $i
        | ("00000000-0000-4000-8000-\(400000000000 + $off + $i)") as $app
        | (("2025-10-14T09:00:00Z" | fromdate) + $off + 2 * $i) as $t
        | ($s | ."@timestamp" = ($t | todate) | .event.id = "ks-\($off)-\($i)"
              | .azure.signinlogs.properties.app_id = $app),
          ($l | ."@timestamp" = ($t + 60 | todate) | .event.id = "kl-\($off)-\($i)"
              | .azure.activitylogs.identity.claims.appid = $app)]
        | sort_by(."@timestamp")[]' $ST_TP
}
st_wait() { # seconds jq-filter file: waits until the filter prints true
    for _ in $(seq 1 $(($1 * 20))); do
        [ "$(jq -r "$2" "$3" 2>/dev/null)" = "true" ] && return 0
        sleep 0.05
    done
    return 1
}

# --- dedup ttl, deterministic: an id recorded 8 days ago is expired ------
st_signin old 0 >"$T/st_old.ndjson"
st_signin fresh 1 >"$T/st_fresh.ndjson"
rm -rf "$T/st1"
mw run --rules $ST_RULE --state-dir "$T/st1" --summary json "$T/st_old.ndjson" "$T/st_fresh.ndjson"
expect_eq "ttl: run 1 alerts" "$(lines "$T/out")" 2
old_id=$(jq -r 'select(.moonwatch.events[0].event.event.id == "old-0") | .event.id' "$T/out")
fresh_id=$(jq -r 'select(.moonwatch.events[0].event.event.id == "fresh-0") | .event.id' "$T/out")
expect_eq "ttl: ids are recorded with their time (epoch ms)" \
    "$(awk -v now="$(date +%s)" '{ d = now - $2 / 1000; print (d >= -5 && d < 60) ? "recent" : "off" }' "$T/st1/alert-ids" | sort -u)" "recent"
# age the old id's record by 8 days (the file is "ID EPOCH_MS" per line)
awk -v id="$old_id" -v t="$(( ($(date +%s) - 8 * 86400) * 1000 ))" '$1 == id { $2 = t } 1' \
    "$T/st1/alert-ids" >"$T/st1/ids.tmp" && mv "$T/st1/ids.tmp" "$T/st1/alert-ids"
mw run --rules $ST_RULE --state-dir "$T/st1" --summary json "$T/st_old.ndjson" "$T/st_fresh.ndjson"
expect_eq "ttl: after restart, the expired id alerts again" "$(jq -r .event.id "$T/out")" "$old_id"
expect_eq "ttl: the fresh one does not" "$(summary '.rules[0].deduplicated')" 1
expect_match "ttl: expiry logged" "$T/err" "alert-ids: 1 alert id\(s\) expired .*1 kept"
expect_match "ttl: the file was compacted" "$T/err" "alert-ids: compacted \(2 lines -> 1\)"
expect_eq "ttl: file holds each live id once" "$(awk '{print $1}' "$T/st1/alert-ids" | sort | tr '\n' ' ')" \
    "$(printf '%s\n' "$old_id" "$fresh_id" | sort | tr '\n' ' ')"
mw run --rules $ST_RULE --state-dir "$T/st1" --summary json "$T/st_old.ndjson" "$T/st_fresh.ndjson"
expect_eq "ttl: re-recorded, so the next restart dedups both" "$(lines "$T/out") $(summary '.rules[0].deduplicated')" "0 2"
# a shorter ttl given on the command line applies to what is stored
mw run --rules $ST_RULE --state-dir "$T/st1" --dedup-ttl 1ms --summary json "$T/st_old.ndjson"
expect_eq "ttl: --dedup-ttl 1ms forgets everything" "$(lines "$T/out")" 1
mw run --rules $ST_RULE --dedup-ttl 0s "$T/st_old.ndjson"
expect_eq "ttl: --dedup-ttl must be positive" "$RC" 2
mw run --rules $ST_RULE --dedup-ttl 7 "$T/st_old.ndjson"
expect_match "ttl: --dedup-ttl needs a unit" "$T/err" "dedup-ttl needs a positive duration"

# --- dedup ttl on the real clock, across restarts ------------------------
rm -rf "$T/st2"
mw run --rules $ST_RULE --state-dir "$T/st2" --dedup-ttl 5s "$T/st_old.ndjson"
expect_eq "ttl 5s: first run alerts" "$(lines "$T/out")" 1
mw run --rules $ST_RULE --state-dir "$T/st2" --dedup-ttl 5s "$T/st_old.ndjson"
expect_eq "ttl 5s: a restart at once does not" "$(lines "$T/out")" 0
sleep 5.5
mw run --rules $ST_RULE --state-dir "$T/st2" --dedup-ttl 5s "$T/st_old.ndjson"
expect_eq "ttl 5s: 5 seconds later it alerts again" "$(lines "$T/out")" 1

# --- kill -9 in the middle of a stream: suppression and dedup survive ----
# 3 apps: sign-ins at 09:00 (3 alerts, windows of 10m open), then 09:02,
# 09:04, 09:06, 09:08 (12 suppressed, pending in the state)
rm -rf "$T/st3" "$T/st_fifo" "$T/st3_alerts.ndjson"
mkfifo "$T/st_fifo"
{ for m in 0 2 4 6 8; do st_signin "k$m" "$m" 3; done; } >"$T/st_kill1.ndjson"
$MW run --rules $ST_SH/signin_suppressed.lua --state-dir "$T/st3" --state-interval 200ms \
    --summary none -o "file:$T/st3_alerts.ndjson" <"$T/st_fifo" 2>"$T/st3.err" &
kpid=$!
exec 7>"$T/st_fifo"
cat "$T/st_kill1.ndjson" >&7
if st_wait 20 '[.suppression[].count] | add == 12' "$T/st3/shape.json"; then ok; else
    fail "kill: shape.json never showed the 12 suppressed alerts while running"; fi
expect_eq "kill: alerts before the kill" "$(lines "$T/st3_alerts.ndjson")" 3
{ kill -9 $kpid; wait $kpid; } 2>/dev/null; krc=$?
expect_eq "kill: killed (status 137)" "$krc" 137
exec 7>&-
expect_eq "kill: every decided id is on disk" "$(lines "$T/st3/alert-ids")" 15
# restart: the same stream again (all duplicates), then 09:10 for each app:
# the new window's alert carries the 4 suppressed before the kill
{ cat "$T/st_kill1.ndjson"; st_signin k10 10 3; } >"$T/st_kill2.ndjson"
mw run --rules $ST_SH/signin_suppressed.lua --state-dir "$T/st3" --summary json "$T/st_kill2.ndjson"
expect_eq "kill, restart: the replayed stream is deduplicated" "$(summary '.rules[0].deduplicated')" 15
expect_eq "kill, restart: one alert per app" "$(lines "$T/out")" 3
expect_eq "kill, restart: docs_count from before the kill" \
    "$(jq -r '.moonwatch.suppression.docs_count' "$T/out" | tr '\n' ' ')" "4 4 4 "

# --- kill -9: the cap interval survives ----------------------------------
# the Arc rule: 100 per 15m. 60 detections, kill -9, then 60 more in the
# same interval: 40 pass, 20 are capped
rm -rf "$T/st4" "$T/st4_alerts.ndjson"
st_pairs 60 0 >"$T/st_caps1.ndjson"
st_pairs 60 200 >"$T/st_caps2.ndjson"
$MW run --rules rules --state-dir "$T/st4" --state-interval 200ms \
    --summary none -o "file:$T/st4_alerts.ndjson" <"$T/st_fifo" 2>"$T/st4.err" &
kpid=$!
exec 7>"$T/st_fifo"
cat "$T/st_caps1.ndjson" >&7
if st_wait 20 '.caps[0].count == 60' "$T/st4/shape.json"; then ok; else
    fail "kill caps: shape.json never showed 60 alerts in the interval"; fi
{ kill -9 $kpid; wait $kpid; } 2>/dev/null; krc=$?
exec 7>&-
expect_eq "kill caps: 60 delivered before the kill" "$(lines "$T/st4_alerts.ndjson")" 60
mw run --rules rules --state-dir "$T/st4" --summary json "$T/st_caps2.ndjson"
expect_eq "kill caps, restart: the cap counts what came before" \
    "$(lines "$T/out") $(summary '(.rules[] | select(.id == "dacfbecd-7927-46a7-a8ba-feb65a2e990d")).capped')" "40 20"
rm -f "$T/st_fifo"
