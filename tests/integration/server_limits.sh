#!/usr/bin/env bash
# tests/integration/server_limits.sh — issue 17 findings 5, 7, 8, 9, 10, 13:
# limits of mamori-server on 127.0.0.1 with real OpenSSL (s_client, curl) and
# SQLite. 200 idle TCP connections against a server with `ulimit -n 128` do
# not keep a terminal out and do not flood the log; a client dripping one
# byte at a time is cut off by the request deadline; two Content-Length
# headers are refused; --tls12 offers AEAD suites only; a TLS session is
# resumed only while its client certificate is valid (an expired certificate
# cannot come back through a resumed session; server_resume.sh: revocation); renewal only in the last third of the validity, at most twice a
# day, the older certificates revoked; a batch of old records the server
# does not hold is counted as duplicates (not 503).
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
trap cleanup EXIT

D=$T/srv
A=$T/pc-a
IDLE=$SRC/$B/itests/server_idle
SERVER_NOFILE=128 start_server "$D" --timeout 3 || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
enroll "$A" pc-a kaikei >/dev/null || { echo "FAIL  enroll"; exit 1; }
SA=$(state_dir "$A")
checkin() { # PEM → HTTP code (000 = no answer); $T/ci.time: seconds
	curl -sS -o "$T/ci.out" -w '%{http_code}' --max-time 20 --cacert "$CA" --cert "$1" \
		"https://$DEV/api/v1/checkin" -d '{"agent_version":"t"}' 2>/dev/null || true
}

# ---- 200 idle TCP connections, ulimit -n 128 ----
check "the server runs with a file limit of 128" \
	test "$(awk '/Max open files/ {print $4}' "/proc/$SRV_PID/limits")" = 128
lines0=$(wc -l <"$SRV_LOG")
"$IDLE" "${DEV##*:}" 200 6 7 >"$T/idle.out" &
idle_pid=$!
sleep 1.5
t0=$(date +%s.%N)
code=$(checkin "$SA/device.pem")
t1=$(date +%s.%N)
check "a terminal checks in while 200 idle connections are open (took $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s)" \
	bash -c "[[ $code == 200 ]] && awk -v a=$t0 -v b=$t1 'BEGIN { exit !(b - a < 5) }'"
wait "$idle_pid"
echo "      idle client: $(cat "$T/idle.out")"
check "all but a few of the idle connections from one address were closed" \
	awk '{ exit !($2 >= 150) }' "$T/idle.out"
lines=$(($(wc -l <"$SRV_LOG") - lines0))
check "the log stayed short ($lines lines, no line per refused connection)" test "$lines" -lt 40
check "the server is alive" test "$(checkin "$SA/device.pem")" = 200

# ---- a client dripping one header byte every 500 ms (never idle for the 3 s timeout) ----
drip() { # ADDR [CLIENT-CERT-ARGS...] → seconds until the server hung up (the writer dies of SIGPIPE)
	local addr=$1 t0=$SECONDS; shift
	{ printf 'POST /admin/v1/login HTTP/1.1\r\nHost: x\r\nX-Drip: '
	  for _ in $(seq 30); do sleep 0.5; printf a; done; } 2>/dev/null |
		openssl s_client -quiet -connect "$addr" -CAfile "$CA" "$@" >/dev/null 2>&1
	echo $((SECONDS - t0))
}
secs=$(drip "$ADM")
check "a drip client on the admin listener is cut off by the request deadline (after ${secs} s of 15)" \
	test "$secs" -le 7
secs=$(drip "$DEV" -cert "$SA/device.pem")
check "... and on the device listener (after ${secs} s of 15)" test "$secs" -le 7

# ---- two Content-Length headers ----
raw() { # PORT REQUEST → the status line
	{ printf '%b' "$2"; sleep 1; } | openssl s_client -quiet -connect "127.0.0.1:$1" -CAfile "$CA" \
		-cert "$SA/device.pem" 2>/dev/null | head -n1 | tr -d '\r'
}
st=$(raw "${ADM##*:}" 'POST /admin/v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}')
check "two Content-Length headers: 400 ($st)" matches "$st" 'HTTP/1.1 400*'
st=$(raw "${DEV##*:}" 'POST /api/v1/checkin HTTP/1.1\r\nHost: x\r\nContent-Length: 21\r\nContent-Length: 21\r\n\r\n{"agent_version":"t"}')
check "... even when they agree, on the device listener ($st)" matches "$st" 'HTTP/1.1 400*'

# ---- an old batch the server does not hold ----
"$HELPER" append "$SA" 10 || bad "append"
out=$("$HELPER" post "$SA" 4 10)
check "a chain first seen at seq 4 is stored ($out)" matches "$out" 'HTTP 200 *"stored":7*'
out=$("$HELPER" post "$SA" 1 3)
check "records 1..3, before what the server holds: duplicates, not 503 ($out)" \
	matches "$out" 'HTTP 200 *"duplicates":3*'
stop_server

# ---- --tls12: AEAD suites only ----
start_server "$T/srv12" --tls12 || bad "tls12 server"
tls12() { openssl s_client -tls1_2 -cipher "$1" -connect "$ADM" -CAfile "$CA" </dev/null >/dev/null 2>&1; }
no_tls12() { ! tls12 "$1"; }
check "--tls12: an AEAD suite (ECDHE-ECDSA-AES128-GCM-SHA256) is accepted" tls12 ECDHE-ECDSA-AES128-GCM-SHA256
check "--tls12: ECDHE-ECDSA-CHACHA20-POLY1305 is accepted" tls12 ECDHE-ECDSA-CHACHA20-POLY1305
check "--tls12: a CBC suite (ECDHE-ECDSA-AES128-SHA) is refused" no_tls12 ECDHE-ECDSA-AES128-SHA
check "--tls12: a CBC-SHA384 suite (ECDHE-ECDSA-AES256-SHA384) is refused" no_tls12 ECDHE-ECDSA-AES256-SHA384
stop_server

# ---- resumption and renewal, with 12-second certificates ----
CERT_S=12
D3=$T/srv3
A3=$T/pc-r
start_server "$D3" --device-cert-seconds $CERT_S || bad "server 3"
bootstrap "$D3" || bad "bootstrap 3"
enroll "$A3" pc-r kaikei >/dev/null || bad "enroll pc-r"
S3=$(state_dir "$A3")
not_after() { date -d "$(openssl x509 -enddate -noout -in "$1" | cut -d= -f2)" +%s; }
until_epoch() { while (($(date +%s) < $1)); do sleep 0.2; done; } # EPOCH
due() { until_epoch $(($(not_after "$1") - CERT_S / 3 + 1)); } # PEM: 3 s before it expires (its last third: 4 s)
first_end=$(not_after "$S3/device.pem")
REQ='POST /api/v1/checkin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n{"agent_version":"t"}'
sclient() { # SESSION-ARGS... → s_client's output
	{ printf '%b' "$REQ"; sleep 1; } | openssl s_client -connect "$DEV" -CAfile "$CA" -cert "$S3/device.pem" "$@" 2>&1
}
sclient -sess_out "$T/sess" >"$T/s1.out"
check "a first check-in over s_client works" grep -q '^HTTP/1.1 200' "$T/s1.out"
hint=$(awk '/TLS session ticket lifetime hint:/ {print $6}' "$T/s1.out" | tail -n1)
check "the session's lifetime ends with the client certificate (hint ${hint:-none} s <= $CERT_S s, not 3600)" \
	test -n "$hint" -a "${hint:-99999}" -le "$CERT_S"
sclient -sess_in "$T/sess" >"$T/s2.out"
check "the session is resumed on the device listener while the certificate is valid" \
	bash -c "grep -q '^Reused' '$T/s2.out' && grep -q '^HTTP/1.1 200' '$T/s2.out'"

# renewal before the last third: refused
csr() { openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -subj /CN=pc-r \
	-out "$1.csr" 2>/dev/null; }
renew() { # PEM NEWPREFIX → HTTP code; NEWPREFIX.pem = key + new certificate on 200
	csr "$2"
	local c
	c=$(curl -sS -o "$2.json" -w '%{http_code}' --cacert "$CA" --cert "$1" "https://$DEV/api/v1/renew" \
		--data-binary "$(jq -n --rawfile c "$2.csr" '{csr:$c}')" 2>/dev/null) || c=000
	[[ $c == 200 ]] && { cat "$2.key"; jq -r .certificate "$2.json"; } >"$2.pem"
	echo "$c"
}
code=$(renew "$S3/device.pem" "$T/r0")
check "renewal right after enrollment is refused (409)" test "$code" = 409
check "... renewal_not_due" jq -e '.error == "renewal_not_due"' "$T/r0.json"
due "$S3/device.pem"
code=$(renew "$S3/device.pem" "$T/r1")
check "renewal in the last third works" test "$code" = 200
check "the certificate it replaces is revoked at once" test "$(checkin "$S3/device.pem")" = 403
check "the new one works" test "$(checkin "$T/r1.pem")" = 200
due "$T/r1.pem"
code=$(renew "$T/r1.pem" "$T/r2")
check "a second renewal the same day works" test "$code" = 200
due "$T/r2.pem"
code=$(renew "$T/r2.pem" "$T/r3")
check "a third renewal the same day is refused (429 renewal_limit)" \
	bash -c "[[ $code == 429 ]] && jq -e '.error == \"renewal_limit\"' '$T/r3.json' >/dev/null"

# resumption with an expired certificate: the session saved at the start
until_epoch $((first_end + 1))
sclient -sess_in "$T/sess" >"$T/s3.out"
check "the expired certificate's saved session is not resumed" bash -c "! grep -q '^Reused' '$T/s3.out'"
check "... and gets no check-in answer" bash -c "! grep -q '^HTTP/1.1 200' '$T/s3.out'"
finish
