# Elastic's own rule file for the seed rule (detection-rules TOML, type eql,
# read from ../shared, never copied): loaded as it is, it raises exactly
# what the hand-written port raises on every fixture of tests/fixtures/arc/
# (same ids, events, join keys and times; the message template is the
# port's own and is left out). Issues 16 and 17.
F=tests/fixtures/arc
LUA_ARC=rules/azure/sp_signin_then_arc_credential_access.lua
TOML=../shared/rule-corpus/elastic-detection-rules/rules/integrations/azure/credential_access_azure_service_principal_signin_then_arc_credential_listing.toml
if [ ! -f "$TOML" ]; then
    echo "t_elastic_seed: SKIPPED: $TOML is absent (../shared not laid out beside the project)" >&2
    return 0 2>/dev/null || exit 0
fi
proj='[.event.id, .moonwatch.join_key, .event.start, .event.end, .event.duration,
       [.moonwatch.events[] | [.event["@timestamp"], .source.input, .source.line]]]'
mw check "$TOML"
expect_eq "the corpus TOML of the seed rule checks" "$RC" 0
ncases=0
while IFS=$'\t' read -r files want desc; do
    [ "$files" = "file" ] && continue
    args=""
    for f in ${files//+/ }; do args="$args $F/$f"; done
    mw run --rules "$LUA_ARC" $args
    jq -c "$proj" "$T/out" >"$T/lua.jsonl"
    mw run --rules "$TOML" $args
    jq -c "$proj" "$T/out" >"$T/toml.jsonl"
    expect_eq "$files: Elastic's TOML raises $want" "$(lines "$T/toml.jsonl")" "$want"
    if cmp -s "$T/lua.jsonl" "$T/toml.jsonl"; then ok; else
        fail "$files: TOML and Lua forms differ"; diff "$T/lua.jsonl" "$T/toml.jsonl" | head -6
    fi
    ncases=$((ncases + 1))
done <"$F/CASES.tsv"
expect_eq "every Arc fixture compared" "$ncases" "$(($(wc -l <"$F/CASES.tsv") - 1))"
mw run --rules "$TOML" $F/true_positive.ndjson
expect_eq "TOML metadata: rule name" "$(jq -r .rule.name "$T/out")" \
    "Azure Service Principal Sign-In Followed by Arc Cluster Credential Access"
expect_eq "TOML metadata: the investigation guide is carried" \
    "$(jq -r '(.moonwatch.investigation_guide // .rule.note // "") | length > 100' "$T/out")" true
