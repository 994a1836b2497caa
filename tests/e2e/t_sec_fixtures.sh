# `moonwatch test` fixtures (docs/SECURITY.md, item 15, workflow part): a
# rule's tests may name NDJSON files only inside the rule's folder (an
# absolute path, a '..' segment or a symlink leading out is refused with a
# clear error), and a fixture line that does not parse is reported by file,
# line, reason and column only, never by quoting its text.
FX=$T/fixtures
mkdir -p "$FX/rules/sub/fx" "$FX/outside"
printf 'hunter2-SECRET-one:x:0:0\nhunter2-SECRET-two {"a": 1}\n' >"$FX/outside/secret"
printf 'hunter2-SECRET-in:x:0:0\n' >"$FX/rules/sub/fx/notjson.ndjson"
sed -n 1p tests/fixtures/arc/true_positive.ndjson >"$FX/rules/sub/fx/ok.ndjson"
ln -s ../../../outside/secret "$FX/rules/sub/fx/out.ndjson"
ln -s ok.ndjson "$FX/rules/sub/fx/in_link.ndjson"
fx_rule() { # fx_rule NAME FILE: a rule whose one test reads FILE
    cat >"$FX/rules/sub/$1.lua" <<LUA
local mw = require("moonwatch")
return mw.rule {
  id = "fx-$1", name = "fixture $1",
  where = mw.eq("event.dataset", "azure.signinlogs"),
  tests = { { name = "$1", file = "$2", expect = { count = ${3:-0} } } },
}
LUA
}
fx_rule abs "$FX/outside/secret"
fx_rule dotdot "../../outside/secret"
fx_rule dotdot2 "fx/../../../outside/secret"
fx_rule link "fx/out.ndjson"
fx_rule notjson "fx/notjson.ndjson"
fx_rule inside "fx/ok.ndjson" 1
fx_rule inlink "fx/in_link.ndjson" 1

for n in abs dotdot dotdot2; do
    mw test "$FX/rules/sub/$n.lua"
    expect_eq "fixture $n: the test fails" "$RC" 1
    expect_match "fixture $n: refused with the reason" "$T/out" \
        "fixture '.*': refused: a fixture is a path relative to the rule's folder and inside it"
    expect_nomatch "fixture $n: the file was not read" "$T/out" "SECRET"
    expect_nomatch "fixture $n: the file was not read (stderr)" "$T/err" "SECRET"
done
mw test "$FX/rules/sub/link.lua"
expect_eq "fixture symlink out: the test fails" "$RC" 1
expect_match "fixture symlink out: refused with the reason" "$T/out" \
    "fixture 'fx/out.ndjson': refused: it leads out of the rule's folder"
expect_nomatch "fixture symlink out: not read" "$T/out" "SECRET"
expect_nomatch "fixture symlink out: not read (stderr)" "$T/err" "SECRET"

mw test "$FX/rules/sub/notjson.lua"
expect_eq "unparsable fixture: the test fails" "$RC" 1
expect_match "unparsable fixture: file, line and reason" "$T/err" \
    'fx/notjson.ndjson:1: rejected \(malformed_json\) at column [0-9]+$'
expect_match "unparsable fixture: the failure names it" "$T/out" \
    '1 fixture line\(s\) rejected, first: .*fx/notjson.ndjson:1: malformed_json: at column [0-9]+$'
expect_nomatch "unparsable fixture: its text is not echoed" "$T/out" "SECRET"
expect_nomatch "unparsable fixture: its text is not echoed (stderr)" "$T/err" "SECRET"

mw test "$FX/rules/sub/inside.lua" "$FX/rules/sub/inlink.lua"
expect_eq "fixtures inside the folder (a link inside too): pass" "$RC" 0
expect_match "fixtures inside: both ran" "$T/out" "^2 passed, 0 failed"
