# Follow mode with quiet inputs: event time keeps running with the wall clock
# (held back by --max-lateness), so an absence window fires without any
# further event; and it does not fire before lateness has passed.
IA=$T/idle
mkdir -p "$IA"
cat >"$IA/absence.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "test-idle-absence", name = "Sign-in not followed by a listing within 2 seconds",
  absence = mw.absence {
    first = { where = mw.eq("event.dataset", "azure.signinlogs"),
              by = "azure.signinlogs.properties.app_id" },
    absent = { where = mw.eq("event.dataset", "azure.activitylogs"),
               by = "azure.activitylogs.identity.claims.appid" },
    within = "2s",
  },
}
LUA
IA_WAIT=15
[ -n "${MW_VALGRIND:-}" ] && IA_WAIT=60
: >"$IA/in.ndjson"
: >"$IA/alerts.ndjson"
$MW run --follow --rules "$IA/absence.lua" --max-lateness 1s -o "file:$IA/alerts.ndjson" \
    "$IA/in.ndjson" >"$IA/out" 2>"$IA/err" &
IA_PID=$!
# the sign-in is stamped now, as a live stream's would be
sed -n 1p tests/fixtures/arc/true_positive.ndjson |
    jq -c --arg t "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" '."@timestamp" = $t' >>"$IA/in.ndjson"
t0=$(date +%s%3N)
sleep 1.5
expect_eq "idle: nothing before window + lateness" "$(lines "$IA/alerts.ndjson")" 0
end=$(( t0 + IA_WAIT * 1000 ))
while [ "$(lines "$IA/alerts.ndjson")" = 0 ] && [ "$(date +%s%3N)" -lt "$end" ]; do sleep 0.05; done
t1=$(date +%s%3N)
expect_eq "idle: absence fired with no further event" "$(lines "$IA/alerts.ndjson")" 1
expect_eq "idle: the alert is the absence rule's" "$(jq -r .rule.id "$IA/alerts.ndjson")" test-idle-absence
if [ -z "${MW_VALGRIND:-}" ]; then
    # window 2s + lateness 1s, plus the follow loop's poll interval
    [ $((t1 - t0)) -ge 2900 ] && [ $((t1 - t0)) -lt 5000 ] && ok ||
        fail "idle: fired after $((t1 - t0)) ms, expected 3000-5000"
fi
kill -TERM $IA_PID 2>/dev/null
wait $IA_PID
expect_eq "idle: clean exit on SIGTERM" "$?" 0
expect_eq "idle: still one alert at exit" "$(lines "$IA/alerts.ndjson")" 1
