#!/usr/bin/env bash
# tests/integration/server_forged_chain.sh — issue 17 finding 3: one forged
# record must not swallow later real events. Someone with a stolen device
# certificate posts a new chain at seq 1,000,000 (real OpenSSL mTLS, the
# real server's chain verification, the real agent's journal and sync):
#  - without the journal's recovery record it is refused with a finding;
#  - with a recovery record naming the real chain's head (as agent/journal.c
#    writes one) it is taken as an UNACKNOWLEDGED restart, but the real
#    terminal is still acknowledged only what the server stored from its
#    real chain, its next records are stored, the server follows the real
#    chain again and a fork finding names the forged restart;
#  - an acknowledgement by an administrator names the restart's seq and
#    ends the pending state.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
trap cleanup EXIT

D=$T/srv
A=$T/pc-a
start_server "$D" || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
enroll "$A" pc-a kaikei >/dev/null || { echo "FAIL  enroll"; exit 1; }
SA=$(state_dir "$A")
"$HELPER" append "$SA" 25 || bad "append"
res=$(ctl "$A" --json server sync)
check "the real terminal uploads 25 records" test "$(jq .acked_seq <<<"$res")" = 25

out=$("$HELPER" forge-restart "$SA" 1000000 bare)
check "a new chain at seq 1,000,000 without the journal's recovery record is refused (409)" \
	matches "$out" 'HTTP 409 *'
term=$(api GET /admin/v1/terminals/pc-a)
check "... the server still holds the real chain at 25" test "$(jq .journal.head_seq <<<"$term")" = 25

out=$("$HELPER" forge-restart "$SA" 1000000 recovery)
check "with a recovery record naming the real head it is taken as a restart (200)" matches "$out" 'HTTP 200 *'
term=$(api GET /admin/v1/terminals/pc-a)
check "... pending acknowledgement, the real chain's head kept" \
	test "$(jq -c '.journal.restart_pending | [.seq, .previous_head_seq]' <<<"$term")" = "[1000000,25]"
fnd=$(api GET "/admin/v1/findings?terminal=pc-a")
check "... recorded as an UNACKNOWLEDGED chain_restart finding" \
	test "$(jq '[.findings[] | select(.kind=="chain_restart" and (.detail | startswith("UNACKNOWLEDGED")))] | length' <<<"$fnd")" = 1

# the real terminal goes on recording and syncing
"$HELPER" append "$SA" 5 || bad "append 5"
res=$(ctl "$A" --json server sync)
echo "      sync: $res"
check "the real terminal's next 5 records are stored (not swallowed as 'duplicates')" \
	test "$(jq .uploaded <<<"$res")" = 5
check "the real terminal is acknowledged up to 30, not 1,000,001" test "$(jq .acked_seq <<<"$res")" = 30
check "its upload state says 30" test "$(cat "$SA/upload.state")" = 30
term=$(api GET /admin/v1/terminals/pc-a)
check "the server follows the real chain again (head 30)" test "$(jq .journal.head_seq <<<"$term")" = 30
check "... and holds 25 + 5 real + 2 forged records" test "$(jq .events_stored <<<"$term")" = 32
fnd=$(api GET "/admin/v1/findings?terminal=pc-a")
check "a chain_fork finding says the restart was not this terminal's journal" \
	test "$(jq '[.findings[] | select(.kind=="chain_fork" and (.detail | contains("forged")))] | length' <<<"$fnd")" = 1
"$HELPER" append "$SA" 3 || bad "append 3"
res=$(ctl "$A" --json server sync)
check "later syncs go on normally (33)" test "$(jq .acked_seq <<<"$res")" = 33

# a second forged restart, acknowledged by an administrator
out=$("$HELPER" forge-restart "$SA" 2000000 recovery)
check "a second restart (recovery record naming head 33) is pending" matches "$out" 'HTTP 200 *'
api POST /admin/v1/terminals/pc-a/chain-restart/1999999/ack >/dev/null
check "an acknowledgement naming another seq is refused (404)" test "$CODE" = 404
api POST /admin/v1/terminals/pc-a/chain-restart/2000000/ack >/dev/null
check "the acknowledgement of seq 2,000,000 is accepted" test "$CODE" = 200
term=$(api GET /admin/v1/terminals/pc-a)
check "... and nothing is pending any more" test "$(jq '.journal.restart_pending' <<<"$term")" = null
aud=$(api GET "/admin/v1/audit?limit=1000")
check "... audited" test "$(jq '[.audit[] | select(.action=="chain.restart.ack" and .result=="ok")] | length' <<<"$aud")" = 1
finish
