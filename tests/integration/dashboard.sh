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
acct() { # USER ROLE STAFF DISPLAY
	api POST /admin/v1/accounts "$(jq -n --arg u "$1" --arg r "$2" --arg s "$3" --arg d "$4" --arg p "$PASSWORD" \
		'{username:$u,password:$p,role:$r,staff_no:$s,display_name:$d}')" >/dev/null
}
acct etsuran viewer 2001 "閲覧 一郎"
check "a viewer account" test "$CODE" = 201
acct shonin approver 2002 "承認 花子"
check "an approver account (pending) ..." test "$CODE" = 201
check "... approved on the console (OPS-4)" approve_console shonin

# ---- terminals with real data ----
A=$T/pc-a B2=$T/pc-b
check "enroll pc-a (group kaikei)" enroll "$A" pc-a kaikei
check "enroll pc-b (group soumu)" enroll "$B2" pc-b soumu
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
check "pc-a checks in with its report and uploads its journal" ctl "$A" server sync --report "$T/report-a.json"
check "pc-b checks in" ctl "$B2" server sync --report "$T/report-b.json"
ev=$(api GET "/admin/v1/events?terminal=pc-a&limit=1000")
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

# ---- /metrics (Prometheus text) with a read-only API token ----
TOKEN=$ciso
rotok=$(api POST /admin/v1/api-tokens '{"name":"grafana"}' | jq -r .token)
curl -sS --cacert "$CA" -o "$T/metrics.txt" -w '%{http_code}' -H "Authorization: Bearer $rotok" "https://$ADM/metrics" >"$T/mcode"
check "GET /metrics with a read-only API token: 200" test "$(cat "$T/mcode")" = 200
check "... terminals by status, compliance per requirement" \
	bash -c "grep -qx 'mamori_terminals{status=\"active\"} 2' '$T/metrics.txt' && grep -qx 'mamori_compliance_terminals{requirement=\"LOCK-1\",status=\"fail\"} 1' '$T/metrics.txt'"
check "... every line is a comment or a well-formed sample (a hostile requirement ID is escaped)" \
	bash -c "! grep -vE '^# (HELP|TYPE) |^[a-z_]+(\{([a-z_]+=\"([^\"\\\\]|\\\\.)*\",?)*\})? [0-9.e+-]+\$' '$T/metrics.txt'"
check "... the hostile ID is there, escaped" grep -qF 'requirement="Q\"}\n\\x"' "$T/metrics.txt"
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
	env DASH_URL="https://$ADM" DASH_PASSWORD="$PASSWORD" DASH_ART="$ART" NODE_PATH="$SRC/node_modules" \
	node "$SRC/tests/integration/dashboard.mjs"
TOKEN=$ciso
check "after the browser test: kaikei's policy 2 is published, approved by shonin" \
	test "$(api GET /admin/v1/groups | jq -r '.groups[] | select(.name=="kaikei") | .policy_version')" = 2

# ---- idle and absolute time-outs (a second server, short times) ----
stop_server
D2=$T/srv2
start_server "$D2" --www "$WWW" --web-idle-seconds 3 --session-seconds 7 || bad "second server"
bootstrap "$D2" || bad "bootstrap 2"
web_login ciso
check "fresh session: 200" test "$(wget_ ciso /admin/v1/dashboard/me -H 'X-Mamori-CSRF: 1')" = 200
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
