# The shipped story: exactly the expected alerts, in order, with the expected
# keys and events (examples/azure-arc/expected-alerts.tsv)
E=examples/azure-arc
mw run --rules rules --summary json $E/signinlogs.ndjson $E/activitylogs.ndjson
expect_eq "story: exit" "$RC" 0
expect_eq "story: alert count" "$(lines "$T/out")" "$(tail -n +2 $E/expected-alerts.tsv | wc -l | tr -d ' ')"
got=$(jq -r '[.rule.id, .moonwatch.join_key[0], .event.start, .event.end,
              .moonwatch.events[0].event.event.id, .moonwatch.events[1].event.event.id] | @tsv' "$T/out")
expect_eq "story: alerts match expected-alerts.tsv" "$got" "$(tail -n +2 $E/expected-alerts.tsv)"
expect_eq "story: nothing rejected" "$(summary .events_rejected)" 0
# input order does not matter: the merge is by event time
mw run --rules rules $E/activitylogs.ndjson $E/signinlogs.ndjson
expect_eq "story: reversed inputs, same alert ids" "$(jq -r .event.id "$T/out" | sort)" \
    "$(jq -r .event.id <(${MW_BIN} run --rules rules $E/signinlogs.ndjson $E/activitylogs.ndjson 2>/dev/null) | sort)"
# the generator reproduces the committed files byte for byte
if command -v lua5.4 >/dev/null; then
    mkdir -p "$T/gen"
    lua5.4 examples/gen_story.lua "$T/gen" >/dev/null 2>&1
    cmp -s "$T/gen/examples/azure-arc/signinlogs.ndjson" $E/signinlogs.ndjson && ok || fail "generator output differs from examples/"
fi
