# Threshold, distinct-count and absence windows through the binary, on
# realistic Azure events (the Arc fixtures, re-timed and re-keyed with jq).
F=tests/fixtures/arc
SIGNIN=$(head -1 $F/true_positive.ndjson)
LISTING=$(tail -1 $F/true_positive.ndjson)
APP=6131d760-7fda-4db5-8bb1-b771898e9f15

cat >"$T/threshold.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "test-threshold", name = "Service principal signs in 3 times in 5 minutes",
  message = "{key}: {1:source.ip}",
  threshold = mw.threshold {
    where = mw.eq("azure.signinlogs.category", "ServicePrincipalSignInLogs"),
    by = "azure.signinlogs.properties.app_id", count = 3, window = "5m",
  },
}
LUA
cat >"$T/distinct.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "test-distinct", name = "Service principal from 2 source IPs in an hour",
  distinct = mw.distinct {
    where = mw.eq("azure.signinlogs.category", "ServicePrincipalSignInLogs"),
    by = "azure.signinlogs.properties.app_id", field = "source.ip", count = 2, window = "1h",
  },
}
LUA
cat >"$T/absence.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "test-absence", name = "Sign-in not followed by a credential listing within 10 minutes",
  absence = mw.absence {
    first = { where = mw.eq("event.dataset", "azure.signinlogs"),
              by = "azure.signinlogs.properties.app_id" },
    absent = { where = mw.eq("event.dataset", "azure.activitylogs"),
               by = "azure.activitylogs.identity.claims.appid" },
    within = "10m",
  },
}
LUA
si() { jq -c --arg t "$1" --arg ip "${2:-1.128.3.4}" --arg app "${3:-$APP}" \
    '."@timestamp" = $t | .source.ip = $ip | .azure.signinlogs.properties.app_id = $app' <<<"$SIGNIN"; }
li() { jq -c --arg t "$1" --arg app "${2:-$APP}" \
    '."@timestamp" = $t | .azure.activitylogs.identity.claims.appid = $app' <<<"$LISTING"; }

{ si 2025-10-14T09:00:00Z; si 2025-10-14T09:02:00Z; si 2025-10-14T09:06:00Z
  si 2025-10-14T09:08:00Z                           # 09:06, 09:08 in the 5m window
  si 2025-10-14T09:05:00Z                           # late: 09:05, 09:06, 09:08
  si 2025-10-14T09:09:00Z; } >"$T/burst.ndjson"   # the group started over
mw run --rules "$T/threshold.lua" --summary json --alert-time event "$T/burst.ndjson"
expect_eq "threshold: one alert" "$(lines "$T/out")" 1
expect_eq "threshold: type" "$(jq -r .moonwatch.type "$T/out")" threshold
expect_eq "threshold: count" "$(jq -r .moonwatch.threshold.count "$T/out")" 3
expect_eq "threshold: window" "$(jq -r .moonwatch.threshold.window "$T/out")" 5m
expect_eq "threshold: events in time order" \
    "$(jq -r '[.moonwatch.events[].event."@timestamp"] | join(" ")' "$T/out")" \
    "2025-10-14T09:05:00Z 2025-10-14T09:06:00Z 2025-10-14T09:08:00Z"
expect_eq "threshold: join key" "$(jq -r '.moonwatch.join_key[0]' "$T/out")" "$APP"
expect_match "threshold: message with {key}" "$T/out" "\"message\":\"$APP: 1.128.3.4\""
expect_eq "threshold: summary" "$(summary '.rules[0].window.fired')" 1
# two apps alternating under a cap of one group: each evicts the other
for m in 1 2 3; do si 2025-10-14T09:0${m}:00Z; si 2025-10-14T09:0${m}:30Z 1.128.3.4 0f0e0d0c-1111-4222-8333-944455556666; done >"$T/two.ndjson"
mw run --rules "$T/threshold.lua" --summary json --max-open-keys 1 "$T/two.ndjson"
expect_eq "threshold: cap evicts, no alert" "$(lines "$T/out")" 0
expect_eq "threshold: evictions counted" "$(summary '.rules[0].window.evicted')" 5
mw run --rules "$T/threshold.lua" --summary json "$T/two.ndjson"
expect_eq "threshold: without the cap both apps alert" "$(lines "$T/out")" 2

{ si 2025-10-14T09:00:00Z 1.128.3.4; si 2025-10-14T09:10:00Z 1.128.3.4
  si 2025-10-14T09:20:00Z 81.2.69.144; } >"$T/ips.ndjson"
mw run --rules "$T/distinct.lua" "$T/ips.ndjson"
expect_eq "distinct: one alert" "$(lines "$T/out")" 1
expect_eq "distinct: values" "$(jq -r '.moonwatch.distinct.values | join(",")' "$T/out")" "1.128.3.4,81.2.69.144"
expect_eq "distinct: field" "$(jq -r '.moonwatch.distinct.field' "$T/out")" source.ip

OTHER=0f0e0d0c-1111-4222-8333-944455556666
{ si 2025-10-14T09:00:00Z; li 2025-10-14T09:04:12Z     # followed: no alert
  si 2025-10-14T09:01:00Z 1.128.3.4 $OTHER            # never followed
  si 2025-10-14T09:30:00Z; } >"$T/absent.ndjson"
mw run --rules "$T/absence.lua" --summary json --alert-time event "$T/absent.ndjson"
expect_eq "absence: one alert (at end of input)" "$(lines "$T/out")" 1
expect_eq "absence: the unfollowed sign-in" "$(jq -r '.moonwatch.join_key[0]' "$T/out")" "$OTHER"
expect_eq "absence: deadline" "$(jq -r '.moonwatch.absence.deadline' "$T/out")" "2025-10-14T09:11:00.000Z"
expect_eq "absence: cancelled counted" "$(summary '.rules[0].window.cancelled')" 1
expect_eq "absence: the last sign-in's window is still open" "$(summary '.rules[0].window.open')" 1
# a listing delivered late (within --max-lateness) still cancels the window
{ si 2025-10-14T09:00:00Z; li 2025-10-14T09:12:00Z $OTHER
  li 2025-10-14T09:09:00Z; li 2025-10-14T09:40:00Z $OTHER; } >"$T/absent_late.ndjson"
mw run --rules "$T/absence.lua" --summary json "$T/absent_late.ndjson"
expect_eq "absence: late listing cancels" "$(lines "$T/out")" 0
mw run --rules "$T/absence.lua" --summary json --max-lateness 1m "$T/absent_late.ndjson"
expect_eq "absence: too late a listing cannot cancel" "$(lines "$T/out")" 1
expect_eq "absence: and is counted late for the rule" "$(summary '.rules[0].late')" 1

mw check "$T/threshold.lua" "$T/distinct.lua" "$T/absence.lua"
expect_eq "check lists window kinds" "$(awk '{print $NF}' "$T/out" | tr -d ')' | tr '\n' ,)" "threshold,distinct,absence,"
