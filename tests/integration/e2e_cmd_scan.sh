#!/usr/bin/env bash
# tests/integration/e2e_cmd_scan.sh — the `scan` and `collect` remote
# commands end to end on 127.0.0.1 (AV-3, OPS-5, OPS-6; docs/COMMANDS.md): a
# real mamori-server, a running mamorid + mamori-worker with the av module,
# and a real clamd started here (its database: EICAR as a custom signature).
# The policy's last full scan is recent, so nothing is scanned on schedule:
# only the `scan` command makes clamd scan the policy's full_scan_paths now;
# clamd's verdict on the EICAR file is the oracle (av.detected with its
# path, av.full_scan `infected` carrying the command's id, both uploaded).
# `collect` with since_seq journals one bounded evidence bundle
# (command.evidence) that reaches the server: the journal records after
# since_seq exactly as `mamorictl journal export` has them (seq and hash),
# the usb/carry history and the last posture report. The policy's
# commands.accept is enforced: a type it does not list is refused.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
source "$(dirname "$0")/events_doc.bash"
e2e_begin pc-s
mkdir -p "$A/home/shokuin/docs"
command_server "$D"
start_clamd "$A/run/clamd.sock" || exit 1

# commands.accept (MDM-1, MDM-2): this group runs scan, collect and sync only
jq '.av.clamd_socket = "/run/clamd.sock" | .av.full_scan_paths = ["/home/shokuin"] | .network.isolate_on_infection = false
	| .commands.accept = ["scan", "collect", "sync"]' \
	"$SRC/policy/templates/lgwan.json" >"$T/policy.json"
check "policy with the av section published (two persons)" publish_policy soumu "$T/policy.json" shonin
check "enroll pc-s" enroll "$A" pc-s soumu >/dev/null
SA=$(state_dir "$A")
# the last full scan was just now: none is due on schedule
mkdir -p "$SA/av"
printf '{"end":%s,"found":0,"errors":0,"paths":1,"result":"clean"}' "$(date +%s)" >"$SA/av/clamd-full-scan.json"
printf '%s' "$EICAR" >"$A/home/shokuin/docs/eicar.com"
echo "議事録" >"$A/home/shokuin/docs/minutes.txt"
printf 'language = en\nmodules = av\ncheck_interval = 3600\n' >"$A/etc/mamori/agent.conf"
agent_start "$A"
for _ in $(seq 100); do [[ -s $SA/upload.state && -s $SA/policy.json ]] && break; sleep 0.2; done
check "the agent runs the published policy" test "$(jq -r .av.clamd_socket "$SA/policy.json" 2>/dev/null)" = /run/clamd.sock
journal_json() { ctl "$A" journal export --format jsonl >"$T/j.jsonl" 2>/dev/null; }
sleep 1
journal_json
check "no full scan on schedule (the last one is recent)" test "$(jq -s '[.[] | select(.type=="av.full_scan")] | length' "$T/j.jsonl")" = 0

# ---- scan (AV-3 now) ----
sid=$(cmd_request pc-s scan | jq -r .id)
check "scan requested: one person is enough (queued, or already delivered by the long poll)" \
	matches "$(cmd_status "$sid")" '@(queued|delivered|executed)'
kill -HUP "$APID" # a reload checks in at once
check "scan: executed, the server shows the result" cmd_wait "$sid" executed
check "... whose detail says a full scan started" matches "$(api GET "/admin/v1/commands/$sid" | jq -r .result)" '*full scan started*'
for _ in $(seq 100); do
	journal_json
	[[ -n $(jq -r --arg id "$sid" 'select(.type=="av.full_scan" and .payload.command_id==$id) | .seq' "$T/j.jsonl") ]] && break
	sleep 0.2
done
check "av.full_scan carries the command's id, result infected (clamd's verdict)" \
	test "$(jq -r --arg id "$sid" 'select(.type=="av.full_scan" and .payload.command_id==$id) | .payload.result' "$T/j.jsonl")" = infected
check "av.detected names the EICAR file and clamd's signature" \
	test "$(jq -r 'select(.type=="av.detected") | "\(.payload.path) \(.payload.signature) \(.payload.source)"' "$T/j.jsonl")" = \
	"$A/home/shokuin/docs/eicar.com Mamori-EICAR-Test.UNOFFICIAL full_scan"
check "isolate_on_infection false: no isolation (AV-5 is the policy's choice)" \
	test "$(jq -s '[.[] | select(.type=="network.isolated")] | length' "$T/j.jsonl")" = 0
check "only one detection: the clean file is clean" \
	test "$(jq -s '[.[] | select(.type=="av.detected")] | length' "$T/j.jsonl")" = 1
kill -HUP "$APID"
for _ in $(seq 100); do
	ev=$(api GET "/admin/v1/events?terminal=pc-s&type=av.&limit=100")
	[[ $(jq '[.events[] | select(.record.type=="av.detected")] | length' <<<"$ev") == 1 ]] && break
	sleep 0.2
done
check "the detection reached the server" test "$(jq '[.events[] | select(.record.type=="av.detected")] | length' <<<"$ev")" = 1

# ---- collect (OPS-5, OPS-6) ----
journal_json
since=$(jq -r 'select(.type=="command.received") | .seq' "$T/j.jsonl" | head -n1)
cid=$(cmd_request pc-s collect "\"params\":{\"since_seq\":$since}" | jq -r .id)
kill -HUP "$APID"
check "collect: executed" cmd_wait "$cid" executed
check "... the detail counts what the bundle holds" matches "$(api GET "/admin/v1/commands/$cid" | jq -r .result)" \
	'*evidence bundle journaled as command.evidence*posture report included*'
kill -HUP "$APID"
for _ in $(seq 100); do
	ev=$(api GET "/admin/v1/events?terminal=pc-s&type=command.evidence&limit=10")
	[[ $(jq '.events | length' <<<"$ev") == 1 ]] && break
	sleep 0.2
done
check "the bundle reached the server (one command.evidence record)" test "$(jq '.events | length' <<<"$ev")" = 1
jq '.events[0].record.payload' <<<"$ev" >"$T/bundle.json"
journal_json
evseq=$(jq -r 'select(.type=="command.evidence") | .seq' "$T/j.jsonl")
# the oracle: the journal itself, every record after since_seq and before the bundle
jq -r --argjson s "$since" --argjson e "$evseq" 'select(.seq > $s and .seq < $e) | "\(.seq) \(.hash)"' "$T/j.jsonl" >"$T/want"
jq -r '.journal[] | "\(.seq) \(.hash)"' "$T/bundle.json" >"$T/got"
check "bundle: exactly the journal's records after since_seq (seq and hash)" cmp -s "$T/want" "$T/got"
check "... at least the scan's records" test "$(wc -l <"$T/want")" -ge 4
check "... each as the canonical record (type and seq inside)" \
	test "$(jq -r '[.journal[] | (.record | fromjson | .seq) == .seq] | all' "$T/bundle.json")" = true
check "... the scan's detection among them" \
	test "$(jq -r '[.journal[].record | fromjson | select(.type=="av.detected")] | length' "$T/bundle.json")" = 1
check "... complete (bound not reached)" test "$(jq -r '.journal_complete, .journal_next_seq' "$T/bundle.json" | tr '\n' ' ')" = "true 0 "
check "... the usb/carry history is exactly the journal's usb.* and carry.* records" \
	test "$(jq -r '[.usb_carry[].seq] | join(",")' "$T/bundle.json")" = \
	"$(jq -r --argjson e "$evseq" 'select(.seq < $e and ((.type | startswith("usb.")) or (.type | startswith("carry.")))) | .seq' "$T/j.jsonl" | paste -sd,)"
check "... the last posture report (the av checks)" \
	test "$(jq -r '[.posture.results[]? | select(.id=="av.full_scan")] | length' "$T/bundle.json")" = 1
cmd_request pc-s collect '"params":{"since_seq":-1}' >/dev/null
check "collect with a negative since_seq: 400" test "$CODE" = 400

# ---- commands.accept: a signed, verified command of a type the policy does not list ----
# (lock: not listed here; harmless either way — this agent does not implement it)
lid=$(cmd_request pc-s lock | jq -r .id)
kill -HUP "$APID"
check "a type not in the policy's commands.accept: refused, reported" cmd_wait "$lid" refused
check "... the server's result names the policy key" \
	matches "$(api GET "/admin/v1/commands/$lid" | jq -r .result)" '*commands.accept*'
journal_json
check "... journaled as command.refused (reason policy), never received nor run" \
	same "$(jq -r --arg id "$lid" 'select(.payload.command_id==$id) | "\(.type):\(.payload.reason // "")"' "$T/j.jsonl" | paste -sd' ')" \
	"command.refused:policy"

agent_stop
journal_json
check "every recorded event matches docs/EVENTS.md" events_doc_check "$T/j.jsonl"
if grep -qi "AddressSanitizer\|runtime error" "$T/agent.log" "$SRV_LOG"; then bad "sanitizer report"; fi
finish
