#!/usr/bin/env bash
# tests/integration/server_kill9.sh — a server killed during uploads loses
# nothing (issue 18.3, LOG-1): real processes on 127.0.0.1 — mamori-server
# (SQLite) and four terminals' mamorictl syncs uploading 8,000 journal
# records each from the real journal at once. mamori-server is killed with
# SIGKILL while the store holds some of them but not all; then:
#  - every record a terminal had recorded as acknowledged (upload.state) is
#    in the store (an acknowledgement is only given after the durable commit);
#  - the server restarts on the same ports, the terminals sync again and
#    resend what was not acknowledged: every record arrives exactly once,
#    the server's head hash is each journal's, no tamper finding.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
trap cleanup EXIT

D=$T/srv
N=8000
TERMS=(pc-1 pc-2 pc-3 pc-4)
start_server "$D" || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
for t in "${TERMS[@]}"; do
	mkdir -p "$T/$t"
	enroll "$T/$t" "$t" soumu >/dev/null || bad "enroll $t"
	"$HELPER" append "$(state_dir "$T/$t")" "$N" || bad "append $t"
done
ok "4 terminals enrolled, $N journal records each"

stored() { sqlite3 "$D/server.db" "SELECT count(*) FROM events" 2>/dev/null || echo 0; }
sync_all() { # syncs of every terminal at once, each output in T/sync-TERM.json
	local p=() t
	for t in "${TERMS[@]}"; do
		ctl "$T/$t" --json server sync >"$T/sync-$t.json" 2>"$T/sync-$t.err" &
		p+=("$!")
	done
	for t in "${p[@]}"; do wait "$t"; done
}

# ---- the burst, and SIGKILL in the middle of it ----
sync_all &
burst=$!
at=0
for _ in $(seq 600); do
	at=$(stored)
	((at >= 3000)) && break # several batches acknowledged, more in flight
	sleep 0.01
done
kill -KILL "$SRV_PID"
wait "$SRV_PID" 2>/dev/null
SRV_PID=
wait "$burst"
after=$(stored)
check "SIGKILL during the upload burst (store held $at of $((4 * N)) when killed, $after after)" \
	test "$after" -gt 0 -a "$after" -lt $((4 * N))
for t in "${TERMS[@]}"; do
	acked=$(cat "$(state_dir "$T/$t")/upload.state" 2>/dev/null || echo 0)
	held=$(sqlite3 "$D/server.db" "SELECT count(*) FROM events WHERE terminal_id = '$t'")
	check "$t: every record it holds as acknowledged ($acked) is in the store ($held)" test "$held" -ge "$acked"
done

# ---- restart on the same ports; the terminals resend what was not acknowledged ----
DPORT=${DEV##*:} APORT=${ADM##*:} start_server "$D" || { echo "FAIL  server did not restart"; exit 1; }
for _ in 1 2 3; do
	sync_all
	done_all=1
	for t in "${TERMS[@]}"; do
		[[ $(cat "$(state_dir "$T/$t")/upload.state" 2>/dev/null) == "$N" ]] || done_all=0
	done
	((done_all)) && break
done
login ciso || bad "login after the restart"
for t in "${TERMS[@]}"; do
	S=$(state_dir "$T/$t")
	check "$t: acknowledged up to $N after the resend" test "$(cat "$S/upload.state" 2>/dev/null)" = "$N"
	check "$t: the store holds each record once ($N rows, $N distinct seq)" \
		test "$(sqlite3 "$D/server.db" "SELECT count(*) || ' ' || count(DISTINCT seq) FROM events WHERE terminal_id = '$t'")" = "$N $N"
	agent_hash=$(ctl "$T/$t" journal status | awk '/^head/ {print $3}')
	term=$(api GET "/admin/v1/terminals/$t")
	check "$t: the server's head hash is the journal's" \
		test "${#agent_hash}" = 64 -a "$(jq -r .journal.head_hash <<<"$term")" = "$agent_hash"
done
check "no tamper finding" test "$(sqlite3 "$D/server.db" "SELECT count(*) FROM findings")" = 0
finish
