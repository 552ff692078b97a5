# tests/integration/e2e_lib.bash — helpers sourced by the server and
# end-to-end tests (server_*.sh, e2e_*.sh): start/stop mamori-server on
# 127.0.0.1 with ports chosen at run time, the admin API through curl,
# assertions. Every server started here is stopped by the caller's trap
# (cleanup). Not a test itself (run-tests.sh runs *.sh only).

B=${MAMORI_BUILD:?MAMORI_BUILD}
SRC=${MAMORI_SRC:?MAMORI_SRC}
SERVER=${MAMORI_SERVER_BIN:-$SRC/$B/bin/mamori-server} # override: run the tests against another build
CTL=$SRC/$B/bin/mamorictl
HELPER=$SRC/$B/itests/e2e_agent
T=$(mktemp -d /tmp/mamori-e2e.XXXXXX)
SRV_PID=
PASSWORD='correct horse battery staple'
fails=0

cleanup() {
	if [[ -n $SRV_PID ]]; then kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; fi
	rm -rf "$T"
}

ok() { echo "ok    $*"; }
bad() { echo "FAIL  $*"; fails=$((fails + 1)); }
check() { # description command...
	local d=$1; shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}
matches() { # TEXT GLOB
	# shellcheck disable=SC2053
	[[ $1 == $2 ]]
}
finish() {
	stop_server
	echo "$fails failed"
	((fails == 0))
}

# start_server DATA [args...]: DPORT/APORT (default 0 = any free port) pick the ports.
start_server() {
	local data=$1; shift
	rm -f "$data/listen.json"
	SRV_LOG=$data.log
	SRV_DATA=$data
	# SERVER_NOFILE: the server's file limit (ulimit -n), for the connection-flood tests
	(
		[[ -n ${SERVER_NOFILE:-} ]] && ulimit -n "$SERVER_NOFILE"
		exec "$SERVER" --data "$data" --listen "127.0.0.1:${DPORT:-0}" --admin-listen "127.0.0.1:${APORT:-0}" "$@"
	) >>"$data.log" 2>&1 &
	SRV_PID=$!
	for _ in $(seq 100); do
		[[ -s $data/listen.json ]] && break
		kill -0 "$SRV_PID" 2>/dev/null || { cat "$data.log"; return 1; }
		sleep 0.1
	done
	[[ -s $data/listen.json ]] || { cat "$data.log"; return 1; }
	DEV=$(jq -r .device "$data/listen.json")
	ADM=$(jq -r .admin "$data/listen.json")
	FPR=$(jq -r .ca_fingerprint "$data/listen.json")
	CA=$data/ca.pem
}

# stop_server: SIGTERM, and the server must exit cleanly (0): under ASan a
# leak or any sanitizer report makes it fail the test.
stop_server() {
	local rc
	[[ -n $SRV_PID ]] || return 0
	kill "$SRV_PID"
	wait "$SRV_PID" 2>/dev/null
	rc=$?
	SRV_PID=
	if ((rc != 0)); then
		bad "mamori-server exited with status $rc"
		tail -n 40 "$SRV_LOG"
	fi
}

# api METHOD PATH [BODY] — admin API with $TOKEN; prints the body, sets $CODE
# (only when not run in a command substitution).
api() {
	local out=$T/api.out
	CODE=$(curl -sS -o "$out" -w '%{http_code}' --cacert "$CA" -X "$1" \
		${TOKEN:+-H "Authorization: Bearer $TOKEN"} ${3:+--data-binary "$3"} "https://$ADM$2") || CODE=000
	cat "$out"
}

# bootstrap DATA: first administrator "ciso" from the secret the server printed once.
bootstrap() {
	local secret
	secret=$(grep -o 'mb1_[A-Za-z0-9_-]*' "$1.log" | head -n1)
	TOKEN= api POST /admin/v1/bootstrap "{\"secret\":\"$secret\",\"username\":\"ciso\",\"password\":\"$PASSWORD\"}" >/dev/null
	[[ $CODE == 201 ]] || return 1
	login ciso
}

login() { # USER → $TOKEN  (api runs in this shell: $CODE is its status)
	TOKEN= api POST /admin/v1/login "{\"username\":\"$1\",\"password\":\"$PASSWORD\"}" >"$T/login.json"
	[[ $CODE == 200 ]] || return 1
	TOKEN=$(jq -r .token "$T/login.json")
	[[ $TOKEN == ms1_* ]]
}

# approve_console USER: a pending approver/ciso account approved out of band,
# on the server's console (OPS-4), while the server runs.
approve_console() {
	"$SERVER" --data "$SRV_DATA" --approve-account "$1" >/dev/null
}

new_token() { # GROUP → prints an enrollment token
	api POST /admin/v1/enrollment-tokens "{\"group\":\"$1\"}" | jq -r .token
}

# ctl ROOT args... — mamorictl for the terminal rooted at ROOT.
ctl() {
	local root=$1; shift
	"$CTL" --root "$root" --lang en "$@"
}

enroll() { # ROOT TERMINAL_ID GROUP
	local tok
	tok=$(new_token "$3")
	ctl "$1" enroll --server "https://$ADM" --token "$tok" --ca-fingerprint "$FPR" --terminal-id "$2"
}

state_dir() { echo "$1/var/lib/mamori"; }
