#!/usr/bin/env bash
# tests/integration/server_audit.sh — issue 17 findings 4 and 14: admin
# actions cannot be pushed out of view. On 127.0.0.1 with the real server and
# SQLite: a flood of failed logins with invented names leaves the audit
# trail readable (aggregated rows), every row is reachable by paging and by
# filters (actor, action, target, time), refusals are audited, and the audit
# table is hash-chained: a row changed in the database is detected.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
trap cleanup EXIT

D=$T/srv
FLOOD=$SRC/$B/itests/server_flood
start_server "$D" || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
enroll "$T/pc-a" pc-a kaikei >/dev/null || bad "enroll"
SA=$(state_dir "$T/pc-a")
t_before=$(date -u +%Y-%m-%dT%H:%M:%SZ)
api POST /admin/v1/terminals/pc-a/revoke '{"reason":"lost"}' >/dev/null
check "an admin action (revoke pc-a)" test "$CODE" = 200
sleep 1
t_after=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# a second terminal only to have a device certificate for the flood tool
enroll "$T/pc-b" pc-b kaikei >/dev/null || bad "enroll pc-b"

# names no account can have (answered without a hash), then throttled (429): fast
out=$("$FLOOD" "$DEV" "$ADM" "$CA" "$(state_dir "$T/pc-b")/device.pem" 5 4 "invented name")
tries=$(awk '$1 ~ /^login_/ {n += $2} END {print n}' <<<"$out")
check "a flood of $tries failed logins with invented names" test "$tries" -ge 1100

aud=$(api GET /admin/v1/audit)
check "the newest page still shows the revoke: invented names are aggregated, not one row each" \
	test "$(jq '[.audit[] | select(.action=="terminal.revoke")] | length' <<<"$aud")" = 1
check "... as session.login.aggregate rows" \
	test "$(jq '[.audit[] | select(.action=="session.login.aggregate")] | length' <<<"$aud")" -ge 1

# ---- filters ----
f=$(api GET "/admin/v1/audit?actor=ciso&action=terminal.revoke&target=pc-a")
check "filter by actor, action and target" test "$(jq '.audit | length' <<<"$f")" = 1
f=$(api GET "/admin/v1/audit?action=terminal.revoke&since=$t_before&until=$t_after")
check "filter by time (since/until)" test "$(jq '.audit | length' <<<"$f")" = 1
f=$(api GET "/admin/v1/audit?action=terminal.revoke&until=$t_before")
check "... nothing before it" test "$(jq '.audit | length' <<<"$f")" = 0
api GET "/admin/v1/audit?since=yesterday" >/dev/null
check "an invalid time is refused (400)" test "$CODE" = 400

# ---- paging to the first row ----
v=$(api GET /admin/v1/audit/verify)
total=$(jq .rows <<<"$v")
n=0 before= pages=0
while :; do
	p=$(api GET "/admin/v1/audit?limit=3${before:+&before=$before}")
	n=$((n + $(jq '.audit | length' <<<"$p")))
	pages=$((pages + 1))
	before=$(jq -r '.next_before // empty' <<<"$p")
	[[ -n $before && $pages -lt 1000 ]] || break
done
check "paging (3 a page) reaches every row: $n of $total in $pages pages" test "$n" = "$total"
first=$(api GET "/admin/v1/audit?limit=1000" | jq -r '.audit[-1].action')
check "... down to the first (the bootstrap)" test "$first" = account.bootstrap

# ---- refusals are audited ----
api POST /admin/v1/groups/kaikei/policy/7/approve >/dev/null
check "approving an unknown version: 404" test "$CODE" = 404
api POST /admin/v1/accounts '{"username":"bad name!","password":"x","role":"viewer"}' >/dev/null
check "an invalid account: 400" test "$CODE" = 400
f=$(api GET "/admin/v1/audit?actor=ciso")
check "both refusals are in the audit trail" \
	test "$(jq '[.audit[] | select(.result=="refused" and (.action=="policy.approve" or .action=="account.create"))] | length' <<<"$f")" = 2

# ---- the hash chain ----
v=$(api GET /admin/v1/audit/verify)
check "the audit chain verifies ($(jq -c . <<<"$v"))" jq -e '.intact == true and .first_bad_id == null' <<<"$v"
sqlite3 "$D/server.db" "UPDATE audit SET actor = 'someone' WHERE action = 'terminal.revoke'" || bad "sqlite3"
v=$(api GET /admin/v1/audit/verify)
id=$(api GET "/admin/v1/audit?action=terminal.revoke" | jq '.audit[0].id')
check "a row changed in the database breaks the chain at that row ($(jq -c . <<<"$v"))" \
	jq -e --argjson id "$id" '.intact == false and .first_bad_id == $id' <<<"$v"
finish
