# The Lua boundary and the rule builder (issue 12): descriptors that once
# crashed the host or that the host must refuse whatever built them.
H=tests/fixtures/rules/hostile

# make_shape once wrote an 8200-byte join-key path into an 8 KB stack buffer
mw check $H/long_join_key.lua
expect_eq "arch-lua: long join key: check exits 0" "$RC" 0
expect_match "arch-lua: long join key: loaded" "$T/out" "^ok .*test-long-join-key"
mw run --rules $H/long_join_key.lua --summary json tests/fixtures/arc/true_positive.ndjson
expect_eq "arch-lua: long join key: run exits 0" "$RC" 0

# a hand-built descriptor (no mw.rule) is held to the same limits: 200000
# nested `all` are refused by the builder's depth limit, not a stack overflow
mw check $H/deep_nesting.lua
expect_eq "arch-lua: deep nesting: refused, no crash" "$RC" 2
expect_match "arch-lua: deep nesting: depth named" "$T/err" "deep_nesting.lua: matchers nested more than 64 deep"
mw check $H/oversized_sequence.lua
expect_eq "arch-lua: 200 steps: refused" "$RC" 2
expect_match "arch-lua: 200 steps: limit named" "$T/err" "oversized_sequence.lua: sequence step 129: runs must be 1..100 and steps at most 128"
cat >"$T/many_keys.lua" <<'LUA'
local by = {}
for i = 1, 17 do by[i] = "k" .. i end
local function step(a) return { where = { op = "eq", field = "a", values = { a } } } end
return { __kind = "rule", id = "many-keys", name = "17 keys",
  sequence = { __kind = "sequence", by = by, steps = { step("x"), step("y") } } }
LUA
mw check "$T/many_keys.lua"
expect_match "arch-lua: 17 join keys refused" "$T/err" "many_keys.lua: sequence: more than 16 join keys"

# the limits table reaches rules as moonwatch.host.limits; print and mw.log
# are one function: tostring'd arguments, tab-separated, one host log line
cat >"$T/log.lua" <<'LUA'
local mw = require("moonwatch")
local host = require("moonwatch.host")
print("print", host.limits.SEQ_MAX_STEPS, host.severities[4])
mw.log("mw.log", host.limits.MATCH_MAX_DEPTH, nil)
return mw.rule { id = "log-rule", name = "logs", where = mw.eq("a", "b") }
LUA
mw check "$T/log.lua"
expect_eq "arch-lua: log rule loads" "$RC" 0
expect_match "arch-lua: print through the host log" "$T/err" "rule [^ ]*log.lua log: print	128	critical$"
expect_match "arch-lua: mw.log is print" "$T/err" "rule [^ ]*log.lua log: mw.log	64	nil$"
