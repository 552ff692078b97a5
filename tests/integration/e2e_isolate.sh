#!/usr/bin/env bash
# tests/integration/e2e_isolate.sh — `isolate` / `release` with real nftables
# (MDM-2, AV-5, OPS-4; docs/COMMANDS.md), only in network namespaces this
# test creates: "srv" (mamori-server on 10.77.0.1), "term" (the terminal:
# mamorid + mamori-worker started with `ip netns exec`, so its nft runs in
# that namespace), "other" (another host with a TCP listener on 10.78.0.1),
# joined by two veth pairs. The host's own firewall is never touched.
# Before: both reachable from the terminal. Isolated: only the server (the
# terminal keeps checking in), and a table that was there before is
# untouched. The isolation survives an agent restart (the table, deleted by
# hand as a reboot would, comes back at start). A release needs two persons;
# after it both are reachable again and mamori's table is gone.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
source "$(dirname "$0")/events_doc.bash"
command -v nft >/dev/null || { echo "FAIL  nft is not installed (installer/deps.sh --check: nftables)"; exit 1; }
NS=mamori-$$
SRV=$NS-srv TERM_NS=$NS-term OTHER=$NS-other
APID= OPID=
agent_stop() {
	[[ -n $APID ]] || return 0
	kill -TERM "$APID" 2>/dev/null
	wait "$APID" 2>/dev/null || bad "mamorid exit status $?"
	APID=
}
teardown() {
	agent_stop
	[[ -n $OPID ]] && kill "$OPID" 2>/dev/null && wait "$OPID" 2>/dev/null
	cleanup
	for n in "$SRV" "$TERM_NS" "$OTHER"; do ip netns del "$n" 2>/dev/null; done
}
trap teardown EXIT

for n in "$SRV" "$TERM_NS" "$OTHER"; do
	ip netns add "$n" || { echo "FAIL  cannot create network namespace $n"; exit 1; }
	ip -n "$n" link set lo up
done
ip link add v-srv netns "$SRV" type veth peer name v-ts netns "$TERM_NS"
ip link add v-oth netns "$OTHER" type veth peer name v-to netns "$TERM_NS"
ip -n "$SRV" addr add 10.77.0.1/24 dev v-srv && ip -n "$SRV" link set v-srv up
ip -n "$TERM_NS" addr add 10.77.0.2/24 dev v-ts && ip -n "$TERM_NS" link set v-ts up
ip -n "$OTHER" addr add 10.78.0.1/24 dev v-oth && ip -n "$OTHER" link set v-oth up
ip -n "$TERM_NS" addr add 10.78.0.2/24 dev v-to && ip -n "$TERM_NS" link set v-to up
in_term() { ip netns exec "$TERM_NS" "$@"; }
# the admin API is used from the server's namespace
curl() { ip netns exec "$SRV" /usr/bin/curl "$@"; }

# "another host": a TCP listener
ip netns exec "$OTHER" python3 -m http.server --bind 10.78.0.1 8080 >/dev/null 2>&1 &
OPID=$!
D=$T/srv
A=$T/pc-n
mkdir -p "$A/etc/mamori"
# the server in its namespace (start_server listens on 127.0.0.1 only)
SRV_LOG=$D.log SRV_DATA=$D
(exec ip netns exec "$SRV" "$SERVER" --data "$D" --name 10.77.0.1 --listen 10.77.0.1:0 \
	--admin-listen 10.77.0.1:0) >>"$D.log" 2>&1 &
SRV_PID=$!
for _ in $(seq 100); do [[ -s $D/listen.json ]] && break; sleep 0.1; done
[[ -s $D/listen.json ]] || { echo "FAIL  server did not start"; cat "$D.log"; exit 1; }
DEV=$(jq -r .device "$D/listen.json") ADM=$(jq -r .admin "$D/listen.json")
FPR=$(jq -r .ca_fingerprint "$D/listen.json") CA=$D/ca.pem
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
api POST /admin/v1/accounts "{\"username\":\"shonin\",\"password\":\"$PASSWORD\",\"role\":\"approver\",\"staff_no\":\"1002\",\"display_name\":\"承認 花子\"}" >/dev/null
approve_console shonin || bad "approver account"
CISO_TOKEN=$TOKEN
DPORT_N=${DEV##*:}

reach() { in_term timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
unreach() { ! reach "$@"; }
for _ in $(seq 50); do reach 10.78.0.1 8080 && break; sleep 0.1; done
check "before: the terminal reaches the other host" reach 10.78.0.1 8080
check "before: the terminal reaches the server" reach 10.77.0.1 "$DPORT_N"

printf 'language = en\nmodules = timesync\ncheck_interval = 3600\nisolate_dhcp_dns = no\n' >"$A/etc/mamori/agent.conf"
tok=$(new_token soumu)
check "enroll from the terminal's namespace" in_term "$CTL" --root "$A" --lang en enroll --server "https://$ADM" \
	--token "$tok" --ca-fingerprint "$FPR" --terminal-id pc-n
SA=$(state_dir "$A")
# someone else's table, which isolation must leave alone
in_term nft -f - <<'NFT'
table inet city_fw {
	chain input { type filter hook input priority 0; policy accept; tcp dport 9999 counter accept; }
}
NFT
agent_start() {
	local n
	n=$(grep -c 'mamorid .* ready' "$T/agent.log" 2>/dev/null || true)
	# ip netns exec execs mamorid: $! is mamorid itself
	ip netns exec "$TERM_NS" "$SRC/$B/bin/mamorid" --root "$A" --foreground --log-level debug >>"$T/agent.log" 2>&1 &
	APID=$!
	# ready (signals handled, worker up) before anything sends it SIGHUP: a
	# slow start under load otherwise dies of the test's own HUP
	for _ in $(seq 300); do
		(($(grep -c 'mamorid .* ready' "$T/agent.log" 2>/dev/null || true) > ${n:-0})) && return 0
		sleep 0.1
	done
	echo "    mamorid did not become ready within 30 s"
}
agent_start
for _ in $(seq 100); do [[ -s $SA/upload.state ]] && break; sleep 0.2; done
status_of() { api GET "/admin/v1/commands/$1" | jq -r .status; }
wait_status() { # ID STATUS
	local s
	for _ in $(seq 150); do s=$(status_of "$1"); [[ $s == "$2" ]] && return 0; sleep 0.2; done
	echo "    command $1: status $s, wanted $2"; return 1
}

iid=$(api POST /admin/v1/commands '{"terminal_id":"pc-n","type":"isolate"}' | jq -r .id)
kill -HUP "$APID"
check "isolate: executed, reported through the isolation" wait_status "$iid" executed
check "isolated: the other host is unreachable" unreach 10.78.0.1 8080
check "isolated: the server is reachable" reach 10.77.0.1 "$DPORT_N"
check "mamori's own table is there" in_term nft list table inet mamori_isolate
check "the city's table is untouched" bash -c "ip netns exec '$TERM_NS' nft list table inet city_fw | grep -q 'tcp dport 9999'"
# a check-in still works: a sync command goes and comes back
sid=$(api POST /admin/v1/commands '{"terminal_id":"pc-n","type":"sync"}' | jq -r .id)
kill -HUP "$APID"
check "isolated terminal still checks in: sync executed" wait_status "$sid" executed

# restart; the table lost as at a reboot; the agent puts it back
agent_stop
in_term nft delete table inet mamori_isolate
check "(table deleted by hand: reachable)" reach 10.78.0.1 8080
agent_start
for _ in $(seq 100); do in_term nft list table inet mamori_isolate >/dev/null 2>&1 && break; sleep 0.2; done
check "after an agent restart: isolated again" unreach 10.78.0.1 8080
check "... the server still reachable" reach 10.77.0.1 "$DPORT_N"

# release: two persons
rid=$(api POST /admin/v1/commands '{"terminal_id":"pc-n","type":"release"}' | jq -r .id)
check "release waits for a second person" test "$(status_of "$rid")" = pending_approval
api POST "/admin/v1/commands/$rid/approve" >/dev/null
check "the requester cannot approve it" test "$CODE" = 403
login shonin
api POST "/admin/v1/commands/$rid/approve" >/dev/null
TOKEN=$CISO_TOKEN
kill -HUP "$APID"
check "release: executed" wait_status "$rid" executed
check "released: the other host is reachable again" reach 10.78.0.1 8080
check "released: the server too" reach 10.77.0.1 "$DPORT_N"
check "mamori's table is gone" bash -c "! ip netns exec '$TERM_NS' nft list table inet mamori_isolate >/dev/null 2>&1"
check "the city's table is still there" in_term nft list table inet city_fw
agent_stop
agent_start
sleep 3
check "after a restart it stays released" reach 10.78.0.1 8080
agent_stop
"$CTL" --root "$A" --lang en journal export --format jsonl >"$T/j.jsonl" 2>/dev/null
check "journal: the isolation re-applied at start" \
	test "$(jq -r 'select(.type=="command.isolation_reapplied") | .payload.result' "$T/j.jsonl" | head -n1)" = done
check "every recorded event matches docs/EVENTS.md" events_doc_check "$T/j.jsonl"
if grep -qi "AddressSanitizer\|runtime error" "$T/agent.log" "$SRV_LOG"; then bad "sanitizer report"; fi
finish
