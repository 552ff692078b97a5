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
#  - by default the sessions stay in the process (--tls-session-cache, TLS
#    1.3 stateful tickets): resumed (a connection ended by the client's hang
#    up keeps its session), no new ticket on a resumed connection, expired
#    ones flushed, gone with a restart and unknown to a second instance;
#  - --tls-session-cache 0: stateless tickets; a second instance on the same
#    data directory resumes the first's sessions (ticket keys from
#    ticket.key), also after a restart; --tls-resume-seconds 0 turns
#    resumption off.
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
visit "$DEV" "$PA" -sess_in "$T/a.sess" -sess_out "$T/a-again.sess"
check "the session is resumed (kept in the server's cache after the last connection ended)" reused
check "resumed: the answer is pc-a's (200)" bash -c "[[ \$(grep -o '^HTTP/1.1 [0-9]*' '$T/visit.out') == 'HTTP/1.1 200' ]] && grep -q '\"terminal_id\":\"pc-a\"' '$T/visit.out'"
check "no new ticket on a resumed connection (the agent keeps a full handshake's)" test ! -s "$T/a-again.sess"
visit "$DEV" "$PB" -sess_in "$T/a.sess"
check "pc-b's certificate offered with pc-a's session: resumed as pc-a, never as pc-b" \
	bash -c "grep -q '^Reused, TLSv1.3' '$T/visit.out' && grep -q '\"terminal_id\":\"pc-a\"' '$T/visit.out' && ! grep -q '\"terminal_id\":\"pc-b\"' '$T/visit.out'"
visit "$DEV" "$PB" -sess_out "$T/b.sess"
check "pc-b checks in as itself" names pc-b

# a second instance on the same data directory: its cache does not hold
# pc-a's session (a full handshake, pc-a still served)
DEV1=$DEV
# second LOG [ARGS...]: another instance on the same data directory → $P2, $DEV2
second() {
	local log=$1
	shift
	"$SERVER" --data "$D" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 "$@" >"$T/$log" 2>&1 &
	P2=$!
	for _ in $(seq 100); do [[ $(jq -r .pid "$D/listen.json" 2>/dev/null) == "$P2" ]] && break; sleep 0.1; done
	DEV2=$(jq -r .device "$D/listen.json")
}
second srv2.log
visit "$DEV2" "$PA" -sess_in "$T/a.sess"
check "session cache: another instance does not resume pc-a's session (full handshake, pc-a served)" \
	bash -c "! grep -q '^Reused' '$T/visit.out' && grep -q '\"terminal_id\":\"pc-a\"' '$T/visit.out'"
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

# the cache is the process's: a restart ends every session
stop_server
start_server "$D" || bad "restart"
visit "$DEV" "$PB" -sess_in "$T/b.sess"
check "session cache: after a restart pc-b's session is not resumed (full handshake, pc-b served)" \
	bash -c "! grep -q '^Reused' '$T/visit.out' && grep -q '\"terminal_id\":\"pc-b\"' '$T/visit.out'"

# expiry: a client does not offer a session past the lifetime it was told;
# the server flushes the expired ones from its cache every 10 seconds
stop_server
start_server "$D" --tls-resume-seconds 1 || bad "restart with --tls-resume-seconds 1"
visit "$DEV" "$PB" -sess_out "$T/b1.sess"
visit "$DEV" "$PB" -sess_in "$T/b1.sess"
check "--tls-resume-seconds 1: resumed at once" reused
# cached() → the gauge of /metrics: sessions the device listener holds
cached() { login ciso >/dev/null && api GET /metrics | awk '$1 == "mamori_tls_sessions_cached" {print $2}'; }
check "/metrics: the session of pc-b's full handshake is cached (1; the resumed one added none)" test "$(cached)" = 1
sleep 12
check "/metrics: 12 s later the expired session was flushed from the cache (0)" test "$(cached)" = 0
visit "$DEV" "$PB" -sess_in "$T/b1.sess"
check "--tls-resume-seconds 1: not resumed 12 s later (full handshake, pc-b served)" \
	bash -c "! grep -q '^Reused' '$T/visit.out' && grep -q '\"terminal_id\":\"pc-b\"' '$T/visit.out'"

# --tls-session-cache 0: stateless tickets, keys from ticket.key — every
# instance on the same data directory resumes them, also after a restart
stop_server
start_server "$D" --tls-session-cache 0 || bad "restart with --tls-session-cache 0"
visit "$DEV" "$PB" -sess_out "$T/bt.sess"
check "tickets: pc-b served, a ticket issued" bash -c "grep -q '\"terminal_id\":\"pc-b\"' '$T/visit.out' && test -s '$T/bt.sess'"
check "/metrics: tickets, nothing cached (0)" test "$(cached)" = 0
second srv3.log --tls-session-cache 0
visit "$DEV2" "$PB" -sess_in "$T/bt.sess"
check "tickets: another instance on the same data directory resumes pc-b's session (as pc-b)" \
	bash -c "grep -q '^Reused, TLSv1.3' '$T/visit.out' && grep -q '\"terminal_id\":\"pc-b\"' '$T/visit.out'"
kill "$P2"
wait "$P2" 2>/dev/null
stop_server
start_server "$D" --tls-session-cache 0 || bad "restart with --tls-session-cache 0"
visit "$DEV" "$PB" -sess_in "$T/bt.sess"
check "tickets: resumed after a restart (ticket.key)" reused

# resumption off: every connection is a full handshake
stop_server
start_server "$D" --tls-resume-seconds 0 || bad "restart with --tls-resume-seconds 0"
visit "$DEV" "$PB" -sess_out "$T/b2.sess"
check "--tls-resume-seconds 0: pc-b served, no session ticket issued" bash -c "grep -q '\"terminal_id\":\"pc-b\"' '$T/visit.out' && ! test -s '$T/b2.sess'"
visit "$DEV" "$PB" -sess_in "$T/bt.sess"
check "--tls-resume-seconds 0: an earlier ticket is not resumed (a full handshake, pc-b served)" \
	bash -c "! grep -q '^Reused' '$T/visit.out' && grep -q '\"terminal_id\":\"pc-b\"' '$T/visit.out'"
finish
