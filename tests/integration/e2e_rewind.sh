#!/usr/bin/env bash
# tests/integration/e2e_rewind.sh — a journal never rewinds (issue 13, item 3;
# LOG-1, OPS-5), against a real mamori-server on 127.0.0.1: a truncated
# journal.db is damage; the new chain continues above the acknowledged seq,
# its first record (tamper.detected) names the old head, and `mamorictl
# server sync` uploads it and everything after it. A journal that is behind
# the server and cannot be repaired (another writer holds it) makes sync
# exit non-zero and say so. The old code restarted at seq 1 and exited 0
# with "uploaded 0 … server holds up to seq 30 of 6".
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
trap cleanup EXIT

D=$T/srv
A=$T/pc-r
mkdir -p "$A"
start_server "$D" || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
check "enroll pc-r" enroll "$A" pc-r kaikei
SA=$(state_dir "$A")

"$HELPER" append "$SA" 30 || bad "append 30"
res=$(ctl "$A" --json server sync)
check "30 records uploaded and acknowledged" test "$(jq .acked_seq <<<"$res")" = 30
old_head=$(ctl "$A" journal status | awk '/^head/ {print $3}')

# ---- a truncated journal: damage, a new chain above seq 30, uploaded ----
rm -f "$SA/journal.db-wal" "$SA/journal.db-shm"
truncate -s 4096 "$SA/journal.db"
"$HELPER" append "$SA" 5 || bad "append 5 after truncation"
first=$(ctl "$A" journal export --format jsonl | head -n1)
check "the new chain starts with tamper.detected" test "$(jq -r .type <<<"$first")" = tamper.detected
check "... above every seq acknowledged (not 1)" test "$(jq .seq <<<"$first")" -gt 30
check "... naming the old chain's head seq" test "$(jq .payload.old_head_seq <<<"$first")" = 30
check "... and its hash" test "$(jq -r .payload.old_head_hash <<<"$first")" = "$old_head"
res=$(ctl "$A" --json server sync)
rc=$?
head=$(ctl "$A" journal status | awk '/^head/ {print $2}')
check "sync succeeds (exit $rc)" test "$rc" = 0
check "sync uploads the tamper record and the 5 after it" test "$(jq .uploaded <<<"$res")" = 6
check "the server holds the new head ($head)" test "$(jq .acked_seq <<<"$res")" = "$head"
ev=$(api GET "/admin/v1/events?terminal=pc-r&limit=1000")
check "the server has the tamper.detected record" \
	test "$(jq '[.events[] | select(.record.type == "tamper.detected")] | length' <<<"$ev")" = 1
find=$(api GET "/admin/v1/findings?terminal=pc-r")
check "the server recorded the chain restart" \
	test "$(jq '[.findings[] | select(.kind == "chain_restart")] | length' <<<"$find")" = 1

# ---- behind the server and held by another writer: sync says so ----
cp "$SA/journal.db" "$T/older.db"
"$HELPER" append "$SA" 3 || bad "append 3"
ctl "$A" --json server sync >/dev/null
cp "$T/older.db" "$SA/journal.db"
rm -f "$SA/journal.db-wal" "$SA/journal.db-shm"
exec {lk}>"$SA/journal.lock"
flock -x "$lk"
out=$(ctl "$A" server sync 2>&1)
rc=$?
exec {lk}>&-
check "sync exits non-zero when the journal is behind the server (exit $rc)" test "$rc" -ne 0
check "... and says that the journal went backwards" matches "$out" '*went backwards*'
"$HELPER" append "$SA" 1 || bad "append 1 after the older copy"
res=$(ctl "$A" --json server sync)
check "reopened: a new chain, uploaded (exit $?)" test "$(jq .ok <<<"$res")" = true
head=$(ctl "$A" journal status | awk '/^head/ {print $2}')
check "the server holds the new head again" test "$(jq .acked_seq <<<"$res")" = "$head"
finish
