#!/usr/bin/env bash
# tests/integration/e2e_sync_again.sh — a sync asked for while one runs is
# not lost (OPS-5, MDM-1; agent/worker/daemon.c want_sync): a command's
# result written, or a critical event journaled, after the running sync
# child read what it uploads reaches the server right after that child, not
# at the next check-in (the policy's 300 s). A real mamori-server on
# 127.0.0.1, a real mamorid + mamori-worker; the one thing added is a delay:
# the worker runs `mamorictl` from its own directory, and there a wrapper
# runs the real mamorictl and, once, waits 4 s after a sync before it exits
# (a slow network would do the same). While that sync child waits, a `sync`
# command arrives through the long poll and runs; its result must reach the
# server within a few seconds of the child's end.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
e2e_begin pc-g
command_server "$D" --poll-seconds 20
check "enroll pc-g" enroll "$A" pc-g soumu >/dev/null
SA=$(state_dir "$A")
printf 'language = en\nmodules = timesync\ncheck_interval = 3600\n' >"$A/etc/mamori/agent.conf"

# the agent's own directory: the real binaries, and mamorictl wrapped
mkdir -p "$T/bin"
cp "$SRC/$B/bin/mamorid" "$SRC/$B/bin/mamori-worker" "$T/bin/"
cat >"$T/bin/mamorictl" <<EOF
#!/bin/bash
# anything but a sync is the real mamorictl itself (a long poll must see the
# worker as its parent, or it outlives the agent)
[[ " \$* " == *" server sync "* ]] || exec "$SRC/$B/bin/mamorictl" "\$@"
"$SRC/$B/bin/mamorictl" "\$@"
rc=\$?
if [[ " \$* " == *" server sync "* ]] && rm "$T/hold" 2>/dev/null; then
	touch "$T/held"
	sleep 4
	rm -f "$T/held"
fi
exit \$rc
EOF
chmod 755 "$T/bin/mamorictl"
"$T/bin/mamorid" --root "$A" --foreground --log-level debug >>"$T/agent.log" 2>&1 &
APID=$!
for _ in $(seq 150); do [[ -s $SA/upload.state ]] && grep -q 'command poll: started' "$T/agent.log" && break; sleep 0.2; done
check "the agent checked in and holds a long poll" grep -q 'command poll: started' "$T/agent.log"
sleep 1

# a reload checks in at once; that sync child then waits
touch "$T/hold"
kill -HUP "$APID"
for _ in $(seq 100); do [[ -e $T/held ]] && break; sleep 0.1; done
check "a sync child is running (held after its upload)" test -e "$T/held"
cid=$(cmd_request pc-g sync | jq -r .id)
t0=$(date +%s%N)
for _ in $(seq 100); do grep -q "remote command $cid (sync) .*executing" "$T/agent.log" && break; sleep 0.05; done
# the case itself: the command ran (and asked for a sync) while the child ran
check "the command came through the long poll and ran while the sync child was running" \
	test -e "$T/held" -a -n "$(grep "remote command $cid (sync) .*executing" "$T/agent.log")"
check "its result reached the server soon after that child ended (not at the 300 s check-in)" \
	cmd_wait "$cid" executed 75
echo "      (reported $((($(date +%s%N) - t0) / 1000000)) ms after it was queued; the sync child waited 4000 ms)"

agent_stop
if grep -qi "AddressSanitizer\|runtime error" "$T/agent.log" "$SRV_LOG"; then bad "sanitizer report"; fi
finish
