#!/usr/bin/env bash
# tests/bench/server.sh — check-ins per second over mTLS with keep-alive from
# BENCH_TERMINALS simulated terminals (bench_checkin, one enrolled
# certificate each), against mamori-server and, in the same run, against
# nginx serving the same answer with the same mTLS setup; the ratio, latency
# percentiles, and mamori-server's peak memory (VmHWM). 127.0.0.1 only,
# ports chosen at run time, both servers stopped by the trap.
#
# Fairness: mamori-server is one thread (one libevent loop, SQLite write per
# check-in); nginx runs with worker_processes 1 — the same one core. nginx
# does not parse the report or write anything; mamori-server does both.
set -euo pipefail
b=$MAMORI_BUILD
[[ $b == /* ]] || b=$MAMORI_SRC/$b
N=${BENCH_TERMINALS:-32}
S=${BENCH_SECONDS:-5}
W=$(mktemp -d /tmp/mamori-bench-server.XXXXXX)
srv_pid=
ngx_pid_file=$W/nginx/nginx.pid
cleanup() {
	[[ -n $srv_pid ]] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
	[[ -s $ngx_pid_file ]] && kill "$(cat "$ngx_pid_file")" 2>/dev/null
	sleep 0.2
	rm -rf "$W"
}
trap cleanup EXIT
command -v nginx >/dev/null || { echo "bench server: nginx missing (installer/deps.sh --bench)"; exit 1; }

"$b/bin/mamori-server" --data "$W/srv" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >"$W/srv.log" 2>&1 &
srv_pid=$!
for _ in $(seq 100); do [[ -s $W/srv/listen.json ]] && break; sleep 0.1; done
dev=$(jq -r .device "$W/srv/listen.json")
adm=$(jq -r .admin "$W/srv/listen.json")
fpr=$(jq -r .ca_fingerprint "$W/srv/listen.json")
CA=$W/srv/ca.pem
pw='bench-password-1234'
secret=$(grep -o 'mb1_[A-Za-z0-9_-]*' "$W/srv.log" | head -n1)
curl -sS --cacert "$CA" "https://$adm/admin/v1/bootstrap" \
	-d "{\"secret\":\"$secret\",\"username\":\"ciso\",\"password\":\"$pw\"}" >/dev/null
tok=$(curl -sS --cacert "$CA" "https://$adm/admin/v1/login" -d "{\"username\":\"ciso\",\"password\":\"$pw\"}" | jq -r .token)

curl -sS --cacert "$CA" -H "Authorization: Bearer $tok" "https://$adm/admin/v1/groups" -d '{"name":"bench"}' >/dev/null
pems=()
for i in $(seq "$N"); do
	et=$(curl -sS --cacert "$CA" -H "Authorization: Bearer $tok" "https://$adm/admin/v1/enrollment-tokens" \
		-d '{"group":"bench"}' | jq -r .token)
	"$b/bin/mamorictl" --root "$W/t$i" enroll --server "https://$adm" --token "$et" --ca-fingerprint "$fpr" \
		--terminal-id "bench-$i" >/dev/null
	pems+=("$W/t$i/var/lib/mamori/device.pem")
done

answer=$(curl -sS --cacert "$CA" --cert "${pems[0]}" "https://$dev/api/v1/checkin" \
	-d '{"agent_version":"0.1.0"}')
"$b/bench/bench_checkin" "$dev" "$CA" 1 "${pems[@]}" >/dev/null # warm-up
"$b/bench/bench_checkin" "$dev" "$CA" "$S" "${pems[@]}" >"$W/mamori.txt"
hwm=$(awk '/^VmHWM/ {print $2, $3}' "/proc/$srv_pid/status")
# issue 18: the same terminals again while the store holds the rest of a
# fleet's live approvals and commands — 20,000 commands queued or delivered
# to other terminals (one command sent to 10,000 terminals, twice) and 5,000
# approvals of other terminals, 1,000 of them department-wide: what a
# check-in reads must not grow with them (schema 11). Written beside the
# running server, as another writer would (WAL). The approvals carry version
# 0: these terminals do not say which approval data they hold, so a higher
# version would put a signed document in every answer (that cost is
# bench-scale's, BENCH_SCALE_APPROVALS), not the reads measured here.
sqlite3 "$W/srv/server.db" "PRAGMA busy_timeout = 10000;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
 INSERT INTO commands(id, terminal_id, type, params, issued_at, not_after, nonce, requested_by, approved_by,
 status, envelope, signature, result, created_us, updated_us)
 SELECT 'fleet-c' || i, 'fleet-' || (i % 10000), 'sync', '{}', 0, 4102444800, 'n' || i, 'admin', 'ciso',
 CASE WHEN i % 2 = 0 THEN 'queued' ELSE 'delivered' END, '', '', '', 0, 0 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
 INSERT INTO requests(id, terminal_id, grp, request_id, kind, person, body, seq, status, scope, decision,
 decided_by, version, not_after, created_us, decided_us)
 SELECT 'fleet-r' || i, 'fleet-' || i, 'fleet-dept-' || (i % 20), 'q' || i, 'device', 'p', '{}', 1, 'approved',
 CASE WHEN i % 5 = 0 THEN 'department' ELSE 'terminal' END, '{}', 'ciso', 0, 4102444800, 0, 0 FROM n;" >/dev/null
"$b/bench/bench_checkin" "$dev" "$CA" "$S" "${pems[@]}" >"$W/fleet.txt"

# nginx: the same certificate, CA, TLS 1.3, the same answer, one worker
mkdir -p "$W/nginx/logs"
ngx_port=
for _ in $(seq 10); do
	p=$((20000 + RANDOM % 40000))
	ss -Htln "sport = :$p" | grep -q . && continue
	cat >"$W/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon on;
pid $ngx_pid_file;
error_log $W/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $W/nginx/body;
	proxy_temp_path $W/nginx/proxy;
	fastcgi_temp_path $W/nginx/fastcgi;
	uwsgi_temp_path $W/nginx/uwsgi;
	scgi_temp_path $W/nginx/scgi;
	keepalive_requests 10000000;
	keepalive_timeout 60s;
	server {
		listen 127.0.0.1:$p ssl;
		ssl_certificate $W/srv/server.pem;
		ssl_certificate_key $W/srv/server.key;
		ssl_client_certificate $CA;
		ssl_verify_client on;
		ssl_protocols TLSv1.3;
		location = /api/v1/checkin {
			default_type application/json;
			return 200 '$answer';
		}
	}
}
EOF
	if nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" 2>"$W/nginx/start.err"; then
		ngx_port=$p
		break
	fi
done
[[ -n $ngx_port ]] || { echo "bench server: nginx did not start"; cat "$W/nginx/start.err"; exit 1; }
"$b/bench/bench_checkin" "127.0.0.1:$ngx_port" "$CA" 1 "${pems[@]}" >/dev/null
"$b/bench/bench_checkin" "127.0.0.1:$ngx_port" "$CA" "$S" "${pems[@]}" >"$W/nginx.txt"

m=$(awk '/^checkins_per_s/ {print $2}' "$W/mamori.txt")
n=$(awk '/^checkins_per_s/ {print $2}' "$W/nginx.txt")
printf 'terminals %s (one mTLS keep-alive connection each, %s s, %s-byte check-in with a 14-check report)\n' \
	"$N" "$S" "$(awk '/^request_bytes/ {print $2}' "$W/mamori.txt")"
printf '%-28s %10s %12s %12s %8s\n' server checkins/s p50_us p99_us errors
for f in mamori fleet nginx; do
	printf '%-28s %10s %12s %12s %8s\n' \
		"$(case $f in mamori) echo mamori-server ;; fleet) echo '  + 25,000 rows of others' ;; *) echo 'nginx (1 worker, static)' ;; esac)" \
		"$(awk '/^checkins_per_s/ {print $2}' "$W/$f.txt")" "$(awk '/^latency_us_p50/ {print $2}' "$W/$f.txt")" \
		"$(awk '/^latency_us_p99/ {print $2}' "$W/$f.txt")" "$(awk '/^errors/ {print $2}' "$W/$f.txt")"
done
awk -v m="$m" -v n="$n" 'BEGIN { r = m / n; printf "ratio mamori/nginx %.2f (target >= 0.8, issue 23) %s\n", r, (r >= 0.8 ? "met" : "NOT met") }'
awk -v m="$m" -v f="$(awk '/^checkins_per_s/ {print $2}' "$W/fleet.txt")" 'BEGIN { r = f / m; printf "ratio with the fleet'"'"'s 25,000 live commands and approvals in the store / without %.2f (target >= 0.9, issue 18) %s\n", r, (r >= 0.9 ? "met" : "NOT met") }'
echo "mamori-server VmHWM $hwm"

# issue 17: one terminal's check-in latency, alone and while 30 clients (each
# from its own 127/8 address) hammer the admin listener with failed logins
flood=$b/itests/server_flood
"$flood" "$dev" "$adm" "$CA" "${pems[0]}" "$S" 0 >"$W/quiet.txt"
"$flood" "$dev" "$adm" "$CA" "${pems[0]}" "$S" 30 >"$W/flood.txt"
printf '%-36s %10s %10s %10s %10s\n' 'check-in (one terminal, every 20 ms)' p50_us p99_us max_us logins_401
for f in quiet flood; do
	printf '%-36s %10s %10s %10s %10s\n' "$([[ $f == quiet ]] && echo 'no login flood' || echo '30 clients failing logins')" \
		"$(awk '/^p50_us/ {print $2}' "$W/$f.txt")" "$(awk '/^p99_us/ {print $2}' "$W/$f.txt")" \
		"$(awk '/^max_us/ {print $2}' "$W/$f.txt")" "$(awk '/^login_401/ {print $2}' "$W/$f.txt")"
done
