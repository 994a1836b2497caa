# moonwatch test: the tests rules carry, through the real engine
ARC=rules/azure/sp_signin_then_arc_credential_access.lua

# every shipped rule has tests, and they all pass
mw test
expect_eq "test rules/: exit" "$RC" 0
expect_match "test rules/: closing line" "$T/out" '^[0-9]+ passed, 0 failed$'
npass=$(sed -n 's/^\([0-9]*\) passed, 0 failed$/\1/p' "$T/out")
expect_eq "test rules/: one ok line per passed test" "$(grep -c '^ok ' "$T/out")" "$npass"
for f in $(find rules -name '*.lua' | sort); do
    expect_match "$f has tests" "$T/out" "^ok   $f: "
    expect_match "$f has a near miss" "$T/out" "^ok   $f: near miss"
done
mw test $ARC
expect_eq "Arc rule: exit" "$RC" 0
expect_match "Arc rule: true positive line" "$T/out" '^ok   .*: true positive: SP sign-in, then its Arc user credential listing 4m12s later \(1 alert\)$'
expect_match "Arc rule: near miss line" "$T/out" '^ok   .*: near miss: listing 1 ms beyond maxspan \(0 alerts\)$'

# a wrong expectation fails, names the field, and exits 1
sed -e 's/\["event.severity"\] = 47/["event.severity"] = 48/' \
    -e 's/name = "near miss: the sign-in failed",/name = "near miss: the sign-in failed (wrong)",/' $ARC >"$T/arc_bad.lua"
# make that near miss expect an alert
awk '/near miss: the sign-in failed \(wrong\)/ {f=1} f && /expect = \{ count = 0 \}/ {sub(/count = 0/, "count = 1"); f=0} {print}' \
    "$T/arc_bad.lua" >"$T/arc_bad2.lua"
mw test -v "$T/arc_bad2.lua"
expect_eq "failing tests: exit 1" "$RC" 1
expect_match "failing field named" "$T/out" 'alert 1: event.severity: expected 48, got 47'
expect_match "failing count named" "$T/out" '^FAIL .*near miss: the sign-in failed \(wrong\) \(0 alerts\)$'
expect_match "failing count detail" "$T/out" 'expected 1 alert, got 0'
expect_match "verbose shows the alert" "$T/out" 'alert 1: Service principal Terraform-Datadog-CLI'
expect_match "failing: closing line" "$T/out" '^11 passed, 2 failed$'

# a rule without tests fails
grep -v '^  tests = TESTS,$' $ARC >"$T/arc_notests.lua"
mw test "$T/arc_notests.lua"
expect_eq "no tests: exit 1" "$RC" 1
expect_match "no tests: reported" "$T/out" "^FAIL $T/arc_notests.lua: no tests"

# a missing fixture file and a malformed inline event fail with the reason
mkdir -p "$T/fx"
cat >"$T/fx/r.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "e2e-fixture-rule", name = "fixture rule",
  where = mw.eq("event.action", "x"),
  tests = {
    { name = "from a file", file = "cases/one.ndjson", expect = { count = 1 } },
    { name = "missing file", file = "cases/none.ndjson", expect = { count = 0 } },
    { name = "bad inline", events = { '{"event":{"action":"x"}}' }, expect = { count = 0 } },
    { name = "inline string", events = { '{"@timestamp":"2025-01-01T00:00:00Z","event":{"action":"x"}}' },
      expect = { count = 1, fields = { ["moonwatch.type"] = "query", ["@timestamp"] = "2025-01-01T00:00:00.000Z" } } },
  },
}
LUA
mkdir -p "$T/fx/cases"
printf '%s\n' '{"@timestamp":"2025-01-01T00:00:00Z","event":{"action":"x"}}' '{"@timestamp":"2025-01-01T00:00:01Z","event":{"action":"y"}}' >"$T/fx/cases/one.ndjson"
mw test "$T/fx"
expect_eq "fixture rule: exit 1" "$RC" 1
expect_match "fixture file beside the rule" "$T/out" '^ok   .*: from a file \(1 alert\)$'
expect_match "missing fixture reported" "$T/out" 'fixture .*cases/none.ndjson: No such file'
expect_match "bad inline event reported" "$T/out" 'test:bad inline\[1\]: missing_timestamp'
expect_match "inline JSON string, alert time is event time" "$T/out" '^ok   .*: inline string \(1 alert\)$'
expect_match "fixture rule: totals" "$T/out" '^2 passed, 2 failed$'

# an invalid tests field is a load error with file and line
cat >"$T/badtests.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "e2e-bad-tests", name = "bad tests",
  where = mw.eq("event.action", "x"),
  tests = { { name = "no expect", events = {} } },
}
LUA
mw check "$T/badtests.lua"
expect_eq "invalid tests: check fails" "$RC" 2
expect_match "invalid tests: message" "$T/err" "badtests.lua:[0-9]+: .*field 'expect' is required"
mw test "$T/badtests.lua"
expect_eq "invalid tests: test fails" "$RC" 1

# mw.null and moonwatch.testing through the read-only module view: a null
# event field stays null (it once arrived as the null's metatable, i.e. {})
cat >"$T/nulls.lua" <<'LUA'
local mw = require("moonwatch")
local t = require("moonwatch.testing")
local base = { ["@timestamp"] = "2025-01-01T00:00:00Z", b = 1, a = "x" }
return mw.rule {
  id = "e2e-nulls", name = "a is null or missing",
  where = mw.all { mw.eq("b", 1), mw.not_(mw.exists("a")) },
  tests = {
    { name = "null via testing", events = { t.event(base, { a = mw.null }) }, expect = { count = 1 } },
    { name = "removed via testing", events = { t.event(base, { a = t.REMOVE }) }, expect = { count = 1 } },
    { name = "null inline", events = { { ["@timestamp"] = "2025-01-01T00:00:00Z", b = 1, a = mw.null } },
      expect = { count = 1, fields = { ["moonwatch.events.0.event.a"] = mw.null } } },
    { name = "present", events = { base }, expect = { count = 0 } },
  },
}
LUA
mw test "$T/nulls.lua"
expect_eq "mw.null in tests: exit" "$RC" 0
expect_match "mw.null in tests: all pass" "$T/out" '^4 passed, 0 failed$'
