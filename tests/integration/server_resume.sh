#!/usr/bin/env bash
# tests/integration/server_resume.sh — TLS session resumption on the device
# listener (issue 23.5, issue 18; MDM-3): real OpenSSL (`openssl s_client`
# with -sess_out/-sess_in, as libcurl keeps a session) against mamori-server
# on 127.0.0.1.
#  - a resumed session (no certificate sent again) is the terminal of its
#    full handshake: the check-in answer names it, even when the client
#    offers another terminal's certificate on the resumed connection;
#  - a resumed session of a revoked terminal is refused (403 revoked), as a
#    full handshake's is — the certificate carried by the session is checked
#    on every request, not only at the handshake;
#  - a second instance on the same data directory resumes the first's
#    sessions (ticket keys from ticket.key), and --tls-resume-seconds 0
#    turns resumption off.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
trap cleanup EXIT

D=$T/srv
start_server "$D" || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
enroll "$T/a" pc-a soumu >/dev/null || bad "enroll pc-a"
enroll "$T/b" pc-b soumu >/dev/null || bad "enroll pc-b"
PA=$(state_dir "$T/a")/device.pem
PB=$(state_dir "$T/b")/device.pem

# visit ADDR PEM [s_client args...]: one check-in on a new connection;
# $T/visit.out holds s_client's report and the HTTP answer
visit() {
	local addr=$1 pem=$2 body='{"agent_version":"t"}'
	shift 2
	printf 'POST /api/v1/checkin HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
		"$addr" "${#body}" "$body" |
		timeout 20 openssl s_client -connect "$addr" -CAfile "$CA" -cert "$pem" -key "$pem" -tls1_3 -ign_eof \
			"$@" >"$T/visit.out" 2>&1
}
reused() { grep -q '^Reused, TLSv1.3' "$T/visit.out"; }
status() { grep -o '^HTTP/1.1 [0-9]*' "$T/visit.out" | awk '{print $2}'; }
names() { grep -q "\"terminal_id\":\"$1\"" "$T/visit.out"; }

visit "$DEV" "$PA" -sess_out "$T/a.sess"
check "full handshake: pc-a checks in (200)" test "$(status)" = 200
check "full handshake: not a resumed session" bash -c "! grep -q '^Reused' '$T/visit.out'"
check "a session ticket was issued" test -s "$T/a.sess"
# issue 18: the certificate file's chain as it is — OpenSSL built it again
# from the client-CA store at every handshake and sent the CA along
check "the server sends one certificate (its file's), not a chain built at every handshake" \
	test "$(grep -cE '^ *[0-9]+ s:' "$T/visit.out")" = 1
check "the agent's certificate file holds its certificate alone (libcurl sends the file's chain)" \
	test "$(grep -c 'BEGIN CERTIFICATE' "$PA")" = 1
visit "$DEV" "$PA" -sess_in "$T/a.sess"
check "the session is resumed" reused
check "resumed: the answer is pc-a's (200)" bash -c "[[ \$(grep -o '^HTTP/1.1 [0-9]*' '$T/visit.out') == 'HTTP/1.1 200' ]] && grep -q '\"terminal_id\":\"pc-a\"' '$T/visit.out'"
visit "$DEV" "$PB" -sess_in "$T/a.sess"
check "pc-b's certificate offered with pc-a's session: resumed as pc-a, never as pc-b" \
	bash -c "grep -q '^Reused, TLSv1.3' '$T/visit.out' && grep -q '\"terminal_id\":\"pc-a\"' '$T/visit.out' && ! grep -q '\"terminal_id\":\"pc-b\"' '$T/visit.out'"
visit "$DEV" "$PB" -sess_out "$T/b.sess"
check "pc-b checks in as itself" names pc-b

# a second instance on the same data directory: the same ticket keys
DEV1=$DEV
"$SERVER" --data "$D" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >"$T/srv2.log" 2>&1 &
P2=$!
for _ in $(seq 100); do [[ $(jq -r .pid "$D/listen.json" 2>/dev/null) == "$P2" ]] && break; sleep 0.1; done
DEV2=$(jq -r .device "$D/listen.json")
visit "$DEV2" "$PA" -sess_in "$T/a.sess"
check "another instance on the same data directory resumes pc-a's session (as pc-a)" \
	bash -c "grep -q '^Reused, TLSv1.3' '$T/visit.out' && grep -q '\"terminal_id\":\"pc-a\"' '$T/visit.out'"
kill "$P2"
wait "$P2" 2>/dev/null

# revocation: the resumed session is refused, the other terminal still served
login ciso
api POST /admin/v1/terminals/pc-a/revoke >/dev/null
check "pc-a revoked through the admin API" test "$CODE" = 200
visit "$DEV1" "$PA" -sess_in "$T/a.sess"
check "revoked pc-a: its session is resumed at TLS …" reused
check "… and the request is refused (403 revoked)" \
	bash -c "[[ \$(grep -o '^HTTP/1.1 [0-9]*' '$T/visit.out') == 'HTTP/1.1 403' ]] && grep -q '\"error\":\"revoked\"' '$T/visit.out'"
visit "$DEV1" "$PA"
check "revoked pc-a, full handshake: refused (403 revoked)" test "$(status)" = 403
visit "$DEV1" "$PB" -sess_in "$T/b.sess"
check "pc-b's resumed session still served" bash -c "grep -q '^Reused, TLSv1.3' '$T/visit.out' && grep -q '\"terminal_id\":\"pc-b\"' '$T/visit.out'"
check "audit: the refusal of pc-a recorded" \
	bash -c "sqlite3 '$D/server.db' \"SELECT count(*) FROM audit WHERE action = 'device.refused' AND target = 'pc-a' AND result = 'revoked'\" | grep -qv '^0$'"

# resumption off: every connection is a full handshake
stop_server
start_server "$D" --tls-resume-seconds 0 || bad "restart with --tls-resume-seconds 0"
visit "$DEV" "$PB" -sess_out "$T/b2.sess"
check "--tls-resume-seconds 0: pc-b served, no session ticket issued" bash -c "grep -q '\"terminal_id\":\"pc-b\"' '$T/visit.out' && ! test -s '$T/b2.sess'"
visit "$DEV" "$PB" -sess_in "$T/b.sess"
check "--tls-resume-seconds 0: an earlier ticket is not resumed (a full handshake, pc-b served)" \
	bash -c "! grep -q '^Reused' '$T/visit.out' && grep -q '\"terminal_id\":\"pc-b\"' '$T/visit.out'"
finish
