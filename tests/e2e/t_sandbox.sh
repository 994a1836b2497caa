# Sandbox: adversarial rule scripts, each contained with the right error class
H=tests/fixtures/rules/hostile
SYN=tests/fixtures/arc/true_positive.ndjson
N=$(lines $SYN)
rm -f /tmp/moonwatch-pwned

mw run --rules rules --rules $H --summary json $SYN
expect_eq "sandbox: exit" "$RC" 0
expect_eq "sandbox: seed rule still alerts" "$(jq -r '.rule.id' "$T/out" | sort -u | tr '\n' ' ')" "dacfbecd-7927-46a7-a8ba-feb65a2e990d "
errs() { summary ".rules[] | select(.id==\"$1\") | .errors | [.memory, .instructions, .blocked, .script] | map(tostring) | join(\" \")"; }
#                                                      memory instructions blocked script
expect_eq "sandbox: infinite loop -> instructions" "$(errs test-infinite-loop)"    "0 $N 0 0"
expect_eq "sandbox: loop in pcall -> instructions" "$(errs test-looping-predicate)" "0 $N 0 0"
expect_eq "sandbox: coroutine -> blocked"          "$(errs test-coroutine-loop)"   "0 0 $N 0"
expect_eq "sandbox: memory bomb in pcall -> memory" "$(errs test-memory-bomb)"     "$N 0 0 0"
expect_eq "sandbox: deep recursion -> instructions" "$(errs test-deep-recursion)"  "0 $N 0 0"
expect_eq "sandbox: load bytecode -> blocked"      "$(errs test-load-bytecode)"    "0 0 $N 0"
expect_eq "sandbox: modify API -> blocked"         "$(errs test-modify-api)"       "0 0 $N 0"
expect_eq "sandbox: os/io/require -> blocked"      "$(errs test-os-io-require)"    "0 0 $N 0"
expect_eq "sandbox: stashed event -> script"       "$(errs test-stash-event)"      "0 0 0 $((N - 1))"
expect_match "sandbox: coroutine named" "$T/err" "coroutine_loop.lua:8: blocked: global 'coroutine'"
expect_match "sandbox: read-only API named" "$T/err" "modify_api.lua:11: blocked: attempt to modify read-only module field 'eq'"
expect_match "sandbox: memory class logged" "$T/err" "test-memory-bomb .*\[memory\]"
test ! -e /tmp/moonwatch-pwned && ok || fail "os.execute ran"

# every API-table trick is refused (one event per trick: mw.eq =, the
# catalogue behind mw.mitre, rawset on the module), each counted as blocked
for i in 1 2 3; do cat $SYN; done | head -3 >"$T/three.ndjson"
mw run --rules $H/modify_api.lua --rules $H/os_io_require.lua --summary json "$T/three.ndjson"
expect_eq "sandbox: all three API tricks blocked" "$(errs test-modify-api)" "0 0 3 0"
expect_eq "sandbox: os, io, require blocked" "$(errs test-os-io-require)" "0 0 3 0"

# deep recursion with huge budgets (instructions and time): the Lua stack
# limit or the memory cap
mw run --rules $H/deep_recursion.lua --rule-instructions 200000000 --rule-time 1m --summary json $SYN
expect_eq "sandbox: deep recursion, big budget -> script (stack overflow)" "$(errs test-deep-recursion)" "0 0 0 $N"
expect_match "sandbox: stack overflow named" "$T/err" "stack overflow"
mw run --rules $H/deep_recursion.lua --rule-instructions 200000000 --rule-time 1m --rule-memory 4M --summary json $SYN
expect_eq "sandbox: deep recursion, small cap -> memory" "$(errs test-deep-recursion)" "$N 0 0 0"

# a rule file that is precompiled bytecode is refused (text-mode loading)
lua5.4 -e 'io.write(string.dump(load("return 1")))' >"$T/bytecode.lua"
mw check "$T/bytecode.lua"
expect_eq "sandbox: bytecode rule file refused" "$RC" 2
expect_match "sandbox: bytecode message" "$T/err" "attempt to load a binary chunk"

# changing the API at load time fails the load with file and line
printf 'local mw = require("moonwatch")\nsetmetatable(mw, {})\nreturn mw.rule{id="x", name="x", where=mw.exists("a")}\n' >"$T/setmt.lua"
mw check "$T/setmt.lua"
expect_match "sandbox: setmetatable on the API refused" "$T/err" "setmt.lua:2: cannot change a protected metatable"
