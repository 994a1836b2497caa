# One event-time merge: `run` and `test` see the same stream the same way.
# With b@10:01, a@10:00, b@10:02 in that file order, a sequence [a][b]
# completes with a@10:00 -> b@10:01 (the late a is placed in event-time
# order within the default --max-lateness); `test` over the same file, as a
# fixture of the rule, must raise the same alert (same id, same event.end).
M=$T/merge
mkdir -p "$M"
cat >"$M/events.ndjson" <<'EOF'
{"@timestamp":"2025-03-01T10:01:00Z","user":"u1","act":"b"}
{"@timestamp":"2025-03-01T10:00:00Z","user":"u1","act":"a"}
{"@timestamp":"2025-03-01T10:02:00Z","user":"u1","act":"b"}
EOF
cat >"$M/ab.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "e2e-merge-ab", name = "a then b",
  sequence = mw.sequence {
    maxspan = "10m", by = { "user" },
    { where = mw.eq("act", "a") },
    { where = mw.eq("act", "b") },
  },
  tests = {
    { name = "late a", file = "events.ndjson",
      expect = { count = 1, fields = { ["event.end"] = "2025-03-01T10:01:00.000Z",
                                       ["event.id"] = "RUN_ID" } } },
  },
}
LUA
mw run --rules "$M/ab.lua" --alert-time event --summary none "$M/events.ndjson"
expect_eq "merge: run exit" "$RC" 0
cp "$T/out" "$M/run.ndjson"
expect_eq "merge: run raises one alert" "$(lines "$M/run.ndjson")" 1
expect_eq "merge: run ends at the b placed after the late a" \
    "$(jq -r '.event.end' "$M/run.ndjson")" "2025-03-01T10:01:00.000Z"
# the rule's test expects exactly the id `run` raised
run_id=$(jq -r '.event.id' "$M/run.ndjson")
sed -i "s/RUN_ID/$run_id/" "$M/ab.lua"
mw run --rules "$M/ab.lua" --alert-time event --summary none "$M/events.ndjson"
expect_eq "merge: the id does not depend on the test text" "$(jq -r '.event.id' "$T/out")" "$run_id"
mw test -v "$M/ab.lua"
expect_eq "merge: test exit" "$RC" 0
expect_match "merge: test case passes with run's alert id" "$T/out" '^ok   .*: late a \(1 alert\)$'
mw replay --rules "$M/ab.lua" --output "file:$M/replay.ndjson" --quiet "$M/events.ndjson"
expect_eq "merge: replay exit" "$RC" 0
expect_eq "merge: replay gives the run's alert id" \
    "$(jq -r '.event.id' "$M/replay.ndjson")" "$(jq -r '.event.id' "$M/run.ndjson")"
mw explain --rule "$M/ab.lua" "$M/events.ndjson"
expect_eq "merge: explain exit" "$RC" 0
expect_match "merge: explain completes as run does" "$T/out" '1 alert\(s\)'
