# Raw Azure input (docs/AZURE.md): the azure: source kind, the normalizers
# in normalizers/azure/, `moonwatch normalize`, envelope shapes and their
# dead letters, and the raw Arc story against the ECS one.
S=${MW_AZURE_SAMPLES:-../shared/samples/azure}
N=normalizers

# ---- every raw/ECS pair of the shared samples: the fields the shipped
# rules read have Elastic's values (absent stays absent) ----
# (fields read by rules/**: grep -oh '"azure\.[a-z_.]*"\|"event\.[a-z]*"\|"source\.ip"')
FIELDS='["@timestamp"], ["event","category"], ["event","outcome"], ["event","action"],
  ["event","id"], ["source","ip"], ["azure","tenant_id"],
  ["azure","signinlogs","category"], ["azure","signinlogs","properties","status","error_code"],
  ["azure","signinlogs","properties","app_id"], ["azure","signinlogs","properties","service_principal_name"],
  ["azure","signinlogs","properties","service_principal_id"],
  ["azure","signinlogs","properties","app_owner_tenant_id"],
  ["azure","signinlogs","properties","incoming_token_type"],
  ["azure","signinlogs","properties","resource_id"], ["azure","signinlogs","properties","user_id"],
  ["azure","signinlogs","properties","app_display_name"], ["azure","signinlogs","result_signature"],
  ["azure","signinlogs","properties","authentication_protocol"],
  ["azure","activitylogs","operation_name"], ["azure","activitylogs","result_type"],
  ["azure","activitylogs","identity","claims","appid"]'
fields_of() { # JSON doc on stdin -> the rule fields, sorted, one object
    jq -cS --argjson f "[$FIELDS]" '. as $d | [$f[] as $p | {key: ($p | join(".")), value: ($d | getpath($p))}] | from_entries'
}
# pair NAME RAWFILE RAWLINE ECSFILE ECSLINE [lower-outcome]
pair() {
    local want got
    want=$(sed -n "${5}p" "$4" | fields_of)
    sed -n "${3}p" "$2" >"$T/raw1.json"
    mw normalize --normalizers $N "$T/raw1.json"
    got=$(fields_of <"$T/out")
    if [ -n "${6:-}" ]; then # older pipelines left "Success": compare lower-cased
        want=$(echo "$want" | jq -cS '.["event.outcome"] |= (if . then ascii_downcase else . end)')
    fi
    expect_eq "sample $1: rule fields equal Elastic's" "$got" "$want"
}
if [ ! -d "$S" ]; then
    echo "t_azure: SKIPPED the sample pairs: $S is absent (set MW_AZURE_SAMPLES)" >&2
else
    jq -c . "$S/signinlogs/sp-signin-success.ecs.json" >"$T/e1"
    pair "sp-signin-success" "$S/signinlogs/sp-signin-success.raw.ndjson" 1 "$T/e1" 1
    jq -c . "$S/signinlogs/sp-signin-failure.ecs.json" >"$T/e2"
    jq -c . "$S/signinlogs/sp-signin-failure.raw.json" >"$T/r2"
    pair "sp-signin-failure" "$T/r2" 1 "$T/e2" 1
    jq -c . "$S/signinlogs/mi-signin.ecs.json" >"$T/e3"
    pair "mi-signin" "$S/signinlogs/mi-signin.raw.ndjson" 1 "$T/e3" 1
    jq -c . "$S/signinlogs/sample_event.json" >"$T/e4"
    jq -r .event.original "$S/signinlogs/sample_event.json" | jq -c . >"$T/r4"
    pair "signinlogs sample_event" "$T/r4" 1 "$T/e4" 1
    jq -c . "$S/activitylogs/sp-listkeys-start.ecs.json" >"$T/e5"
    jq -c . "$S/activitylogs/sp-listkeys-start.raw.json" >"$T/r5"
    pair "sp-listkeys-start (Start: no outcome)" "$T/r5" 1 "$T/e5" 1
    pair "success-mixedcase 1" "$S/activitylogs/success-mixedcase.raw.ndjson" 1 \
        "$S/activitylogs/success-mixedcase.ecs.ndjson" 1
    pair "success-mixedcase 2" "$S/activitylogs/success-mixedcase.raw.ndjson" 2 \
        "$S/activitylogs/success-mixedcase.ecs.ndjson" 2
    # the synthetic Arc sequence: ECS written with data_stream/event.dataset
    # and an older pipeline's "Success" on S7
    for i in 1 2 3 4 5 6 7; do
        pair "synthetic arc S$i" "$S/synthetic/arc-sequence.raw.ndjson" $i \
            "$S/synthetic/arc-sequence.ecs.ndjson" $i lower
    done
    # the sign-in pipeline's 7 lines, out of time order: all normalized
    mw normalize --normalizers $N "$S/signinlogs/sp-signin-success.raw.ndjson"
    expect_eq "sp-signin-success: 7 events" "$(lines "$T/out")" 7
    expect_eq "sp-signin-success: dataset" "$(jq -r '.event.dataset' "$T/out" | sort -u)" azure.signinlogs
    # the synthetic sequence, raw, fires the seed rule's two alerts
    mw run --rules rules/azure/sp_signin_then_arc_credential_access.lua \
        "azure:$S/synthetic/arc-sequence.raw.ndjson,normalizers=$N"
    expect_eq "synthetic raw: 2 alerts" "$(lines "$T/out")" 2
    expect_eq "synthetic raw: same alerts as the ECS form" \
        "$(jq -r '[.moonwatch.join_key[0], .event.start, .event.end] | @tsv' "$T/out")" \
        "$($MW_BIN run --rules rules/azure/sp_signin_then_arc_credential_access.lua \
            "$S/synthetic/arc-sequence.ecs.ndjson" 2>/dev/null |
            jq -r '[.moonwatch.join_key[0], .event.start, .event.end] | @tsv')"
fi

# ---- envelope shapes ----
R1='{"time":"2022-02-08T06:22:28.3518405Z","category":"ServicePrincipalSignInLogs","operationName":"Sign-in activity","properties":{"appId":"a1","status":{"errorCode":0},"ipAddress":"1.128.3.4"}}'
R2='{"time":"2022-02-08T06:22:29.0000001Z","category":"ServicePrincipalSignInLogs","operationName":"Sign-in activity","properties":{"appId":"a2","status":{"errorCode":50126}}}'
{
    echo "{\"records\":[$R1,$R2]}"
    echo "[$R1,$R2]"
    echo "$R1"
} >"$T/shapes.ndjson"
mw normalize --normalizers $N "$T/shapes.ndjson"
expect_eq "shapes: exit" "$RC" 0
expect_eq "shapes: records, array, single -> 5 events" "$(lines "$T/out")" 5
expect_eq "shapes: app ids in order" "$(jq -r .azure.signinlogs.properties.app_id "$T/out" | tr '\n' ' ')" "a1 a2 a1 a2 a1 "
expect_eq "shapes: record index kept" "$(jq -r '.log.record_index // "-"' "$T/out" | tr '\n' ' ')" "0 1 0 1 - "
expect_eq "shapes: outcome from error_code" "$(jq -r .event.outcome "$T/out" | tr '\n' ' ')" "success failure success failure success "
expect_eq "shapes: 7 fractional digits -> ms" "$(jq -r '.["@timestamp"]' "$T/out" | head -2 | tr '\n' ' ')" \
    "2022-02-08T06:22:28.351Z 2022-02-08T06:22:29.000Z "
# one whole pretty-printed document (an az export), and the same records
# in a pretty-printed array after it
jq -n --argjson a "$R1" --argjson b "$R2" '{records: [$a, $b]}' >"$T/doc.json"
jq -n --argjson a "$R1" --argjson b "$R2" '[$a, $b]' >>"$T/doc.json"
mw normalize --normalizers $N "$T/doc.json"
expect_eq "pretty documents: 4 events" "$(lines "$T/out")" 4
mw run --rules rules --summary json "azure:$T/doc.json,normalizers=$N"
expect_eq "pretty documents through run: 4 read" "$(summary .events_read)" 4
# the activity repair: "":"", removed before parsing (twice would be a duplicate key)
echo '{"time":"2019-10-24T00:13:46.3554259Z","category":"Administrative","operationName":"MICROSOFT.X/Y/ACTION","resultType":"Success","":"","properties":{"":"","a":1}}' >"$T/empty.ndjson"
mw normalize --normalizers $N "$T/empty.ndjson"
expect_eq "empty-key repair: parsed" "$(jq -r .event.outcome "$T/out")" success
# claims: dots -> underscores; identity as JSON text parsed
echo '{"time":"2019-10-24T00:13:46Z","category":"Write","resourceId":"/SUBSCRIPTIONS/s","operationName":"OP","identity":"{\"claims\":{\"appid\":\"x\",\"http://schemas.microsoft.com/identity/claims/tenantid\":\"t\"}}"}' >"$T/claims.ndjson"
mw normalize --normalizers $N "$T/claims.ndjson"
expect_eq "claims: appid" "$(jq -r .azure.activitylogs.identity.claims.appid "$T/out")" x
expect_eq "claims: dots" "$(jq -r '.azure.activitylogs.identity.claims["http://schemas_microsoft_com/identity/claims/tenantid"]' "$T/out")" t
# dataset= of the input wins over the category
mw normalize --normalizers $N --dataset azure.activitylogs "$T/claims.ndjson"
expect_eq "dataset= routes" "$(jq -r .event.dataset "$T/out")" azure.activitylogs

# ---- bad shapes: dead-lettered with input, line and reason ----
{
    echo "{\"records\":[$R1,\"oops\",7]}"
    echo 'not json at all'
    echo '"a string message"'
    echo '{"time":"2022-02-08T06:22:28Z","category":"Mystery","operationName":"x"}'
    echo '{"category":"SignInLogs","operationName":"no time"}'
    echo '{"records":[]}'
} >"$T/bad.ndjson"
mw run --rules rules --summary json --dead-letter "$T/dead.ndjson" "azure:$T/bad.ndjson,normalizers=$N"
expect_eq "bad shapes: 6 rejected" "$(summary .events_rejected)" 6
expect_eq "bad shapes: 6 dead letters" "$(lines "$T/dead.ndjson")" 6
expect_eq "bad shapes: lines and reasons" \
    "$(jq -r '[.line, .reason] | @tsv' "$T/dead.ndjson" | tr '\t\n' ': ')" \
    "1:not_object 1:not_object 2:malformed_json 3:not_object 4:missing_timestamp 5:missing_timestamp "
expect_eq "bad shapes: input named" "$(jq -r .input "$T/dead.ndjson" | sort -u)" "azure:$T/bad.ndjson"
expect_match "bad shapes: element reason kept" "$T/dead.ndjson" 'records\[1\] is a string, not a record object'
expect_match "bad shapes: category reason kept" "$T/dead.ndjson" "no normalizer for category 'Mystery'"
expect_match "bad shapes: time reason kept" "$T/dead.ndjson" "no usable 'time'"
# spec errors
mw normalize --normalizers $N "azure:$T/bad.ndjson,colour=blue"
expect_eq "unknown option: exit 2" "$RC" 2
expect_match "unknown option: named" "$T/err" "unknown option 'colour=blue'"
mw normalize --normalizers $N --dataset azure.nothing "$T/bad.ndjson"
expect_eq "unknown dataset: exit 2" "$RC" 2
# a broken normalizer is refused with its file
mkdir -p "$T/norm"
echo 'return { dataset = "x", fields = { { to = "a", form = "b" } } }' >"$T/norm/x.lua"
mw normalize --normalizers "$T/norm" "$T/shapes.ndjson"
expect_eq "bad normalizer: exit 2" "$RC" 2
expect_match "bad normalizer: file and key" "$T/err" "x.lua: fields\[1\]: unknown key 'form'"
echo 'return { dataset = "x", fields = { { to = "a", value = function() end } } }' >"$T/norm/x.lua"
mw normalize --normalizers "$T/norm" "$T/shapes.ndjson"
expect_match "function normalizer: refused" "$T/err" "functions in normalizers are not supported"
echo 'while true do end' >"$T/norm/x.lua"
mw normalize --normalizers "$T/norm" "$T/shapes.ndjson"
expect_eq "looping normalizer: stopped, exit 2" "$RC" 2

# ---- the Arc story in raw form: the same 2 alerts as the ECS story ----
E=examples/azure-arc
RAW=examples/azure-arc-raw
mw run --rules rules --summary json --max-lateness 30m \
    "azure:$RAW/signinlogs.eventhub.ndjson,normalizers=$N" \
    "azure:$RAW/activitylogs.eventhub.ndjson,dataset=azure.activitylogs,normalizers=$N"
expect_eq "raw story: exit" "$RC" 0
expect_eq "raw story: nothing rejected" "$(summary .events_rejected)" 0
expect_eq "raw story: alerts (rule, join key, times) as the ECS story" \
    "$(jq -r '[.rule.id, .moonwatch.join_key[0], .event.start, .event.end] | @tsv' "$T/out")" \
    "$(tail -n +2 $E/expected-alerts.tsv | cut -f1-4)"
expect_eq "raw story: several records per message" \
    "$(jq -s 'map(.records | length) | max > 1' $RAW/signinlogs.eventhub.ndjson)" true
expect_eq "raw story: as many events as the ECS story" \
    "$(summary .events_read)" "$(cat $E/signinlogs.ndjson $E/activitylogs.ndjson | wc -l | tr -d ' ')"
