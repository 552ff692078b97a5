#!/usr/bin/env bash
# tests/bench/scale.sh — `make bench-scale` (issue 18): simulated terminals
# (tests/bench/bench_scale.c, one process, one epoll loop) against
#   single: one mamori-server on SQLite, and
#   ha:     2 mamori-server instances sharing one store and one data
#           directory (CA, command and policy keys) behind HAProxy in TCP
#           mode — mutual TLS still ends at mamori-server.
# Every terminal is enrolled through the real API with its own key and
# certificate (no server test mode). 127.0.0.1 only, ports chosen at run
# time, everything stopped by the trap.
#
# Knobs (environment):
#   BENCH_SCALE_TERMINALS  simulated terminals            (default 100000)
#   BENCH_SCALE_INTERVAL   seconds between check-ins      (default 300: 333/s for 100,000)
#   BENCH_SCALE_SECONDS    length of the steady phase     (default 600)
#   BENCH_SCALE_EVENTS     journal records per visit      (default 2: ~576 a day a terminal)
#   BENCH_SCALE_TOPOLOGY   "single ha" (default), "single" or "ha"
#   BENCH_SCALE_STORE      the store of both topologies: "sqlite" (default: the data
#                          directory's server.db) or "postgresql": a PostgreSQL 15 cluster
#                          this script starts on a unix socket (in BENCH_SCALE_KEEP when it is
#                          set, so the enrolled terminals are kept with it). The terminals are
#                          enrolled once into a database `enrolled`; every topology runs on a
#                          fresh copy of it (CREATE DATABASE … TEMPLATE enrolled). Anything
#                          else is refused.
#   BENCH_SCALE_RESUME     1 (default): each terminal offers its last TLS session ticket, as
#                          the agent does (it keeps the newest in its state directory between
#                          syncs; tls_resumed counts them); 0: a full mutual-TLS handshake at
#                          every visit (an agent without a kept session)
#   BENCH_SCALE_APPROVALS  1 (default): before each topology's run, the first terminal sends a
#                          request (`bench_scale request`) and the CISO approves it through the
#                          admin API, so that every check-in's store read finds approval data and
#                          a terminal without the current version is sent a document signed for
#                          it (the first contact: every terminal once); 0: no request
#   BENCH_SCALE_SAY_APPROVALS 1 (default): each terminal says the approval data version it holds,
#                          as the agent does; 0: it does not (an agent before the check-in's
#                          "approvals_version"): every answer carries a document signed for it
#   BENCH_SCALE_KEEP       a directory kept between runs: the enrolled data directory and
#                          certificates are reused (enrolling 100,000 takes minutes)
#   BENCH_SCALE_SERVER_ENV "NAME=value …" added to the servers' environment only (an
#                          allocator to compare: LD_PRELOAD=…; MALLOC_ARENA_MAX=1), as env(1)
#                          takes them
#   BENCH_SCALE_LOGS       a directory the servers', HAProxy's and the generator's output is
#                          copied to at the end (the work directory itself is removed)
# The rate is what matters: 10,000 terminals at a 30-second interval load the
# server like 100,000 at 5 minutes (333 check-ins/s), with fewer keys to enroll.
set -euo pipefail
b=${MAMORI_BUILD:-build}
src=${MAMORI_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
[[ $b == /* ]] || b=$src/$b
N=${BENCH_SCALE_TERMINALS:-100000}
IV=${BENCH_SCALE_INTERVAL:-300}
S=${BENCH_SCALE_SECONDS:-600}
EV=${BENCH_SCALE_EVENTS:-2}
TOPO=${BENCH_SCALE_TOPOLOGY:-single ha}
ENGINE=${BENCH_SCALE_STORE:-sqlite}
case $ENGINE in
sqlite | postgresql) ;;
*) echo "bench scale: BENCH_SCALE_STORE must be sqlite or postgresql, not '$ENGINE'" >&2; exit 2 ;;
esac
STORE= # the --store URL of the servers ("" = the data directory's SQLite file)
W=$(mktemp -d /tmp/mamori-bench-scale.XXXXXX)
pids=()
adms=() # admin addresses of the servers of the topology running (metric)
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[[ -n ${PGC:-} ]] && pg_stop
	if [[ -n ${BENCH_SCALE_LOGS:-} ]]; then
		mkdir -p "$BENCH_SCALE_LOGS"
		cp "$W"/*.log "$W"/*.txt "$W"/*.cfg "$BENCH_SCALE_LOGS"/ 2>/dev/null || true
	fi
	rm -rf "$W"
}
trap cleanup EXIT
command -v haproxy >/dev/null || { echo "bench scale: haproxy missing (installer/deps.sh --bench)"; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
pw='bench-password-1234'

# A port for HAProxy's listener: below the kernel's ephemeral range (the
# bench's own connections, and the tens of thousands in TIME_WAIT after a
# burst, use that range: a port taken from it could not be bound — what
# made every visit of the 100,000-terminal HA run fail) and in no socket of
# any state.
free_port() {
	local p lo
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
	for _ in $(seq 50); do
		p=$((10000 + RANDOM % (lo - 10000)))
		ss -Htan "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
	return 1
}

# start_server DATA LOG → pid in $spid, addresses in $dev/$adm (waits for its listen.json)
start_server() {
	local data=$1 log=$2
	rm -f "$data/listen.json"
	# shellcheck disable=SC2086 # the knob is a list of NAME=value words
	env ${BENCH_SCALE_SERVER_ENV:-} "$b/bin/mamori-server" --data "$data" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
		${STORE:+--store "$STORE"} --max-connections 12000 --max-connections-per-address 3000 \
		--max-polls 100 ${topo_args:-} >>"$log" 2>&1 &
	spid=$!
	pids+=("$spid")
	for _ in $(seq 300); do
		[[ -s $data/listen.json && $(jq -r .pid "$data/listen.json") == "$spid" ]] && break
		kill -0 "$spid" 2>/dev/null || { cat "$log"; return 1; }
		sleep 0.1
	done
	dev=$(jq -r .device "$data/listen.json")
	adm=$(jq -r .admin "$data/listen.json")
	adms+=("$adm")
}

# metric NAME: the sum of a counter over the servers of this topology (/metrics)
metric() {
	local a t sum=0 v
	for a in "${adms[@]}"; do
		t=$(curl -sS --cacert "$CA" "https://$a/admin/v1/login" -d "{\"username\":\"ciso\",\"password\":\"$pw\"}" | jq -r .token)
		v=$(curl -sS --cacert "$CA" -H "Authorization: Bearer $t" "https://$a/metrics" | awk -v n="$1" '$1 == n {print $2}')
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# children_cpu PID…: CPU seconds of the processes' children (the server's
# signer: it signs the approval data and the commands), every phase
children_cpu() {
	local p c tck sum=0
	tck=$(getconf CLK_TCK)
	for p in "$@"; do
		for c in $(pgrep -P "$p"); do
			sum=$(awk -v s="$sum" -v t="$tck" '{ sub(/.*\) /, ""); split($0, f, " "); printf "%.2f", s + (f[12] + f[13]) / t }' "/proc/$c/stat" 2>/dev/null || echo "$sum")
		done
	done
	echo "$sum"
}

# The data directory with N enrolled terminals (kept in BENCH_SCALE_KEEP).
K=${BENCH_SCALE_KEEP:-$W/keep}
[[ $ENGINE == sqlite ]] || K=$K/$ENGINE # its own terminals, CA and certificates
mkdir -p "$K"
PGBIN=/usr/lib/postgresql/15/bin
PGC=
pg_stop() {
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGC/data" -w -m fast stop >/dev/null 2>&1 || true
}
pg_url() { echo "postgresql:///$1?host=$PGC&user=postgres"; }
export PGOPTIONS="-c client_min_messages=warning" # no NOTICE for DROP … IF EXISTS
if [[ $ENGINE == postgresql ]]; then
	[[ -x $PGBIN/pg_ctl ]] || { echo "bench scale: PostgreSQL 15 missing (installer/deps.sh --check)" >&2; exit 1; }
	# the cluster's directory must be reachable by the postgres user
	chmod 711 "$W"
	PGC=$K/cluster
	if [[ ! -s $PGC/data/PG_VERSION ]]; then
		rm -rf "$PGC" "$K/certs.bin" "$K/terminals"
		mkdir -p "$PGC" && chown postgres:postgres "$PGC" && chmod 755 "$PGC"
		runuser -u postgres -- "$PGBIN/initdb" -D "$PGC/data" -A trust --locale=C -E UTF8 -U postgres \
			>"$PGC/initdb.log" 2>&1 || { cat "$PGC/initdb.log"; exit 1; }
	fi
	# durable commits as in production (fsync and synchronous_commit stay on)
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGC/data" -w -l "$PGC/log" \
		-o "-k $PGC -c listen_addresses='' -c max_connections=200 -c shared_buffers=256MB" start >/dev/null ||
		{ tail "$PGC/log"; exit 1; }
	psql -XAtq "$(pg_url postgres)" -c "SELECT 1 FROM pg_database WHERE datname = 'enrolled'" | grep -q 1 ||
		rm -f "$K/certs.bin" "$K/terminals"
	STORE=$(pg_url enrolled)
fi
if [[ ! -s $K/certs.bin || $(cat "$K/terminals" 2>/dev/null) != "$N" ]]; then
	rm -rf "$K/srv" "$K/certs.bin" "$K/terminals"
	if [[ $ENGINE == postgresql ]]; then
		psql -XAtq "$(pg_url postgres)" -c 'DROP DATABASE IF EXISTS enrolled' -c 'CREATE DATABASE enrolled' >/dev/null
	fi
	start_server "$K/srv" "$K/srv.log"
	secret=$(grep -o 'mb1_[A-Za-z0-9_-]*' "$K/srv.log" | head -n1)
	CA=$K/srv/ca.pem
	curl -sS --cacert "$CA" "https://$adm/admin/v1/bootstrap" \
		-d "{\"secret\":\"$secret\",\"username\":\"ciso\",\"password\":\"$pw\"}" >/dev/null
	tok=$(curl -sS --cacert "$CA" "https://$adm/admin/v1/login" -d "{\"username\":\"ciso\",\"password\":\"$pw\"}" |
		jq -r .token)
	curl -sS --cacert "$CA" -H "Authorization: Bearer $tok" "https://$adm/admin/v1/groups" -d '{"name":"scale"}' >/dev/null
	t0=$(date +%s.%N)
	MAMORI_BENCH_TOKEN=$tok "$b/bench/bench_scale" enroll "$adm" "$CA" scale scale "$N" "$K/certs.bin" >"$W/enroll.txt"
	echo "enrolled $N terminals through the API in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.0f", b-a}') s ($(awk '/^enroll_per_s/ {print $2}' "$W/enroll.txt")/s)"
	kill "$spid"
	wait "$spid" 2>/dev/null || true
	echo "$N" >"$K/terminals"
	cp -a "$K/srv" "$K/srv.enrolled"
else
	# every run starts from the freshly enrolled state (no events yet)
	rm -rf "$K/srv"
	cp -a "$K/srv.enrolled" "$K/srv"
fi

# the store's SQL, for the oracle: sqlite3 on the file, psql on PostgreSQL
db_sql() { # DATA SQL
	if [[ -z $STORE ]]; then
		sqlite3 "$1/server.db" "$2"
	else
		psql -XAt "$STORE" -c "$2"
	fi
}
db_events() { db_sql "$1" "SELECT count(*) FROM events WHERE terminal_id LIKE 'scale-%'"; }
db_findings() { db_sql "$1" "SELECT count(*) FROM findings WHERE terminal_id LIKE 'scale-%'"; }
db_bytes() {
	if [[ -z $STORE ]]; then
		du -cb "$1/server.db"* | awk 'END {print $1}'
	else
		psql -XAt "$STORE" -c "SELECT pg_database_size(current_database())"
	fi
}

printf 'terminals %s, check-in every %s s (%s/s), %s records a visit, steady %s s; store %s\n' \
	"$N" "$IV" "$(awk -v n="$N" -v i="$IV" 'BEGIN{printf "%.0f", n/i}')" "$EV" "$S" "$([[ $ENGINE == sqlite ]] && echo 'sqlite (data directory)' || echo 'PostgreSQL 15 (a cluster of its own, unix socket)')"
for topo in $TOPO; do
	D=$W/$topo
	rm -rf "$D"
	cp -a "$K/srv.enrolled" "$D"
	if [[ $ENGINE == postgresql ]]; then
		psql -XAtq "$(pg_url postgres)" -c 'DROP DATABASE IF EXISTS run' -c 'CREATE DATABASE run TEMPLATE enrolled' >/dev/null
		STORE=$(pg_url run)
	fi
	CA=$D/ca.pem
	spids=()
	adms=()
	case $topo in
	single)
		topo_args=
		start_server "$D" "$W/$topo.log"
		spids+=("$spid")
		target=$dev
		;;
	ha)
		# round robin: a terminal's next visit goes to either instance, so
		# the sessions are stateless tickets every instance resumes (keys
		# from the shared data directory), not each process's cache
		topo_args="--tls-session-cache 0"
		start_server "$D" "$W/$topo-1.log"
		spids+=("$spid")
		d1=$dev
		start_server "$D" "$W/$topo-2.log"
		spids+=("$spid")
		d2=$dev
		hp=$(free_port)
		cat >"$W/haproxy.cfg" <<EOF
global
	maxconn 8000
defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend device
	bind 127.0.0.1:$hp
	default_backend mamori
backend mamori
	balance roundrobin
	server s1 $d1 check
	server s2 $d2 check
EOF
		haproxy -db -f "$W/haproxy.cfg" >"$W/haproxy.log" 2>&1 &
		hpid=$!
		pids+=("$hpid")
		spids+=("$hpid")
		for _ in $(seq 50); do ss -Htln "sport = :$hp" | grep -q . && break; sleep 0.1; done
		# a load balancer that is not listening fails the run here, not as
		# thousands of refused visits
		if ! kill -0 "$hpid" 2>/dev/null || ! ss -Htln "sport = :$hp" | grep -q .; then
			echo "bench scale: HAProxy is not listening on 127.0.0.1:$hp:" >&2
			cat "$W/haproxy.log" >&2
			exit 1
		fi
		target=127.0.0.1:$hp
		;;
	*) echo "bench scale: unknown topology $topo"; exit 1 ;;
	esac
	pidlist=$(IFS=,; echo "${spids[*]}")
	# the records' times, the same for `request` and `run` (a record sent
	# again must be the same bytes)
	export MAMORI_BENCH_TIME_BASE_US=$((($(date +%s) - 3600) * 1000000))
	if [[ ${BENCH_SCALE_APPROVALS:-1} == 1 ]]; then
		"$b/bench/bench_scale" request "$target" "$CA" "$K/certs.bin" >"$W/$topo-request.txt" 2>&1 ||
			{ echo "bench scale: the request did not reach the server:" >&2; cat "$W/$topo-request.txt" >&2; exit 1; }
		t=$(curl -sS --cacert "$CA" "https://$adm/admin/v1/login" -d "{\"username\":\"ciso\",\"password\":\"$pw\"}" | jq -r .token)
		rq=
		for _ in $(seq 50); do
			rq=$(curl -sS --cacert "$CA" -H "Authorization: Bearer $t" "https://$adm/admin/v1/requests?status=pending" |
				jq -r --arg r "b5$(printf '%030d' 0)" '[.[] | select(.request_id == $r)][0].id // empty')
			[[ -n $rq ]] && break
			sleep 0.1
		done
		until=$(date -u -d "@$(($(date +%s) + 30 * 86400))" +%Y-%m-%dT%H:%M:%SZ)
		code=$(curl -sS -o "$W/$topo-approve.txt" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $t" \
			"https://$adm/admin/v1/requests/${rq:-none}/approve" \
			-d "{\"scope\":\"terminal\",\"person\":\"anyone\",\"access\":\"ro\",\"until\":\"$until\"}")
		[[ $code == 200 ]] ||
			{ echo "bench scale: approving the request ${rq:-(none pending)}: HTTP $code $(cat "$W/$topo-approve.txt")" >&2; exit 1; }
	fi
	rc=0
	"$b/bench/bench_scale" run "$target" "$CA" "$K/certs.bin" "$S" "$IV" "$EV" "$pidlist" >"$W/$topo.txt" || rc=$?
	sleep 2 # the servers' check-in buffers are written every second
	# (a server that cannot answer leaves the counts at 0, not the run)
	commits=$(metric mamori_event_upload_commits_total || echo 0)
	committed=$(metric mamori_event_uploads_committed_total || echo 0)
	stored=$(db_events "$D")
	gen=$(awk '/^events_generated/ {print $2}' "$W/$topo.txt")
	mem=$(for p in "${spids[@]}"; do hwm "$p"; done | awk '{s += $1} END {print s}')
	echo "== $topo ($([[ $topo == single ]] && echo '1 mamori-server' || echo '2 mamori-server behind HAProxy (TCP)'))"
	# resuming (the default): the first contact (every terminal once, full handshakes) comes first
	sed -n '/^\[first_contact\]/,/^\[steady\]/p' "$W/$topo.txt" | grep -v '^\[steady\]' | sed 's/^/  /'
	sed -n '/^\[steady\]/,/^\[burst\]/p' "$W/$topo.txt" | grep -v '^\[burst\]' | sed 's/^/  /'
	sed -n '/^\[burst\]/,/^\[total\]/p' "$W/$topo.txt" | grep -v '^\[total\]' | sed 's/^/  /'
	sed -n '/^\[total\]/,$p' "$W/$topo.txt" | sed 's/^/  /'
	echo "  events_stored $stored"
	echo "  events_lost $((gen - stored))"
	echo "  tamper_findings $(db_findings "$D")"
	echo "  database_bytes $(db_bytes "$D")"
	echo "  upload_commits $commits (uploads in them $committed: $(awk -v a="$committed" -v c="$commits" 'BEGIN {printf "%.1f", c ? a / c : 0}') a commit)"
	echo "  server_vmhwm_kib $mem (sum over the processes measured)"
	echo "  signer_cpu_s $(children_cpu "${spids[@]}") (the servers' children, every phase; included in server CPU above)"
	echo "  approval_documents_signed $(metric mamori_checkin_approval_documents_total) (server, every phase; received: $(awk '$1 == "grants_received" {s += $2} END {print s + 0}' "$W/$topo.txt"))"
	awk -v f="$W/$topo.txt" -v lost="$((gen - stored))" -v n="$N" -v iv="$IV" 'BEGIN {
		while ((getline l < f) > 0) { split(l, a, " "); if (a[1] == "[steady]") s = 1; if (a[1] == "[burst]") b = 1;
			if (s && !b && a[1] == "checkin_p99_ms") p99 = a[2]; if (s && !b && a[1] == "errors") err = a[2];
			if (s && !b && a[1] == "checkins_per_s") rate = a[2]; if (s && !b && a[1] == "server_cpu_share") cpu = a[2] }
		want = n / iv
		printf("  steady rate %.0f/s (reference %.0f/s = terminals / interval) %s\n", rate, want, rate >= 0.95 * want ? "met" : "NOT met")
		printf("  check-in p99 %s ms (target < 200 ms) %s\n", p99, p99 != "-" && p99 + 0 < 200 ? "met" : "NOT met")
		printf("  errors %s, lost events %s (target 0, 0) %s\n", err, lost, err == 0 && lost == 0 ? "met" : "NOT met")
		# CPU headroom counts only when the rate was sustained (a server
		# waiting on fsync uses little CPU and still falls behind)
		if (cpu > 0) printf("  headroom %.1fx (2 cores / server CPU share %.2f, at the rate above; target >= 5x) %s\n", 2 / cpu, cpu, 2 / cpu >= 5 && rate >= 0.95 * want ? "met" : "NOT met")
	}'
	((rc == 0)) || echo "  bench_scale exited $rc"
	for p in "${spids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
done
