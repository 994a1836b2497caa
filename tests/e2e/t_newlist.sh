# moonwatch new and moonwatch list
N="$T/newrules"
mw new --dir "$N" azure/suspicious_thing
expect_eq "new: exit" "$RC" 0
expect_eq "new: prints the path" "$(cat "$T/out")" "$N/azure/suspicious_thing.lua"
expect_match "new: title from the name" "$N/azure/suspicious_thing.lua" 'name = "Suspicious thing"'
expect_match "new: random uuid" "$N/azure/suspicious_thing.lua" 'id = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"'
mw check "$N"
expect_eq "new: the scaffold loads" "$RC" 0
mw test "$N"
expect_eq "new: its test stub fails" "$RC" 1
expect_match "new: stub failure" "$T/out" 'expected 1 alert, got 0'
mw new --dir "$N" azure/suspicious_thing
expect_eq "new: never overwrites" "$RC" 2
expect_match "new: says so" "$T/err" 'already exists'
mw new --dir "$N" '../escape'
expect_eq "new: rejects .." "$RC" 2
mw new --dir "$N"
expect_eq "new: needs a name" "$RC" 2

mw list
expect_eq "list: exit" "$RC" 0
expect_match "list: header" "$T/out" '^ID +NAME +SEVERITY +MITRE +STATE$'
expect_match "list: Arc rule row" "$T/out" '^dacfbecd-7927-46a7-a8ba-feb65a2e990d +Azure Service Principal Sign-In Followed by Arc Cluster Credential Access +medium +T1552.007,T1078.004 +loaded$'
expect_eq "list: one row per rule file" "$(($(lines "$T/out") - 1))" "$(find rules -name '*.lua' | wc -l | tr -d ' ')"
mw list --format json
expect_eq "list json: all loaded" "$(jq -r 'map(select(.state == "loaded")) | length' "$T/out")" "$(find rules -name '*.lua' | wc -l | tr -d ' ')"
expect_eq "list json: mitre" "$(jq -r '.[] | select(.id == "aa04377a-19b5-4940-952f-aad173790d23") | .mitre | join(",")' "$T/out")" "T1528,T1078.004,T1087.004"
expect_eq "list json: severity" "$(jq -r '.[] | select(.id == "aa04377a-19b5-4940-952f-aad173790d23") | .severity' "$T/out")" high
# failed and duplicate rules are listed with their error
cp rules/azure/sp_signin_then_arc_credential_access.lua "$N/dup.lua"
printf 'local mw = require("moonwatch")\nreturn mw.rule { id = "x", name = "broken", severity = "urgent", where = mw.eq("a", 1) }\n' >"$N/broken.lua"
mw list --format json rules/azure/sp_signin_then_arc_credential_access.lua "$N"
expect_eq "list: broken rule failed" "$(jq -r '.[] | select(.file | endswith("broken.lua")) | .state' "$T/out")" failed
expect_match "list: broken rule error" "$T/out" "broken.lua: .*field 'severity' must be one of"
expect_eq "list: duplicate id failed" "$(jq -r '.[] | select(.file | endswith("dup.lua")) | .state' "$T/out")" failed
mw list "$N"
expect_match "list text: failed row" "$T/out" ' failed$'
mw list --format xml
expect_eq "list: bad format exit 2" "$RC" 2
