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
CLAMD_PID=
PASSWORD='correct horse battery staple'
fails=0

cleanup() {
	if [[ -n $SRV_PID ]]; then kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; fi
	if [[ -n $CLAMD_PID ]]; then kill "$CLAMD_PID" 2>/dev/null; wait "$CLAMD_PID" 2>/dev/null; fi
	# a failed case keeps its logs and journal exports where tests/run-tests.sh
	# keeps its own log: what a CI run leaves to look at afterwards
	if ((fails)) && [[ -n ${MAMORI_TEST_LOGDIR:-} && -d $T ]]; then
		local keep
		keep=$MAMORI_TEST_LOGDIR/$(basename "$0" .sh).files
		mkdir -p "$keep" &&
			find "$T" -maxdepth 3 -type f \( -name '*.log' -o -name '*.jsonl' -o -name '*.out' \) -size -8M \
				-exec cp --backup=numbered -t "$keep" {} + 2>/dev/null
		echo "      kept: $keep"
	fi
	rm -rf "$T"
}

ok() { echo "ok    $*"; }
bad() { echo "FAIL  $*"; fails=$((fails + 1)); }
check() { # description command...
	local d=$1; shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}
same() { # GOT WANT — equal; else both are shown, for the CI log's summary
	[[ $1 == "$2" ]] && return 0
	printf '      got:  %s\n      want: %s\n' "${1:0:400}" "${2:0:400}"
	return 1
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

# Contract = behaviour (issue 17.12): with MAMORI_API_RECORD_DIR set (by
# tests/run-tests.sh), every curl call to one https:// URL made by these
# tests is also recorded — method, path, status, Content-Type, body — as a
# line of $MAMORI_API_RECORD_DIR/TEST.jsonl; tests/contract/validate-responses.js
# checks each against server-api/openapi.yaml. The caller sees what curl
# gives (its -o, -w, -D, stdout, exit status) unchanged.
curl() {
	local dir=${MAMORI_API_RECORD_DIR:-}
	if [[ -z $dir ]]; then
		command curl "$@"
		return
	fi
	local a=("$@") out= hdr= method= url= nurl=0 data=0 i rc
	local rec
	rec=$(mktemp -d "${TMPDIR:-/tmp}/mamori-rec.XXXXXX") || { command curl "$@"; return; }
	for ((i = 0; i < ${#a[@]}; i++)); do
		case ${a[i]} in
		-o | --output) out=${a[i + 1]}; a[i + 1]=$rec/body; i=$((i + 1)) ;;
		-D | --dump-header) hdr=${a[i + 1]}; i=$((i + 1)) ;;
		-X | --request) method=${a[i + 1]}; i=$((i + 1)) ;;
		-d | --data | --data-binary | --data-raw | --json | -F | --form | -T | --upload-file) data=1; i=$((i + 1)) ;;
		-I | --head) nurl=99 ;;
		-H | --header | --cacert | --cert | --key | --max-time | -m | --interface | --connect-timeout | --resolve | \
			--connect-to | -w | --write-out | -u | --user | -A | --user-agent | --ciphers | --tls-max | --tls13-ciphers | \
			-e | --referer | -b | --cookie | -c | --cookie-jar | --limit-rate | --retry | -r | --range) i=$((i + 1)) ;;
		http://* | https://*) url=${a[i]}; nurl=$((nurl + 1)) ;;
		esac
	done
	[[ -n $out ]] || a+=(-o "$rec/body")
	[[ -n $hdr ]] || { hdr=$rec/headers; a+=(-D "$hdr"); }
	command curl "${a[@]}" >"$rec/stdout"
	rc=$?
	# the caller's view: the body where it asked for it, then -w's output
	if [[ -f $rec/body ]]; then
		if [[ -z $out ]]; then cat "$rec/body"; elif [[ $out != /dev/null ]]; then cp "$rec/body" "$out"; fi
	fi
	cat "$rec/stdout"
	if ((nurl == 1)) && [[ -s $hdr ]]; then
		local status ctype path=${url#*://}
		path=/${path#*/}
		[[ $path == "/${url#*://}" ]] && path=/
		path=${path%%\?*}
		status=$(awk '/^HTTP\//{s=$2} END{print s}' "$hdr")
		ctype=$(awk 'BEGIN{IGNORECASE=1} /^HTTP\//{c=""} tolower($0) ~ /^content-type:/{sub(/^[^:]*:[ \t]*/,""); sub(/\r$/,""); c=$0} END{print c}' "$hdr")
		[[ -n $method ]] || { ((data)) && method=POST || method=GET; }
		[[ -f $rec/body ]] || : >"$rec/body"
		if [[ -n $status ]] && (($(stat -c %s "$rec/body") <= 1048576)); then
			jq -cn --arg m "$method" --arg p "$path" --arg s "$status" --arg c "$ctype" \
				--rawfile b "$rec/body" --arg t "$(basename "$0" .sh)" \
				'{test:$t, method:($m|ascii_upcase), path:$p, status:($s|tonumber), content_type:$c, body:$b}' \
				>"$rec/line" 2>/dev/null &&
				flock "$dir/.lock" sh -c 'cat "$1" >>"$2"' - "$rec/line" "$dir/$(basename "$0" .sh).jsonl"
		fi
	fi
	rm -rf "$rec"
	return $rc
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

acct() { # USER ROLE STAFF DISPLAY [DEPARTMENT] — an account (password $PASSWORD) made with $TOKEN
	api POST /admin/v1/accounts "$(jq -n --arg u "$1" --arg r "$2" --arg s "$3" --arg d "$4" --arg p "$PASSWORD" \
		--arg dept "${5-}" '{username:$u,password:$p,role:$r,staff_no:$s,display_name:$d}
		+ (if $dept == "" then {} else {department:$dept} end)')"
}

# approve_console USER: a pending approver/ciso account approved out of band,
# on the server's console (OPS-4), while the server runs.
approve_console() {
	"$SERVER" --data "$SRV_DATA" --approve-account "$1" >/dev/null
}

new_group() { # GROUP: made if it does not exist (issue 17.15: tokens name existing groups)
	local out=$T/group.out code
	code=$(curl -sS -o "$out" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOKEN" \
		--data-binary "{\"name\":\"$1\"}" "https://$ADM/admin/v1/groups") || code=000
	[[ $code == 201 || $code == 409 ]]
}

new_token() { # GROUP → prints an enrollment token
	new_group "$1" || return 1
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

# dev_curl STATE_DIR args... — the device API as the terminal of STATE_DIR
# (its device.pem, its pinned server CA): mutual TLS like the agent.
dev_curl() {
	local sd=$1; shift
	curl -sS --cacert "$sd/server-ca.pem" --cert "$sd/device.pem" --key "$sd/device.pem" "$@"
}

# journal_time ROOT TYPE COMMAND_ID → the time (seconds since 1970, with
# fraction) of the first journal record TYPE for that command, "" if none.
journal_time() {
	ctl "$1" journal export --format jsonl 2>/dev/null |
		jq -r --arg t "$2" --arg id "$3" 'select(.type==$t and .payload.command_id==$id) | .time_us / 1000000' |
		head -n1
}

# shellcheck source=tests/integration/clamd_lib.bash
source "${BASH_SOURCE[0]%/*}/clamd_lib.bash"
# start_clamd SOCKET: a real clamd (never the system's) listening on SOCKET,
# its database EICAR alone (clamd_lib.bash); stopped by cleanup. Fails when
# clamd is missing (no skip).
start_clamd() {
	local r=0
	clamd_start_at "$T/clamd" "$1" || r=1
	CLAMD_PID=$clamd_pid # cleanup stops one that started without its socket too
	return $r
}

# publish_policy GROUP FILE APPROVER: upload with $TOKEN, approved by APPROVER
# (another person, OPS-4); $TOKEN is kept.
publish_policy() {
	local keep=$TOKEN v
	v=$(jq -r .version "$2")
	api PUT "/admin/v1/groups/$1/policy" "$(cat "$2")" >/dev/null
	[[ $CODE == 202 ]] || { echo "    policy upload: $CODE"; return 1; }
	login "$3" || return 1
	api POST "/admin/v1/groups/$1/policy/$v/approve" >/dev/null
	TOKEN=$keep
	[[ $CODE == 200 ]]
}

# Remote commands (docs/COMMANDS.md) for the agent rooted at $A: $APID is
# its mamorid.
cmd_status() { api GET "/admin/v1/commands/$1" | jq -r .status; }
cmd_wait() { # ID STATUS [tries of 0.2 s]
	local s
	for _ in $(seq "${3:-150}"); do
		s=$(cmd_status "$1")
		[[ $s == "$2" ]] && return 0
		sleep 0.2
	done
	echo "    command $1: status $s, wanted $2"
	return 1
}
cmd_request() { # TERMINAL TYPE [extra json] → the answer
	api POST /admin/v1/commands "{\"terminal_id\":\"$1\",\"type\":\"$2\"${3:+,$3}}"
}

# agent_start ROOT: mamorid (+ mamori-worker) of the terminal rooted at ROOT,
# in the background, its log in $T/agent.log; agent_stop: SIGTERM, and it
# must exit cleanly. $APID is its pid.
APID=
agent_start() {
	"$SRC/$B/bin/mamorid" --root "$1" --foreground --log-level debug >>"$T/agent.log" 2>&1 &
	APID=$!
}
agent_stop() {
	[[ -n $APID ]] || return 0
	kill -TERM "$APID" 2>/dev/null
	wait "$APID" 2>/dev/null || bad "mamorid exit status $?"
	APID=
}

# e2e_begin TERMINAL...: the start of an agent test: the trap (agent and
# server stopped, $T removed), D=$T/srv (the server's data), A=$T/FIRST (the
# first terminal's root) and each TERMINAL's $T/NAME/etc/mamori.
e2e_begin() {
	trap 'agent_stop; cleanup' EXIT
	D=$T/srv
	A=$T/$1
	for t in "$@"; do mkdir -p "$T/$t/etc/mamori"; done
}

# command_server DATA [server args...]: the server for the remote-command
# tests: started, "ciso" bootstrapped ($TOKEN, also in $CISO_TOKEN) and an
# approver "shonin" (another person, OPS-4) approved on the console. Exits
# the test on failure.
command_server() {
	local d=$1; shift
	start_server "$d" "$@" || { echo "FAIL  server did not start"; exit 1; }
	bootstrap "$d" || { echo "FAIL  bootstrap"; exit 1; }
	acct shonin approver 1002 "承認 花子" >/dev/null
	approve_console shonin || bad "approver account"
	CISO_TOKEN=$TOKEN
}

# Network namespaces for the isolation tests (MDM-2, AV-5), made here and
# only here: ns_setup makes $SRV (the server, 10.77.0.1), $TERM_NS (the
# terminal, 10.77.0.2 and 10.78.0.2) and $OTHER ("another host", 10.78.0.1,
# with a TCP listener on 8080), veth pairs between them; ns_teardown
# removes them (also the agent, the listener and the server). The admin API
# (curl) is used from the server's namespace.
ns_setup() {
	NS=mamori-$$
	SRV=$NS-srv TERM_NS=$NS-term OTHER=$NS-other OPID=
	command -v nft >/dev/null || { echo "FAIL  nft is not installed (installer/deps.sh --check: nftables)"; exit 1; }
	for n in "$SRV" "$TERM_NS" "$OTHER"; do
		ip netns add "$n" || { echo "FAIL  cannot create network namespace $n"; exit 1; }
		ip -n "$n" link set lo up
	done
	ip link add v-srv netns "$SRV" type veth peer name v-ts netns "$TERM_NS"
	ip link add v-oth netns "$OTHER" type veth peer name v-to netns "$TERM_NS"
	ip -n "$SRV" addr add 10.77.0.1/24 dev v-srv && ip -n "$SRV" link set v-srv up
	ip -n "$TERM_NS" addr add 10.77.0.2/24 dev v-ts && ip -n "$TERM_NS" link set v-ts up
	ip -n "$OTHER" addr add 10.78.0.1/24 dev v-oth && ip -n "$OTHER" link set v-oth up
	ip -n "$TERM_NS" addr add 10.78.0.2/24 dev v-to && ip -n "$TERM_NS" link set v-to up
	ip netns exec "$OTHER" python3 -m http.server --bind 10.78.0.1 8080 >/dev/null 2>&1 &
	OPID=$!
	curl() { ip netns exec "$SRV" /usr/bin/curl "$@"; }
}
ns_teardown() {
	agent_stop
	[[ -n ${OPID:-} ]] && kill "$OPID" 2>/dev/null && wait "$OPID" 2>/dev/null
	cleanup
	for n in "${SRV:-}" "${TERM_NS:-}" "${OTHER:-}"; do [[ -n $n ]] && ip netns del "$n" 2>/dev/null; done
	return 0
}
in_term() { ip netns exec "$TERM_NS" "$@"; }
reach() { in_term timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
unreach() { ! reach "$@"; }
# ns_server DATA: mamori-server in $SRV on 10.77.0.1 (start_server listens on
# 127.0.0.1 only); $DPORT_N is its device port.
ns_server() {
	local d=$1
	SRV_LOG=$d.log SRV_DATA=$d
	(exec ip netns exec "$SRV" "$SERVER" --data "$d" --name 10.77.0.1 --listen 10.77.0.1:0 \
		--admin-listen 10.77.0.1:0) >>"$d.log" 2>&1 &
	SRV_PID=$!
	for _ in $(seq 100); do [[ -s $d/listen.json ]] && break; sleep 0.1; done
	[[ -s $d/listen.json ]] || { echo "FAIL  server did not start"; cat "$d.log"; exit 1; }
	DEV=$(jq -r .device "$d/listen.json") ADM=$(jq -r .admin "$d/listen.json")
	FPR=$(jq -r .ca_fingerprint "$d/listen.json") CA=$d/ca.pem
	DPORT_N=${DEV##*:}
	bootstrap "$d" || { echo "FAIL  bootstrap"; exit 1; }
	acct shonin approver 1002 "承認 花子" >/dev/null
	approve_console shonin || bad "approver account"
	CISO_TOKEN=$TOKEN
}
# ns_begin TERMINAL: the start of an isolation test: the trap
# (ns_teardown), the namespaces, D=$T/srv with the server in $SRV, and
# A=$T/TERMINAL with its etc/mamori.
ns_begin() {
	trap ns_teardown EXIT
	ns_setup
	D=$T/srv
	A=$T/$1
	mkdir -p "$A/etc/mamori"
	ns_server "$D"
}
# ns_enroll ROOT ID: enrolled from the terminal's namespace
ns_enroll() {
	local tok
	tok=$(new_token soumu)
	in_term "$CTL" --root "$1" --lang en enroll --server "https://$ADM" --token "$tok" --ca-fingerprint "$FPR" \
		--terminal-id "$2"
}
# ns_agent_start ROOT: mamorid in the terminal's namespace, ready (signals
# handled, worker up) before anything sends it SIGHUP
ns_agent_start() {
	local n
	n=$(grep -c 'mamorid .* ready' "$T/agent.log" 2>/dev/null || true)
	# ip netns exec execs mamorid: $! is mamorid itself
	ip netns exec "$TERM_NS" "$SRC/$B/bin/mamorid" --root "$1" --foreground --log-level debug >>"$T/agent.log" 2>&1 &
	APID=$!
	for _ in $(seq 300); do
		(($(grep -c 'mamorid .* ready' "$T/agent.log" 2>/dev/null || true) > ${n:-0})) && return 0
		sleep 0.1
	done
	echo "    mamorid did not become ready within 30 s"
}
