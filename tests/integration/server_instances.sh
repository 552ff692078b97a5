#!/usr/bin/env bash
# tests/integration/server_instances.sh — two mamori-server processes on
# 127.0.0.1 sharing one data directory (CA, keys) and one SQLite store, as
# several instances behind a load balancer share them (issue 18.3,
# docs/OPERATIONS.md "Several instances"): a command requested through
# instance A reaches a terminal whose long poll is held by instance B within
# seconds (B re-reads the queue while polls are held; before, B answered 204
# at the end of the hold and the command waited for the next poll), and a
# terminal's event uploads alternating between A and B keep one unbroken
# chain (every record stored once, no tamper finding); a terminal revoked
# through A is refused by B within seconds (B's identity cache lives 5 s;
# it was 60 s).
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
B_PID=
trap '[[ -n $B_PID ]] && kill "$B_PID" 2>/dev/null; cleanup' EXIT

D=$T/srv
P=$T/pc-b
mkdir -p "$P"
start_server "$D" --poll-seconds 12 || { echo "FAIL  server A did not start"; exit 1; }
DEV_A=$DEV
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
check "enroll pc-b through A" enroll "$P" pc-b soumu >/dev/null
SP=$(state_dir "$P")

# instance B: the same data directory and store; its own ports
rm -f "$D/listen.json"
"$SERVER" --data "$D" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --poll-seconds 12 >>"$T/b.log" 2>&1 &
B_PID=$!
for _ in $(seq 100); do
	[[ -s $D/listen.json && $(jq -r .pid "$D/listen.json") == "$B_PID" ]] && break
	sleep 0.1
done
check "instance B starts on the same data directory" test "$(jq -r .pid "$D/listen.json" 2>/dev/null)" = "$B_PID"
DEV_B=$(jq -r .device "$D/listen.json")

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# ---- a command requested through A, the poll held by B ----
dev_curl "$SP" -X POST -o "$T/p1" -w '%{http_code}' "https://$DEV_B/api/v1/commands/poll" >"$T/p1.w" &
p1=$!
sleep 1
c1=$(api POST /admin/v1/commands '{"terminal_id":"pc-b","type":"sync"}' | jq -r .id)
t0=$(now)
wait "$p1"
t1=$(now)
check "the poll held by B gets the command requested through A: 200 (got $(cat "$T/p1.w"))" \
	test "$(cat "$T/p1.w")" = 200
check "... within 4 s of the request ($(elapsed "$t0" "$t1") s; B's hold is 12 s)" lt "$(elapsed "$t0" "$t1")" 4
check "... the signed envelope of that command" \
	test "$(jq -r '.commands[0].envelope | fromjson | .id' "$T/p1" 2>/dev/null)" = "$c1"
check "... delivered once (status delivered)" \
	test "$(api GET "/admin/v1/commands/$c1" | jq -r .status)" = delivered

# ---- uploads alternating between the instances: one chain ----
for i in 1 2 3 4; do
	"$HELPER" append "$SP" 250 || bad "append"
	[[ $((i % 2)) == 1 ]] && dev=$DEV_A || dev=$DEV_B
	# the agent's device URL (enroll.json) names one instance at a time, as a
	# load balancer would send its connections to either
	jq --arg u "https://$dev" '.device_url = $u' "$SP/enroll.json" >"$T/enroll.json" &&
		cat "$T/enroll.json" >"$SP/enroll.json"
	res=$(ctl "$P" --json server sync 2>&1)
	check "sync $i through $([[ $dev == "$DEV_A" ]] && echo A || echo B): acked up to $((i * 250))" \
		test "$(jq .acked_seq <<<"$res" 2>/dev/null)" = $((i * 250))
done
term=$(api GET /admin/v1/terminals/pc-b)
check "the store holds 1000 events for pc-b" test "$(jq .events_stored <<<"$term")" = 1000
check "no tamper finding" test "$(sqlite3 "$D/server.db" "SELECT count(*) FROM findings WHERE terminal_id='pc-b'")" = 0

# ---- a revocation through A is enforced by B within seconds (MDM-3) ----
pol() { dev_curl "$SP" -o /dev/null -w '%{http_code}' "https://$1/api/v1/policy" 2>/dev/null; }
code=$(pol "$DEV_B")
check "B serves pc-b before the revocation (no policy yet: 404, got $code)" test "$code" = 404
api POST /admin/v1/terminals/pc-b/revoke '{"reason":"returned (MDM-3)"}' >/dev/null
t0=$(now)
check "A refuses pc-b at once after revoking it" test "$(pol "$DEV_A")" = 403
for _ in $(seq 100); do
	code=$(pol "$DEV_B")
	[[ $code == 403 ]] && break
	sleep 0.2
done
t1=$(now)
check "B refuses pc-b's certificate within 6 s of the revocation through A ($(elapsed "$t0" "$t1") s, $code)" \
	bash -c "[[ $code == 403 ]] && awk -v e=$(elapsed "$t0" "$t1") 'BEGIN { exit !(e < 6) }'"

kill "$B_PID"
wait "$B_PID" 2>/dev/null
rc=$?
B_PID=
check "instance B stops cleanly (status $rc)" test "$rc" = 0
finish
