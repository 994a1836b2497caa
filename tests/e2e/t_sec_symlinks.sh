# Symlinks and permissions in the state and spool folders (docs/SECURITY.md,
# item 9): a symlink planted at any state, spool or temp file name never has
# its target written (temp files are created O_EXCL|O_NOFOLLOW under a fresh
# name; state files are opened O_NOFOLLOW and refused when they are links),
# and a state or spool folder that is group- or world-writable, or owned by
# another user, is refused at start (exit 2).
#
# Temp names carry the PID: `sh -c '...; exec moonwatch'` plants links at
# the names this very process will use (the historical PATH.tmp and
# PATH.tmp.PID, and mw_atomic's PATH.tmp.PID.0 and .1).
SL=$T/symlinks
mkdir -p "$SL"
SL_RULES=rules/azure
SL_IN=$SL/in.ndjson
cp tests/fixtures/arc/interleaved_apps.ndjson "$SL_IN"
sl_victim() { printf 'precious\n' >"$SL/victim"; }
sl_intact() { expect_eq "$1: the symlink's target was not written" "$(cat "$SL/victim")" precious; }
sl_fresh() { rm -rf "$SL/st"; mkdir -m 700 "$SL/st"; sl_victim; }
# sl_plant_tmp (with SL_DIR, SL_NAMES): links at the historical and the PID-based
# temp names of each NAME, for the PID of the shell that then execs moonwatch
sl_plant_tmp='for n in $SL_NAMES; do for s in .tmp .tmp.$$ .tmp.$$.0 .tmp.$$.1; do
    ln -s "$SL_VICTIM" "$SL_DIR/$n$s"; done; done'
export SL_VICTIM=$SL/victim

# --- temp files of the state: shape.json, new_terms state, checkpoint -------
sl_fresh
SL_DIR=$SL/st SL_NAMES="shape.json checkpoint new_terms-022c37cd-5a4f-422b-8227-b136b7a23180.state alert-ids.tmp" \
    timeout -s TERM 5 sh -c "$sl_plant_tmp"'; exec "$@"' sh $MW run -f --rules $SL_RULES \
    --state-dir "$SL/st" --checkpoint-interval 100ms --state-interval 1s \
    --metrics-file "$SL/metrics.prom" --metrics-interval 1 \
    --summary none -o "file:$SL/alerts.ndjson" "$SL_IN" >"$T/out" 2>"$T/err"
expect_eq "state temp files: ran until stopped" "$?" 124
sl_intact "state temp files"
expect_match "state temp files: a checkpoint was written" "$SL/st/checkpoint" '^\{"end"'
expect_match "state temp files: the shaping state was written" "$SL/st/shape.json" 'suppression'
[ -f "$SL/st/new_terms-022c37cd-5a4f-422b-8227-b136b7a23180.state" ] && ok ||
    fail "state temp files: the new_terms state was not written"

# --- the metrics temp file --------------------------------------------------
sl_victim
rm -f "$SL"/metrics.prom*
SL_DIR=$SL SL_NAMES="metrics.prom" timeout -s TERM 4 sh -c "$sl_plant_tmp"'; exec "$@"' sh \
    $MW run -f --rules $SL_RULES --metrics-file "$SL/metrics.prom" --metrics-interval 1 \
    --summary none -o "file:/dev/null" "$SL_IN" >"$T/out" 2>"$T/err"
sl_intact "metrics temp file"
expect_match "metrics temp file: the metrics were written" "$SL/metrics.prom" moonwatch_alerts_total

# --- state files that are symlinks are refused, never followed --------------
for name in alert-ids shape.json checkpoint; do
    sl_fresh
    ln -s "$SL/victim" "$SL/st/$name"
    timeout -s TERM 20 $MW run -f --rules $SL_RULES --state-dir "$SL/st" --summary none \
        -o "file:$SL/alerts.ndjson" "$SL_IN" >"$T/out" 2>"$T/err"
    RC=$?
    expect_eq "symlinked $name: refused, exit 2" "$RC" 2
    expect_match "symlinked $name: says why" "$T/err" "$name: is a symbolic link; refusing to follow it"
    sl_intact "symlinked $name"
done
sl_fresh
ln -s "$SL/victim" "$SL/st/new_terms-022c37cd-5a4f-422b-8227-b136b7a23180.state"
mw run --rules $SL_RULES --state-dir "$SL/st" --summary none -o "file:/dev/null" "$SL_IN"
expect_match "symlinked new_terms state: not read" "$T/err" "new_terms-022c37cd-5a4f-422b-8227-b136b7a23180.state: is a symbolic link; refusing to follow it"
sl_intact "symlinked new_terms state"
[ -f "$SL/st/new_terms-022c37cd-5a4f-422b-8227-b136b7a23180.state" ] && [ ! -L "$SL/st/new_terms-022c37cd-5a4f-422b-8227-b136b7a23180.state" ] && ok ||
    fail "symlinked new_terms state: not replaced by a real file at save"

# --- spool files --------------------------------------------------------------
rm -rf "$SL/spool"
SL_HOOK="webhook:http://127.0.0.1:9/h,connect_timeout=1s,backoff=50ms,drain=300ms"
mw run --rules tests/fixtures/rules/shaping/signin_all.lua --spool-dir "$SL/spool" --summary none \
    -o "$SL_HOOK" examples/azure-arc/signinlogs.ndjson
sl_spool=$(ls "$SL"/spool/*.spool.ndjson 2>/dev/null | head -1)
if [ -n "$sl_spool" ]; then ok; else fail "spool: no spool file to plant a link at"; fi
sl_victim
rm -f "$sl_spool" "${sl_spool%.ndjson}.pos"
ln -s "$SL/victim" "$sl_spool"
mw run --rules tests/fixtures/rules/shaping/signin_all.lua --spool-dir "$SL/spool" --summary none \
    -o "$SL_HOOK" examples/azure-arc/signinlogs.ndjson
expect_eq "symlinked spool: refused, exit 2" "$RC" 2
expect_match "symlinked spool: says why" "$T/err" "spool.ndjson: is a symbolic link; refusing to follow it"
sl_intact "symlinked spool"

# --- folders others can write are refused -------------------------------------
sl_fresh
chmod 777 "$SL/st"
mw run --rules $SL_RULES --state-dir "$SL/st" --summary none "$SL_IN"
expect_eq "chmod 777 state folder: exit 2" "$RC" 2
expect_match "chmod 777 state folder: says why" "$T/err" "--state-dir .*: writable by everyone \(mode 0777\); refusing"
expect_eq "chmod 777 state folder: nothing written in it" "$(ls -A "$SL/st" | wc -l | tr -d ' ')" 0
chmod 770 "$SL/st"
mw run --rules $SL_RULES --state-dir "$SL/st" --summary none "$SL_IN"
expect_eq "group-writable state folder: exit 2" "$RC" 2
expect_match "group-writable state folder: says why" "$T/err" "writable by its group \(mode 0770\)"
chmod 755 "$SL/st"
mw run --rules $SL_RULES --state-dir "$SL/st" --summary none "$SL_IN"
expect_eq "a 0755 state folder is fine" "$RC" 0
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    sl_fresh
    chown nobody "$SL/st"
    mw run --rules $SL_RULES --state-dir "$SL/st" --summary none "$SL_IN"
    expect_eq "state folder of another user: exit 2" "$RC" 2
    expect_match "state folder of another user: says why" "$T/err" "owned by uid [0-9]+, not by this user"
fi
mkdir -p "$SL/spool777"; chmod 777 "$SL/spool777"
mw run --rules tests/fixtures/rules/shaping/signin_all.lua --spool-dir "$SL/spool777" --summary none \
    -o "$SL_HOOK" examples/azure-arc/signinlogs.ndjson
expect_eq "chmod 777 spool folder: exit 2" "$RC" 2
expect_match "chmod 777 spool folder: says why" "$T/err" "spool folder .*: writable by everyone"
