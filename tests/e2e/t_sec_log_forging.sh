# Log forging (issue 18, item 14): what a rule prints (print, mw.log) is one
# escaped line per call, prefixed with the rule id, and rate-limited per
# rule, so no rule can forge a health record or flood stderr.
H=tests/fixtures/rules/hostile
SYN=tests/fixtures/arc/true_positive.ndjson

mw run --rules rules --rules $H/log_forging.lua --summary json $SYN
expect_eq "log forging: exit" "$RC" 0
expect_eq "log forging: seed rule still alerts" "$(lines "$T/out")" 1
# no stderr line is a health record the rule wrote (the host writes none here)
expect_eq "log forging: no forged record on stderr" \
    "$(grep '^{' "$T/err" | jq -c 'select(.health != null)' 2>/dev/null | grep -c forged)" 0
expect_eq "log forging: every line from the host" "$(grep -cv '^moonwatch: \|^{' "$T/err")" 0
expect_match "log forging: prefixed with the rule id, newline escaped" "$T/err" \
    '^moonwatch: info: rule test-log-forging log: \\n\{"@timestamp"'
expect_match "log forging: load-time line names the file" "$T/err" \
    '^moonwatch: info: rule tests/fixtures/rules/hostile/log_forging.lua log: loading\\n\{'
expect_match "log forging: escapes and NUL escaped" "$T/err" \
    'log: \\x1b\[2J\\x1b\[Hcleared	\\x00nul$'
n=$(lines "$T/err")
# 2 events x 100,002 calls: at most 20 lines a second get out, plus the notes
[ "$n" -lt 200 ] && ok || fail "log forging: $n stderr lines (want < 200)"
expect_match "log forging: drops counted" "$T/err" "rule test-log-forging: [0-9]+ log line\(s\) dropped \(at most 20 a second per rule; [0-9]+ in all\)"

# with a health file, the file holds only the host's records
mw run --rules $H/log_forging.lua --health-output "file:$T/health.ndjson" --summary none $SYN
expect_eq "log forging: health file has no forged record" \
    "$(grep -c forged "$T/health.ndjson" 2>/dev/null || true)" 0
expect_eq "log forging: nothing on stderr parses as JSON" "$(grep -c '^{' "$T/err")" 0
