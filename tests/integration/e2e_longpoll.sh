#!/usr/bin/env bash
# tests/integration/e2e_longpoll.sh — the command long poll end to end on
# 127.0.0.1 (docs/COMMANDS.md "Long poll"; MDM-1, MDM-2, AV-5): a real
# mamori-server (SQLite, OpenSSL mTLS, --poll-seconds 3, --max-polls 1) and
# a real agent (mamorid + mamori-worker, the poll's network child
# unprivileged under seccomp). The device API is also driven with curl and
# a terminal's own certificate, to see the server's side: a held poll gets
# a command the moment it is requested; 204 after the hold; one per
# terminal (a second answers the first); the cap (503 busy); no certificate,
# no poll. Then the agent: its check-in interval is 5 minutes (no policy:
# the worker's default), and a command still runs within seconds; the
# operator cancels a queued command, which is never delivered; stopping the
# agent leaves no poll process behind.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
source "$(dirname "$0")/events_doc.bash"
e2e_begin pc-a pc-b
Bt=$T/pc-b
start_server "$D" --poll-seconds 3 --max-polls 1 || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
check "enroll pc-a" enroll "$A" pc-a soumu >/dev/null
check "enroll pc-b" enroll "$Bt" pc-b soumu >/dev/null
SA=$(state_dir "$A")
SB=$(state_dir "$Bt")
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
poll_b() { # OUT: pc-b's poll, "CODE SECONDS" in OUT.w and the body in OUT
	dev_curl "$SB" -X POST -o "$1" -w '%{http_code} %{time_total}' "https://$DEV/api/v1/commands/poll" >"$1.w"
}

# ---- the server's side, with curl as the terminal pc-b ----
poll_b "$T/p1" &
p1=$!
sleep 0.5
c1=$(cmd_request pc-b sync | jq -r .id)
t0=$(now)
wait "$p1"
t1=$(now)
check "a held poll gets the command as it is requested: 200" test "$(cut -d' ' -f1 "$T/p1.w")" = 200
check "... answered within 1 s of the request's answer ($(elapsed "$t0" "$t1") s; the hold was 3 s)" \
	lt "$(elapsed "$t0" "$t1")" 1
check "... the signed envelope of that command" \
	test "$(jq -r '.commands[0].envelope | fromjson | .id' "$T/p1")" = "$c1"
check "... and it is delivered (once)" test "$(cmd_status "$c1")" = delivered
poll_b "$T/p2"
check "nothing queued: 204 after the hold (--poll-seconds 3): $(cat "$T/p2.w")" \
	bash -c "read -r c s <'$T/p2.w'; [[ \$c == 204 ]] && awk -v s=\$s 'BEGIN{exit !(s >= 2.5 && s < 6)}'"
poll_b "$T/p3" &
p3=$!
sleep 0.5
poll_b "$T/p4" &
p4=$!
wait "$p3"
check "one held poll per terminal: a second answers the first at once: $(cat "$T/p3.w")" \
	bash -c "read -r c s <'$T/p3.w'; [[ \$c == 204 ]] && awk -v s=\$s 'BEGIN{exit !(s < 2)}'"
code=$(dev_curl "$SA" -X POST -o "$T/busy" -w '%{http_code}' "https://$DEV/api/v1/commands/poll")
check "at the cap (--max-polls 1) another terminal's poll: 503 busy" \
	test "$code $(jq -r .error "$T/busy")" = "503 busy"
code=$(dev_curl "$SA" -X POST -o /dev/null -w '%{http_code}' "https://$DEV/api/v1/checkin" \
	--data-binary '{"agent_version":"test"}')
check "... while its check-ins are still answered" test "$code" = 200
wait "$p4"
check "the second poll ran its full hold: 204" test "$(cut -d' ' -f1 "$T/p4.w")" = 204
check "no device certificate: no poll" \
	bash -c "! curl -sS --cacert '$SB/server-ca.pem' -X POST -o /dev/null -w '%{http_code}' 'https://$DEV/api/v1/commands/poll' 2>/dev/null | grep -q 20"

# ---- the agent: a 5-minute check-in interval, commands in seconds ----
printf 'language = en\nmodules = timesync\ncheck_interval = 3600\n' >"$A/etc/mamori/agent.conf"
"$SRC/$B/bin/mamorid" --root "$A" --foreground --log-level debug >>"$T/agent.log" 2>&1 &
APID=$!
for _ in $(seq 150); do grep -q 'command poll: started' "$T/agent.log" && break; sleep 0.2; done
check "the agent checked in once and started its poll" grep -q 'command poll: started' "$T/agent.log"
sleep 1 # its first poll reaches the server
check "the worker's check-in interval is minutes (no policy: 300 s)" \
	bash -c "! grep -q 'checkin_interval' '$A/etc/mamori/agent.conf'"
for i in 1 2 3; do
	t0=$(now)
	id=$(cmd_request pc-a sync | jq -r .id)
	te=
	for _ in $(seq 50); do
		te=$(journal_time "$A" command.executed "$id")
		[[ -n $te ]] && break
		sleep 0.1
	done
	if [[ -n $te ]]; then
		check "command $i: executed $(elapsed "$t0" "$te") s after the request (check-in every 300 s)" \
			lt "$(elapsed "$t0" "$te")" 3
	else
		bad "command $i: not executed within 5 s (status $(cmd_status "$id"))"
	fi
	for _ in $(seq 50); do [[ $(cmd_status "$id") == executed ]] && break; sleep 0.1; done
	check "command $i: the server shows executed" test "$(cmd_status "$id")" = executed
	sleep 0.5
done
# a poll process of this root: mamorictl --root $A ... server poll (root part
# and its forked network child have the same command line)
poll_pids() { pgrep -f -- "mamorictl --root $A --config .* server poll"; }
child_ok=false
for pid in $(poll_pids); do
	st=/proc/$pid/status
	[[ -r $st ]] || continue
	if [[ $(awk '/^Uid:/{print $2}' "$st") != 0 && $(awk '/^Seccomp:/{print $2}' "$st") == 2 &&
		$(awk '/^CapEff:/{print $2}' "$st") == 0000000000000000 ]]; then child_ok=true; fi
done
check "the poll's network child: not root, no capabilities, seccomp filter" $child_ok

# ---- cancel: a cancelled command is never delivered ----
agent_stop
for _ in $(seq 30); do poll_pids >/dev/null || break; sleep 0.1; done
no_poll() { ! poll_pids >/dev/null; } # in this shell: a bash -c would match its own command line
check "stopping the agent leaves no poll process (its network child: within 3 s)" no_poll
cx=$(cmd_request pc-a sync | jq -r .id)
api POST "/admin/v1/commands/$cx/cancel" >/dev/null
check "the operator cancels a queued command" test "$CODE $(cmd_status "$cx")" = "200 cancelled"
"$SRC/$B/bin/mamorid" --root "$A" --foreground --log-level debug >>"$T/agent.log" 2>&1 &
APID=$!
sleep 1
for _ in $(seq 50); do grep -c 'command poll: started' "$T/agent.log" | grep -q 2 && break; sleep 0.2; done
sleep 2
check "... the agent back online never receives it: still cancelled" test "$(cmd_status "$cx")" = cancelled
check "... not in its journal" test -z "$(journal_time "$A" command.received "$cx")"
api POST "/admin/v1/commands/$c1/cancel" >/dev/null
check "a delivered command cannot be cancelled: 409" test "$CODE" = 409
audit=$(api GET "/admin/v1/audit?limit=300")
check "audit: the cancel, and the refused cancel of a delivered command" \
	test "$(jq '[.audit[] | select(.action=="command.cancel")] | map(.result) | sort | join(",")' -r <<<"$audit")" = "ok,refused"
agent_stop
ctl "$A" journal export --format jsonl >"$T/j.jsonl" 2>/dev/null
check "every recorded event matches docs/EVENTS.md" events_doc_check "$T/j.jsonl"
if grep -qi "AddressSanitizer\|runtime error" "$T/agent.log" "$SRV_LOG"; then bad "sanitizer report"; fi
finish
