#!/usr/bin/env bash
# tests/integration/server_retention.sh — retention end to end (LOG-1, issue
# 18.5) with real parts: a terminal's real journal uploaded over mTLS to
# mamori-server on SQLite, its records aged in the database file (sqlite3;
# the server's clock is never touched), then moved to archive files by the
# running server's retention job and by `mamori-server archive`; the admin
# API says which records are archived; uploads go on after the boundary;
# `verify` and a backup restored elsewhere verify every chain with the
# archive files, and fail on a changed or a missing archive file. Bad
# retention values are refused.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
trap cleanup EXIT

D=$T/srv
A=$T/pc-a
mkdir -p "$A"
OLD_US=1500000000000000 # 2017-07-14: older than any retention period below

# ---- the retention period is checked before anything runs ----
for v in 0 -1 36501 1.5 10d " 10" ""; do
	"$SERVER" --data "$T/none" --retention-days "$v" verify >/dev/null 2>&1
	check "--retention-days '$v' is refused (exit 2)" test $? = 2
done
"$SERVER" --data "$T/none" archive >/dev/null 2>&1
check "archive without --retention-days is refused (the default keeps everything)" test $? = 2
check "... and made nothing" test ! -e "$T/none"

# ---- the server's own job: half a minute after its start ----
start_server "$D" --retention-days 1825 || { echo "FAIL  server did not start"; exit 1; }
STARTED=$SECONDS
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
check "enroll pc-a" enroll "$A" pc-a kaikei
SA=$(state_dir "$A")
"$HELPER" append "$SA" 30 || bad "append"
res=$(ctl "$A" --json server sync)
check "sync uploads 30 records" test "$(jq .uploaded <<<"$res")" = 30
sqlite3 "$D/server.db" "UPDATE events SET received_us = $OLD_US WHERE terminal_id = 'pc-a' AND seq <= 10" ||
	bad "age records"
while ((SECONDS - STARTED < 45)); do
	ev=$(api GET "/admin/v1/events?terminal=pc-a&limit=1000")
	[[ $(jq '.archived.records // 0' <<<"$ev") == 10 ]] && break
	sleep 1
done
check "the running server moved the 10 old records to an archive file" \
	test "$(jq '.archived.records // 0' <<<"$ev")" = 10
check "... the API says they are archived (seq 1-10, in 1 file)" \
	test "$(jq -c '[.archived.first_seq, .archived.last_seq, .archived.files, .archived.through]' <<<"$ev")" = \
	'[1,10,1,"2017-07-14T02:40:00Z"]'
check "... and lists the 20 newer ones, untouched" test "$(jq -c '[.events[0].seq, (.events | length)]' <<<"$ev")" = '[11,20]'
check "... the archive file is gzip of the records" \
	bash -o pipefail -c "zcat '$D'/archive/events-*.jsonl.gz | head -n1 | jq -e '.format == \"mamori-events-archive\" and .last_seq == 10' >/dev/null"
check "... terminal count unchanged: 30 events stored" test "$(api GET /admin/v1/terminals/pc-a | jq .events_stored)" = 30
stop_server
DPORT=${DEV##*:} APORT=${ADM##*:} # the same ports again: the terminal knows them

# ---- mamori-server archive, uploads after the boundary, verify ----
sqlite3 "$D/server.db" "UPDATE events SET received_us = $OLD_US WHERE terminal_id = 'pc-a' AND seq <= 25" ||
	bad "age records"
out=$("$SERVER" --data "$D" --retention-days 365 archive 2>&1)
check "archive moves 15 more records (exit 0)" matches "$out" '*archived: 15 *in 1 files*'
start_server "$D" || { echo "FAIL  server did not restart"; exit 1; }
login ciso || bad "login"
"$HELPER" append "$SA" 5 || bad "append"
res=$(ctl "$A" --json server sync)
check "uploads go on after the archive boundary: 5 more" test "$(jq .uploaded <<<"$res")" = 5
check "... acknowledged up to 35" test "$(jq .acked_seq <<<"$res")" = 35
check "... no tamper finding" test "$(api GET '/admin/v1/findings?terminal=pc-a' | jq '.findings | length')" = 0
ev=$(api GET "/admin/v1/events?terminal=pc-a&limit=1000")
check "... the API: 25 archived in 2 files, 10 listed" \
	test "$(jq -c '[.archived.records, .archived.files, (.events | length), .events[0].seq]' <<<"$ev")" = '[25,2,10,26]'
out=$("$SERVER" --data "$D" verify 2>&1)
check "verify (server running): every chain, across the boundary (exit 0)" test $? = 0
check "... 35 records, 25 archived in 2 files" matches "$out" '*35 記録 records (*archived 25 in 2 files)*'
out=$("$SERVER" --data "$D" backup "$T/backup.db" 2>&1)
check "backup (server running)" test $? = 0
check "... reminds to copy the archive files" matches "$out" '*archive*'
stop_server

# ---- restored elsewhere: verified with the archive files ----
mkdir -p "$T/restored"
cp -a "$D/archive" "$T/archive-copy"
out=$("$SERVER" --data "$T/restored" --archive-dir "$T/archive-copy" restore "$T/backup.db" 2>&1)
check "restore + verify with the archive files (exit 0)" test $? = 0
check "... every chain verified" matches "$out" '*every chain verified*'
f=$(ls "$T/archive-copy"/events-*.jsonl.gz | head -n1)
chmod u+w "$f"
printf '\x00' | dd of="$f" bs=1 seek=40 conv=notrunc status=none
out=$("$SERVER" --data "$T/restored" --archive-dir "$T/archive-copy" verify 2>&1)
check "a changed byte in an archive file: NOT VERIFIED (exit 1)" test $? = 1
check "... named, hash differs" matches "$out" "*NOT VERIFIED*$(basename "$f")*hash differs*"
rm -f "$f"
out=$("$SERVER" --data "$T/restored" --archive-dir "$T/archive-copy" verify 2>&1)
check "a missing archive file: NOT VERIFIED (exit 1)" test $? = 1
check "... named, missing" matches "$out" "*NOT VERIFIED*$(basename "$f")*missing*"
out=$("$SERVER" --data "$D" verify 2>&1)
check "the original still verifies" test $? = 0
finish
