# Memory outside the cap (issue 18, item 4): every conversion from Lua to C
# bounds depth, size and cycles and counts against the rule's memory cap,
# with a clear error for that rule only; a total cap across all rules
# (--rules-memory) refuses to load a rule that would exceed it. Run by the
# e2e runner under bin/moonwatch and bin/moonwatch-asan.
H=tests/fixtures/rules/hostile
SYN=tests/fixtures/arc/true_positive.ndjson

# a cyclic test event (mw.rule passes it): refused at load, file and line
mw check $H/mem_cyclic_tests.lua
expect_eq "lua memory: cyclic test event refused" "$RC" 2
expect_match "lua memory: cycle named" "$T/err" "mem_cyclic_tests.lua:[0-9]+: rule field 'tests': cyclic table"
mw run --rules rules --rules $H/mem_cyclic_tests.lua --summary json $SYN
expect_eq "lua memory: the other rules run" "$(jq -r '.rule.id' "$T/out")" "dacfbecd-7927-46a7-a8ba-feb65a2e990d"

# on_alert returning a cyclic table, a length of 2^40, a 2^40-value DAG:
# an on_alert failure each, the alert delivered unchanged
for k in cyclic huge_len dag; do
    jq -c --arg k "$k" '. + {"test": {"hostile_on_alert": $k}}' <<<"$(sed -n 1p $SYN)"
done >"$T/on_alert.ndjson"
cat $SYN >>"$T/on_alert.ndjson"
mw run --rules rules --rules $H/mem_on_alert.lua --summary json "$T/on_alert.ndjson"
expect_eq "lua memory: on_alert: exit" "$RC" 0
expect_eq "lua memory: on_alert: three alerts delivered" \
    "$(jq -r 'select(.rule.id == "test-mem-on-alert") | .rule.id' "$T/out" | wc -l | tr -d ' ')" 3
expect_eq "lua memory: on_alert: three hook failures" "$(summary '.rules[] | select(.id=="test-mem-on-alert") | .hook_errors')" 3
expect_match "lua memory: on_alert: cycle named" "$T/err" "test-mem-on-alert .*on_alert failed \[script\]: on_alert: fields: cyclic table"
expect_eq "lua memory: on_alert: seed rule alerts" "$(jq -r 'select(.rule.id == "dacfbecd-7927-46a7-a8ba-feb65a2e990d") | .rule.id' "$T/out" | wc -l | tr -d ' ')" 1
# each case alone gives its own message (the hook failure is logged once a minute)
for k in huge_len dag; do
    jq -c --arg k "$k" '. + {"test": {"hostile_on_alert": $k}}' <<<"$(sed -n 1p $SYN)" >"$T/one.ndjson"
    mw run --rules $H/mem_on_alert.lua --summary none "$T/one.ndjson"
    expect_match "lua memory: on_alert $k named" "$T/err" \
        "on_alert: fields: value too large( \(more than 1,000,000 values\)| for the rule's memory cap)"
done

# ev:get with a 16 MB path of 32 segments: refused by the binding
mw run --rules rules --rules $H/mem_ev_get_path.lua --summary json $SYN
expect_eq "lua memory: ev:get: exit" "$RC" 0
expect_eq "lua memory: ev:get: a script error per event" "$(summary '.rules[] | select(.id=="test-mem-ev-get-path") | .errors.script')" 2
expect_match "lua memory: ev:get: bound named" "$T/err" "field path longer than 4096 bytes"
expect_eq "lua memory: ev:get: seed rule alerts" "$(jq -r '.rule.id' "$T/out")" "dacfbecd-7927-46a7-a8ba-feb65a2e990d"
rss=$(summary '.memory.peak_rss_bytes')
[ "$rss" -lt $(( 512 * 1024 * 1024 )) ] && ok || fail "lua memory: ev:get: peak RSS $rss"

# the total cap across rules: rules beyond it are not loaded, the others run
mw run --rules rules --rules-memory 1M --summary json $SYN
expect_eq "lua memory: --rules-memory: exit" "$RC" 0
expect_match "lua memory: --rules-memory: refusal named" "$T/err" "not enough memory \(the memory cap of all rules together, --rules-memory, is reached\)"
loaded=$(summary '.rules | length')
[ "$loaded" -ge 1 ] && [ "$loaded" -lt 9 ] && ok || fail "lua memory: --rules-memory 1M loaded $loaded of 9 rules"
mw run --rules rules --rules-memory 64M --summary json $SYN
expect_eq "lua memory: --rules-memory 64M: all rules" "$(summary '.rules | length')" 9
mw run --rules rules --rules-memory 0 $SYN
expect_eq "lua memory: --rules-memory 0 refused" "$RC" 2

# a hand-built descriptor with a 1 MB field path: refused by the reader
mw check $H/mem_long_field.lua
expect_eq "lua memory: 1 MB field path refused" "$RC" 2
expect_match "lua memory: field path bound named" "$T/err" "mem_long_field.lua: matcher 'exists': field path longer than 65536 bytes"
