#!/usr/bin/env bash
# tests/integration/e2e_cmd_redeliver.sh — a remote command is executed on
# first contact and exactly once, whatever moment the agent stops at (issue
# 14 point 2; MDM-1, MDM-2, MDM-3, docs/COMMANDS.md "Delivery"): a real
# mamori-server (SQLite, OpenSSL mTLS, --command-redeliver-seconds 3) and a
# real agent (mamorid + mamori-worker, the poll's network child
# unprivileged). The crash windows:
#  1. the server marked the command delivered into the agent's held poll and
#     the agent died before it took it (here: every agent process frozen
#     with SIGSTOP while the server answers, then SIGKILL) — re-delivered
#     after the agent came back, executed once; and (1b) when it came back
#     before the command fell due, into its held poll as soon as it does;
#  2. the agent recorded the id as received and died before executing it
#     (the replay store's line written, no result) — run when it comes
#     again (command.resumed), once;
#  3. executed and reported, but the server lost the result — delivered
#     again: not run again (tamper.detected reason replayed), the first
#     result reported again and the server's record closes.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
source "$(dirname "$0")/events_doc.bash"
e2e_begin pc-a
command_server "$D" --command-redeliver-seconds 3 --poll-seconds 20
check "enroll pc-a" enroll "$A" pc-a soumu >/dev/null
SA=$(state_dir "$A")
printf 'language = en\nmodules = timesync\ncheck_interval = 3600\n' >"$A/etc/mamori/agent.conf"
db=$D/server.db
sq() { sqlite3 -cmd '.timeout 5000' "$db" "$1"; }
journal_json() { ctl "$A" journal export --format jsonl >"$T/j.jsonl" 2>/dev/null; }
count() { # TYPE ID → how many records of TYPE for command ID
	jq -r --arg t "$1" --arg id "$2" 'select(.type==$t and .payload.command_id==$id) | .seq' "$T/j.jsonl" | wc -l
}
tamper() { jq -r --arg id "$1" 'select(.type=="tamper.detected" and .payload.what=="command" and .payload.command_id==$id) | .payload.reason' "$T/j.jsonl" | head -n1; }
tree() { echo "$1"; for c in $(pgrep -P "$1"); do tree "$c"; done; }
polls() { grep -c 'command poll: started' "$T/agent.log" 2>/dev/null || true; }
start_and_poll() { # the agent, up to its held long poll
	local n
	n=$(polls)
	agent_start "$A"
	for _ in $(seq 150); do (($(polls) > n)) && break; sleep 0.2; done
	sleep 1 # its first poll reaches the server
}

# ---- 1. delivered into a poll the agent never read ----
start_and_poll
pids=$(tree "$APID")
kill -STOP $pids
c1=$(cmd_request pc-a sync | jq -r .id)
check "the server hands the command to the held poll: delivered" cmd_wait "$c1" delivered 50
kill -KILL $pids
wait "$APID" 2>/dev/null
APID=
check "the agent died before it took it: not in its inbox" \
	bash -c "! ls '$SA/commands/inbox' 2>/dev/null | grep -q '$c1'"
check "... not in its replay store" bash -c "! grep -q '^$c1 ' '$SA/commands/seen' 2>/dev/null"
sleep 3.5 # --command-redeliver-seconds 3
start_and_poll
check "the agent came back: the command is delivered again and executed" cmd_wait "$c1" executed
journal_json
check "journal: received once" test "$(count command.received "$c1")" = 1
check "journal: executed once" test "$(count command.executed "$c1")" = 1
audit=$(api GET "/admin/v1/audit?limit=300")
check "audit: command.deliver, then command.redeliver" \
	test "$(jq -r --arg id "$c1" '[.audit[] | select(.detail==$id) | .action] | reverse | join(",")' <<<"$audit")" \
	= "command.deliver,command.redeliver"
agent_stop

# ---- 1b. the agent is back before its command falls due ----
# delivered (as into a poll the agent never read) with its re-delivery due
# 10 s from now: the agent's start-up check-in and its new poll find
# nothing due, the poll is held; when the command falls due the held poll
# gets it, not the next poll after --poll-seconds 20 (the old server woke
# held polls for queued commands only)
c4=$(cmd_request pc-a sync | jq -r .id)
sq "UPDATE commands SET status = 'delivered', updated_us = $(( $(date +%s%N) / 1000 + 7000000 )) WHERE id = '$c4'"
t0=$SECONDS
start_and_poll
check "1b: the held poll gets it when it falls due (within 18 s of the start; due after 10, the poll lasts 20)" \
	cmd_wait "$c4" executed $(( (18 - (SECONDS - t0)) * 5 ))
agent_stop

# ---- 2. received (replay store written), never executed ----
c2=$(cmd_request pc-a sync | jq -r .id)
na=$(sq "SELECT not_after FROM commands WHERE id = '$c2'")
# what the worker writes before command.received; then it died
printf '%s %s\n' "$c2" "$na" >>"$SA/commands/seen"
sq "UPDATE commands SET status = 'delivered', updated_us = 0 WHERE id = '$c2'"
start_and_poll
check "a command the agent died on before executing it: delivered again, executed" cmd_wait "$c2" executed
journal_json
check "journal: command.resumed for it" test "$(count command.resumed "$c2")" = 1
check "journal: executed once" test "$(count command.executed "$c2")" = 1
check "journal: no tamper.detected for it" test -z "$(tamper "$c2")"
check "the replay store marks it done" grep -q "^$c2 $na done\$" "$SA/commands/seen"

# ---- 3. executed and reported, the server lost the result ----
first=$(api GET "/admin/v1/commands/$c1" | jq -r .result)
sq "UPDATE commands SET status = 'delivered', result = '', updated_us = 0 WHERE id = '$c1'"
kill -HUP "$APID" # a check-in now
check "delivered again after its result was reported: the first result is reported again" cmd_wait "$c1" executed
check "... the same detail" test "$(api GET "/admin/v1/commands/$c1" | jq -r .result)" = "$first"
for _ in $(seq 50); do journal_json; [[ -n $(tamper "$c1") ]] && break; sleep 0.2; done
check "journal: tamper.detected reason replayed" test "$(tamper "$c1")" = replayed
check "... and not executed twice" test "$(count command.executed "$c1")" = 1
agent_stop

journal_json
check "every recorded event matches docs/EVENTS.md" events_doc_check "$T/j.jsonl"
if grep -qi "AddressSanitizer\|runtime error" "$T/agent.log" "$SRV_LOG"; then bad "sanitizer report"; fi
finish
