# Elastic detection-rules TOML through the .toml front-end: three Azure /
# Entra ID KQL rules loaded straight from the corpus in ../shared (never
# copied here), each with a true positive and near misses written in the
# ECS shapes of ../shared/samples/azure (tests/fixtures/elastic/); plus
# mw.kql[[...]] in a Lua rule, and the refusals `check` reports.
C=../shared/rule-corpus/elastic-detection-rules
F=tests/fixtures/elastic
CURRENT=mw.kql
cat >"$T/kql.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "kql-e2e", name = "KQL in a Lua rule", severity = "low",
  where = mw.kql[[data_stream.dataset:azure.signinlogs and
    azure.signinlogs.properties.risk_level_during_signin:high and
    not azure.signinlogs.properties.risk_state:(remediated or dismissed)]],
}
LUA
mw run --rules "$T/kql.lua" "$F/high_risk_signin.ndjson"
expect_eq "mw.kql alerts (missing risk_state passes the not)" \
    "$(jq -r '.moonwatch.events[0].source.line' "$T/out" | xargs)" "1"
printf 'local mw = require("moonwatch")\nreturn mw.rule { id = "k", name = "k",\n  where = mw.kql[[a.*.b:x]] }\n' >"$T/bad.lua"
mw check "$T/bad.lua"
expect_eq "mw.kql refusal exit" "$RC" "2"
expect_match "mw.kql refusal reason, with the line" "$T/err" 'bad.lua:3: mw.kql: KQL 1:1: field-name pattern'

if [ ! -d "$C/rules" ]; then
    echo "t_elastic: SKIPPED the corpus rules: no corpus at $C (../shared is absent)"
    return 0 2>/dev/null || exit 0
fi
AZ=$C/rules/integrations/azure
# rule file, fixture, the fixture lines that must alert
while read -r rule fixture want; do
    CURRENT=$rule
    mw run --rules "$AZ/$rule.toml" "$F/$fixture.ndjson"
    expect_eq "exit" "$RC" "0"
    expect_eq "alerting lines" "$(jq -r '.moonwatch.events[0].source.line' "$T/out" | xargs)" "$want"
done <<'LIST'
initial_access_entra_id_powershell_signin powershell_signin 1 
impact_resources_resource_group_deletion resource_group_deletion 1 
initial_access_entra_id_high_risk_signin high_risk_signin 1 2 
LIST
CURRENT=metadata
mw run --rules "$AZ/initial_access_entra_id_powershell_signin.toml" "$F/powershell_signin.ndjson"
expect_eq "rule.id is rule_id" "$(jq -r .rule.id "$T/out")" "a605c51a-73ad-406d-bf3a-f24cc41d5c97"
expect_eq "name" "$(jq -r .rule.name "$T/out")" "Entra ID PowerShell Sign-in"
expect_eq "threat carried" "$(jq -r '.threat[0].framework' "$T/out")" "MITRE ATT&CK"
expect_match "tags carried" "$T/out" '"Data Source: Azure"'
CURRENT=folder
mw check "$AZ"
expect_match "check reads the Azure folder's TOML rules" "$T/err" '^moonwatch: [1-9][0-9]+ rule\(s\) loaded' 
mw list "$AZ"
expect_match "list shows TOML rules" "$T/out" 'a605c51a-73ad-406d-bf3a-f24cc41d5c97'
CURRENT=refusal
# EQL rules now compile through the EQL front-end (they were refused while
# it only parsed); an ES|QL rule is still refused, with its reason
mw check "$C/rules/integrations/azure/$(ls "$AZ" | while read -r f; do grep -q '^type = "eql"' "$AZ/$f" && echo "$f" && break; done)"
expect_eq "an EQL rule loads through the EQL front-end" "$RC" "0"
esql=$(grep -rl '^type = "esql"' "$C/rules" | head -1)
mw check "$esql"
expect_eq "an ES|QL rule is refused" "$RC" "2"
expect_match "with its reason" "$T/err" 'needs the ES\|QL subset front-end'
