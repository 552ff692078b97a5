#!/usr/bin/env bash
# tests/integration/server_refusals.sh — what mamori-server refuses, on
# 127.0.0.1 with real OpenSSL, libcurl and SQLite: no client certificate, a
# certificate from another CA, an expired one, the server's own certificate
# as a client, oversized and gzip-bomb bodies, malformed JSON and CSRs, slow
# clients (idle, stalled mid-request) — each a clear error or a closed
# connection, the server alive and serving afterwards. Also certificate
# renewal over mTLS before expiry (the old certificate then expires and is
# refused) and roles on the admin API (read-only API tokens).
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
trap cleanup EXIT

D=$T/srv
A=$T/pc-a
CERT_S=20 # renewal due after 13.3 s, tried at 15 s: 5 s of slack for a loaded machine
start_server "$D" --timeout 2 || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
enroll "$A" pc-a kaikei >/dev/null || { echo "FAIL  enroll"; exit 1; }
SA=$(state_dir "$A")

dev() { # curl to the device API; prints the HTTP code (000 = no HTTP answer)
	curl -sS -o "$T/dev.out" -w '%{http_code}' --max-time 10 --cacert "$CA" "$@" 2>"$T/dev.err" || true
}
alive() { [[ $(dev --cert "$SA/device.pem" "https://$DEV/api/v1/checkin" -d '{"agent_version":"t"}') == 200 ]]; }

check "a terminal's own certificate works" alive
code=$(dev "https://$DEV/api/v1/checkin" -d '{"agent_version":"t"}')
check "no client certificate: refused at TLS (no HTTP answer)" test "$code" = 000
"$HELPER" foreign-cert "$T" "$T/foreign.pem" pc-a || bad "foreign-cert"
code=$(dev --cert "$T/foreign.pem" "https://$DEV/api/v1/checkin" -d '{"agent_version":"t"}')
check "a certificate of another CA (same names): refused" test "$code" = 000
"$HELPER" expired-cert "$D" "$T/expired.pem" pc-a || bad "expired-cert"
code=$(dev --cert "$T/expired.pem" "https://$DEV/api/v1/checkin" -d '{"agent_version":"t"}')
check "an expired certificate of our CA: refused" test "$code" = 000
code=$(dev --cert "$D/server.pem" --key "$D/server.key" "https://$DEV/api/v1/checkin" -d '{"agent_version":"t"}')
check "the server's certificate as a client (serverAuth only): refused" test "$code" = 000

# ---- bodies ----
head -c $((9 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$T/big"
code=$(dev --cert "$SA/device.pem" -H 'Content-Type: application/json' --data-binary @"$T/big" \
	"https://$DEV/api/v1/events")
check "a 9 MiB body is refused (413)" test "$code" = 413
{ printf '{"records":["'; head -c $((64 * 1024 * 1024)) /dev/zero | tr '\0' 'a'; printf '"]}'; } | gzip -1 >"$T/bomb.gz"
code=$(dev --cert "$SA/device.pem" -H 'Content-Encoding: gzip' --data-binary @"$T/bomb.gz" \
	"https://$DEV/api/v1/events")
check "a gzip bomb ($(stat -c %s "$T/bomb.gz") bytes → 64 MiB) stops at the decoded cap (413)" test "$code" = 413
printf 'not gzip at all' >"$T/notgz"
code=$(dev --cert "$SA/device.pem" -H 'Content-Encoding: gzip' --data-binary @"$T/notgz" "https://$DEV/api/v1/events")
check "a broken gzip stream: 400" test "$code" = 400
code=$(dev --cert "$SA/device.pem" -H 'Content-Encoding: br' -d '{}' "https://$DEV/api/v1/events")
check "an unknown Content-Encoding: 415" test "$code" = 415
code=$(dev --cert "$SA/device.pem" -d '{"records":[{"hash":' "https://$DEV/api/v1/events")
check "malformed JSON: 400" test "$code" = 400
code=$(dev --cert "$SA/device.pem" -d '{"records":[{"hash":"00","record":{"seq":1.5}}]}' "https://$DEV/api/v1/events")
check "a record that is not a journal record: 400 with a reason" \
	bash -c "[[ $code == 400 ]] && jq -e '.error == \"invalid_records\"' '$T/dev.out' >/dev/null"
code=$(dev --cert "$SA/device.pem" -d '[]' "https://$DEV/api/v1/checkin")
check "a check-in that is not an object: 400" test "$code" = 400
check "the server is still serving" alive

# ---- enrollment input ----
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj /CN=someone-else \
	-out "$T/other.csr" 2>/dev/null
tok=$(new_token kaikei)
code=$(curl -sS -o "$T/enr.out" -w '%{http_code}' --cacert "$CA" "https://$ADM/enroll/v1" \
	--data-binary "$(jq -n --arg t "$tok" --rawfile c "$T/other.csr" '{token:$t,csr:$c,terminal_id:"pc-z"}')")
check "a CSR naming another terminal is refused (400 bad_csr)" \
	bash -c "[[ $code == 400 ]] && jq -e '.error == \"bad_csr\"' '$T/enr.out' >/dev/null"
openssl req -new -newkey rsa:1024 -nodes -keyout /dev/null -subj /CN=pc-z -out "$T/rsa.csr" 2>/dev/null
code=$(curl -sS -o "$T/enr.out" -w '%{http_code}' --cacert "$CA" "https://$ADM/enroll/v1" \
	--data-binary "$(jq -n --arg t "$tok" --rawfile c "$T/rsa.csr" '{token:$t,csr:$c,terminal_id:"pc-z"}')")
check "a weak key (RSA-1024) is refused" test "$code" = 400
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" "https://$ADM/enroll/v1" -d '{"token":1}')
check "an enrollment without fields: 400" test "$code" = 400

# ---- admin roles ----
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" "https://$ADM/admin/v1/terminals")
check "admin API without a session: 401" test "$code" = 401
ro=$(api POST /admin/v1/api-tokens '{"name":"dashboard","expires_in_seconds":3600}' | jq -r .token)
code=$(curl -sS -o "$T/ro.out" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $ro" \
	"https://$ADM/admin/v1/terminals")
check "a read-only API token reads terminals" bash -c "[[ $code == 200 ]] && jq -e '.terminals | length == 1' '$T/ro.out' >/dev/null"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $ro" \
	"https://$ADM/admin/v1/enrollment-tokens" -d '{"group":"x"}')
check "a read-only API token cannot create enrollment tokens (403)" test "$code" = 403
api POST /admin/v1/accounts "{\"username\":\"miru\",\"password\":\"$PASSWORD\",\"role\":\"viewer\",\"staff_no\":\"2001\",\"display_name\":\"閲覧 一郎\"}" >/dev/null
ciso=$TOKEN
login miru
api POST /admin/v1/terminals/pc-a/revoke >/dev/null
check "a viewer cannot revoke (403)" test "$CODE" = 403
TOKEN=$ciso
aud=$(api GET /admin/v1/audit)
check "audit: miru's forbidden revoke recorded" \
	test "$(jq '[.audit[] | select(.actor=="miru" and .result=="forbidden")] | length' <<<"$aud")" -ge 1

# ---- slow clients (--timeout 2) ----
SLOW=$SRC/$B/itests/server_slow
port=${DEV##*:}
within() { [[ $1 =~ ^[0-9]+$ ]] && (($1 <= $2)); } # SECONDS LIMIT
for mode in tcp tls header body; do
	secs=$("$SLOW" "$port" "$CA" "$SA/device.pem" $mode 8)
	check "a slow client ($mode, then silent) is disconnected after the 2 s timeout (took ${secs:-?} s)" \
		within "$secs" 4
done
pids=()
for _ in $(seq 20); do
	"$SLOW" "$port" "$CA" "$SA/device.pem" body 8 >/dev/null &
	pids+=($!)
done
sleep 0.5
check "20 stalled clients do not keep a terminal out" alive
wait "${pids[@]}" 2>/dev/null
check "the server is still serving after all of it" alive

# ---- renewal over mTLS before expiry (a second server: certificates of $CERT_S s) ----
stop_server
D2=$T/srv2
A2=$T/pc-r
start_server "$D2" --device-cert-seconds $CERT_S || { echo "FAIL  second server did not start"; exit 1; }
bootstrap "$D2" || bad "bootstrap 2"
t0=$SECONDS
enroll "$A2" pc-r kaikei >/dev/null || bad "enroll pc-r"
SA=$(state_dir "$A2")
cp "$SA/device.pem" "$T/first.pem"
res=$(ctl "$A2" --json server sync)
check "no renewal while most of the validity is left" test "$(jq -r .renewed <<<"$res")" = false
# a quarter of the life left (renewal is due below a third), with 3 s for an ASan build to sync
while ((SECONDS - t0 < CERT_S * 3 / 4)); do sleep 0.2; done
res=$(ctl "$A2" --json server sync)
check "the certificate is renewed over mTLS when a third of its life is left" test "$(jq -r .renewed <<<"$res")" = true
check "the new certificate differs (new key pair)" bash -c "! cmp -s '$SA/device.pem' '$T/first.pem'"
while ((SECONDS - t0 < CERT_S + 1)); do sleep 0.2; done
code=$(dev --cert "$T/first.pem" "https://$DEV/api/v1/checkin" -d '{"agent_version":"t"}')
check "the old certificate, now expired, is refused" test "$code" = 000
check "the renewed certificate works" alive
finish
