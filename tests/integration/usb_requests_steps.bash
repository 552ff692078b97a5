# tests/integration/usb_requests_steps.bash — the server side of
# usb_requests.c, one step per run: `bash usb_requests_steps.bash STEP ARGS`
# (the testbed program calls it without the ASan preload). The server, its
# CA and the accounts' tokens come from usb_requests.sh through the
# environment (RQ_*). Prints the step's answer; exit status 0 when the step
# got what the test wants to see next.
set -uo pipefail
source "$MAMORI_SRC/tests/integration/e2e_lib.bash"
rm -rf "$T"
T=$RQ_T
ADM=$RQ_ADM CA=$RQ_CA FPR=$RQ_FPR
step=$1; shift
# the person an approval of request ID names: the requester for a carry-out,
# anyone for a device or an exception (they hold for the terminal)
person_for() {
	[[ $(api GET "/admin/v1/requests/$1" | jq -r .kind) == carry-out ]] && echo requester || echo anyone
}
case $step in
enroll) # ROOT TERMINAL
	TOKEN=$RQ_TOK_CISO
	new_group soumu || exit 1
	tok=$(api POST /admin/v1/enrollment-tokens '{"group":"soumu","department":"総務課"}' | jq -r .token)
	[[ $tok && $tok != null ]] || exit 1
	ctl "$1" enroll --server "https://$ADM" --token "$tok" --ca-fingerprint "$FPR" --terminal-id "$2" >/dev/null
	;;
wait_request) # KIND [PERSON]: the id of the newest pending request of that kind by PERSON (nobody), within 30 s
	TOKEN=$RQ_TOK_SHONIN
	for _ in $(seq 150); do
		id=$(api GET "/admin/v1/requests?status=pending" |
			jq -r --arg k "$1" --arg p "${2:-nobody}" '[.[] | select(.kind == $k and .person == $p)][0].id // empty')
		[[ -n $id ]] && { echo "$id"; exit 0; }
		sleep 0.2
	done
	exit 1
	;;
device_serial) # ID: the serial of the device the server's request ID names (what the terminal sent)
	TOKEN=$RQ_TOK_CISO
	api GET "/admin/v1/requests/$1" >/dev/null # not in a subshell: CODE is set by api
	[[ $CODE == 200 ]] && jq -r '.request.device.serial // empty' "$T/api.out"
	;;
wait_emergency) # [SECONDS]: the id of the pending_ack request of an emergency code, within SECONDS (30)
	TOKEN=$RQ_TOK_SHONIN
	for _ in $(seq $((${1:-30} * 5))); do
		id=$(api GET "/admin/v1/requests?status=pending_ack" |
			jq -r '[.[] | select(.kind == "emergency" and .person == "nobody")][0].id // empty')
		[[ -n $id ]] && { echo "$id"; exit 0; }
		sleep 0.2
	done
	exit 1
	;;
acknowledge) # ID ACCOUNT: prints the HTTP status
	case $2 in shonin) TOKEN=$RQ_TOK_SHONIN ;; nobody) TOKEN=$RQ_TOK_NOBODY ;; *) exit 2 ;; esac
	api POST "/admin/v1/requests/$1/acknowledge" '{"note":"confirmed by phone"}' >/dev/null
	echo "$CODE"
	;;
inbox) # ID ACCOUNT: the dashboard's approvals inbox for that account — can_decide and reason of the request
	case $2 in shonin) TOKEN=$RQ_TOK_SHONIN ;; nobody) TOKEN=$RQ_TOK_NOBODY ;; *) exit 2 ;; esac
	api GET /admin/v1/dashboard/approvals | jq -r --arg id "$1" '.requests[] | select(.id == $id) | "\(.can_decide) \(.reason // "")"'
	;;
dept_refused) # ID: an approver of another department (kaikei, 会計課) neither sees nor decides it (issue 16.2)
	TOKEN=$RQ_TOK_KAIKEI
	api GET "/admin/v1/requests" >"$T/list.out"
	n=$(jq --arg id "$1" '[.[] | select(.id == $id)] | length' "$T/list.out")
	[[ $CODE == 200 && $n == 0 ]] || { echo "listed to kaikei: $CODE $n"; exit 1; }
	api GET /admin/v1/dashboard/approvals >"$T/list.out"
	n=$(jq --arg id "$1" '[.requests[] | select(.id == $id)] | length' "$T/list.out")
	[[ $CODE == 200 && $n == 0 ]] || { echo "in kaikei's inbox: $CODE $n"; exit 1; }
	api GET "/admin/v1/requests/$1" >/dev/null
	[[ $CODE == 403 ]] || { echo "get by kaikei: $CODE"; exit 1; }
	until=$(date -u -d "@$(($(date +%s) + 3600))" +%Y-%m-%dT%H:%M:%SZ)
	api POST "/admin/v1/requests/$1/approve" \
		"{\"scope\":\"terminal\",\"person\":\"anyone\",\"access\":\"ro\",\"until\":\"$until\"}" >"$T/approve.out"
	[[ $CODE == 403 ]] && jq -e '.error == "other_department"' "$T/approve.out" >/dev/null ||
		{ echo "approve by kaikei: $CODE $(cat "$T/approve.out")"; exit 1; }
	echo refused
	;;
get) # ID
	TOKEN=$RQ_TOK_SHONIN api GET "/admin/v1/requests/$1"
	;;
approve) # ID ACCOUNT UNTIL_EPOCH [BODY]: prints the HTTP status
	case $2 in shonin) TOKEN=$RQ_TOK_SHONIN ;; nobody) TOKEN=$RQ_TOK_NOBODY ;; *) exit 2 ;; esac
	until=$(date -u -d "@$3" +%Y-%m-%dT%H:%M:%SZ)
	body=${4:-"{\"scope\":\"terminal\",\"person\":\"anyone\",\"access\":\"ro\",\"until\":\"$until\"}"}
	api POST "/admin/v1/requests/$1/approve" "$body" >"$T/approve.out"
	echo "$CODE"
	;;
approve_rw) # ID ACCOUNT UNTIL_EPOCH: a read-write approval (a carry-out's for the requester, else for anyone)
	case $2 in shonin) TOKEN=$RQ_TOK_SHONIN ;; nobody) TOKEN=$RQ_TOK_NOBODY ;; *) exit 2 ;; esac
	until=$(date -u -d "@$3" +%Y-%m-%dT%H:%M:%SZ)
	api POST "/admin/v1/requests/$1/approve" \
		"{\"scope\":\"terminal\",\"person\":\"$(person_for "$1")\",\"access\":\"rw\",\"until\":\"$until\"}" >"$T/approve.out"
	echo "$CODE"
	;;
wait_event) # TYPE APPROVAL: an uploaded event of TYPE whose payload names APPROVAL, within 30 s
	TOKEN=$RQ_TOK_CISO
	for _ in $(seq 150); do
		api GET "/admin/v1/events?type=$1&limit=1000" |
			jq -e --arg a "$2" '[.events[] | select(.record.payload.approval == $a)] | length > 0' >/dev/null &&
			exit 0
		sleep 0.2
	done
	exit 1
	;;
approve_err) # ID ACCOUNT UNTIL_EPOCH: a read-write approval (person as approve_rw); prints "STATUS ERROR-CODE"
	case $2 in shonin) TOKEN=$RQ_TOK_SHONIN ;; nobody) TOKEN=$RQ_TOK_NOBODY ;; *) exit 2 ;; esac
	until=$(date -u -d "@$3" +%Y-%m-%dT%H:%M:%SZ)
	api POST "/admin/v1/requests/$1/approve" \
		"{\"scope\":\"terminal\",\"person\":\"$(person_for "$1")\",\"access\":\"rw\",\"until\":\"$until\"}" >"$T/approve.out"
	echo "$CODE $(jq -r '.error // ""' "$T/approve.out")"
	;;
reject) # ID REASON: prints the HTTP status
	TOKEN=$RQ_TOK_SHONIN
	api POST "/admin/v1/requests/$1/reject" "$(jq -n --arg r "$2" '{reason:$r}')" >/dev/null
	echo "$CODE"
	;;
revoke) # ID REASON: an approval withdrawn by shonin; prints "STATUS ERROR-CODE-OR-NEW-STATUS"
	TOKEN=$RQ_TOK_SHONIN
	api POST "/admin/v1/requests/$1/revoke" "$(jq -n --arg r "$2" 'if $r == "" then {} else {reason:$r} end')" >"$T/revoke.out"
	echo "$CODE $(jq -r '.error // .status' "$T/revoke.out")"
	;;
server_stop) # the server goes away (issue 16.1: requests made offline); its pid is in $T/srv.pid
	pid=$(cat "$T/srv.pid") port=${RQ_DEV##*:}
	kill "$pid" || exit 1
	# the old one is usb_requests.sh's child (a zombie until it reaps it):
	# gone is when its port refuses connections
	for _ in $(seq 100); do
		bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null || { echo down; exit 0; }
		sleep 0.1
	done
	exit 1
	;;
server_start) # the same server again: same data, same ports; the new pid in $T/srv.pid
	DPORT=${RQ_DEV##*:} APORT=${RQ_ADM##*:}
	for _ in 1 2 3 4 5; do start_server "$T/srv" >/dev/null && break; SRV_PID=; sleep 1; done
	[[ -n $SRV_PID ]] || exit 1
	echo "$SRV_PID" >"$T/srv.pid"
	echo up
	;;
wait_request_id) # REQUEST_ID [SECONDS]: "ID PERSON STATUS" of the server's request made of the terminal's request_id
	TOKEN=$RQ_TOK_CISO
	for _ in $(seq $((${2:-30} * 5))); do
		out=$(api GET "/admin/v1/requests" |
			jq -r --arg r "$1" '[.[] | select(.request_id == $r)][0] // empty | "\(.id) \(.person) \(.status)"')
		[[ -n $out ]] && { echo "$out"; exit 0; }
		sleep 0.2
	done
	exit 1
	;;
*)
	exit 2
	;;
esac
