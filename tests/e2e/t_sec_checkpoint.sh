# Checkpoints are untrusted input (docs/SECURITY.md, item 8): anyone who
# can write the state folder can recompute the SHA-256 trailer. A real
# checkpoint of a follow run (sequence, threshold, distinct, absence and
# new_terms rules, lateness on) is edited and its trailer recomputed; every
# crafted file must be refused with a clear error (exit 2 when there is no
# previous checkpoint, the previous one used when there is), never crash
# (the suite runs this under bin/moonwatch-asan too). The two historical
# crashes: a duplicated window group (heap-buffer-overflow in the window
# restore) and any checksum mismatch (heap-use-after-free of the trailer).
CK=$T/ckpt
mkdir -p "$CK/rules"
cp rules/azure/*.lua tests/fuzz/rules/*.lua "$CK/rules/"
cp tests/fixtures/arc/interleaved_apps.ndjson "$CK/in.ndjson"
CK_SIZE=$(stat -c %s "$CK/in.ndjson")
CK_WAIT=60
[ -n "${MW_VALGRIND:-}" ] && CK_WAIT=600

# ck_reseal FILE: recomputes the trailer after the body was edited
ck_reseal() {
    grep -v '^{"end"' "$1" >"$1.body"
    local h n
    h=$(sha256sum "$1.body" | cut -c1-64)
    n=$(wc -l <"$1.body" | tr -d ' ')
    { cat "$1.body"; printf '{"end":{"lines":%s,"sha256":"%s"}}\n' "$n" "$h"; } >"$1"
    rm -f "$1.body"
}
# ck_run STATE: a follow run on STATE, stopped after a few seconds at most
# (a crafted checkpoint that is accepted keeps it running: that is a fail)
ck_run() {
    timeout -s TERM "${2:-$CK_WAIT}" $MW run -f --rules "$CK/rules" --state-dir "$1" \
        --max-lateness 5m --checkpoint-interval 100ms --summary none \
        -o "file:$CK/alerts.ndjson" "$CK/in.ndjson" >"$T/out" 2>"$T/err"
    RC=$?
    if [ "$RC" -ge 99 ] && [ "$RC" -ne 124 ]; then
        fail "checkpoint run exited $RC (crash or sanitizer error)"
        sed 's/^/    /' "$T/err" | grep -v '"health"' | tail -20
    fi
}
# ck_refused NAME FILE REGEX: FILE as the only checkpoint is refused, exit 2
ck_refused() {
    rm -rf "$CK/st"
    mkdir -m 700 "$CK/st"
    cp "$2" "$CK/st/checkpoint"
    ck_run "$CK/st" 20
    expect_eq "$1: refused, exit 2" "$RC" 2
    expect_match "$1: says why" "$T/err" "checkpoint refused: .*checkpoint(:[0-9]+)?: .*$3"
    expect_match "$1: refuses to start" "$T/err" "no usable checkpoint in"
}

# --- a real checkpoint ------------------------------------------------------
$MW run -f --rules "$CK/rules" --state-dir "$CK/good" --max-lateness 5m \
    --checkpoint-interval 100ms --summary none -o "file:$CK/alerts.ndjson" \
    "$CK/in.ndjson" >/dev/null 2>"$CK/good.err" &
ck_pid=$!
end=$(( $(date +%s) + CK_WAIT ))
while [ "$(date +%s)" -lt "$end" ]; do
    grep -q '^{"end"' "$CK/good/checkpoint" 2>/dev/null &&
        [ "$(grep '^{"input"' "$CK/good/checkpoint" | jq -r .input.offset)" = "$CK_SIZE" ] && break
    sleep 0.1
done
kill -TERM $ck_pid; wait $ck_pid
expect_eq "checkpoint: the follow run stops cleanly" "$?" 0
G=$CK/good.ckpt
cp "$CK/good/checkpoint" "$G"
# the sections this test edits must be there
for what in '"rule":"fuzz-threshold".*"groups":\[\{' '"rule":"fuzz-sequence".*"keys":\[\{' \
    '"rule":"fuzz-absence".*"groups":\[\{' '"caps":\[\{'; do
    expect_match "checkpoint: has $what" "$G" "$what"
done

# --- the two historical crashes ---------------------------------------------
sed '2s/"offset":\([0-9]*\)[0-9]/"offset":\10/' "$G" >"$CK/flip"
cmp -s "$G" "$CK/flip" && sed -i '2s/"offset":\([0-9]*\)/"offset":1\1/' "$CK/flip"
ck_refused "flipped digit" "$CK/flip" "corrupt .*checksum mismatch"
perl -pe 's/("groups":\[)(\{[^{}]*\})/$1$2,$2/ if /"rule":"fuzz-threshold"/' "$G" >"$CK/dup"
ck_reseal "$CK/dup"
ck_refused "duplicated window group" "$CK/dup" "fuzz-threshold: malformed window state: group 1: a group key appears twice"

# --- every section is validated ---------------------------------------------
c() { perl -pe "$2" "$G" >"$CK/c_$1"; ck_reseal "$CK/c_$1"; echo "$CK/c_$1"; }
ck_refused "duplicated sequence key" \
    "$(c seqdup 's/("keys":\[)(\{[^{}]*\})/$1$2,$2/ if /"rule":"fuzz-sequence"/')" \
    "fuzz-sequence: malformed sequence state: key 1: a key appears twice"
ck_refused "event index out of range" \
    "$(c evidx 's/"ev":\[[0-9]+/"ev":[999/ if /"rule":"fuzz-threshold"/')" \
    "event index is out of range"
ck_refused "absence group with another kind's arrays" \
    "$(c kind 's/"ts":\[\]/"ts":[1]/ if /"rule":"fuzz-absence"/')" \
    "arrays its window kind does not keep"
ck_refused "time out of range" \
    "$(c time 's/"now":[0-9]+/"now":9223372036854775807/ if /"moonwatch_checkpoint"/')" \
    "header: run is not"
ck_refused "window time out of range" \
    "$(c wtime 's/"newest":[0-9]+/"newest":-9223372036854775807/ if /"rule":"fuzz-threshold"/')" \
    "newest time is missing or out of range"
ck_refused "wrong type" \
    "$(c type 's/"groups":\[/"groups":["x",/ if /"rule":"fuzz-distinct"/')" \
    "group 0: a group is not an object"
ck_refused "rule given twice" "$(c ruledup 'print if /"rule":"fuzz-threshold"/')" \
    "rule fuzz-threshold: window state given twice"
ck_refused "duplicate JSON key" "$(c jkey 's/"number":/"number":1,"number":/ if $. == 1')" \
    "not a JSON object .*duplicate"
ck_refused "cap interval of zero" "$(c per 's/"per":[0-9]+/"per":0/')" \
    "a cap entry is malformed"
ck_refused "input given twice" "$(c indup 'print if /^\{"input"/')" \
    "an input appears twice"
ck_refused "negative input offset" "$(c inoff 's/"offset":[0-9]+/"offset":-5/ if /^\{"input"/')" \
    "file position is not"
ck_refused "unknown record" "$(c unk 'print "{\"other\":1}\n" if $. == 2')" \
    "not one of input, event, rule, shape"
ck_refused "sequence slot of the wrong size" \
    "$(c slot 's/("slots":\[\[)([0-9]+),([0-9]+)\]/$1$2,$3,$3]/ if /"rule":"fuzz-sequence"/')" \
    "a slot is not"
rm -rf "$CK/st"; mkdir -m 700 "$CK/st"; ln -s "$G" "$CK/st/checkpoint"
ck_run "$CK/st" 20
expect_eq "symlinked checkpoint: refused, exit 2" "$RC" 2
expect_match "symlinked checkpoint: says why" "$T/err" "checkpoint: is a symbolic link; refusing to follow it"

# --- a crafted current checkpoint beside a good previous one ------------------
rm -rf "$CK/st"; mkdir -m 700 "$CK/st"
cp "$CK/dup" "$CK/st/checkpoint"; cp "$G" "$CK/st/checkpoint.prev"
ck_run "$CK/st" 5
expect_eq "fallback: runs until stopped" "$RC" 124
expect_match "fallback: the crafted one refused" "$T/err" "checkpoint refused: .*a group key appears twice"
expect_match "fallback: the previous one used" "$T/err" "resuming from the previous checkpoint"
expect_match "fallback: its state restored" "$T/err" "checkpoint [0-9]+ restored: 1 input position\(s\), 8 rule state\(s\)"

# --- the real checkpoint still resumes --------------------------------------
rm -rf "$CK/st"; mkdir -m 700 "$CK/st"; cp "$G" "$CK/st/checkpoint"
ck_run "$CK/st" 5
expect_eq "good checkpoint: runs until stopped" "$RC" 124
expect_match "good checkpoint: restored" "$T/err" "checkpoint [0-9]+ restored: 1 input position\(s\), 8 rule state\(s\)"
expect_nomatch "good checkpoint: nothing refused" "$T/err" "refused"

# --- a well-formed state this run cannot use is skipped, not refused --------
# (--max-lateness turned off: the sequence states were written with it on)
rm -rf "$CK/st"; mkdir -m 700 "$CK/st"; cp "$G" "$CK/st/checkpoint"
timeout -s TERM 5 $MW run -f --rules "$CK/rules" --state-dir "$CK/st" --max-lateness 0s \
    --summary none -o "file:$CK/alerts.ndjson" "$CK/in.ndjson" >"$T/out" 2>"$T/err"
expect_eq "lateness changed: runs until stopped" "$?" 124
expect_match "lateness changed: the sequence state skipped" "$T/err" \
    "window state of rule fuzz-sequence not restored: sequence state of another shape"
expect_match "lateness changed: the rest restored" "$T/err" "checkpoint [0-9]+ restored: 1 input position\(s\), 6 rule state\(s\)"
