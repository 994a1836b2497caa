# Rule loading: check, errors with file and line, broken and hostile rules
B=tests/fixtures/rules/broken
H=tests/fixtures/rules/hostile
G=tests/fixtures/rules/good
SYN=tests/fixtures/arc/true_positive.ndjson

mw check rules
expect_eq "check shipped rules exit" "$RC" 0
expect_match "check lists the Arc rule" "$T/out" 'dacfbecd-7927-46a7-a8ba-feb65a2e990d'
expect_match "check count" "$T/err" '[1-9][0-9]* rule\(s\) loaded, 0 failed'

mw check $B/syntax_error.lua;    expect_eq "syntax error exit" "$RC" 2
expect_match "syntax error has file:line" "$T/err" "$B/syntax_error.lua:5: '}' expected"
mw check $B/bad_severity.lua;    expect_eq "bad severity exit" "$RC" 2
expect_match "bad severity file:line" "$T/err" "$B/bad_severity.lua:6: .*severity"
mw check $B/runtime_error.lua;   expect_match "runtime error file:line" "$T/err" "$B/runtime_error.lua:3: attempt to index a nil value"
mw check $B/io_access.lua;       expect_match "io is absent" "$T/err" "$B/io_access.lua:2: .*'io'"
mw check $B/os_execute.lua;      expect_match "os.execute blocked" "$T/err" "$B/os_execute.lua:2: blocked: os.execute"
mw check $B/require_outside.lua; expect_match "require outside lua/ blocked" "$T/err" "$B/require_outside.lua:2: blocked: require 'socket'"
mw check $B/no_return.lua;       expect_match "no return" "$T/err" "must return mw.rule"
mw check $B/load_loop.lua;       expect_match "load budget" "$T/err" "$B/load_loop.lua:2: instruction budget exceeded"
mw check rules $B/duplicate_id.lua
expect_eq "duplicate id exit" "$RC" 2
expect_match "duplicate id msg" "$T/err" "duplicate rule id 'dacfbecd"
mw check $B
expect_eq "folder of broken rules exit" "$RC" 2
expect_eq "every broken rule reported" "$(grep -c 'error: ' "$T/err")" "$(ls $B | grep -vc duplicate_id)"
test ! -e /tmp/moonwatch-pwned && ok || fail "os.execute ran"

# run: a broken rule is reported, the others still run; --strict refuses
mw run --rules rules --rules $B/syntax_error.lua $SYN
expect_eq "run with a broken rule exit" "$RC" 0
expect_eq "run with a broken rule still alerts" "$(lines "$T/out")" 1
expect_match "run reports the broken rule" "$T/err" "syntax_error.lua:5:"
mw run --strict --rules rules --rules $B/syntax_error.lua $SYN
expect_eq "--strict exit" "$RC" 2
expect_eq "--strict no alerts" "$(lines "$T/out")" 0
mw run --rules $B/syntax_error.lua $SYN
expect_eq "no rule loaded exit" "$RC" 2

# a Lua predicate rule, next to the sequence rule
mw run --rules rules --rules $G --summary json $SYN
expect_eq "predicate rule + seed rule alerts" "$(lines "$T/out")" 2
expect_eq "predicate rule alert" "$(jq -r 'select(.rule.id=="test-sp-terraform-signin") | .message' "$T/out")" \
    "Terraform principal Terraform-Datadog-CLI signed in from 1.128.3.4"

# hostile predicates are contained, counted, and the seed rule still alerts
mw run --rules rules --rules $H --rule-instructions 200000 --summary json $SYN
expect_eq "hostile: exit" "$RC" 0
expect_eq "hostile: seed rule still alerts" "$(jq -r 'select(.rule.id=="dacfbecd-7927-46a7-a8ba-feb65a2e990d") | .rule.id' "$T/out" | wc -l | tr -d ' ')" 1
expect_eq "hostile: failing predicate counted" "$(summary '.rules[] | select(.id=="test-failing-predicate") | .errors.script')" "$(lines $SYN)"
expect_eq "hostile: loop counted as instructions" "$(summary '.rules[] | select(.id=="test-looping-predicate") | .errors.instructions')" "$(lines $SYN)"
expect_eq "hostile: stashed handle raises" "$(summary '.rules[] | select(.id=="test-stash-event") | .errors.script')" "$(( $(lines $SYN) - 1 ))"
expect_match "hostile: error logged with rule id" "$T/err" "rule test-failing-predicate .*boom"
expect_match "hostile: stash message" "$T/err" "event used outside its callback"
