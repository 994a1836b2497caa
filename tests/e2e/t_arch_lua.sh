# The Lua boundary and the rule builder (issue 12): descriptors that once
# crashed the host or that the host must refuse whatever built them.
H=tests/fixtures/rules/hostile

# make_shape once wrote an 8200-byte join-key path into an 8 KB stack buffer
mw check $H/long_join_key.lua
expect_eq "arch-lua: long join key: check exits 0" "$RC" 0
expect_match "arch-lua: long join key: loaded" "$T/out" "^ok .*test-long-join-key"
mw run --rules $H/long_join_key.lua --summary json tests/fixtures/arc/true_positive.ndjson
expect_eq "arch-lua: long join key: run exits 0" "$RC" 0
