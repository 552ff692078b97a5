#!/usr/bin/env bash
# tests/integration/server_ops4.sh — issue 17 finding 2: OPS-4 by person, not
# by name. On 127.0.0.1 with the real server (SQLite, ICU NFKC): accounts
# carry a staff number and a display name; user names and staff numbers are
# unique after NFKC + case folding (ＣＩＳＯ = CISO = ciso, １００１ = 1001);
# an approver or ciso account made by one CISO waits for a second CISO (or
# the server's console); nobody approves what they requested, or what an
# account they created in the last 30 days requested (a CISO's puppet
# operator cannot upload what the CISO then approves).
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
trap cleanup EXIT

D=$T/srv
start_server "$D" || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
ciso=$TOKEN

# ---- the attack of the issue: upload, create "CISO", approve ----
jq '.version = 2' "$SRC/policy/templates/lgwan.json" >"$T/p2.json"
api PUT /admin/v1/groups/soumu/policy "$(cat "$T/p2.json")" >/dev/null
check "ciso uploads a policy (pending)" test "$CODE" = 202
acct CISO approver 9999 "別人" >/dev/null
check "an account named CISO is refused: it is ciso, case folded (409)" test "$CODE" = 409
acct ＣＩＳＯ２ approver 9999 "別人" >/dev/null
check "a full-width user name is refused (400: names are ASCII)" test "$CODE" = 400
acct ciso2 approver 9999 "別人" >"$T/c2.json"
check "ciso creates an approver ciso2: 201, pending a second CISO" \
	bash -c "[[ $CODE == 201 ]] && jq -e '.status == \"pending\"' '$T/c2.json' >/dev/null"
TOKEN= api POST /admin/v1/login "{\"username\":\"ciso2\",\"password\":\"$PASSWORD\"}" >/dev/null
check "a pending account cannot log in (403 account_pending)" test "$CODE" = 403
api POST /admin/v1/accounts/ciso2/approve >/dev/null
check "the CISO who created it cannot approve it (403)" test "$CODE" = 403

# ---- staff numbers: one person, one account ----
acct yamada viewer "１００１" "山田 太郎" >/dev/null
check "a viewer with a full-width staff number is created" test "$CODE" = 201
acct yamada2 viewer "1001" "ﾔﾏﾀﾞ" >/dev/null
check "the same staff number in half-width is the same person (409)" test "$CODE" = 409
acct noperson viewer "" "" >/dev/null
check "an account without a staff number is refused (400)" test "$CODE" = 400
list=$(api GET /admin/v1/accounts)
check "the staff number is kept NFKC-normalised (1001) with the display name" \
	test "$(jq -r '.accounts[] | select(.username=="yamada") | "\(.staff_no) \(.display_name)"' <<<"$list")" = "1001 山田 太郎"

# ---- a second CISO, from the console (out of band) ----
acct ciso-b ciso 1002 "副 CISO" >/dev/null
check "a second ciso account is created pending" test "$CODE" = 201
check "... approved on the server's console" approve_console ciso-b
login ciso-b || bad "login ciso-b"
cisob=$TOKEN
api POST /admin/v1/accounts/ciso2/approve >/dev/null
check "ciso-b, another person, approves ciso2 (200)" test "$CODE" = 200

# ---- policies ----
TOKEN=$ciso
api POST "/admin/v1/groups/soumu/policy/2/approve" >/dev/null
check "the uploader cannot approve their own policy (403)" test "$CODE" = 403
acct op1 operator 3003 "運用 三郎" >/dev/null
check "ciso creates an operator op1 (active at once)" test "$CODE" = 201
login op1 || bad "login op1"
jq '.version = 3' "$SRC/policy/templates/lgwan.json" >"$T/p3.json"
api PUT /admin/v1/groups/kaikei/policy "$(cat "$T/p3.json")" >/dev/null
check "op1 uploads a policy for kaikei" test "$CODE" = 202
TOKEN=$ciso
api POST "/admin/v1/groups/kaikei/policy/3/approve" >/dev/null
check "ciso cannot approve a policy of op1, an account ciso created in the last 30 days (403)" test "$CODE" = 403
login ciso2 || bad "login ciso2"
api POST "/admin/v1/groups/soumu/policy/2/approve" >/dev/null
check "ciso2 (another person, approved by a second CISO) approves ciso's policy (200)" test "$CODE" = 200
TOKEN=$cisob
api POST "/admin/v1/groups/kaikei/policy/3/approve" >/dev/null
check "ciso-b approves op1's policy (200)" test "$CODE" = 200
TOKEN=$ciso
aud=$(api GET "/admin/v1/audit?limit=1000")
check "the refusals are audited" \
	test "$(jq '[.audit[] | select(.result=="refused" and (.action=="policy.approve" or .action=="account.approve" or .action=="account.create"))] | length' <<<"$aud")" -ge 5
finish
