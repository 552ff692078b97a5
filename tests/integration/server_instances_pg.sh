#!/usr/bin/env bash
# tests/integration/server_instances_pg.sh — two mamori-server processes on
# 127.0.0.1 sharing one data directory (CA, keys) and one real PostgreSQL 15
# database (a cluster this test starts on a unix socket in its own
# directory), as instances behind a load balancer share them (issue 18.3,
# docs/OPERATIONS.md "Several instances"): dashboard sessions and login
# throttles are in the store, not in one process —
#   - a dashboard login through A is used through B; a logout through A is
#     refused by B at the next request; a session left unused for longer
#     than --web-idle-seconds is ended, whichever instance sees it next;
#     use through B keeps it alive on A;
#   - an API (bearer) session made through A is used and ended across them;
#   - failed logins count across instances: an attacker alternating between
#     A and B gets no more attempts than against one (account: 5, address:
#     20), then 429 from either.
# Before (sessions and throttles in each process's memory) B refused A's
# dashboard session, and the alternating attacker got 5 + 5 tries (10 + 10
# from one address) without a lock.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
PGBIN=/usr/lib/postgresql/15/bin
PG=$(mktemp -d /tmp/mamori-pg.XXXXXX)
B_PID=
pg_stop() {
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -w -m fast stop >/dev/null 2>&1
	rm -rf --one-file-system "$PG"
}
trap '[[ -n $B_PID ]] && kill "$B_PID" 2>/dev/null; cleanup; pg_stop' EXIT

chmod 755 "$PG" && chown postgres:postgres "$PG" || { echo "FAIL  cluster directory"; exit 1; }
runuser -u postgres -- "$PGBIN/initdb" -D "$PG/data" -A trust --locale=C -E UTF8 --no-sync -U postgres \
	>"$PG/initdb.log" 2>&1 || { cat "$PG/initdb.log"; echo "FAIL  initdb"; exit 1; }
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -w -l "$PG/log" \
	-o "-k $PG -c listen_addresses='' -c fsync=off" start >/dev/null ||
	{ cat "$PG/log"; echo "FAIL  postgresql did not start"; exit 1; }
psql -X -q -h "$PG" -U postgres -d postgres -c 'CREATE DATABASE mamori' || { echo "FAIL  createdb"; exit 1; }
STORE="postgresql:///mamori?host=$PG&user=postgres"
IDLE=4

D=$T/srv
start_server "$D" --store "$STORE" --web-idle-seconds $IDLE || { echo "FAIL  server A did not start"; exit 1; }
ADM_A=$ADM
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
api POST /admin/v1/accounts "{\"username\":\"kansa\",\"password\":\"$PASSWORD\",\"role\":\"viewer\",\"staff_no\":\"3001\",\"display_name\":\"監査 次郎\"}" >/dev/null
check "ciso creates account kansa through A" test "$CODE" = 201

# instance B: the same data directory and database; its own ports
rm -f "$D/listen.json"
"$SERVER" --data "$D" --store "$STORE" --web-idle-seconds $IDLE --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
	>>"$T/b.log" 2>&1 &
B_PID=$!
for _ in $(seq 100); do
	[[ -s $D/listen.json && $(jq -r .pid "$D/listen.json") == "$B_PID" ]] && break
	sleep 0.1
done
check "instance B starts on the same data directory and database" \
	test "$(jq -r .pid "$D/listen.json" 2>/dev/null)" = "$B_PID"
ADM_B=$(jq -r .admin "$D/listen.json")
check "no session or throttle table in the server's data directory (the store is PostgreSQL)" \
	test ! -e "$D/server.db"

# web_login ADM USER → the cookie ("NAME=VALUE") in $T/USER.c
web_login() {
	curl -sS --cacert "$CA" -D "$T/$2.hdr" -o "$T/$2.login" -H 'X-Mamori-CSRF: 1' -H 'Content-Type: application/json' \
		--data-binary "{\"username\":\"$2\",\"password\":\"$PASSWORD\"}" "https://$1/admin/v1/login"
	tr -d '\r' <"$T/$2.hdr" | sed -nE 's/^set-cookie: *(__Host-mamori_session=[^;]*);.*/\1/Ip' >"$T/$2.c"
}
web() { # ADM USER PATH [curl args...] → status; body in $T/out.json
	local a=$1 u=$2 p=$3; shift 3
	curl -sS --cacert "$CA" -o "$T/out.json" -w '%{http_code}' -H "Cookie: $(cat "$T/$u.c")" -H 'X-Mamori-CSRF: 1' \
		"$@" "https://$a$p"
}

# ---- a dashboard session across instances ----
web_login "$ADM_A" kansa
check "dashboard login through A sets the session cookie" grep -q '^__Host-mamori_session=ms1_' "$T/kansa.c"
tok=$(cut -d= -f2 "$T/kansa.c")
hash=$(printf %s "$tok" | sha256sum | cut -d' ' -f1)
q() { psql -XAt -h "$PG" -U postgres -d mamori -c "$1"; }
check "the store holds the dashboard session by its hash" \
	test "$(q "SELECT count(*) FROM web_sessions w JOIN creds c ON c.hash = w.hash WHERE w.hash = '$hash'")" = 1
check "... never by the token" \
	test "$(q "SELECT (SELECT count(*) FROM web_sessions WHERE hash = '$tok') + (SELECT count(*) FROM creds WHERE hash = '$tok')")" = 0
check "A's dashboard session is used through B (200)" test "$(web "$ADM_B" kansa /admin/v1/dashboard/me)" = 200
check "... as kansa" jq -e '.user == "kansa"' "$T/out.json" >/dev/null
check "... and through A (200)" test "$(web "$ADM_A" kansa /admin/v1/dashboard/me)" = 200
check "logout through A (204)" test "$(web "$ADM_A" kansa /admin/v1/web/logout -X POST)" = 204
check "... B refuses the session at the next request (401)" test "$(web "$ADM_B" kansa /admin/v1/dashboard/me)" = 401
check "... and A too (401)" test "$(web "$ADM_A" kansa /admin/v1/dashboard/me)" = 401

# idle time-out (--web-idle-seconds 4) across instances: a use through B
# keeps the session alive for A; unused for longer, B ends it
web_login "$ADM_A" kansa
sleep 2.5
check "used through B 2.5 s after the login through A (200)" test "$(web "$ADM_B" kansa /admin/v1/dashboard/me)" = 200
sleep 2.5
check "used through A 5 s after the login, 2.5 s after B's use (200: B's use counts on A)" \
	test "$(web "$ADM_A" kansa /admin/v1/dashboard/me)" = 200
sleep $((IDLE + 1))
check "unused for $((IDLE + 1)) s: B ends it (401 session_idle)" \
	bash -c "[[ \$(curl -sS --cacert '$CA' -o '$T/idle.json' -w '%{http_code}' -H \"Cookie: \$(cat '$T/kansa.c')\" -H 'X-Mamori-CSRF: 1' 'https://$ADM_B/admin/v1/dashboard/me') == 401 ]] && jq -e '.error == \"session_idle\"' '$T/idle.json' >/dev/null"
check "... and A refuses it too (401)" test "$(web "$ADM_A" kansa /admin/v1/dashboard/me)" = 401

# ---- an API (bearer) session across instances ----
ciso=$TOKEN
login kansa
ADM=$ADM_B api GET /admin/v1/dashboard/me >/dev/null
check "a bearer session made through A is used through B (200)" test "$CODE" = 200
ADM=$ADM_A api POST /admin/v1/logout >/dev/null
check "bearer logout through A (204)" test "$CODE" = 204
ADM=$ADM_B api GET /admin/v1/dashboard/me >/dev/null
check "... refused through B (401)" test "$CODE" = 401
TOKEN=$ciso

# ---- failed logins counted across instances ----
login_at() { # ADM FROM USER PASSWORD → status
	curl -sS -o "$T/lf.out" -D "$T/lf.hdr" -w '%{http_code}' --cacert "$CA" --interface "$2" \
		"https://$1/admin/v1/login" --data-binary "{\"username\":\"$3\",\"password\":\"$4\"}" || echo 000
}
codes=
for i in 1 2 3 4 5; do
	((i % 2)) && a=$ADM_A || a=$ADM_B
	codes+="$(login_at "$a" 127.0.0.2 kansa "wrong password $i") "
done
check "5 wrong passwords for kansa alternating A, B, A, B, A: 401 each ($codes)" test "$codes" = "401 401 401 401 401 "
c=$(login_at "$ADM_B" 127.0.0.3 kansa "$PASSWORD")
check "... the account is locked on B, even with the right password from another address (429, got $c)" test "$c" = 429
check "... with Retry-After" grep -qi '^Retry-After: [1-9]' "$T/lf.hdr"
c=$(login_at "$ADM_A" 127.0.0.3 kansa "$PASSWORD")
check "... and on A (429, got $c)" test "$c" = 429
c=$(login_at "$ADM_B" 127.0.0.3 ciso "$PASSWORD")
check "another account is not locked by it (200, got $c)" test "$c" = 200

# an address: 20 failures (names no account can have: answered at once),
# 10 through each instance, then locked on both
codes=
for i in $(seq 20); do
	((i % 2)) && a=$ADM_A || a=$ADM_B
	codes+="$(login_at "$a" 127.0.0.4 "no/such-$i" x) "
done
check "20 failed logins from 127.0.0.4 alternating A and B: 401 each" \
	test "$(tr ' ' '\n' <<<"$codes" | grep -c 401)" = 20
c=$(login_at "$ADM_A" 127.0.0.4 ciso "$PASSWORD")
check "... the address is locked on A, for the right password too (429, got $c)" test "$c" = 429
c=$(login_at "$ADM_B" 127.0.0.4 ciso "$PASSWORD")
check "... and on B (429, got $c)" test "$c" = 429
c=$(login_at "$ADM_B" 127.0.0.5 ciso "$PASSWORD")
check "another address is not (200, got $c)" test "$c" = 200

kill "$B_PID"
wait "$B_PID" 2>/dev/null
rc=$?
B_PID=
check "instance B stops cleanly (status $rc)" test "$rc" = 0
[[ $rc == 0 ]] || tail -n 30 "$T/b.log"
finish
