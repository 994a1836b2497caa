# First-seen rules (new_terms): the two shipped Azure rules over realistic
# events spread across days, warmup, history, exclusions, --state-dir.
F=tests/fixtures/arc
ARC=rules/azure/unusual_source_arc_credential_access.lua
ASN=rules/azure/unusual_source_asn_service_principal.lua
LISTING=$(tail -1 $F/true_positive.ndjson)
SIGNIN=$(head -1 $F/true_positive.ndjson)

# listing TIME APPID IP [OUTCOME]
listing() {
    jq -c --arg t "$1" --arg app "$2" --arg ip "$3" --arg out "${4:-success}" \
        '."@timestamp" = $t | .azure.activitylogs.identity.claims.appid = $app
         | .source.ip = $ip | .source.address = $ip | .event.outcome = $out' <<<"$LISTING"
}
A=6131d760-7fda-4db5-8bb1-b771898e9f15
B=0f0e0d0c-1111-4222-8333-944455556666
{
    listing 2025-10-01T09:00:00Z $A 1.128.3.4
    listing 2025-10-02T11:00:00Z $A 203.0.113.9        # warmup: not reported
    listing 2025-10-07T09:00:00Z $A 1.128.3.4
} >"$T/arc_week1.ndjson"
{
    listing 2025-10-09T09:00:00Z $A 1.128.3.4          # seen 2 days ago
    listing 2025-10-09T09:05:00Z $A 198.51.100.7       # new pair
    listing 2025-10-09T09:06:00Z $B 1.128.3.4          # new pair (other app)
    listing 2025-10-09T09:07:00Z $A 192.0.2.1 failure  # not a success
    listing 2025-10-09T10:00:00Z $B 1.128.3.4          # now known
    listing 2025-10-09T10:01:00Z $A 203.0.113.9        # learnt in warmup, under 7d ago: known
} >"$T/arc_week2.ndjson"
cat "$T/arc_week1.ndjson" "$T/arc_week2.ndjson" >"$T/arc_all.ndjson"

mw run --rules $ARC --summary json "$T/arc_all.ndjson"
expect_eq "arc new_terms: two new pairs after warmup" "$(lines "$T/out")" 2
expect_eq "arc new_terms: which ones" "$(jq -r '.moonwatch.new_terms.values | join(" ")' "$T/out" | tr '\n' ,)" \
    "$A 198.51.100.7,$B 1.128.3.4,"
expect_eq "arc new_terms: type" "$(jq -r '.moonwatch.type' "$T/out" | sort -u)" new_terms
expect_eq "arc new_terms: fields" "$(jq -r '.moonwatch.new_terms.fields | join(",")' "$T/out" | head -1)" \
    "azure.activitylogs.identity.claims.appid,source.ip"
expect_eq "arc new_terms: history" "$(jq -r '.moonwatch.new_terms.history' "$T/out" | head -1)" 7d
expect_eq "arc new_terms: join key" "$(jq -c '.moonwatch.join_key' "$T/out" | head -1)" "[\"$A\",\"198.51.100.7\"]"
expect_eq "arc new_terms: the event" "$(jq -r '.moonwatch.events | length' "$T/out" | head -1)" 1
expect_match "arc new_terms: message" "$T/out" "App $A listed Arc cluster user credentials from 198.51.100.7, not seen for it in 7 days"
expect_eq "arc new_terms: rule id" "$(jq -r .rule.id "$T/out" | head -1)" 022c37cd-5a4f-422b-8227-b136b7a23180
expect_eq "arc new_terms: summary type" "$(summary '.rules[0].type')" new_terms
expect_eq "arc new_terms: matched" "$(summary '.rules[0].matched')" 8

# --state-dir: two runs give what one run gives
mkdir -p "$T/state"
mw run --rules $ARC --state-dir "$T/state" "$T/arc_week1.ndjson"
expect_eq "state: week 1 alone raises nothing (warmup)" "$(lines "$T/out")" 0
expect_eq "state: file written" "$(head -1 "$T/state/new_terms-022c37cd-5a4f-422b-8227-b136b7a23180.state")" \
    "moonwatch new_terms state v1"
mw run --rules $ARC --state-dir "$T/state" "$T/arc_week2.ndjson"
expect_eq "state: week 2 after a restart alerts as one run does" "$(lines "$T/out")" 2
mw run --rules $ARC "$T/arc_week2.ndjson"
expect_eq "no state: week 2 alone is warmup" "$(lines "$T/out")" 0
ls "$T/state" | grep -c tmp >"$T/tmpcount" || true
expect_eq "state: no temp files left" "$(cat "$T/tmpcount")" 0

# a corrupt state file is reported with its line; the rule starts empty
printf 'moonwatch new_terms state v1\nrule\t022c37cd-5a4f-422b-8227-b136b7a23180\nnot a term\n' \
    >"$T/state/new_terms-022c37cd-5a4f-422b-8227-b136b7a23180.state"
mw run --rules $ARC --state-dir "$T/state" "$T/arc_week2.ndjson"
expect_eq "corrupt state: runs" "$RC" 0
expect_match "corrupt state: reported" "$T/err" 'new_terms-022c37cd-5a4f-422b-8227-b136b7a23180.state:3: malformed term line \(starting with no history\)'
mw run --rules $ARC --state-dir "$T/no/such/parent" "$T/arc_week2.ndjson"
expect_eq "--state-dir that cannot be created" "$RC" 2

# signin TIME SP ASN ORG [OWNER] [ERROR_CODE]
signin() {
    jq -c --arg t "$1" --arg sp "$2" --argjson asn "$3" --arg org "$4" --arg own "${5:-}" \
        --argjson err "${6:-0}" \
        '."@timestamp" = $t | .azure.signinlogs.properties.service_principal_id = $sp
         | .source.as.number = $asn | .azure.signinlogs.properties.status.error_code = $err
         | (if $org == "" then del(.source.as.organization) else .source.as.organization.name = $org end)
         | (if $own == "" then . else .azure.signinlogs.properties.app_owner_tenant_id = $own end)' <<<"$SIGNIN"
}
SP=b029d485-a308-4311-8720-fb3192e5284e
{
    signin 2025-10-01T08:00:00Z $SP 1221 "Telstra Pty Ltd"
    signin 2025-10-09T08:00:00Z $SP 1221 "Telstra Pty Ltd"            # seen
    signin 2025-10-12T08:00:00Z $SP 64500 "Example VPS Hosting B.V."   # new
    signin 2025-10-12T08:01:00Z $SP 8075 "MICROSOFT-CORP-MSN-AS-BLOCK" # excluded
    signin 2025-10-12T08:02:00Z $SP 8076 "Microsoft Corporation"       # excluded
    signin 2025-10-12T08:03:00Z $SP 64501 ""                           # no org name: KQL not passes
    signin 2025-10-12T08:04:00Z $SP 64502 "Example" 72f988bf-86f1-41af-91ab-2d7cd011db47
    signin 2025-10-12T08:05:00Z $SP 64503 "Example" "" 7000215         # failed
    signin 2025-10-12T08:06:00Z $SP 64500 "Example VPS Hosting B.V."   # known now
} >"$T/asn.ndjson"
mw run --rules $ASN --summary json "$T/asn.ndjson"
expect_eq "asn new_terms: new ASNs only, Microsoft ones excluded" \
    "$(jq -r '.moonwatch.new_terms.values[1]' "$T/out" | tr '\n' ,)" "64500,64501,"
expect_match "asn new_terms: message" "$T/out" 'signed in from AS64500 \(Example VPS Hosting B.V.\), not seen for it in 10 days'
expect_eq "asn new_terms: matched (exclusions are not matches)" "$(summary '.rules[0].matched')" 5

# the whole shipped rule set over the example story: the first-seen rules are
# still warming up (the story spans hours), so only the sequence alerts
mw run --rules rules --summary json examples/azure-arc/signinlogs.ndjson examples/azure-arc/activitylogs.ndjson
expect_eq "example story with all shipped rules" "$(lines "$T/out")" 2
