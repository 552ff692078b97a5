#!/usr/bin/env bash
# tests/integration/server_lifecycle.sh — issue 17, findings 6, 11, 12, 14,
# 15 and the unknown-field refusals, on 127.0.0.1 with the real server
# (OpenSSL, SQLite), curl, jq and GNU patch as the judges:
#   6  API tokens listed (never the token) and revoked; sessions listed —
#      one's own, a ciso's of anyone — and ended; each audited
#   11 an approver sees the pending policy and a unified diff from the one
#      in force; `patch` turns the version in force into the pending one
#   12 lower-case "bearer" is accepted (RFC 7235: the scheme is
#      case-insensitive)
#   14 refusals audited: approving an unknown or published version,
#      malformed enrollments, invalid user names
#   15 an enrollment token for a group that does not exist is refused and
#      makes no group; groups are made with POST /admin/v1/groups
#   unknown members of terminal request bodies (check-in, its journal,
#   events, renew, enrollment) are refused with 400 naming them, audited
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
trap cleanup EXIT

D=$T/srv
A=$T/pc-a
start_server "$D" || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
ciso=$TOKEN
audit_has() { # JQ-FILTER on one audit row (read as the ciso)
	TOKEN=$ciso api GET "/admin/v1/audit?limit=1000" | jq -e "[.audit[] | select($1)] | length > 0" >/dev/null
}
acct appr1 approver 2001 "承認 一郎" >/dev/null
approve_console appr1 || bad "approve appr1 on the console"
acct op1 operator 3001 "運用 花子" >/dev/null
acct view1 viewer 4001 "閲覧 次郎" >/dev/null
login appr1 && appr=$TOKEN || bad "appr1 logs in"
login op1 && op=$TOKEN || bad "op1 logs in"
login view1 && viewer=$TOKEN || bad "view1 logs in"
TOKEN=$ciso

# ---- 15: groups are made, never implied by a token ----
api POST /admin/v1/enrollment-tokens '{"group":"nosuch"}' >"$T/out"
check "a token for a group that does not exist: 404 no_such_group" \
	bash -c "[[ $CODE == 404 ]] && jq -e '.error == \"no_such_group\"' '$T/out' >/dev/null"
api GET /admin/v1/groups >"$T/out"
check "GET /groups does not list it" jq -e '[.groups[].name] | index("nosuch") == null' "$T/out"
check "the refusal is audited" audit_has '.action=="enrollment_token.create" and .target=="nosuch" and .result=="refused"'
TOKEN=$op api POST /admin/v1/groups '{"name":"kaikei"}' >/dev/null
check "an operator makes the group kaikei (201)" test "$CODE" = 201
TOKEN=$op api POST /admin/v1/groups '{"name":"kaikei"}' >/dev/null
check "making it again: 409" test "$CODE" = 409
TOKEN=$viewer api POST /admin/v1/groups '{"name":"soumu"}' >/dev/null
check "a viewer cannot make a group (403)" test "$CODE" = 403
TOKEN=$op api POST /admin/v1/groups '{"name":"Bad Name"}' >/dev/null
check "an invalid group name: 400" test "$CODE" = 400
check "... audited" audit_has '.action=="group.create" and .result=="refused" and .detail=="invalid name"'
TOKEN=$op api POST /admin/v1/enrollment-tokens '{"group":"kaikei"}' >/dev/null
check "a token for the group that now exists (201)" test "$CODE" = 201
check "the group is audited as made by op1" audit_has '.action=="group.create" and .actor=="op1" and .target=="kaikei" and .result=="ok"'

# ---- 12: the scheme is case-insensitive ----
for scheme in bearer BEARER Bearer; do
	code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: $scheme $ciso" \
		"https://$ADM/admin/v1/terminals")
	check "Authorization: $scheme … is accepted (200)" test "$code" = 200
done
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Basic $ciso" \
	"https://$ADM/admin/v1/terminals")
check "another scheme (Basic) is not: 401" test "$code" = 401

# ---- 12: generic answers are declared too (checked by tests/contract) ----
TOKEN=$ciso api DELETE /admin/v1/terminals >/dev/null
check "a method a path does not have: 405" test "$CODE" = 405
TOKEN=$ciso api GET /admin/v1/no-such-thing >/dev/null
check "no such path: 404" test "$CODE" = 404
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $ciso" \
	-H 'Content-Encoding: br' -d '{"name":"x"}' "https://$ADM/admin/v1/groups")
check "an unknown Content-Encoding on the admin API: 415" test "$code" = 415
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $ciso" \
	--data-binary "{\"name\":\"$(head -c 70000 /dev/zero | tr '\0' a)\"}" "https://$ADM/admin/v1/groups")
check "an admin body over 64 KiB: 413" test "$code" = 413

# ---- 6: sessions ----
login ciso && ciso2=$TOKEN || bad "ciso logs in a second time"
TOKEN=$ciso
TOKEN=$ciso api GET /admin/v1/sessions >"$T/s.json"
check "ciso lists its own sessions: two, one of them this one" \
	jq -e '(.sessions | length) == 2 and ([.sessions[] | select(.current)] | length) == 1 and
	       all(.sessions[]; .username == "ciso" and (.id | test("^[0-9a-f]{16}$")))' "$T/s.json"
check "no token appears in the list" bash -c "! grep -q -e '$ciso' -e '$ciso2' '$T/s.json'"
TOKEN=$op api GET /admin/v1/sessions >"$T/s.json"
check "op1 lists its own (one)" jq -e '(.sessions | length) == 1 and .sessions[0].username == "op1"' "$T/s.json" --exit-status
op_sid=$(jq -r '.sessions[0].id' "$T/s.json")
TOKEN=$op api GET "/admin/v1/sessions?account=ciso" >/dev/null
check "op1 may not list ciso's sessions (403)" test "$CODE" = 403
TOKEN=$op api GET "/admin/v1/sessions?all=true" >/dev/null
check "nor everyone's (403)" test "$CODE" = 403
check "... audited" audit_has '.action=="session.list" and .actor=="op1" and .result=="refused"'
TOKEN=$ciso api GET "/admin/v1/sessions?all=true" >"$T/s.json"
check "ciso lists everyone's sessions (ciso ×2, appr1, op1, view1)" \
	jq -e '[.sessions[].username] | sort == ["appr1","ciso","ciso","op1","view1"]' "$T/s.json"
ciso2_sid=$(TOKEN=$ciso2 api GET /admin/v1/sessions | jq -r '.sessions[] | select(.current) | .id')
TOKEN=$op api DELETE "/admin/v1/sessions/$ciso2_sid" >/dev/null
check "op1 cannot end ciso's session (404)" test "$CODE" = 404
TOKEN=$ciso2 api GET /admin/v1/terminals >/dev/null
check "... which still works" test "$CODE" = 200
check "the refused attempt is audited" audit_has '.action=="session.kill" and .actor=="op1" and .result=="refused"'
TOKEN=$ciso api DELETE "/admin/v1/sessions/$op_sid" >/dev/null
check "ciso ends op1's session (204)" test "$CODE" = 204
TOKEN=$op api GET /admin/v1/terminals >/dev/null
check "op1's token is refused from then on (401)" test "$CODE" = 401
check "... audited with op1 as target" audit_has '.action=="session.kill" and .actor=="ciso" and .target=="op1" and .result=="ok"'
TOKEN=$ciso api DELETE "/admin/v1/sessions/$ciso2_sid" >/dev/null
check "ciso ends its other session (204)" test "$CODE" = 204
TOKEN=$ciso2 api GET /admin/v1/terminals >/dev/null
check "... refused from then on (401)" test "$CODE" = 401
TOKEN=$ciso api GET /admin/v1/terminals >/dev/null
check "... and the current one still works" test "$CODE" = 200
login op1 && op=$TOKEN || bad "op1 logs in again"
TOKEN=$ciso
TOKEN=$op api DELETE "/admin/v1/sessions/$(TOKEN=$op api GET /admin/v1/sessions | jq -r '.sessions[0].id')" >/dev/null
check "op1 ends its own session (204)" test "$CODE" = 204
login op1 && op=$TOKEN || bad "op1 logs in again"
TOKEN=$ciso

# ---- 6: API tokens ----
TOKEN=$ciso api POST /admin/v1/api-tokens '{"name":"dashboard","expires_in_seconds":3600}' >"$T/t.json"
ro=$(jq -r .token "$T/t.json")
TOKEN=$ciso api GET /admin/v1/api-tokens >"$T/t.json"
check "ciso lists API tokens: dashboard, made by ciso" \
	jq -e '(.api_tokens | length) == 1 and .api_tokens[0].name == "dashboard" and .api_tokens[0].created_by == "ciso"' "$T/t.json"
check "the token itself is not in the list" bash -c "! grep -q -e '$ro' '$T/t.json'"
tid=$(jq -r '.api_tokens[0].id' "$T/t.json")
TOKEN=$op api GET /admin/v1/api-tokens >/dev/null
check "an operator may not list API tokens (403)" test "$CODE" = 403
TOKEN=$ro api GET /admin/v1/terminals >/dev/null
check "the API token reads (200)" test "$CODE" = 200
TOKEN=$ro api GET /admin/v1/sessions >/dev/null
check "an API token has no sessions (403)" test "$CODE" = 403
TOKEN=$op api DELETE "/admin/v1/api-tokens/$tid" >/dev/null
check "an operator may not revoke it (403)" test "$CODE" = 403
TOKEN=$ciso api DELETE "/admin/v1/api-tokens/$tid" >/dev/null
check "ciso revokes it (204)" test "$CODE" = 204
TOKEN=$ro api GET /admin/v1/terminals >/dev/null
check "the revoked token is refused (401)" test "$CODE" = 401
TOKEN=$ciso api DELETE "/admin/v1/api-tokens/$tid" >/dev/null
check "revoking it again: 404" test "$CODE" = 404
check "revocation audited" audit_has '.action=="api_token.revoke" and .target=="dashboard" and .result=="ok"'
check "the second attempt too" audit_has '.action=="api_token.revoke" and .result=="refused"'
TOKEN=$ciso api GET /admin/v1/api-tokens | jq -e '.api_tokens == []' >/dev/null
check "the list is empty" test $? = 0

# ---- 11: what an approver approves ----
jq '.version = 2' "$SRC/policy/templates/lgwan.json" >"$T/p2.json"
TOKEN=$op api PUT /admin/v1/groups/kaikei/policy "$(cat "$T/p2.json")" >/dev/null
check "op1 uploads version 2 (202)" test "$CODE" = 202
TOKEN=$appr api GET /admin/v1/groups/kaikei/policy/2 >"$T/v2.json"
check "appr1 sees version 2 (200, pending, nothing in force)" \
	jq -e '.status == "pending" and .in_force == null and .uploaded_by == "op1" and .approved_by == null' "$T/v2.json"
jq -j .document "$T/v2.json" >"$T/doc2"
check "the document is the uploaded one, byte for byte" cmp -s "$T/doc2" <(printf '%s' "$(cat "$T/p2.json")")
: >"$T/empty"
jq -j .diff "$T/v2.json" >"$T/d2.diff"
check "the diff from nothing, applied by patch, gives the document" \
	bash -c "patch -s -o '$T/p2.out' '$T/empty' <'$T/d2.diff' && cmp -s '$T/p2.out' '$T/doc2'"
TOKEN=$viewer api GET /admin/v1/groups/kaikei/policy/2 >/dev/null
check "a viewer may not read pending policies (403)" test "$CODE" = 403
TOKEN=$appr api GET /admin/v1/groups/kaikei/policy/9 >/dev/null
check "an unknown version: 404" test "$CODE" = 404
# an approval by URL takes no body: one it would ignore is refused (fail
# closed, issue 19.3), audited, and the policy stays pending; {} (what the
# dashboard sends) is no body
TOKEN=$appr api POST /admin/v1/groups/kaikei/policy/2/approve '{"version":1}' >"$T/out"
check "an approval with a body it does not take: 400 unexpected_body" \
	bash -c "[[ $CODE == 400 ]] && jq -e '.error == \"unexpected_body\"' '$T/out' >/dev/null"
check "... audited" audit_has '.action=="/admin/v1/groups/kaikei/policy/2/approve" and .actor=="appr1" and .result=="refused"'
TOKEN=$appr api POST /admin/v1/groups/kaikei/policy/2/approve 'x' >/dev/null
check "... so is a body that is not JSON (400)" test "$CODE" = 400
TOKEN=$appr api POST /admin/v1/groups/kaikei/policy/2/approve '{}' >/dev/null
check "appr1 approves version 2 (200)" test "$CODE" = 200
jq '.version = 3 | .reporting.checkin_interval_seconds = 600' "$SRC/policy/templates/lgwan.json" >"$T/p3.json"
TOKEN=$op api PUT /admin/v1/groups/kaikei/policy "$(cat "$T/p3.json")" >/dev/null
check "op1 uploads version 3 (202)" test "$CODE" = 202
TOKEN=$appr api GET /admin/v1/groups/kaikei/policy/3 >"$T/v3.json"
check "version 3 shows version 2 in force" jq -e '.status == "pending" and .in_force.version == 2' "$T/v3.json" --exit-status
jq -j .document "$T/v3.json" >"$T/doc3"
jq -j .diff "$T/v3.json" >"$T/d3.diff"
check "the diff is unified, marks the changed version line, holds every line" \
	bash -c "grep -q '^-  \"version\": 2' '$T/d3.diff' && grep -q '^+  \"version\": 3' '$T/d3.diff' &&
		[[ \$(grep -c '^[-+ ]' '$T/d3.diff') -ge \$(wc -l <'$T/doc3') ]]"
check "patch applies it to version 2 and gives version 3 byte for byte" \
	bash -c "patch -s -o '$T/p3.out' '$T/doc2' <'$T/d3.diff' && cmp -s '$T/p3.out' '$T/doc3'"

# ---- 14: refusals audited ----
TOKEN=$appr api POST /admin/v1/groups/kaikei/policy/99/approve >/dev/null
check "approving an unknown version: 404" test "$CODE" = 404
check "... audited" audit_has '.action=="policy.approve" and .actor=="appr1" and .result=="refused" and .detail=="no such version"'
TOKEN=$appr api POST /admin/v1/groups/kaikei/policy/2/approve >/dev/null
check "approving a published version: 409" test "$CODE" = 409
check "... audited" audit_has '.action=="policy.approve" and .result=="refused" and .detail=="already published"'
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" "https://$ADM/enroll/v1" -d 'not json')
check "a malformed enrollment: 400" test "$code" = 400
check "... audited" audit_has '.action=="terminal.enroll" and .result=="refused" and .detail=="malformed body"'
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" "https://$ADM/enroll/v1" -d '{"token":1,"terminal_id":"pc-q"}')
check "an enrollment without its fields: 400" test "$code" = 400
check "... audited with the terminal ID" audit_has '.action=="terminal.enroll" and .target=="pc-q" and .detail=="malformed request"'
acct 'bad name!' viewer 5001 "x" >/dev/null
check "an invalid user name: 400" test "$CODE" = 400
check "... audited" audit_has '.action=="account.create" and .target=="bad name!" and .result=="refused"'
TOKEN= api POST /admin/v1/login '{"username":"no such user!","password":"whatever-whatever"}' >/dev/null
check "a login with an invalid user name: 401" test "$CODE" = 401
check "... counted in the aggregated audit row" audit_has '.action=="session.login.aggregate" and .result=="refused"'

# ---- unknown fields in terminal bodies: refused, named, audited ----
TOKEN=$op
enroll "$A" pc-a kaikei >/dev/null || bad "enroll pc-a"
SA=$(state_dir "$A")
dev() { # PATH BODY → HTTP code; the answer in $T/dev.out
	curl -sS -o "$T/dev.out" -w '%{http_code}' --cacert "$CA" --cert "$SA/device.pem" \
		--data-binary "$2" "https://$DEV$1" 2>/dev/null || true
}
refused_field() { # CODE FIELD
	[[ $1 == 400 ]] && jq -e --arg f "$2" '.error == "unknown_field" and .field == $f' "$T/dev.out" >/dev/null
}
check "a check-in as the agent sends it (terminal_id ignored): 200" \
	test "$(dev /api/v1/checkin '{"agent_version":"t","terminal_id":"other","journal":{"head_seq":0}}')" = 200
check "a check-in with an unknown member: 400 naming it" \
	refused_field "$(dev /api/v1/checkin '{"agent_version":"t","policy_versoin":2}')" policy_versoin
check "an unknown member of journal: 400 naming journal.x" \
	refused_field "$(dev /api/v1/checkin '{"agent_version":"t","journal":{"head_seq":0,"x":1}}')" journal.x
check "an event batch with an unknown member: 400" \
	refused_field "$(dev /api/v1/events '{"records":[],"more":true}')" more
check "a renewal with an unknown member: 400" refused_field "$(dev /api/v1/renew '{"csr":"x","key":"y"}')" key
check "each is audited against the terminal" \
	audit_has '.actor=="device" and .action=="checkin" and .target=="pc-a" and .result=="unknown_field" and .detail=="unknown field policy_versoin"'
code=$(curl -sS -o "$T/dev.out" -w '%{http_code}' --cacert "$CA" "https://$ADM/enroll/v1" \
	-d '{"token":"t","csr":"c","terminal_id":"pc-b","admin":true}')
check "an enrollment with an unknown member: 400 naming it" refused_field "$code" admin
check "... audited" audit_has '.action=="terminal.enroll" and .target=="pc-b" and .result=="unknown_field"'
res=$(ctl "$A" --json server sync 2>&1)
check "the real agent's check-in and upload are accepted" jq -e 'has("uploaded") and has("acked_seq")' <<<"$res"

# ---- admin bodies: fail closed on what the handler would not read (issue 19.3) ----
adm_refused() { # METHOD PATH BODY ERROR [FIELD]: 400 with that error (naming FIELD)
	TOKEN=$op api "$1" "$2" "$3" >/dev/null
	[[ $CODE == 400 ]] && jq -e --arg e "$4" --arg f "${5-}" '.error == $e and ($f == "" or .field == $f)' \
		"$T/api.out" >/dev/null
}
check "a group body with an unknown member: 400 naming it" \
	adm_refused POST /admin/v1/groups '{"name":"g19","parent":"kaikei"}' unknown_field parent
check "... audited against the operator" \
	audit_has '.actor=="op1" and .action=="group.create" and .result=="unknown_field" and .detail=="unknown field parent"'
check "a member named twice: 400 duplicate_field naming it (never the first or the last silently)" \
	adm_refused POST /admin/v1/groups '{"name":"g19","name":"kaikei"}' duplicate_field name
# nested, where no handler's list of members looks: the register's identity
# (the handler reads the first vendor; another reader may take the last)
check "a member named twice in a nested object: 400 duplicate_field naming it" \
	adm_refused POST /admin/v1/media '{"management_no":"DUP-1","department":"soumu","owner":"x","identity":{"vendor":"0781","vendor":"dead","product":"5581","serial":"DUP1"}}' duplicate_field vendor
check "... nothing registered" test "$(TOKEN=$op api GET /admin/v1/media | jq '[.. | objects | select(.management_no? == "DUP-1")] | length')" = 0
# an object of many members (sorted, not compared pairwise): the duplicate is
# still found, and many distinct unknown members are still unknown_field
many=$(printf '"m%02d":1,' $(seq 1 20))
# the name in the reply and the audit row is the client's: cut and escaped, it
# stays UTF-8 (the oracle: Python's strict decoder) — a cut at a byte count
# used to end inside a character, and a raw byte went out as it came
utf8_reply() { /usr/bin/python3 -c 'import json,sys; json.loads(open(sys.argv[1],"rb").read().decode("utf-8", "strict"))' "$T/api.out"; }
refused_utf8() { adm_refused "$@" && utf8_reply; }
long_name=$(printf '日%.0s' $(seq 1 30))
check "an unknown member with a long Japanese name: 400 unknown_field, the reply still UTF-8" \
	refused_utf8 POST /admin/v1/groups "{\"name\":\"g19\",\"$long_name\":1}" unknown_field
check "... the name cut at a character, not inside one" \
	jq -e --arg f "$(printf '日%.0s' $(seq 1 21))…" '.field == $f' "$T/api.out"
check "an unknown member named with a byte that is not UTF-8: the reply still UTF-8" \
	refused_utf8 POST /admin/v1/groups $'{"name":"g19","a\xffb":1}' unknown_field
check "... the byte shown as \\xff" jq -e '.field == "a\\xffb"' "$T/api.out"
check "... and so in its audit row" \
	audit_has '.actor=="op1" and .action=="group.create" and .result=="unknown_field" and .detail=="unknown field a\\xffb"'
check "a long Japanese name twice: 400 duplicate_field, the reply still UTF-8" \
	refused_utf8 POST /admin/v1/groups "{\"name\":\"g19\",\"$long_name\":1,\"$long_name\":2}" duplicate_field
check "... the name cut at a character" \
	jq -e --arg f "$(printf '日%.0s' $(seq 1 21))…" '.field == $f' "$T/api.out"
check "a member named twice among 20: 400 duplicate_field" \
	adm_refused POST /admin/v1/groups "{\"name\":\"g19\",${many}\"m07\":2}" duplicate_field m07
check "20 distinct unknown members: 400 unknown_field" \
	adm_refused POST /admin/v1/groups "{\"name\":\"g19\",${many%,}}" unknown_field
check "a command request with an unknown member: 400 unknown_field naming it (was 400 invalid)" \
	adm_refused POST /admin/v1/commands '{"terminal_id":"pc-a","type":"sync","priority":1}' unknown_field priority
check "... audited against the operator" \
	audit_has '.actor=="op1" and .action=="command.request" and .result=="unknown_field" and .detail=="unknown field priority"'
check "trailing bytes after the object: 400" adm_refused POST /admin/v1/groups '{"name":"g19"} {"name":"x"}' malformed
check "a reason that is not a string: 400, not a revocation without reason" \
	adm_refused POST /admin/v1/terminals/pc-a/revoke '{"reason":5}' invalid reason
check "an enrollment token with expires_in_seconds as a string: 400" \
	adm_refused POST /admin/v1/enrollment-tokens '{"group":"kaikei","expires_in_seconds":"60"}' invalid expires_in_seconds
check "a login with an unknown member: 400 naming it" \
	adm_refused POST /admin/v1/login '{"username":"op1","password":"x","otp":"1"}' unknown_field otp
TOKEN=$op api POST /admin/v1/groups '{"name":"g19"}' >/dev/null
check "... and none of them made the group: the exact body is 201" test "$CODE" = 201
finish
