# EQL front-end (issue 16): the seed rule's EQL text (a test fixture, see its
# header) raises exactly what the hand-written port raises on every fixture
# of tests/fixtures/arc/: same events, join keys, times, messages and ids
# (both forms carry the rule id dacfbecd-...). Then .eql files, mw.eql[[...]]
# in Lua, and load errors with file:line:column and a caret.
F=tests/fixtures/arc
EQL_ARC=tests/fixtures/eql/sp_signin_then_arc_credential_access.eql
LUA_ARC=rules/azure/sp_signin_then_arc_credential_access.lua
# what an alert is made of, beyond metadata (tags and the note differ)
proj='[.event.id, .moonwatch.join_key, .event.start, .event.end, .event.duration, .message,
       [.moonwatch.events[] | [.event.event.id, .event["@timestamp"], .source.input, .source.line]]]'
mw check "$EQL_ARC"
expect_eq "the EQL Arc rule checks" "$RC" 0
ncases=0
while IFS=$'\t' read -r files want desc; do
    [ "$files" = "file" ] && continue
    args=""
    for f in ${files//+/ }; do args="$args $F/$f"; done
    mw run --rules "$LUA_ARC" $args
    jq -c "$proj" "$T/out" >"$T/lua.jsonl"
    mw run --rules "$EQL_ARC" $args
    jq -c "$proj" "$T/out" >"$T/eql.jsonl"
    expect_eq "$files: EQL form raises $want" "$(lines "$T/eql.jsonl")" "$want"
    if cmp -s "$T/lua.jsonl" "$T/eql.jsonl"; then ok; else
        fail "$files: EQL and Lua forms differ"; diff "$T/lua.jsonl" "$T/eql.jsonl" | head -6
    fi
    ncases=$((ncases + 1))
done <"$F/CASES.tsv"
expect_eq "every Arc fixture compared" "$ncases" "$(($(wc -l <"$F/CASES.tsv") - 1))"

# mw.eql[[...]] inside a Lua rule: metadata in Lua, detection in EQL
cat >"$T/seq.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "0e9d1c52-7c1b-4d55-9a0e-6f2f3b1c9a01",
  name = "EQL in Lua",
  message = "{key} ran {1:process.name} then connected to {2:destination.port}",
  detection = mw.eql[[
    sequence by host.id with maxspan=5m
      [process where process.name : "CMD.exe" and not user.name in ("SYSTEM", "LOCAL SERVICE")]
      [network where destination.port >= 4444 and cidrMatch(destination.ip, "10.0.0.0/8")]
  ]],
}
LUA
cat >"$T/seq.ndjson" <<'EV'
{"@timestamp":"2025-01-01T00:00:00Z","event":{"category":["process"],"id":"p1"},"host":{"id":"h1"},"process":{"name":"cmd.exe"},"user":{"name":"alice"}}
{"@timestamp":"2025-01-01T00:00:01Z","event":{"category":["process"],"id":"p2"},"host":{"id":"h2"},"process":{"name":"cmd.exe"},"user":{"name":"SYSTEM"}}
{"@timestamp":"2025-01-01T00:01:00Z","event":{"category":["network"],"id":"n1"},"host":{"id":"h1"},"destination":{"port":4444,"ip":"10.1.2.3"}}
{"@timestamp":"2025-01-01T00:01:01Z","event":{"category":["network"],"id":"n2"},"host":{"id":"h2"},"destination":{"port":4444,"ip":"10.1.2.3"}}
{"@timestamp":"2025-01-01T00:01:02Z","event":{"category":["network"],"id":"n3"},"host":{"id":"h1"},"destination":{"port":4444,"ip":"192.168.1.1"}}
EV
mw run --rules "$T/seq.lua" "$T/seq.ndjson"
expect_eq "mw.eql sequence: one alert" "$(lines "$T/out")" 1
expect_eq "mw.eql sequence: events" "$(jq -c '[.moonwatch.events[].event.event.id]' "$T/out")" '["p1","n1"]'
expect_eq "mw.eql sequence: message" "$(jq -r .message "$T/out")" "h1 ran cmd.exe then connected to 4444"

# an .eql file with a header; an event query
cat >"$T/q.eql" <<'EQL'
// id: 5b0c7c1e-2f6a-4d1e-8b1a-1c2d3e4f5a6b
// name: Encoded PowerShell
// severity: high
// tags: Tactic: Execution
process where process.name : ("powershell.exe", "pwsh*") and
  (process.args : "-enc*" or stringContains~(process.command_line, "FROMBASE64")) and
  (?process.parent.name == null or process.parent.name != "explorer.exe")
EQL
cat >"$T/q.ndjson" <<'EV'
{"@timestamp":"2025-01-01T00:00:00Z","event":{"category":"process","id":"a"},"process":{"name":"PowerShell.exe","args":["-EncodedCommand","x"]}}
{"@timestamp":"2025-01-01T00:00:01Z","event":{"category":"process","id":"b"},"process":{"name":"pwsh","command_line":"pwsh -c [Convert]::FromBase64String('x')"}}
{"@timestamp":"2025-01-01T00:00:02Z","event":{"category":"process","id":"c"},"process":{"name":"pwsh","args":["-enc"],"parent":{"name":"explorer.exe"}}}
{"@timestamp":"2025-01-01T00:00:03Z","event":{"category":"file","id":"d"},"process":{"name":"pwsh","args":["-enc"]}}
EV
mw run --rules "$T/q.eql" "$T/q.ndjson"
expect_eq ".eql event query: which events" "$(jq -r .moonwatch.events[0].event.event.id "$T/out" | tr '\n' ' ')" "a b "
expect_eq ".eql header: severity high (risk 73)" "$(jq -r .event.risk_score "$T/out" | head -1)" "73"
expect_eq ".eql header: tags" "$(jq -c .tags "$T/out" | head -1)" '["Tactic: Execution"]'
# R13: a missing field is null, and null != "x" is null: no match
printf '// id: 6b0c7c1e-2f6a-4d1e-8b1a-1c2d3e4f5a6b\n// name: ne\nprocess where ?process.parent.name != "explorer.exe"\n' >"$T/ne.eql"
mw run --rules "$T/ne.eql" "$T/q.ndjson"
expect_eq "missing != constant is null (no match)" "$(lines "$T/out")" 0
mkdir -p "$T/eqldir" && cp "$T/q.eql" "$T/eqldir/"
mw list "$T/eqldir"
expect_match "list shows the .eql rule" "$T/out" "Encoded PowerShell"

# errors: file:line:column, the source line and a caret
printf '// id: x-1\n// name: bad\nsequence\n  [process where a == 1]\n  [file where b == 2 by c\n' >"$T/syntax.eql"
mw check "$T/syntax.eql"
expect_eq "syntax error: exit 2" "$RC" 2
expect_match "syntax error position" "$T/err" "syntax.eql:5:22: expected"
expect_match "syntax error caret" "$T/err" '^ {21}\^$'
printf '// id: x-2\n// name: refused\nprocess where\n  length(process.name) > 3\n' >"$T/refused.eql"
mw check "$T/refused.eql"
expect_match "refused construct named at its position" "$T/err" "refused.eql:4:3: not supported yet: a computed value \(length\)"
printf '// id: x-3\n// nmae: typo\nprocess where true\n' >"$T/typo.eql"
mw check "$T/typo.eql"
expect_match "unknown header key" "$T/err" "typo.eql:2:4: unknown header key"
cat >"$T/bad.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "0e9d1c52-7c1b-4d55-9a0e-6f2f3b1c9a02",
  name = "bad EQL in Lua",
  detection = mw.eql[[
    sequence with maxspan=1m
      [process where true]
      [file where file.path regex~ "x&y"]
  ]],
}
LUA
mw check "$T/bad.lua"
expect_eq "mw.eql error: exit 2" "$RC" 2
expect_match "mw.eql error at the rule file's line and column" "$T/err" \
    "bad.lua:8:36: matcher on 'file.path': regex 'x&y': Lucene's intersection operator '&' is not supported"

# regex / regex~ (Lucene syntax on PCRE2, whole value) and mw.regex in Lua:
# an alert on the matching event, none on the near misses
printf '%s\n' '// id: 7b0c7c1e-2f6a-4d1e-8b1a-1c2d3e4f5a6b' '// name: regex' \
    'any where event.code regex "[24][0-9]{3}" and' \
    '  file.path regex~ (".*(AWSLogs|CloudTrail)/.*", "x+")' >"$T/re.eql"
cat >"$T/re.ndjson" <<'EV'
{"@timestamp":"2025-01-01T00:00:00Z","event":{"id":"hit","code":"4625"},"file":{"path":"bucket/awslogs/k"}}
{"@timestamp":"2025-01-01T00:00:01Z","event":{"id":"longer","code":"46250"},"file":{"path":"bucket/AWSLogs/k"}}
{"@timestamp":"2025-01-01T00:00:02Z","event":{"id":"noslash","code":"4625"},"file":{"path":"bucket/AWSLogs"}}
{"@timestamp":"2025-01-01T00:00:03Z","event":{"id":"xs","code":"2000"},"file":{"path":"XXX"}}
EV
mw check "$T/re.eql"
expect_eq "regex rule checks" "$RC" 0
mw run --rules "$T/re.eql" "$T/re.ndjson"
expect_eq "regex: the matching events alert, near misses do not" \
    "$(jq -r .moonwatch.events[0].event.event.id "$T/out" | tr '\n' ' ')" "hit xs "
cat >"$T/re.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "0e9d1c52-7c1b-4d55-9a0e-6f2f3b1c9a03",
  name = "mw.regex",
  where = mw.all { mw.regex("event.code", "[24][0-9]{3}"),
                   mw.regex("file.path", ".*(awslogs|cloudtrail)/.*", { ci = true }) },
}
LUA
mw run --rules "$T/re.lua" "$T/re.ndjson"
expect_eq "mw.regex: same event" "$(jq -r .moonwatch.events[0].event.event.id "$T/out" | tr '\n' ' ')" "hit "
printf '%s\n' '// id: 8b0c7c1e-2f6a-4d1e-8b1a-1c2d3e4f5a6b' '// name: bad regex' \
    'any where file.path regex "<1-10>"' >"$T/rebad.eql"
mw check "$T/rebad.eql"
expect_eq "a Lucene interval is refused at load" "$RC" 2
expect_match "the refusal names it" "$T/err" "rebad.eql:3:27: matcher on 'file.path': regex '<1-10>': Lucene's numeric interval"
