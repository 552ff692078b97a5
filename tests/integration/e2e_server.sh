#!/usr/bin/env bash
# tests/integration/e2e_server.sh — end to end on 127.0.0.1 with real parts
# (mamori-server with OpenSSL mTLS and SQLite, mamorictl with libcurl, the
# real journal): enrollment, check-in with a posture report, event upload
# with chain verification, a policy uploaded, approved by another person
# (OPS-4), downloaded and verified by the agent, identity from the
# certificate only, revocation (MDM-3), forged/gapped/forked chains recorded
# as tamper (LOG-1) without losing what was recorded, and the server down
# while the terminal records 10,000 events: all arrive, none twice; approval
# data signed only for a terminal that lacks the current version, a
# department move and a restored store reaching the terminal (issue 18).
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
trap cleanup EXIT

D=$T/srv
A=$T/pc-a
Bt=$T/pc-b
mkdir -p "$A" "$Bt"

start_server "$D" || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap: first administrator from the one-time secret"; exit 1; }
ok "bootstrap: first administrator from the one-time secret"
TOKEN= api POST /admin/v1/bootstrap "{\"secret\":\"x\",\"username\":\"ciso2\",\"password\":\"$PASSWORD\"}" >/dev/null
check "bootstrap works once" test "$CODE" = 403
api POST /admin/v1/accounts "{\"username\":\"shonin\",\"password\":\"$PASSWORD\",\"role\":\"approver\",\"staff_no\":\"1002\",\"display_name\":\"承認 花子\"}" >/dev/null
check "ciso creates an approver account (pending a second CISO: OPS-4)" test "$CODE" = 201
check "... approved out of band on the server's console" approve_console shonin

# ---- enrollment ----
check "enroll terminal pc-a (group kaikei)" enroll "$A" pc-a kaikei
SA=$(state_dir "$A")
check "private key stays on the terminal, 0600" test "$(stat -c %a "$SA/device.pem")" = 600
check "server CA pinned" cmp -s "$SA/server-ca.pem" "$D/ca.pem"
check "policy key installed" test -s "$A/etc/mamori/policy.pub"
check "device.pem holds no other terminal's name" grep -q "BEGIN PRIVATE KEY" "$SA/device.pem"
bad_fpr=$(echo "$FPR" | tr '0-9a-f' '1-9a-f0')
out=$(ctl "$T/pc-x" enroll --server "https://$ADM" --token "$(new_token kaikei)" --ca-fingerprint "$bad_fpr" \
	--terminal-id pc-x 2>&1)
check "a wrong CA fingerprint stops enrollment" matches "$out" '*fingerprint*'
check "... before a key, certificate or token left the terminal" test ! -e "$T/pc-x/var/lib/mamori/device.pem"

# ---- events ----
"$HELPER" append "$SA" 25 || bad "append"
res=$(ctl "$A" --json server sync)
check "sync uploads 25 records" test "$(jq .uploaded <<<"$res")" = 25
check "server acknowledges up to 25" test "$(jq .acked_seq <<<"$res")" = 25
check "agent recorded the acknowledgement" test "$(cat "$SA/upload.state")" = 25
res=$(ctl "$A" --json server sync)
check "a second sync sends nothing again" test "$(jq .uploaded <<<"$res")" = 0
# issue 18: each sync is a new process; the second resumed the first's TLS
# session (kept in the state directory, 0600) — as the server's OpenSSL saw it
check "the TLS session is kept for the next sync, 0600" test "$(stat -c %a "$SA/tls-session")" = 600
check "the second sync's check-in resumed it (server: SSL_session_reused)" \
	bash -c "api() { curl -sS --cacert '$CA' -H 'Authorization: Bearer $TOKEN' \"https://$ADM/metrics\"; }; \
	api | awk '\$1 == \"mamori_checkins_tls_resumed_total\" { found = 1; exit !(\$2 >= 1) } END { exit !found }'"
term=$(api GET /admin/v1/terminals/pc-a)
check "server holds 25 events for pc-a" test "$(jq .events_stored <<<"$term")" = 25
agent_hash=$(ctl "$A" journal status | awk '/^head/ {print $3}')
check "server's head hash = the terminal's journal head" \
	bash -c "[[ ${#agent_hash} == 64 && \$(jq -r .journal.head_hash <<<'$term') == $agent_hash ]]"
ev=$(api GET "/admin/v1/events?terminal=pc-a&limit=1000")
check "events listed: 25" test "$(jq '.events | length' <<<"$ev")" = 25
check "untrusted bytes kept exactly (\$bytes, base64 of SER\\xff\\x1b\\0x)" \
	test "$(jq -r '.events[0].record.payload.device.serial["$bytes"]' <<<"$ev")" = "U0VS/xsAeA=="
check "Japanese file names arrive intact" \
	test "$(jq -r '.events[3].record.payload.path' <<<"$ev")" = "/media/usb/報告書-3.xlsx"

# ---- check-in with a posture report ----
cat >"$T/report.json" <<'J'
{"results":[
 {"id":"screenlock.idle","module":"screenlock","status":"fail","requirements":["LOCK-1"]},
 {"id":"timesync.synchronised","module":"timesync","status":"pass","requirements":["LOG-2"]},
 {"id":"usb.policy","module":"usb","status":"fail","requirements":["MEDIA-1"],"exception":"exc-1"}],
 "summary":{"pass":1,"fail":2}}
J
ctl "$A" server sync --report "$T/report.json" >/dev/null
term=$(api GET /admin/v1/terminals/pc-a)
check "compliance per requirement: LOCK-1 fail" test "$(jq -r '.compliance["LOCK-1"]' <<<"$term")" = fail
check "compliance per requirement: LOG-2 pass" test "$(jq -r '.compliance["LOG-2"]' <<<"$term")" = pass
check "an approved exception is shown as excepted (OPS-3)" \
	test "$(jq -r '.compliance["MEDIA-1"]' <<<"$term")" = excepted
comp=$(api GET /admin/v1/compliance)
check "compliance summary counts pc-a under LOCK-1 fail" test "$(jq -r '.requirements["LOCK-1"].fail' <<<"$comp")" = 1

# ---- policy: upload, approval by another person, download, verification ----
jq -j '.version = 2' "$SRC/policy/templates/lgwan.json" >"$T/lgwan-v2.json" # -j: no trailing newline
api PUT /admin/v1/groups/kaikei/policy "$(cat "$T/lgwan-v2.json")" >/dev/null
check "ciso uploads policy v2 (pending)" test "$CODE" = 202
api PUT /admin/v1/groups/kaikei/policy '{"schema":1,"version":3,"segment":"nowhere"}' >"$T/invalid.json"
check "an invalid policy is refused with every error" \
	bash -c "[[ $CODE == 400 ]] && jq -e '.errors_en | length > 0' '$T/invalid.json' >/dev/null"
api POST /admin/v1/groups/kaikei/policy/2/approve >/dev/null
check "the uploader cannot approve their own policy (OPS-4)" test "$CODE" = 403
ciso_token=$TOKEN
login shonin
api POST /admin/v1/groups/kaikei/policy/2/approve >/dev/null
check "another approver publishes it" test "$CODE" = 200
TOKEN=$ciso_token
res=$(ctl "$A" --json server sync)
check "the agent downloads policy v2" test "$(jq -r '.policy_updated,.policy_version' <<<"$res" | tr '\n' ' ')" = "true 2 "
check "policy + signature landed and verify with the installed key" \
	"$HELPER" verify-policy "$A/var/lib/mamori/policy.json" "$A/etc/mamori/policy.pub"
check "the document is byte for byte the uploaded one" cmp -s "$A/var/lib/mamori/policy.json" "$T/lgwan-v2.json"
res=$(ctl "$A" --json server sync)
check "no download when the version is current" test "$(jq -r .policy_updated <<<"$res")" = false

# ---- identity comes from the certificate only ----
check "enroll terminal pc-b" enroll "$Bt" pc-b kaikei
SB=$(state_dir "$Bt")
spoof=$(curl -sS --cacert "$CA" --cert "$SA/device.pem" "https://$DEV/api/v1/checkin" \
	-d '{"agent_version":"evil","terminal_id":"pc-b","hostname":"spoofed"}')
check "pc-a naming pc-b in the body is answered as pc-a" test "$(jq -r .terminal_id <<<"$spoof")" = pc-a
termb=$(api GET /admin/v1/terminals/pc-b)
check "pc-b's record is untouched by pc-a's body" \
	bash -c "[[ \$(jq -r .hostname <<<'$termb') != spoofed && \$(jq -r .last_seen <<<'$termb') == null ]]"
"$HELPER" append "$SB" 2 >/dev/null
ctl "$Bt" server sync >/dev/null
check "pc-b's events are pc-b's" test "$(api GET /admin/v1/terminals/pc-b | jq .events_stored)" = 2
check "pc-a's count did not change" test "$(api GET /admin/v1/terminals/pc-a | jq .events_stored)" = 25

# ---- tokens and revocation ----
tok=$(new_token kaikei)
check "enroll pc-c" ctl "$T/pc-c" enroll --server "https://$ADM" --token "$tok" --ca-fingerprint "$FPR" --terminal-id pc-c
ctl "$T/pc-d" enroll --server "https://$ADM" --token "$tok" --ca-fingerprint "$FPR" --terminal-id pc-d 2>"$T/reuse.err"
rc=$?
check "a used token is refused" bash -c "[[ $rc -eq 1 ]] && grep -q token_used '$T/reuse.err'"
ctl "$T/pc-e" enroll --server "https://$ADM" --token mt1_forged --ca-fingerprint "$FPR" --terminal-id pc-e 2>/dev/null
check "an unknown token is refused" test $? = 1
api POST /admin/v1/terminals/pc-b/revoke '{"reason":"returned (MDM-3)"}' >/dev/null
check "pc-b revoked" test "$CODE" = 200
ctl "$Bt" server sync >/dev/null 2>"$T/revoked.err"
rc=$?
check "a revoked terminal is refused on its next request" bash -c "[[ $rc -eq 1 ]] && grep -q revoked '$T/revoked.err'"
check "other terminals keep working" ctl "$A" server sync
audit=$(api GET "/admin/v1/audit?limit=1000")
check "audit: who revoked" test "$(jq -r '[.audit[] | select(.action=="terminal.revoke")][0].actor' <<<"$audit")" = ciso
check "audit: who approved the policy" \
	test "$(jq -r '[.audit[] | select(.action=="policy.approve" and .result=="ok")][0].actor' <<<"$audit")" = shonin
check "audit: the refused token is recorded" test "$(jq '[.audit[] | select(.result=="token_used")] | length' <<<"$audit")" -ge 1

# ---- forged, gapped, forked chains ----
"$HELPER" append "$SA" 3 >/dev/null
out=$("$HELPER" forge "$SA" gap)
check "a gap is refused (409 chain_gap)" matches "$out" 'HTTP 409 *chain_gap*'
out=$("$HELPER" forge "$SA" mismatch)
check "a changed record is refused (409 hash_mismatch)" matches "$out" 'HTTP 409 *hash_mismatch*'
out=$("$HELPER" forge "$SA" fork)
check "an acknowledged seq sent again with other contents is refused (409 chain_fork)" \
	matches "$out" 'HTTP 409 *chain_fork*'
out=$("$HELPER" forge "$SA" foreign)
check "a record of a foreign chain is refused (409)" matches "$out" 'HTTP 409 *'
find=$(api GET "/admin/v1/findings?terminal=pc-a")
check "tamper findings recorded: gap, mismatch, fork" \
	test "$(jq -r '[.findings[].kind] | sort | unique | join(",")' <<<"$find")" = "chain_fork,chain_gap,hash_mismatch"
check "LOG-1 is failed for pc-a" test "$(api GET /admin/v1/terminals/pc-a | jq -r '.compliance["LOG-1"]')" = fail
res=$(ctl "$A" --json server sync)
check "the genuine records still go through after the forgeries" test "$(jq .uploaded <<<"$res")" = 3
check "nothing recorded was lost: 28 events" test "$(api GET /admin/v1/terminals/pc-a | jq .events_stored)" = 28

# ---- server down for a period: the journal is the queue ----
DPORT=${DEV##*:} APORT=${ADM##*:}
stop_server
"$HELPER" append "$SA" 10000 || bad "append 10000"
ctl "$A" server sync --timeout 5 >/dev/null 2>&1
check "sync fails while the server is down (exit 2)" test $? = 2
check "nothing was acknowledged meanwhile" test "$(cat "$SA/upload.state")" = 28
for i in 1 2 3 4 5; do start_server "$D" && break; sleep 1; done
check "server back on the same ports" test -n "$SRV_PID"
res=$(ctl "$A" --json server sync)
check "all 10,000 arrive after the outage" test "$(jq .uploaded <<<"$res")" = 10000
check "in several gzip batches" test "$(jq .batches <<<"$res")" -ge 20
check "acknowledged up to the journal head" test "$(jq .acked_seq <<<"$res")" = "$(jq .head_seq <<<"$res")"
res=$(ctl "$A" --json server sync)
check "none twice: a further sync uploads nothing" test "$(jq .uploaded <<<"$res")" = 0
term=$(api GET /admin/v1/terminals/pc-a)
check "server holds exactly 10,028 events for pc-a" test "$(jq .events_stored <<<"$term")" = 10028
agent_hash=$(ctl "$A" journal status | awk '/^head/ {print $3}')
check "heads agree after the outage" \
	bash -c "[[ ${#agent_hash} == 64 && \$(jq -r .journal.head_hash <<<'$term') == $agent_hash ]]"

# ---- approval data: signed for a terminal only when it lacks the current version (issue 18) ----
# The agent says the version it has installed (and that still verifies);
# the server's /metrics counts the answers that carried a signed document.
G=$T/pc-g
check "enroll terminal pc-g" enroll "$G" pc-g kaikei
SG=$(state_dir "$G")
signed() {
	curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" "https://$ADM/metrics" |
		awk '$1 == "mamori_checkin_approval_documents_total" { print $2; found = 1 } END { if (!found) print "none" }'
}
# device_request STATE_DIR REQUEST_ID SERIAL USER: the request.created record `mamorictl request
# device` journals, for a storage device of that serial
device_request() {
	"$HELPER" record "$1" request.created "$(jq -nc --arg r "$2" --arg h "$(openssl rand -hex 32)" --arg s "$3" --arg u "$4" \
		'{request_id: $r, kind: "device", device: {hash: $h, vendor_id: "0781", product_id: "5567", serial: $s,
		  interfaces: ["08:06:50"]}, reason: null, user: $u, uid: 1000, pid: 4242, loginuid: 1000}')"
}
rid=$(openssl rand -hex 16)
device_request "$SG" "$rid" G1 tanaka ||
	bad "request record"
ctl "$G" server sync >/dev/null
rq=$(api GET "/admin/v1/requests?status=pending" | jq -r --arg r "$rid" '.[] | select(.request_id == $r) | .id')
check "pc-g's request reached the server" test -n "$rq"
api POST "/admin/v1/requests/$rq/approve" \
	"{\"scope\":\"terminal\",\"person\":\"anyone\",\"access\":\"ro\",\"until\":\"$(date -u -d @$(($(date +%s) + 3600)) +%Y-%m-%dT%H:%M:%SZ)\"}" >/dev/null
check "the CISO approves it (shonin approves for no department)" test "$CODE" = 200
n0=$(signed)
res=$(ctl "$G" --json server sync)
check "the next sync installs the approval data" test "$(jq .approvals <<<"$res")" = 1
n1=$(signed)
check "... the server signed one document for it" test "$n1" = $((n0 + 1))
V=$(jq -r .version "$SG/approvals.json")
res=$(ctl "$G" --json server sync)
check "a sync with the current version installed installs nothing" test "$(jq .approvals <<<"$res")" = 0
check "... and the server signed nothing for it (the agent said version $V)" test "$(signed)" = "$n1"
grants() { # BODY → the answer's grants: null, or the document's version
	dev_curl "$SG" "https://$DEV/api/v1/checkin" -d "$1" | jq -r 'if .grants == null then "null" else (.grants.document | fromjson | .version) end'
}
check "a check-in saying version $V gets no document" \
	test "$(grants "{\"agent_version\":\"t\",\"approvals_version\":$V}")" = null
check "one saying $((V - 1)) gets version $V" \
	test "$(grants "{\"agent_version\":\"t\",\"approvals_version\":$((V - 1))}")" = "$V"
check "one that says nothing (an older agent) gets version $V" test "$(grants '{"agent_version":"t"}')" = "$V"
for bad_v in '"1"' -1 1.5 null true; do
	out=$(dev_curl "$SG" -o /dev/null -w '%{http_code}' "https://$DEV/api/v1/checkin" \
		-d "{\"agent_version\":\"t\",\"approvals_version\":$bad_v}")
	check "approvals_version $bad_v is refused (400), not taken as none" test "$out" = 400
done
# an installed copy that no longer verifies counts as none: sent again
printf 'x' >>"$SG/approvals.json"
n2=$(signed)
res=$(ctl "$G" --json server sync)
check "a damaged installed copy: the sync installs the document again" test "$(jq .approvals <<<"$res")" = 1
check "... signed for it once more" test "$(signed)" = $((n2 + 1))

# ---- a department move changes the approval data: a higher version reaches the terminal ----
# (issue 16.2: a department-wide approval covers the terminals of its
# department, and no longer one that left it; the agent installs only a
# higher version, so the move must make one)
api PUT /admin/v1/terminals/pc-g/department '{"department":"総務課"}' >/dev/null
check "pc-g is put in 総務課" test "$CODE" = 200
H=$T/pc-h
check "enroll terminal pc-h" enroll "$H" pc-h kaikei
api PUT /admin/v1/terminals/pc-h/department '{"department":"総務課"}' >/dev/null
rid_h=$(openssl rand -hex 16)
device_request "$(state_dir "$H")" "$rid_h" H1 suzuki ||
	bad "request record (pc-h)"
ctl "$H" server sync >/dev/null
rq_h=$(api GET "/admin/v1/requests?status=pending" | jq -r --arg r "$rid_h" '.[] | select(.request_id == $r) | .id')
api POST "/admin/v1/requests/$rq_h/approve" \
	"{\"scope\":\"department\",\"person\":\"anyone\",\"access\":\"ro\",\"until\":\"$(date -u -d @$(($(date +%s) + 3600)) +%Y-%m-%dT%H:%M:%SZ)\"}" >/dev/null
check "pc-h's request approved for all of 総務課" test "$CODE" = 200
res=$(ctl "$G" --json server sync)
check "pc-g (総務課) installs the department-wide approval" \
	bash -c "[[ \$(jq .approvals <<<'$res') == 1 ]] && jq -e --arg r '$rid_h' '[.approvals[] | select(.request_id == \$r)] | length == 1' '$SG/approvals.json' >/dev/null"
V1=$(jq -r .version "$SG/approvals.json")
api PUT /admin/v1/terminals/pc-g/department '{"department":"会計課"}' >/dev/null
check "pc-g moves to 会計課" test "$CODE" = 200
res=$(ctl "$G" --json server sync)
check "its next sync installs a higher version" \
	bash -c "[[ \$(jq .approvals <<<'$res') == 1 && \$(jq .version '$SG/approvals.json') -gt $V1 ]]"
check "... without 総務課's approval (the agent's verified copy)" \
	jq -e --arg r "$rid_h" '[.approvals[] | select(.request_id == $r)] | length == 0' "$SG/approvals.json"
check "... keeping its own" jq -e --arg r "$rid" '[.approvals[] | select(.request_id == $r)] | length == 1' "$SG/approvals.json"
ctl "$H" server sync >/dev/null
check "pc-h, still in 総務課, keeps it" \
	jq -e --arg r "$rid_h" '[.approvals[] | select(.request_id == $r)] | length == 1' "$(state_dir "$H")/approvals.json"

# ---- the store restored from a backup: approval data reaches the terminals again (issue 18.5) ----
# (pc-g holds a version the restored store never issued; the agent installs
# only a higher one: the store's version for it must go above, or neither
# the restored data nor any later approval would reach it)
has_req() { jq -e --arg r "$1" '[.approvals[] | select(.request_id == $r)] | length == 1' "$SG/approvals.json" >/dev/null; }
out=$("$SERVER" --data "$D" backup "$T/store-backup.db" 2>&1)
check "backup of the store (server running)" test $? = 0
rid3=$(openssl rand -hex 16)
device_request "$SG" "$rid3" G3 tanaka ||
	bad "request record (after the backup)"
approve_rid() { # REQUEST_ID: the pending request of that id approved for pc-g (after its sync)
	local id
	ctl "$G" server sync >/dev/null
	id=$(api GET "/admin/v1/requests?status=pending" | jq -r --arg r "$1" '.[] | select(.request_id == $r) | .id')
	api POST "/admin/v1/requests/${id:-none}/approve" \
		"{\"scope\":\"terminal\",\"person\":\"anyone\",\"access\":\"ro\",\"until\":\"$(date -u -d @$(($(date +%s) + 3600)) +%Y-%m-%dT%H:%M:%SZ)\"}" >/dev/null
	[[ $CODE == 200 ]]
}
check "a request approved after the backup" approve_rid "$rid3"
res=$(ctl "$G" --json server sync)
Vh=$(jq -r .version "$SG/approvals.json")
check "pc-g installs it (version $Vh)" test "$(jq .approvals <<<"$res")" = 1
check "... holding the approval" has_req "$rid3"
DPORT=${DEV##*:} APORT=${ADM##*:}
stop_server
rm -f "$D/server.db" "$D/server.db-wal" "$D/server.db-shm"
out=$("$SERVER" --data "$D" restore "$T/store-backup.db" 2>&1)
check "the store restored from the backup" test $? = 0
for i in 1 2 3 4 5; do start_server "$D" && break; sleep 1; done
check "server back on the restored store" test -n "$SRV_PID"
login ciso || bad "login after the restore"
res=$(ctl "$G" --json server sync)
check "pc-g's next sync installs the restored store's data, above version $Vh" \
	bash -c "[[ \$(jq .approvals <<<'$res') == 1 && \$(jq .version '$SG/approvals.json') -gt $Vh ]]"
check "... without the approval the store lost" bash -c "! jq -e --arg r '$rid3' '[.approvals[] | select(.request_id == \$r)] | length == 1' '$SG/approvals.json' >/dev/null"
check "... keeping the one it holds" has_req "$rid"
check "the raise is audited" \
	bash -c "api() { curl -sS --cacert '$CA' -H 'Authorization: Bearer $TOKEN' \"https://$ADM\$1\"; }; \
	api '/admin/v1/audit?limit=1000' | jq -e '[.audit[] | select(.action == \"approvals.version_raise\" and .target == \"pc-g\" and .result == \"ok\")] | length == 1' >/dev/null"
# the journal went again to the restored store: the request is back, and its approval reaches pc-g
check "the request, sent again, is approved again" approve_rid "$rid3"
res=$(ctl "$G" --json server sync)
check "... and installed" test "$(jq .approvals <<<"$res")" = 1
check "... holding it again" has_req "$rid3"
out=$(dev_curl "$SG" -o /dev/null -w '%{http_code}' "https://$DEV/api/v1/checkin" \
	-d '{"agent_version":"t","approvals_version":900000000000}')
check "a version far above any the store issued moves nothing (200, audited as refused)" \
	bash -c "[[ $out == 200 && \$(curl -sS --cacert '$CA' -H 'Authorization: Bearer $TOKEN' 'https://$ADM/admin/v1/audit?limit=1000' | jq '[.audit[] | select(.action == \"approvals.version_raise\" and .result == \"refused\")] | length') == 1 ]]"
res=$(ctl "$G" --json server sync)
check "... pc-g's own sync after it installs nothing new" test "$(jq .approvals <<<"$res")" = 0
finish
