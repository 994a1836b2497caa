# The alert document: ECS fields, rule metadata, threat, message, events,
# deterministic id
F=tests/fixtures/arc/true_positive.ndjson
mw run --rules rules --alert-time event $F
A="$T/alert.json"; cp "$T/out" "$A"
j() { jq -r "$1" "$A"; }
expect_eq "event.kind" "$(j .event.kind)" alert
expect_eq "event.severity" "$(j .event.severity)" 47
expect_eq "event.risk_score" "$(j .event.risk_score)" 47
expect_eq "severity label" "$(j .moonwatch.severity)" medium
expect_eq "rule.id" "$(j .rule.id)" dacfbecd-7927-46a7-a8ba-feb65a2e990d
expect_eq "rule.name" "$(j .rule.name)" "Azure Service Principal Sign-In Followed by Arc Cluster Credential Access"
expect_eq "rule.version" "$(j .rule.version)" 1
expect_eq "rule.license" "$(j .rule.license)" "Elastic License v2"
expect_eq "rule.author" "$(j '.rule.author[0]')" Elastic
expect_eq "rule.reference count" "$(j '.rule.reference | length')" 5
expect_match "rule.description" "$A" '"description":"[^"]{40,}'
expect_eq "tags include Azure Arc" "$(j '.tags | index("Data Source: Azure Arc") != null')" true
expect_eq "threat framework" "$(j '.threat[0].framework')" "MITRE ATT&CK"
expect_eq "threat tactics" "$(j '[.threat[].tactic.id] | join(",")')" "TA0006,TA0001"
expect_eq "threat tactic name" "$(j '.threat[0].tactic.name')" "Credential Access"
expect_eq "threat techniques" "$(j '[.threat[].technique[].id] | join(",")')" "T1552,T1078"
expect_eq "threat subtechniques" "$(j '[.threat[].technique[].subtechnique[].id] | join(",")')" "T1552.007,T1078.004"
expect_eq "threat reference" "$(j '.threat[0].technique[0].subtechnique[0].reference')" "https://attack.mitre.org/techniques/T1552/007/"
expect_eq "message" "$(j .message)" "Service principal Terraform-Datadog-CLI (app 6131d760-7fda-4db5-8bb1-b771898e9f15) signed in from 1.128.3.4 and listed Arc cluster credentials 4m12s later"
expect_match "investigation guide" "$A" 'azure-arc-kube-aad-proxy-sa'
expect_eq "events in order" "$(j '[.moonwatch.events[].step] | join(",")' 2>/dev/null || j '[.moonwatch.events[].step | tostring] | join(",")')" "1,2"
expect_eq "events whole" "$(j '.moonwatch.events[0].event.azure.signinlogs.category')" ServicePrincipalSignInLogs
expect_eq "event source line" "$(j '[.moonwatch.events[].source.line | tostring] | join(",")')" "1,2"
expect_eq "event source input" "$(j '.moonwatch.events[1].source.input')" "$F"
expect_eq "join key" "$(j '.moonwatch.join_key[0]')" 6131d760-7fda-4db5-8bb1-b771898e9f15
expect_eq "first/last time" "$(j '.event.start + " " + .event.end')" "2025-10-14T09:00:00.000Z 2025-10-14T09:04:12.000Z"
expect_eq "duration in ns" "$(j .event.duration)" 252000000000
expect_eq "--alert-time event" "$(j '."@timestamp"')" "$(j .event.end)"
expect_match "alert id is 32 hex" "$A" '"id":"[0-9a-f]{32}"'
id1=$(j .event.id)
mw run --rules rules $F; expect_eq "alert id deterministic" "$(jq -r .event.id "$T/out")" "$id1"
expect_eq "wall-clock @timestamp by default" "$(jq -r '."@timestamp" != .event.end' "$T/out")" true
