# Issue 18 item 12: the rules folder. Symlink loops and second paths to one
# file are read once (device + inode); a FIFO or a device named *.lua is
# refused before the loader opens it (it blocked or aborted); a followed
# rules folder that is removed or renamed keeps its rules running, with an
# error and a health record, until it is back. `timeout` guards every
# command that used to hang.
RF=$T/rulesfolder
mkdir -p "$RF/r"
cp tests/fixtures/rules/good/sp_terraform_signin.lua "$RF/r/rule.lua"
ln -s . "$RF/r/a"
ln -s . "$RF/r/b"
ln -s rule.lua "$RF/r/alias.lua"
mw_to() { # SECONDS ARGS...: mw under a timeout; 124 when it hung
    local s=$1
    shift
    timeout "$s" $MW "$@" >"$T/out" 2>"$T/err"
    RC=$?
    if [ "$RC" -ge 99 ]; then
        fail "moonwatch $* exited $RC (hang, crash or sanitizer error)"
        sed 's/^/    /' "$T/err" | tail -20
    fi
}
mw_to 20 check "$RF/r"
expect_eq "rules folder: two self-symlinks, check exits 0" "$RC" 0
expect_eq "rules folder: the rule found once" "$(grep -c '^ok' "$T/out")" 1
expect_match "rules folder: loaded once" "$T/err" '1 rule\(s\) loaded, 0 failed'
expect_match "rules folder: a second path to one file is named" "$T/err" 'rule.lua: the same file as .*alias.lua, loaded once'
mw_to 20 check "$RF/r" "$RF/r/a"
expect_eq "rules folder: the same folder twice" "$RC" 0
expect_match "rules folder: the same folder twice, read once" "$T/err" '1 rule\(s\) loaded, 0 failed'

# a FIFO and /dev/zero named *.lua: refused, nothing blocks
mkfifo "$RF/r/x.lua"
ln -s /dev/zero "$RF/r/z.lua"
mw_to 20 check "$RF/r"
expect_eq "rules folder: FIFO and device, check returns (2)" "$RC" 2
expect_match "rules folder: FIFO refused" "$T/err" 'x.lua: a FIFO, not loaded'
expect_match "rules folder: device refused" "$T/err" 'z.lua: a character device, not loaded'
expect_match "rules folder: the good rule still loads" "$T/err" '1 rule\(s\) loaded, 2 failed'
mw_to 20 check "$RF/r/x.lua"
expect_eq "rules folder: a FIFO given by name" "$RC" 2
printf '{}\n' >"$T/empty.ndjson"
mw_to 20 run --rules "$RF/r" --summary json "$T/empty.ndjson"
expect_eq "rules folder: run does not hang on the FIFO" "$RC" 0
expect_eq "rules folder: run loaded the one rule" "$(summary '.rules | length')" 1
rm -f "$RF/r/x.lua" "$RF/r/z.lua"
# a rule file over the 16 MiB cap is refused without being read
truncate -s 17M "$RF/big.lua"
mw_to 20 check "$RF/big.lua"
expect_eq "rules folder: oversized rule file refused" "$RC" 2
expect_match "rules folder: oversized rule named" "$T/err" 'big.lua: 17825792 bytes, over the 16777216'

# follow: the rules folder renamed away, then removed, keeps the rules;
# error + health record; the rules come back with the folder
FR=$RF/follow
mkdir -p "$FR/rules"
cp tests/fixtures/rules/good/sp_terraform_signin.lua "$FR/rules/q.lua"
FIN=$FR/in.ndjson
FH=$FR/health.ndjson
FA=$FR/alerts.ndjson
: >"$FIN"
: >"$FA"
SIG=$(sed -n 1p tests/fixtures/arc/true_positive.ndjson)
term_sig() { jq -c --arg t "2025-10-14T$1:00:00.000Z" --arg n "Terraform-$1" \
    '."@timestamp" = $t | .azure.signinlogs.properties.service_principal_name = $n' <<<"$SIG"; }
$MW run --follow --rules "$FR/rules" --alert-time event -o "file:$FA" \
    --health-output "file:$FH" --summary json "$FIN" >"$FR/out" 2>"$FR/err" &
FPID=$!
wait_n() { # FILE FILTER WANT: poll up to 15 s
    local i
    for i in $(seq 1 300); do
        GOT=$(jq -rs "$2" "$1" 2>/dev/null)
        [ "$GOT" = "$3" ] && return 0
        sleep 0.05
    done
    return 1
}
exp_n() { if wait_n "$2" "$3" "$4"; then ok; else fail "$1: got '$GOT', want '$4'"; tail -15 "$FR/err" | sed 's/^/    /'; fi; }
exp_n "follow folder: started" "$FH" '[.[] | select(.health == "rule_loaded")] | length' 1
term_sig 10 >>"$FIN"
exp_n "follow folder: alert before" "$FA" 'length' 1
mv "$FR/rules" "$FR/rules.away"
exp_n "follow folder: renamed away: health record" "$FH" \
    '[.[] | select(.health == "rules_path_missing" and .kept_files == 1)] | length' 1
term_sig 11 >>"$FIN"
exp_n "follow folder: the rule keeps running" "$FA" 'length' 2
expect_match "follow folder: error-level log" "$FR/err" 'error: rules path .*rules cannot be read .*1 rule file\(s\) loaded from it keep running'
expect_eq "follow folder: no rule removed" \
    "$(jq -rs '[.[] | select(.health == "rule_removed")] | length' "$FH")" 0
mv "$FR/rules.away" "$FR/rules"
exp_n "follow folder: back" "$FH" '[.[] | select(.health == "rules_path_back")] | length' 1
# removed outright: still running; recreated with the rule: reloaded
# (moved away first: `rm -rf` in place deletes the files one by one, and a
# folder seen without its files does mean the rules were removed)
mv "$FR/rules" "$FR/rules.gone" && rm -rf "$FR/rules.gone"
exp_n "follow folder: removed: health record" "$FH" \
    '[.[] | select(.health == "rules_path_missing")] | length' 2
term_sig 12 >>"$FIN"
exp_n "follow folder: the rule still runs with its folder gone" "$FA" 'length' 3
mkdir -p "$FR/rules"
cp tests/fixtures/rules/good/sp_terraform_signin.lua "$FR/rules/q.lua"
exp_n "follow folder: recreated" "$FH" '[.[] | select(.health == "rules_path_back")] | length' 2
term_sig 13 >>"$FIN"
exp_n "follow folder: alerts after it is back" "$FA" 'length' 4
expect_eq "follow folder: still no rule removed" \
    "$(jq -rs '[.[] | select(.health == "rule_removed")] | length' "$FH")" 0
kill -TERM $FPID
wait $FPID
expect_eq "follow folder: SIGTERM exit" "$?" 0
