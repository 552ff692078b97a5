#!/usr/bin/env bash
# tests/integration/e2e_autoisolate.sh — automatic isolation on infection
# (AV-5; docs/COMMANDS.md) with real nftables and a real clamd, only in
# network namespaces this test creates (e2e_lib.bash ns_setup: server,
# terminal, another host). The policy says network.isolate_on_infection; the
# server is stopped before the infection, so nothing comes from it: clamd
# finds the EICAR file in the policy's full scan (due, started when the
# modules restart at a reload), and the terminal cuts itself
# off at once — the other host unreachable, network.isolated journaled with
# the detection's seq. Back online, the server holds network.isolated
# (critical, the incident); the isolation survives an agent restart; a
# release needs two persons and ends it.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
source "$(dirname "$0")/events_doc.bash"
ns_begin pc-v
mkdir -p "$A/home/shokuin/docs"
start_clamd "$A/run/clamd.sock" || exit 1
jq '.av.clamd_socket = "/run/clamd.sock" | .av.full_scan_paths = ["/home/shokuin"] | .network.isolate_on_infection = true' \
	"$SRC/policy/templates/lgwan.json" >"$T/policy.json"
check "policy with isolate_on_infection published (two persons)" publish_policy soumu "$T/policy.json" shonin
printf 'language = en\nmodules = av\ncheck_interval = 3600\nisolate_dhcp_dns = no\n' >"$A/etc/mamori/agent.conf"
check "enroll from the terminal's namespace" ns_enroll "$A" pc-v
SA=$(state_dir "$A")
mkdir -p "$SA/av"
printf '{"end":%s,"found":0,"errors":0,"paths":1,"result":"clean"}' "$(date +%s)" >"$SA/av/clamd-full-scan.json"
ns_agent_start "$A"
for _ in $(seq 100); do [[ -s $SA/upload.state && -s $SA/policy.json ]] && break; sleep 0.2; done
check "the agent runs the policy" test "$(jq -r .network.isolate_on_infection "$SA/policy.json" 2>/dev/null)" = true
for _ in $(seq 50); do reach 10.78.0.1 8080 && break; sleep 0.1; done
check "before: the other host is reachable" reach 10.78.0.1 8080

# the server goes away; then the infection
kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null; SRV_PID=
printf '%s' "$EICAR" >"$A/home/shokuin/docs/eicar.com"
rm -f "$SA/av/clamd-full-scan.json" # the full scan is due
# a reload with a changed agent.conf restarts the modules: the av module's
# enforce step finds the full scan due
sed -i 's/^check_interval = 3600/check_interval = 3500/' "$A/etc/mamori/agent.conf"
kill -HUP "$APID"
for _ in $(seq 100); do in_term nft list table inet mamori_isolate >/dev/null 2>&1 && break; sleep 0.2; done
check "infected, server away: the terminal isolated itself" in_term nft list table inet mamori_isolate
check "... the other host is unreachable" unreach 10.78.0.1 8080
ctl "$A" journal export --format jsonl >"$T/j.jsonl" 2>/dev/null
det=$(jq -r 'select(.type=="av.detected") | .seq' "$T/j.jsonl" | head -n1)
check "journal: network.isolated (done) after the detection, naming it" \
	test "$(jq -r 'select(.type=="network.isolated") | "\(.payload.result) \(.payload.detection_seq) \(.payload.signature)"' "$T/j.jsonl")" = \
	"done $det Mamori-EICAR-Test.UNOFFICIAL"

# back online: the incident reaches the server
ns_server_restart() {
	(exec ip netns exec "$SRV" "$SERVER" --data "$D" --name 10.77.0.1 --listen "$DEV" --admin-listen "$ADM") >>"$D.log" 2>&1 &
	SRV_PID=$!
	for _ in $(seq 100); do reach 10.77.0.1 "$DPORT_N" && return 0; sleep 0.1; done
	return 1
}
check "the server is back (same ports)" ns_server_restart
login ciso
CISO_TOKEN=$TOKEN
check "... and reachable from the isolated terminal" reach 10.77.0.1 "$DPORT_N"
kill -HUP "$APID"
for _ in $(seq 100); do
	ev=$(api GET "/admin/v1/events?terminal=pc-v&type=network.isolated&limit=10")
	[[ $(jq '.events | length' <<<"$ev" 2>/dev/null) == 1 ]] && break
	sleep 0.2
done
check "the server holds the incident: network.isolated, critical" \
	test "$(jq -r '.events[0].record.severity' <<<"$ev")" = critical
agent_stop
in_term nft delete table inet mamori_isolate
ns_agent_start "$A"
for _ in $(seq 100); do in_term nft list table inet mamori_isolate >/dev/null 2>&1 && break; sleep 0.2; done
check "after an agent restart: still isolated" unreach 10.78.0.1 8080
rid=$(cmd_request pc-v release | jq -r .id)
check "release waits for a second person" test "$(cmd_status "$rid")" = pending_approval
login shonin
api POST "/admin/v1/commands/$rid/approve" >/dev/null
TOKEN=$CISO_TOKEN
kill -HUP "$APID"
check "release: executed" cmd_wait "$rid" executed
check "released: the other host is reachable again" reach 10.78.0.1 8080
agent_stop
ctl "$A" journal export --format jsonl >"$T/j.jsonl" 2>/dev/null
check "one automatic isolation only (the restart re-applied it, no new one)" \
	test "$(jq -s '[.[] | select(.type=="network.isolated")] | length' "$T/j.jsonl")" = 1
check "every recorded event matches docs/EVENTS.md" events_doc_check "$T/j.jsonl"
if grep -qi "AddressSanitizer\|runtime error" "$T/agent.log" "$SRV_LOG"; then bad "sanitizer report"; fi
finish
