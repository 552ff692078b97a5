#!/usr/bin/env bash
# tests/integration/dashboard.sh — issue 15: the compliance dashboard, against
# a real mamori-server (ASan build, SQLite) on 127.0.0.1 with real data: two
# terminals enrolled with mamorictl, posture reports checked in, journals
# (with a hostile corpus: markup, a right-to-left override, a 4 KiB serial)
# uploaded by the real transport. Then:
#  - serving and web security with curl: strict CSP, no outside origin in the
#    page or the bundle, the session cookie (HttpOnly; Secure; SameSite=Strict,
#    no token in the body), CSRF (a request without the custom header, from
#    another Origin or cross-site is refused, also a state change), idle and
#    absolute time-outs, roles enforced by the server;
#  - the browser: dashboard.mjs drives Debian's Chromium (/usr/bin/chromium)
#    with playwright-core (npm): each role sees only what it may do, a policy
#    approved with two accounts (OPS-4 shown), the hostile corpus shown as
#    text and nothing run, axe-core on every view, screenshots in ja and en
#    (artifacts: $MAMORI_BUILD/artifacts/dashboard/, or $MAMORI_ARTIFACTS).
# As root (CI), Chromium runs with --no-sandbox: its setuid/user-namespace
# sandbox refuses to start as root.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
trap cleanup EXIT

WWW=${MAMORI_WWW:-$SRC/$B/www} # override: test another build of the dashboard
ART=${MAMORI_ARTIFACTS:-$SRC/$B/artifacts/dashboard}
[[ -s $WWW/index.html ]] || { echo "FAIL  $WWW/index.html missing (make www)"; exit 1; }
[[ -x /usr/bin/chromium ]] || { echo "FAIL  /usr/bin/chromium missing (installer/deps.sh --check)"; exit 1; }
rm -rf "$ART" && mkdir -p "$ART"

D=$T/srv
start_server "$D" --www "$WWW" || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
ciso=$TOKEN
acct etsuran viewer 2001 "閲覧 一郎" >/dev/null
check "a viewer account" test "$CODE" = 201
acct shonin approver 2002 "承認 花子" 会計課 >/dev/null # approves the requests of 会計課's terminals (issue 16.2)
check "an approver account (pending) ..." test "$CODE" = 201
check "... approved on the console (OPS-4)" approve_console shonin

# ---- terminals with real data ----
A=$T/pc-a B2=$T/pc-b
# departments (部署) apart from groups (issue 15): pc-a's from its enrollment
# token, pc-b's set by an administrator afterwards
new_group kaikei || bad "group kaikei"
api POST /admin/v1/enrollment-tokens '{"group":"kaikei","department":"会計課"}' >"$T/tok-a.json"
check "an enrollment token for a department (201, 会計課)" bash -c "[[ $CODE == 201 ]] && jq -e '.department==\"会計課\"' '$T/tok-a.json' >/dev/null"
api POST /admin/v1/enrollment-tokens '{"group":"kaikei","department":"会計\u0007課"}' >/dev/null
check "... a department with a control character is refused (400)" test "$CODE" = 400
check "enroll pc-a (group kaikei, department 会計課 from the token)" \
	ctl "$A" enroll --server "https://$ADM" --token "$(jq -r .token "$T/tok-a.json")" --ca-fingerprint "$FPR" --terminal-id pc-a
check "enroll pc-b (group soumu, no department)" enroll "$B2" pc-b soumu
check "pc-a's department is the token's" test "$(api GET /admin/v1/terminals/pc-a | jq -r .department)" = 会計課
check "pc-b has none yet" test "$(api GET /admin/v1/terminals/pc-b | jq -r .department)" = ""
api PUT /admin/v1/terminals/pc-b/department '{"department":"総務課"}' >"$T/dept.json"
check "ciso sets pc-b's department (200, previous \"\")" bash -c "[[ $CODE == 200 ]] && jq -e '.department==\"総務課\" and .previous==\"\"' '$T/dept.json' >/dev/null"
api PUT /admin/v1/terminals/nope/department '{"department":"総務課"}' >/dev/null
check "... an unknown terminal: 404" test "$CODE" = 404
api PUT /admin/v1/terminals/pc-b/department '{"department":"総務課","group":"x"}' >/dev/null
check "... an unknown field: 400" test "$CODE" = 400
check "... audited with before and after" \
	bash -c "curl -sS --cacert '$CA' -H 'Authorization: Bearer $TOKEN' 'https://$ADM/admin/v1/audit?action=terminal.department' | jq -e '[.audit[]|select(.target==\"pc-b\" and .result==\"ok\" and .detail==\" -> 総務課\")]|length==1' >/dev/null"
cat >"$T/report-a.json" <<'J'
{"results":[
 {"id":"screenlock.idle","module":"screenlock","status":"fail","requirements":["LOCK-1"],"evidence":{"idle_delay":"<img src=x onerror=alert(3)>"}},
 {"id":"timesync.synchronised","module":"timesync","status":"pass","requirements":["LOG-2"]},
 {"id":"usb.policy","module":"usb","status":"fail","requirements":["MEDIA-1"],"exception":"exc-1"}],
 "summary":{"pass":1,"fail":2}}
J
cat >"$T/report-b.json" <<'J'
{"results":[
 {"id":"screenlock.idle","module":"screenlock","status":"pass","requirements":["LOCK-1"]},
 {"id":"timesync.synchronised","module":"timesync","status":"pass","requirements":["LOG-2"]},
 {"id":"odd.label","module":"x","status":"pass","requirements":["Q\"}\n\\x"]}],
 "summary":{"pass":3,"fail":0}}
J
"$HELPER" append "$(state_dir "$A")" 5 || bad "append pc-a"
"$HELPER" hostile "$(state_dir "$A")" || bad "hostile corpus pc-a"
# requests from pc-a's users (issue 16), journaled as agent/worker/request_store.c
# journals them and uploaded by the real transport below: the approver decides
# them in the browser (a device, a carry-out, an exception, one to reject, and
# one of the approver's own, which OPS-4 keeps from them)
now=$(date +%s)
OUT_ASK=$((now + 2 * 86400)) EXC_ASK=$((now + 3 * 86400))
hex() { openssl rand -hex "$1"; }
R_DEV=$(hex 16) R_OUT=$(hex 16) R_EXC=$(hex 16) R_REJ=$(hex 16) R_OWN=$(hex 16)
request_rec() { # PERSON JSON
	"$HELPER" record "$(state_dir "$A")" request.created \
		"$(jq -c --arg u "$1" '. + {user: $u, uid: 1000, pid: 4242, loginuid: 1000}' <<<"$2")"
}
request_rec tanaka "{\"request_id\":\"$R_DEV\",\"kind\":\"device\",\"device\":{\"hash\":\"$(hex 32)\",\"vendor_id\":\"0781\",\"product_id\":\"5567\",\"serial\":\"DEV1\",\"interfaces\":[\"08:06:50\"]},\"reason\":null}" || bad "request device"
request_rec tanaka "{\"request_id\":\"$R_OUT\",\"kind\":\"carry-out\",\"medium\":{\"vendor\":\"0781\",\"product\":\"5567\",\"serial\":\"CO1\"},\"until\":$OUT_ASK,\"purpose\":\"<b>議事録</b>の持ち出し\"}" || bad "request carry-out"
request_rec tanaka "{\"request_id\":\"$R_EXC\",\"kind\":\"exception\",\"requirement\":\"LOG-2\",\"until\":$EXC_ASK,\"reason\":\"NTP サーバー移設中\"}" || bad "request exception"
request_rec suzuki "{\"request_id\":\"$R_REJ\",\"kind\":\"device\",\"device\":{\"hash\":\"$(hex 32)\",\"vendor_id\":\"1234\",\"product_id\":\"5678\",\"serial\":\"REJ1\",\"interfaces\":[\"08:06:50\"]},\"reason\":\"私物\"}" || bad "request to reject"
# an emergency code used at pc-a (OPS-3), as daemon_policy.c journals it: the
# approver acknowledges it after the fact
"$HELPER" record "$(state_dir "$A")" exception.applied \
	"{\"id\":\"emg-$(hex 4)\",\"kind\":\"emergency\",\"scope\":\"usb\",\"person\":\"tanaka\",\"not_before\":$now,\"not_after\":$((now + 3600)),\"entered_at\":$now}" || bad "emergency code record"
request_rec shonin "{\"request_id\":\"$R_OWN\",\"kind\":\"device\",\"device\":{\"hash\":\"$(hex 32)\",\"vendor_id\":\"1234\",\"product_id\":\"9999\",\"serial\":\"OWN1\",\"interfaces\":[\"08:06:50\"]},\"reason\":null}" || bad "the approver's own request"
check "pc-a checks in with its report and uploads its journal" ctl "$A" server sync --report "$T/report-a.json"
check "pc-b checks in" ctl "$B2" server sync --report "$T/report-b.json"
ev=$(api GET "/admin/v1/events?terminal=pc-a&limit=1000")
api GET "/admin/v1/requests?status=pending" >"$T/requests.json"
rid() { jq -r --arg r "$1" '.[] | select(.request_id == $r) | .id' "$T/requests.json"; }
ID_DEV=$(rid "$R_DEV") ID_OUT=$(rid "$R_OUT") ID_EXC=$(rid "$R_EXC") ID_REJ=$(rid "$R_REJ") ID_OWN=$(rid "$R_OWN")
ID_EMG=$(api GET "/admin/v1/requests?status=pending_ack" | jq -r '.[] | select(.kind == "emergency" and .person == "tanaka") | .id')
check "pc-a's five requests are in the inbox (admin API), pending, and the emergency code's use waits for acknowledgement" \
	bash -c "[[ -n '$ID_DEV' && -n '$ID_OUT' && -n '$ID_EXC' && -n '$ID_REJ' && -n '$ID_OWN' && -n '$ID_EMG' ]]"
# the windows the approver chooses in the browser (whole minutes, typed in
# Japan time) and what the API must store for them (RFC 3339 UTC)
at() { # EPOCH → "JST-INPUT UTC"
	local m=$(($1 / 60 * 60))
	echo "$(TZ=Asia/Tokyo date -d "@$m" +%Y-%m-%dT%H:%M) $(date -u -d "@$m" +%Y-%m-%dT%H:%M:%SZ)"
}
read -r OUT_JST OUT_UTC <<<"$(at $((now + 86400)))"
read -r BEYOND_JST _ <<<"$(at $((OUT_ASK + 3600)))"
read -r EXC_JST EXC_UTC <<<"$(at $((now + 2 * 86400)))"
read -r DEV_JST DEV_UTC <<<"$(at $((now + 5 * 86400)))"
check "the hostile corpus is stored as the agent sent it (4 KiB serial)" \
	test "$(jq '[.events[] | select(.record.type=="usb.blocked") | .record.payload.device.serial | length] | max' <<<"$ev")" = 4096

# a pending policy uploaded by the ciso: the approver approves it in the browser
jq '.version = 2' "$SRC/policy/templates/lgwan.json" >"$T/p2.json"
api PUT /admin/v1/groups/kaikei/policy "$(cat "$T/p2.json")" >/dev/null
check "ciso uploads a policy for kaikei (pending)" test "$CODE" = 202

# ---- serving, CSP, no outside origin ----
H=$T/h.txt
curl -sS --cacert "$CA" -D "$H" -o "$T/index.html" "https://$ADM/"
check "GET / serves the dashboard" grep -q 'src="/assets/app.js"' "$T/index.html"
csp=$(grep -i '^content-security-policy:' "$H" | tr -d '\r')
check "a strict CSP: script-src 'self' only, no inline, no other origin" \
	bash -c "[[ \"\$1\" == *\"script-src 'self';\"* && \"\$1\" == *\"default-src 'none'\"* && \"\$1\" != *unsafe* && \"\$1\" != *http* ]]" _ "$csp"
check "no inline script in the page" bash -c "! grep -Eq '<script>|<script [^>]*>[^<]' '$T/index.html'"
curl -sS --cacert "$CA" -o "$T/app.js" "https://$ADM/assets/app.js"
curl -sS --cacert "$CA" -o "$T/app.css" "https://$ADM/assets/app.css"
check "the bundle is served" test -s "$T/app.js"
# XML namespace names (Preact's SVG/MathML support) are identifiers, never fetched
urls=$(cat "$T/index.html" "$T/app.js" "$T/app.css" | grep -oE 'https?://[^"'"'"' )>]*' |
	grep -vE '^http://www\.w3\.org/(2000/svg|1999/xhtml|1998/Math/MathML|1999/xlink|XML/1998/namespace)$' | sort -u)
check "page, bundle and style name no outside origin${urls:+: $urls}" test -z "$urls"
code=$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' "https://$ADM/assets/..%2fserver.key")
check "no way out of the www directory (404)" test "$code" = 404
code=$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' "https://$ADM/assets/.hidden.js")
check "no hidden files (404)" test "$code" = 404

# ---- the session cookie, CSRF ----
web_login() { # USER → cookie header in $T/USER.hdr, body in $T/USER.login
	curl -sS --cacert "$CA" -D "$T/$1.hdr" -o "$T/$1.login" -H 'X-Mamori-CSRF: 1' -H 'Content-Type: application/json' \
		--data-binary "{\"username\":\"$1\",\"password\":\"$PASSWORD\"}" "https://$ADM/admin/v1/login"
	grep -i '^set-cookie:' "$T/$1.hdr" | tr -d '\r' >"$T/$1.cookie"
	sed -E 's/^set-cookie: *([^;]*);.*/\1/I' "$T/$1.cookie" >"$T/$1.c"
}
jqt() { jq -e "$1" "$2" >/dev/null; } # FILTER FILE: true?
jqa() { jq -e "$@" >/dev/null; }       # [--arg N V]... FILTER FILE: true?
wget_() { # USER PATH [curl args...] → status
	local u=$1 p=$2; shift 2
	curl -sS --cacert "$CA" -o "$T/out.json" -w '%{http_code}' -H "Cookie: $(cat "$T/$u.c")" "$@" "https://$ADM$p"
}
web_login etsuran
check "dashboard login: the cookie is HttpOnly; Secure; SameSite=Strict, __Host- prefixed" \
	bash -c "grep -q 'HttpOnly' '$T/etsuran.cookie' && grep -q 'Secure' '$T/etsuran.cookie' && grep -q 'SameSite=Strict' '$T/etsuran.cookie' && grep -q '__Host-mamori_session=ms1_' '$T/etsuran.cookie'"
check "... and the body carries no token (JavaScript never sees it)" bash -c "! grep -q ms1_ '$T/etsuran.login' && jq -e '.role==\"viewer\"' '$T/etsuran.login' >/dev/null"
check "cookie + X-Mamori-CSRF: 200" test "$(wget_ etsuran /admin/v1/dashboard/me -H 'X-Mamori-CSRF: 1')" = 200
check "cookie without X-Mamori-CSRF (a cross-site form or image): 403" test "$(wget_ etsuran /admin/v1/dashboard/me)" = 403
check "cookie with Origin of another site: 403" \
	test "$(wget_ etsuran /admin/v1/dashboard/me -H 'X-Mamori-CSRF: 1' -H 'Origin: https://evil.example')" = 403
check "cookie with Sec-Fetch-Site: cross-site: 403" \
	test "$(wget_ etsuran /admin/v1/dashboard/me -H 'X-Mamori-CSRF: 1' -H 'Sec-Fetch-Site: cross-site')" = 403
web_login ciso
check "a state change (policy approval) by cookie without the CSRF header: 403" \
	test "$(wget_ ciso /admin/v1/groups/kaikei/policy/2/approve -X POST -H 'Origin: https://evil.example')" = 403
TOKEN=$ciso
check "... and the policy is still pending" test "$(api GET /admin/v1/groups | jq -r '.groups[] | select(.name=="kaikei") | .pending_version')" = 2
code=$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' -H 'Origin: https://evil.example' -H 'X-Mamori-CSRF: 1' \
	-H 'Content-Type: application/json' --data-binary "{\"username\":\"ciso\",\"password\":\"$PASSWORD\"}" "https://$ADM/admin/v1/login")
check "a dashboard login from another Origin is refused (403)" test "$code" = 403
check "a viewer cannot set a department (403)" \
	test "$(wget_ etsuran /admin/v1/terminals/pc-b/department -X PUT -H 'X-Mamori-CSRF: 1' -H 'Content-Type: application/json' --data-binary '{"department":"x"}')" = 403
check "a viewer's cookie cannot read the audit trail (403)" test "$(wget_ etsuran /admin/v1/audit -H 'X-Mamori-CSRF: 1')" = 403
check "... nor approve (403)" test "$(wget_ etsuran /admin/v1/groups/kaikei/policy/2/approve -X POST -H 'X-Mamori-CSRF: 1')" = 403
check "a forged cookie is refused (401)" \
	test "$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' -H 'X-Mamori-CSRF: 1' -H 'Cookie: __Host-mamori_session=ms1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' "https://$ADM/admin/v1/dashboard/me")" = 401
check "logout ends the session (204)" test "$(wget_ etsuran /admin/v1/web/logout -X POST -H 'X-Mamori-CSRF: 1')" = 204
check "... the cookie is cleared" grep -qi 'set-cookie: __Host-mamori_session=;.*Max-Age=0' <(curl -sS --cacert "$CA" -D - -o /dev/null -X POST -H 'X-Mamori-CSRF: 1' -H "Cookie: $(cat "$T/ciso.c")" "https://$ADM/admin/v1/web/logout")
check "... and the old cookie no longer works (401)" test "$(wget_ etsuran /admin/v1/dashboard/me -H 'X-Mamori-CSRF: 1')" = 401

# ---- the dashboard API ----
web_login ciso
wget_ ciso /admin/v1/dashboard/overview -H 'X-Mamori-CSRF: 1' >/dev/null
check "overview: 2 active terminals, LOCK-1 rate 0.5, MEDIA-1 excepted" \
	jqt '.terminals.active==2 and (.requirements[]|select(.id=="LOCK-1")|.rate==0.5 and .fail==1) and (.requirements[]|select(.id=="MEDIA-1")|.excepted==1)' "$T/out.json"
check "overview per department: 会計課 0 of 1 compliant, 総務課 1 of 1" \
	jqt '(.departments[]|select(.department=="会計課")|.terminals==1 and .compliant==0) and (.departments[]|select(.department=="総務課")|.terminals==1 and .rate==1)' "$T/out.json"
today=$(TZ=Asia/Tokyo date +%F)
check "overview trend: today's figures in Japan time ($today: 2 active, 1 compliant)" \
	jqa --arg d "$today" '.trend_days==90 and (.trend|last|.day==$d and .terminals==2 and .compliant==1 and .rate==0.5)' "$T/out.json"
# earlier days as the server's hourly snapshots would have left them (one 30
# days ago, one beyond the 90 days), written into its store while it runs
d30=$(TZ=Asia/Tokyo date -d '30 days ago' +%F) d100=$(TZ=Asia/Tokyo date -d '100 days ago' +%F)
sqlite3 -cmd '.timeout 5000' "$D/server.db" \
	"INSERT INTO daily VALUES ('$d30', 10, 9, 1), ('$d100', 10, 1, 1)" || bad "sqlite3 insert"
wget_ ciso /admin/v1/dashboard/overview -H 'X-Mamori-CSRF: 1' >/dev/null
check "overview trend: the last 90 days, oldest first ($d30 at 0.9; $d100 left out)" \
	jqa --arg a "$d30" --arg b "$d100" '[.trend[].day]==[$a, (.trend|last|.day)] and .trend[0].rate==0.9 and ([.trend[]|select(.day==$b)]|length)==0' "$T/out.json"
KAIKEI=$(jq -rn --arg d 会計課 '$d|@uri') SOUMU=$(jq -rn --arg d 総務課 '$d|@uri')
wget_ ciso "/admin/v1/dashboard/terminals?department=$KAIKEI" -H 'X-Mamori-CSRF: 1' >/dev/null
check "terminal list filtered by department 会計課: only pc-a" \
	jqt '.total==1 and .terminals[0].terminal_id=="pc-a" and .terminals[0].department=="会計課"' "$T/out.json"
wget_ ciso '/admin/v1/dashboard/terminals?sort=department' -H 'X-Mamori-CSRF: 1' >/dev/null
check "terminal list sorted by department: 会計課 (U+4F1A) before 総務課 (U+7DCF)" \
	jqt '[.terminals[].terminal_id]==["pc-a","pc-b"]' "$T/out.json"
wget_ ciso '/admin/v1/dashboard/terminals?sort=hostname&order=desc&limit=1' -H 'X-Mamori-CSRF: 1' >/dev/null
check "terminal list: total 2, one a page" jqt '.total==2 and (.terminals|length)==1' "$T/out.json"
check "terminal list: an unknown sort key is refused (400)" \
	test "$(wget_ ciso '/admin/v1/dashboard/terminals?sort=nope' -H 'X-Mamori-CSRF: 1')" = 400
wget_ ciso '/admin/v1/dashboard/terminals?requirement=LOCK-1' -H 'X-Mamori-CSRF: 1' >/dev/null
check "requirement view: only pc-a fails LOCK-1" jqt '.total==1 and .terminals[0].terminal_id=="pc-a"' "$T/out.json"
wget_ ciso '/admin/v1/dashboard/events?q=onerror&format=csv' -H 'X-Mamori-CSRF: 1' >/dev/null
check "investigation CSV: UTF-8 BOM, header, the hostile rows" \
	bash -c "head -c3 '$T/out.json' | od -An -tx1 | grep -q 'ef bb bf' && grep -c onerror '$T/out.json' | grep -qv '^0$'"
TOKEN=$ciso
api GET '/admin/v1/audit?action=investigation.search' >"$T/audit.json"
check "every search is in the audit trail (OPS-6)" \
	jqt '[.audit[] | select(.actor=="ciso" and (.detail|contains("q=onerror")))] | length >= 1' "$T/audit.json"

# ---- terminal detail: commands and the certificate ----
TOKEN=$ciso
api POST /admin/v1/commands '{"terminal_id":"pc-a","type":"sync"}' >/dev/null
check "a sync command for pc-a (201, queued)" test "$CODE" = 201
api POST /admin/v1/commands '{"terminal_id":"pc-a","type":"wipe"}' >/dev/null
check "a wipe command for pc-a (201, waits for a second person)" test "$CODE" = 201
api GET /admin/v1/dashboard/terminals/pc-a/certificates >"$T/certs.json"
# the oracle: the certificate the agent holds, read by openssl
pem=$(state_dir "$A")/device.pem
serial=$(openssl x509 -in "$pem" -noout -serial | cut -d= -f2)
nb=$(date -u -d "$(openssl x509 -in "$pem" -noout -startdate | cut -d= -f2)" +%s)
na=$(date -u -d "$(openssl x509 -in "$pem" -noout -enddate | cut -d= -f2)" +%s)
check "pc-a's certificate: the serial, notAfter the agent's certificate has (openssl), not revoked" \
	jqa --arg s "$serial" --argjson na "$na" '(.certificates|length)==1 and (.certificates[0]|(.serial|ascii_downcase)==($s|ascii_downcase) and (.not_after|fromdateiso8601)==$na and .revoked==false and .expired==false)' "$T/certs.json"
check "... and its notBefore (within 2 s: the store keeps the issue time)" \
	jqa --argjson nb "$nb" '(.certificates[0].not_before|fromdateiso8601) - $nb | fabs <= 2' "$T/certs.json"
api GET /admin/v1/dashboard/terminals/nope/certificates >/dev/null
check "... an unknown terminal: 404" test "$CODE" = 404
echo "$serial" >"$T/serial.txt"

# ---- /metrics (Prometheus text) with a read-only API token ----
TOKEN=$ciso
rotok=$(api POST /admin/v1/api-tokens '{"name":"grafana"}' | jq -r .token)
curl -sS --cacert "$CA" -o "$T/metrics.txt" -w '%{http_code}' -H "Authorization: Bearer $rotok" "https://$ADM/metrics" >"$T/mcode"
check "GET /metrics with a read-only API token: 200" test "$(cat "$T/mcode")" = 200
check "... terminals by status, compliance per requirement" \
	bash -c "grep -qx 'mamori_terminals{status=\"active\"} 2' '$T/metrics.txt' && grep -qx 'mamori_compliance_terminals{requirement=\"LOCK-1\",status=\"fail\"} 1' '$T/metrics.txt'"
check "... every line is a comment or a well-formed sample (a hostile requirement ID is escaped)" \
	bash -c "! grep -vE '^# (HELP|TYPE) |^[a-z_]+(\{([a-z_]+=\"([^\"\\\\]|\\\\.)*\",?)*\})? [0-9.e+-]+\$' '$T/metrics.txt'"
check "... compliance per department (部署), its name in UTF-8" \
	bash -c "grep -qx 'mamori_department_terminals{department=\"会計課\",compliant=\"false\"} 1' '$T/metrics.txt' && grep -qx 'mamori_department_terminals{department=\"総務課\",compliant=\"true\"} 1' '$T/metrics.txt'"
check "... the hostile ID is there, escaped" grep -qF 'requirement="Q\"}\n\\x"' "$T/metrics.txt"
# the oracle for the format: Debian's prometheus_client parser (python3-prometheus-client)
cat >"$T/prom.py" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1], encoding="utf-8").read())}
h = fams["mamori_checkin_duration_seconds"]
assert h.type == "histogram", h.type
b = [(s.labels["le"], s.value) for s in h.samples if s.name.endswith("_bucket")]
count = [s.value for s in h.samples if s.name.endswith("_count")][0]
total = [s.value for s in h.samples if s.name.endswith("_sum")][0]
les = [float(le) for le, _ in b]
assert les == sorted(les) and b[-1][0] == "+Inf", b
assert all(x[1] <= y[1] for x, y in zip(b, b[1:])), ("not cumulative", b)
assert b[-1][1] == count >= int(sys.argv[2]) and total > 0, (b, count, total)
q = {s.labels["queue"]: s.value for s in fams["mamori_queue_depth"].samples}
want = {"commands_pending_approval": 1, "commands_queued": 1, "commands_delivered": 0}
assert all(q[k] == v for k, v in want.items()) and "checkins_unwritten" in q and "password_hashing" in q, q
print("metrics ok: %d check-ins, %.6f s; queues %s" % (count, total, q))
PY
check "... parsed by prometheus_client: a check-in latency histogram (cumulative, +Inf = count >= 2), queue depths (1 command waiting for approval, 1 queued)" \
	/usr/bin/python3 "$T/prom.py" "$T/metrics.txt" 2
check "GET /metrics without a token: 401" \
	test "$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' "https://$ADM/metrics")" = 401

# ---- the city's clause numbers and the 自己点検 report (OPS-2) ----
api PUT /admin/v1/dashboard/clauses/LOCK-1 '{"clause":"7.4(1)④","text":"離席時の画面ロック <b>"}' >/dev/null
check "ciso sets the city's clause number of LOCK-1 (200)" test "$CODE" = 200
check "... an unknown requirement ID is refused (404)" \
	bash -c "[[ \$(curl -sS --cacert '$CA' -o /dev/null -w '%{http_code}' -X PUT -H 'Authorization: Bearer $ciso' --data-binary '{\"clause\":\"x\",\"text\":\"\"}' https://$ADM/admin/v1/dashboard/clauses/NOPE-1) == 404 ]]"
login shonin || bad "login shonin"
api PUT /admin/v1/dashboard/clauses/LOCK-1 '{"clause":"x","text":""}' >/dev/null
check "an approver cannot change clause numbers (403)" test "$CODE" = 403
TOKEN=$ciso
api GET '/admin/v1/dashboard/report?group=kaikei' >"$T/report.json"
check "report (kaikei): every requirement, LOCK-1 cites 7.4(1)④, noncompliant, 1 failing terminal" \
	jqt '(.rows|length)==35 and (.rows[]|select(.id=="LOCK-1")|.clause=="7.4(1)④" and .status=="noncompliant" and .fail==1) and (.rows[]|select(.id=="MEDIA-1")|.excepted==1)' "$T/report.json"
api GET "/admin/v1/dashboard/report?department=$SOUMU" >"$T/report-soumu.json"
check "report per department (総務課): one terminal, LOCK-1 compliant, scope names the department" \
	jqt '.terminals==1 and (.scope|contains("総務課")) and (.rows[]|select(.id=="LOCK-1")|.status=="compliant" and .pass==1 and .fail==0)' "$T/report-soumu.json"
api GET "/admin/v1/dashboard/report?department=$KAIKEI" >"$T/report-kaikei.json"
check "report per department (会計課): LOCK-1 noncompliant, 1 failing" \
	jqt '.terminals==1 and (.rows[]|select(.id=="LOCK-1")|.status=="noncompliant" and .fail==1)' "$T/report-kaikei.json"
curl -sS --cacert "$CA" -H "Authorization: Bearer $ciso" -o "$T/report.csv" "https://$ADM/admin/v1/dashboard/report?group=kaikei&format=csv"
check "report CSV: UTF-8 with BOM, the city's clause" \
	bash -c "head -c3 '$T/report.csv' | od -An -tx1 | grep -q 'ef bb bf' && grep -q '\"LOCK-1\",\"7.4(1)④\"' '$T/report.csv'"
curl -sS --cacert "$CA" -H "Authorization: Bearer $ciso" -o "$T/report.xlsx" "https://$ADM/admin/v1/dashboard/report?group=kaikei&format=xlsx"
cat >"$T/xlsx.py" <<'PY'
import json, sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb["自己点検"]
api = {r["id"]: r for r in json.load(open(sys.argv[2]))["rows"]}
rows = list(ws.iter_rows(min_row=3, values_only=True))
assert len(rows) == len(api) == 35, (len(rows), len(api))
for (rid, clause, text, status, p, f, e, o, n) in rows:
    a = api[rid]
    assert (clause, text or "", status, p, f, e, o) == (a["clause"], a["text"], a["status_ja"], a["pass"], a["fail"], a["excepted"], a["other"]), (rid, clause, status, p, f, e, o, a)
print("xlsx ok", len(rows))
PY
check "report XLSX opens in openpyxl and its cells match the API" /usr/bin/python3 "$T/xlsx.py" "$T/report.xlsx" "$T/report.json"

# ---- the media register (MEDIA-6, issue 16.5): a hostile owner for the browser ----
printf '管理番号,所属,管理者,ベンダーID,製品ID,シリアル番号\nUSB-001,総務課,"<img src=x onerror=window.__pwned=1>\xe2\x80\xaeevil",0781,5567,S1\n' >"$T/media.csv"
check "media register: CSV import for the browser" test "$(curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: text/csv' --data-binary "@$T/media.csv" "https://$ADM/admin/v1/media/import" | jq .imported)" = 1

# ---- the browser ----
check "the browser test (Chromium + playwright-core + axe-core)" \
	env DASH_URL="https://$ADM" DASH_PASSWORD="$PASSWORD" DASH_ART="$ART" NODE_PATH="$SRC/node_modules" DASH_SERIAL="$(cat "$T/serial.txt")" \
	ID_DEV="$ID_DEV" ID_OUT="$ID_OUT" ID_EXC="$ID_EXC" ID_REJ="$ID_REJ" ID_OWN="$ID_OWN" ID_EMG="$ID_EMG" \
	OUT_JST="$OUT_JST" BEYOND_JST="$BEYOND_JST" EXC_JST="$EXC_JST" DEV_JST="$DEV_JST" \
	node "$SRC/tests/integration/dashboard.mjs"
# README's screenshot (docs/dashboard-overview-ja.png) is this test's:
# MAMORI_UPDATE_DOCS=1 copies it there
if [[ ${MAMORI_UPDATE_DOCS:-} == 1 && -s $ART/overview-ja.png ]]; then
	cp "$ART/overview-ja.png" "$SRC/docs/dashboard-overview-ja.png" && echo "      docs/dashboard-overview-ja.png updated"
fi
TOKEN=$ciso
# the oracle for the inbox (issue 16.2): what the admin API stored of the
# decisions made in the browser, exactly
decided() { # ID JQ-FILTER
	api GET "/admin/v1/requests/$1" >"$T/req.json"
	jq -e "$2" "$T/req.json" >/dev/null || { echo "      $(jq -c '{status, decided_by, decision}' "$T/req.json")"; return 1; }
}
check "carry-out approved in the browser: terminal, requester, rw, until $OUT_UTC, by shonin" \
	decided "$ID_OUT" "$(jq -n --arg u "$OUT_UTC" '{scope:"terminal",person:"requester",access:"rw",until:$u}') as \$d | .status==\"approved\" and .decided_by==\"shonin\" and .decision==\$d"
check "exception approved in the browser: department, anyone, until $EXC_UTC; then revoked there with the reason typed" \
	decided "$ID_EXC" "$(jq -n --arg u "$EXC_UTC" '{scope:"department",person:"anyone",access:"ro",until:$u}') as \$d | .status==\"revoked\" and .decided_by==\"shonin\" and (.decision | del(.revoked))==\$d and .decision.revoked.by==\"shonin\" and .decision.revoked.reason==\"担当替え\""
check "device approved in the browser: department, anyone (a device holds for the terminal), rw, until $DEV_UTC" \
	decided "$ID_DEV" "$(jq -n --arg u "$DEV_UTC" '{scope:"department",person:"anyone",access:"rw",until:$u}') as \$d | .status==\"approved\" and .decided_by==\"shonin\" and .decision==\$d"
check "... the department-wide revocation queued a sync for 会計課's terminal pc-a, none for 総務課's pc-b" \
	test "$(api GET /admin/v1/commands | jq -r '[.. | objects | select(.type? == "sync" and .requested_by? == "shonin") | .terminal_id] | sort | join(",")')" = pc-a
check "device request rejected in the browser with the reason typed there" \
	decided "$ID_REJ" '.status=="rejected" and .decided_by=="shonin" and .decision=={"reason":"業務に不要 <b>"}'
check "the emergency code's use acknowledged in the browser with the note typed there" \
	decided "$ID_EMG" '.status=="acknowledged" and .decided_by=="shonin" and .decision=={"note":"電話で確認済み"}'
check "the approver's own request is still pending (OPS-4)" decided "$ID_OWN" '.status=="pending" and .decided_by==null'
api GET "/admin/v1/audit?action=request.approve&limit=100" >"$T/audit-req.json"
check "the approvals beyond the carry-out's until (ja and en pages) are refused and audited" \
	jqa --arg t pc-a '[.audit[] | select(.actor=="shonin" and .result=="refused" and (.detail|startswith("until beyond the request")))] | length == 2' "$T/audit-req.json"
check "after the browser test: kaikei's policy 2 is published, approved by shonin" \
	test "$(api GET /admin/v1/groups | jq -r '.groups[] | select(.name=="kaikei") | .policy_version')" = 2

# ---- idle and absolute time-outs (a second server, short times) ----
stop_server
D2=$T/srv2
start_server "$D2" --www "$WWW" --web-idle-seconds 3 --session-seconds 7 || bad "second server"
bootstrap "$D2" || bad "bootstrap 2"
web_login ciso
check "fresh session: 200" test "$(wget_ ciso /admin/v1/dashboard/me -H 'X-Mamori-CSRF: 1')" = 200
# the cookie's token as a bearer token would escape the idle time-out and
# the CSRF checks: refused, and the cookie still works
tok=$(sed -E 's/^[^=]*=//' "$T/ciso.c")
code=$(curl -sS --cacert "$CA" -o "$T/out.json" -w '%{http_code}' -H "Authorization: Bearer $tok" "https://$ADM/admin/v1/dashboard/me")
check "the session cookie's token as Authorization: Bearer: 401" \
	bash -c "[[ $code == 401 ]] && jq -e '.error == \"unauthenticated\"' '$T/out.json' >/dev/null"
check "... and the cookie still works: 200" test "$(wget_ ciso /admin/v1/dashboard/me -H 'X-Mamori-CSRF: 1')" = 200
sleep 4.5
wget_ ciso /admin/v1/dashboard/me -H 'X-Mamori-CSRF: 1' >/dev/null
check "after 4.5 s unused (idle 3 s): 401 session_idle" jqt '.error == "session_idle"' "$T/out.json"
web_login ciso
wget_ ciso /admin/v1/dashboard/me -H 'X-Mamori-CSRF: 1' >"$T/first.code"
for i in $(seq 9); do # a request every second: never idle for 3 s
	sleep 1
	wget_ ciso /admin/v1/dashboard/me -H 'X-Mamori-CSRF: 1' >/dev/null
	jq -r '.error // "ok"' "$T/out.json" >>"$T/seen.txt"
done
check "in use, a session still ends 7 s after the login (absolute time-out, not idle: $(sort "$T/seen.txt" | uniq -c | xargs))" \
	bash -c "[[ \$(cat '$T/first.code') == 200 && \$(tail -n1 '$T/seen.txt') == unauthenticated ]] && ! grep -q session_idle '$T/seen.txt'"
finish
