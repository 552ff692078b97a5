#!/usr/bin/env bash
# tests/integration/usb_requests.sh — requests to the approver end to end
# (issue 16; OPS-3, OPS-4, MEDIA-1): a real mamori-server on 127.0.0.1
# (SQLite, OpenSSL mTLS) with a CISO, an approver "shonin" and an approver
# account "nobody" (the same name as the terminal user who asks: OPS-4 must
# refuse it), then usb_requests.c — the real mamorid + mamori-worker on a
# umockdev testbed, enrolled, its policy signed with the server's policy
# key (which also signs the approval data). Afterwards the journal's
# request.*, approval.* and usb.* records are checked against
# docs/EVENTS.md, and the audit trail for every step. An emergency code
# entered at the terminal (OPS-3) becomes a request the approver must
# acknowledge (not the person who used it). A request made while the
# server is stopped is journaled and reaches the inbox once the server is
# back, without a second command (issue 16.1).
set -uo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
source "$MAMORI_SRC/tests/integration/e2e_lib.bash"
source "$MAMORI_SRC/tests/integration/events_doc.bash"
prep=$T/prep
mkdir -p "$prep"
RESTARTED= # the server as the offline step started it again (not our child)
trap '[[ -n $RESTARTED ]] && kill "$RESTARTED" 2>/dev/null; cleanup' EXIT

D=$T/srv
start_server "$D" || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
RQ_TOK_CISO=$TOKEN
# the steps stop and start the server (issue 16.1: a request made offline):
# the pid of the one running is in $T/srv.pid
echo "$SRV_PID" >"$T/srv.pid"
# approvers per department (issue 16.2): the terminal is enrolled into 総務課;
# kaikei approves for 会計課 only and must neither see nor decide its requests
acct shonin approver 1002 "承認 花子" 総務課 >/dev/null
approve_console shonin || bad "approver account shonin"
acct nobody approver 1003 "申請 太郎" 総務課 >/dev/null
approve_console nobody || bad "approver account nobody"
acct kaikei approver 1004 "会計 次郎" 会計課 >/dev/null
approve_console kaikei || bad "approver account kaikei"
acct baddept approver 1005 "部署 不正" $'a\tb' >/dev/null
check "an account's department must be a department or \"*\"" test "$CODE" = 400
login shonin || bad "login shonin"
RQ_TOK_SHONIN=$TOKEN
login nobody || bad "login nobody"
RQ_TOK_NOBODY=$TOKEN
login kaikei || bad "login kaikei"
RQ_TOK_KAIKEI=$TOKEN
TOKEN=$RQ_TOK_CISO

printf 'language = en\ncheck_interval = 3600\nmodules = usb, timesync\n' >"$prep/agent.conf"
cp "$D/policy-signing.pub" "$prep/policy.pub"
cat >"$prep/policy.json" <<JSON
{ "schema": 1, "version": 1, "segment": "lgwan", "requirements": ["OPS-1"],
  "emergency": { "allowed": true, "max_hours": 4 },
  "usb": { "default": "block", "present_devices": "apply", "requirements": ["MEDIA-1"], "rules": [] } }
JSON
"$CTL" --root "$prep" policy check "$prep/policy.json" >/dev/null || bad "policy check"
"$CTL" --root "$prep" policy sign --key "$D/policy-signing.key" "$prep/policy.json" >/dev/null || bad "policy sign"

export RQ_T=$T RQ_ADM=$ADM RQ_DEV=$DEV RQ_CA=$CA RQ_FPR=$FPR RQ_TOK_CISO RQ_TOK_SHONIN RQ_TOK_NOBODY RQ_TOK_KAIKEI
export MAMORI_BIN=$SRC/$B/bin MAMORI_PREP=$prep
rc=0
(
	export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
	[[ -f $LD_PRELOAD ]] || unset LD_PRELOAD
	export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
	umockdev-wrapper "$SRC/$B/itests/usb_requests"
) || rc=$?
if ((rc)); then
	bad "usb_requests (testbed program, exit $rc)"
	echo "--- gate.log"; grep -v '^event \|pong\|network part ran' "$prep/gate.log" | tail -40
	echo "--- server log"; tail -20 "$D.log"
	TOKEN=$RQ_TOK_CISO api GET /admin/v1/requests | head -c 2000; echo
	[[ -n ${RQ_DEBUG:-} ]] && jq -c '[.seq, .type, .payload.reason // .payload.user // ""]' "$prep/requests.jsonl"
fi
if grep -q "AddressSanitizer\|runtime error" "$prep/gate.log" 2>/dev/null; then bad "sanitizer report in gate.log"; fi
if [[ $(cat "$T/srv.pid") != "$SRV_PID" ]]; then
	# the server the offline step stopped (our child): it must have exited cleanly
	wait "$SRV_PID"
	check "the server stopped for the offline request exited cleanly (0)" test $? = 0
	SRV_PID= RESTARTED=$(cat "$T/srv.pid")
fi

J=$prep/requests.jsonl
if [[ -s $J ]]; then
	jq -c 'select(.type | test("^(request|approval|usb)\\."))' "$J" >"$prep/checked.jsonl"
	check "the journal's request/approval/usb records match docs/EVENTS.md" events_doc_check "$prep/checked.jsonl"
	check "request.created names the peer (nobody), never a field" \
		test "$(jq -rs '[.[] | select(.type=="request.created") | .payload.user] | unique | join(",")' "$J")" = nobody
	check "the refused impersonations are journaled (request.refused unknown_field)" \
		test "$(jq -s '[.[] | select(.type=="request.refused" and .payload.reason=="unknown_field")] | length' "$J")" -ge 2
	check "approval.applied names the request id" \
		test "$(jq -r 'select(.type=="approval.applied" and .payload.kind=="device") | .payload.request_id' "$J")" = \
		"$(jq -r 'select(.type=="request.created" and .payload.kind=="device") | .payload.request_id' "$J")"
	# issue 16.3: the approved exception of LOG-2 is journaled with its request id
	# and the clock's state (LOG-2); an unknown requirement ID was refused
	check "approval.applied of the exception names the requirement and the request id" \
		test "$(jq -r 'select(.type=="approval.applied" and .payload.kind=="exception") | "\(.payload.requirement) \(.payload.request_id) \(.payload.clock_synchronised | type)"' "$J")" = \
		"LOG-2 $(jq -r 'select(.type=="request.created" and .payload.requirement=="LOG-2") | .payload.request_id' "$J") boolean"
	check "the exception of an unknown requirement was refused (request.refused unknown_requirement)" \
		test "$(jq -s '[.[] | select(.type=="request.refused" and .payload.reason=="unknown_requirement")] | length' "$J")" -eq 1
	# applied at once: from the record of approval.applied to the gate's usb.allowed
	a=$(jq -s '[.[] | select(.type=="approval.applied")][0].time_us' "$J")
	u=$(jq -s '[.[] | select(.type=="usb.allowed" and .payload.reason=="local_exception")][0].time_us' "$J")
	if [[ $a != null && $u != null ]]; then
		echo "      approval.applied → usb.allowed: $(((u - a) / 1000)) ms"
		check "the still-plugged device is allowed within 5 s of approval.applied" test $((u - a)) -le 5000000
	else
		bad "approval.applied ($a) and usb.allowed ($u) both journaled"
	fi
	check "the carry-out's approval.applied names its request id, the person and the medium (CARRY-2)" \
		test "$(jq -r 'select(.type=="approval.applied" and .payload.kind=="carry-out") | "\(.payload.request_id) \(.payload.person) \(.payload.medium.serial)"' "$J")" = \
		"$(jq -r 'select(.type=="request.created" and .payload.kind=="carry-out" and .payload.medium.serial=="REQ1") | "\(.payload.request_id) nobody REQ1"' "$J")"
	# issue 16.1: the carry-out asked while the server was stopped is in the
	# journal, and the server made its request of that record (same request id)
	orid=$(jq -r 'select(.type=="request.created" and .payload.purpose=="offline minutes") | .payload.request_id' "$J")
	check "the request made offline reached the server: the same request id, nobody, pending" \
		test "$(TOKEN=$RQ_TOK_CISO api GET /admin/v1/requests | jq -r --arg r "$orid" '[.[] | select(.request_id==$r)] | "\(length) \(.[0].person) \(.[0].kind) \(.[0].status)"')" = "1 nobody carry-out pending"
	# access (issue 16.2): ro → storage only, read-only; rw → the policy's media rules
	check "the stick approved ro is let in read-only, storage only" \
		test "$(jq -r 'select(.type=="usb.allowed" and .payload.reason=="local_exception" and .payload.device.serial=="REQ1") | "\(.payload.media) \(.payload.interfaces_allowed | join(","))"' "$J" | head -n1)" = "readonly 08:06:50"
	check "the stick approved rw is writable (the policy has no media rule against it)" \
		test "$(jq -r 'select(.type=="usb.allowed" and .payload.reason=="local_exception" and .payload.device.serial=="RW1") | .payload.media' "$J" | head -n1)" = writable
	check "the camera approved rw is let in" \
		test "$(jq -r 'select(.type=="usb.allowed" and .payload.reason=="local_exception" and .payload.device.serial=="CAM1") | .payload.interfaces_allowed | join(",")' "$J" | head -n1)" = "06:06:50"
	check "the approval's end is recorded (usb.exception_ended expired)" \
		test "$(jq -s '[.[] | select(.type=="usb.exception_ended" and .payload.reason=="expired")] | length' "$J")" -ge 1
else
	bad "no journal export"
fi
TOKEN=$RQ_TOK_CISO
aud=$(api GET "/admin/v1/audit?limit=500")
for a in request.received request.approve request.reject request.acknowledge request.revoke; do
	check "audit trail holds $a" test "$(jq --arg a "$a" '[.. | objects | select(.action? == $a)] | length' <<<"$aud")" -ge 1
done
# the revoked camera: what was approved, and by whom, stays beside the revocation
api GET "/admin/v1/requests?status=revoked" >"$T/revoked.json"
check "the revoked request keeps its approval (access rw, by shonin) and says who revoked it and why" \
	test "$(jq -r '[.[] | "\(.decided_by) \(.decision.access) \(.decision.revoked.by) \(.decision.revoked.reason) \(.decision.revoked.at | test("^[0-9]{4}-"))"] | join(",")' "$T/revoked.json")" = \
	"shonin rw shonin lost on the way true"
check "... with a version of its own: no terminal was taken for one restored from a backup (approvals.version_raise)" \
	test "$(jq '[.. | objects | select(.action? == "approvals.version_raise")] | length' <<<"$aud")" -eq 0
check "... and a sync queued for the terminal on behalf of the revoker (command.request, naming the revocation)" \
	test "$(jq '[.. | objects | select(.action? == "command.request" and .actor? == "shonin" and ((.detail? // "") | test("^sync [0-9a-f]{32} queued \\(request.revoke [0-9a-f]{32}\\)$")))] | length' <<<"$aud")" -eq 1
TOKEN=$RQ_TOK_CISO
check "... which the terminal ran (executed)" \
	test "$(api GET "/admin/v1/commands?terminal=pc-req" | jq '[.. | objects | select(.type? == "sync" and .requested_by? == "shonin")] | map(.status) | join(",")')" = '"executed"'
check "the refused revocations (no reason, not approved twice) are audited" \
	test "$(jq '[.. | objects | select(.action? == "request.revoke" and .result? == "refused")] | length' <<<"$aud")" -eq 3
check "the other department's refused decision is audited (issue 16.2)" \
	test "$(jq '[.. | objects | select(.action? == "request.approve" and .result? == "refused" and ((.detail? // "") | startswith("department")))] | length' <<<"$aud")" -ge 1
check "an approval beyond the request's until is refused and audited (issue 16.2)" \
	test "$(jq '[.. | objects | select(.action? == "request.approve" and .result? == "refused" and ((.detail? // "") | startswith("until beyond the request")))] | length' <<<"$aud")" -ge 2
check "a malformed approval (until years ahead) is refused and audited too (issue 16.2: every step)" \
	test "$(jq '[.. | objects | select(.action? == "request.approve" and .result? == "refused" and ((.detail? // "") | startswith("until: a time")))] | length' <<<"$aud")" -ge 1
api GET /admin/v1/requests >"$T/ciso_list.json"
check "the CISO (every department) sees the terminal's requests" test "$(jq length "$T/ciso_list.json")" -ge 2
check "the self-approval is refused and audited" \
	test "$(jq '[.. | objects | select(.action? == "request.approve" and .result? == "refused")] | length' <<<"$aud")" -ge 1
if [[ -n $RESTARTED ]]; then
	# the server the offline step started again (not our child: its exit
	# status is not ours to see; its log is)
	kill "$RESTARTED"
	for _ in $(seq 100); do
		[[ $(awk '{print $3}' "/proc/$RESTARTED/stat" 2>/dev/null) =~ ^(Z|)$ ]] && break
		sleep 0.1
	done
	RESTARTED=
	check "the restarted server stopped without a sanitizer report" \
		bash -c "! grep -q 'Sanitizer\|runtime error' '$D.log'"
fi
finish
