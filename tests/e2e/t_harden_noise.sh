# Hardening: attacker input cannot switch a rule off. Events whose field has
# the wrong type make an ordinary predicate raise; each such error is
# counted and reported and the event does not match, but the rule stays on:
# the real attack after the noise is still detected.
F=tests/fixtures/arc
R=tests/fixtures/rules/noise
base=$(head -1 $F/true_positive.ndjson)
: >"$T/noise.ndjson"
for i in $(seq 1 150); do
    printf '%s\n' "$base" | jq -c --argjson i "$i" \
        '.user_agent.original = (1000 + $i) | .azure.signinlogs.properties.id = "noise-\($i)"' >>"$T/noise.ndjson"
done
ua=$(printf 'A%.0s' $(seq 1 600))
printf '%s\n' "$base" | jq -c --arg ua "$ua" '.user_agent.original = $ua | ."@timestamp" = "2025-10-14T09:00:01.000Z"' >>"$T/noise.ndjson"
mw run --rules $R/long_user_agent.lua --summary json "$T/noise.ndjson"
expect_eq "noise: exit 0" "$RC" 0
expect_eq "noise: the attack after 150 failing events raises its alert" "$(lines "$T/out")" 1
expect_eq "noise: the alert is the attack event" "$(jq -r '.moonwatch.events[0].source.line' "$T/out" 2>/dev/null)" 151
expect_eq "noise: the rule is not quarantined" \
    "$(summary '(.rules[] | select(.id == "test-long-user-agent")).quarantined')" false
expect_eq "noise: every predicate error counted (class script)" \
    "$(summary '(.rules[] | select(.id == "test-long-user-agent")).errors.script')" 150
expect_match "noise: the error is reported with the rule" "$T/err" 'test-long-user-agent'
# the same with --quarantine-after 10: data errors still never quarantine
mw run --rules $R/long_user_agent.lua --summary json --quarantine-after 10 "$T/noise.ndjson"
expect_eq "noise, --quarantine-after 10: the attack still raises its alert" "$(lines "$T/out")" 1

# Resource-cap failures (instruction budget) open a circuit breaker: after
# --quarantine-after failures in a row the rule is skipped for a cool-down
# of events, then probed; a probe that succeeds closes it again. Events that
# make the predicate burn its budget, then ordinary events: the rule comes
# back by itself and alerts on the later ones (no reload needed).
: >"$T/burn.ndjson"
for i in $(seq 1 12); do
    printf '%s\n' "$base" | jq -c --argjson i "$i" '.labels.burn = true | .azure.signinlogs.properties.id = "burn-\($i)"' >>"$T/burn.ndjson"
done
for i in $(seq 1 300); do
    printf '%s\n' "$base" | jq -c --argjson i "$i" '.azure.signinlogs.properties.id = "calm-\($i)"' >>"$T/burn.ndjson"
done
mw run --rules $R/burner.lua --summary json --quarantine-after 10 "$T/burn.ndjson"
expect_eq "breaker: exit 0" "$RC" 0
n=$(summary '(.rules[] | select(.id == "test-burner")).errors.instructions')
if [ "${n:-0}" -ge 10 ]; then ok; else fail "breaker: instruction-budget failures counted: got '$n', want >= 10"; fi
expect_eq "breaker: the rule is closed again at the end" \
    "$(summary '(.rules[] | select(.id == "test-burner")).quarantined')" false
got=$(lines "$T/out")
if [ "$got" -ge 200 ] && [ "$got" -lt 300 ]; then ok; else fail "breaker: alerts after recovery: got $got, want 200..299 (cool-down skips some)"; fi
expect_match "breaker: opened, logged" "$T/err" 'test-burner.*(quarantined|circuit open)'
expect_match "breaker: closed again by a probe, logged" "$T/err" 'test-burner.*(recovered|quarantine lifted)'
