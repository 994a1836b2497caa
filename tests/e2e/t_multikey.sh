# multi-valued join keys (EQL-SEMANTICS R8b, issue 16): an event whose join
# key is an array takes part once per element, through bin/moonwatch and a
# Lua rule
cat >"$T/mk.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "e2e-multikey", name = "login then sudo by host",
  sequence = mw.sequence {
    maxspan = "1h", by = "host.ip",
    { where = mw.eq("event.action", "login") },
    { where = mw.eq("event.action", "sudo") },
  },
}
LUA
# a login on a host with two addresses, then sudo seen on each address
# (alerts 1,2 and 1,3); a login on 10.0.0.3 and 10.0.0.4, a sudo whose
# addresses hold both (one alert each); a login whose addresses are only
# nulls (no key)
printf '%s\n' \
    '{"@timestamp":"2025-01-01T00:00:00Z","id":1,"event":{"action":"login"},"host":{"ip":["10.0.0.1","10.0.0.2"]}}' \
    '{"@timestamp":"2025-01-01T00:01:00Z","id":2,"event":{"action":"sudo"},"host":{"ip":"10.0.0.2"}}' \
    '{"@timestamp":"2025-01-01T00:02:00Z","id":3,"event":{"action":"sudo"},"host":{"ip":["10.0.0.9","10.0.0.1"]}}' \
    '{"@timestamp":"2025-01-01T00:03:00Z","id":4,"event":{"action":"login"},"host":{"ip":"10.0.0.3"}}' \
    '{"@timestamp":"2025-01-01T00:04:00Z","id":5,"event":{"action":"login"},"host":{"ip":"10.0.0.4"}}' \
    '{"@timestamp":"2025-01-01T00:05:00Z","id":6,"event":{"action":"sudo"},"host":{"ip":["10.0.0.4","10.0.0.3"]}}' \
    '{"@timestamp":"2025-01-01T00:06:00Z","id":7,"event":{"action":"login"},"host":{"ip":[null]}}' >"$T/mk.ndjson"
mw replay --rules "$T/mk.lua" --format json --progress none -o "file:$T/mk-alerts.ndjson" "$T/mk.ndjson"
expect_eq "multikey: exit" "$RC" 0
expect_eq "multikey: alerts" "$(jq -r .alerts $T/out)" 4
expect_eq "multikey: sequences by element" \
    "$(jq -r '[.moonwatch.events[].event.id | tostring] | join(",")' "$T/mk-alerts.ndjson" | paste -sd ' ')" \
    "1,2 1,3 5,6 4,6"
expect_eq "multikey: multi-keyed matches" "$(jq -r .rules[0].sequences.multi_keyed $T/out)" 3
expect_eq "multikey: array of nulls has no key" "$(jq -r .rules[0].sequences.no_key $T/out)" 1
expect_eq "multikey: nothing over the fan-out cap" "$(jq -r '.rules[0].sequences.fanout_dropped // 0' $T/out)" 0
