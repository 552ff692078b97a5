#!/usr/bin/env bash
# tests/bench/commands.sh — remote command latency for an online terminal
# (issue 14, docs/COMMANDS.md "Long poll"): the time from the admin API call
# (POST /admin/v1/commands, a `sync` command) to the agent's journal record
# command.executed, median and p99 over BENCH_COMMANDS (100) commands, one
# after another. A real mamori-server and agent (mamorid + mamori-worker,
# the poll's network child unprivileged) on 127.0.0.1; the agent's check-in
# interval is the default 300 s, so every command arrives by the long poll.
# The start is taken before curl is started for the request; the end is the
# journal record's own time_us (same clock, same machine).
set -uo pipefail
export MAMORI_BUILD=${MAMORI_BUILD:-build} MAMORI_SRC=${MAMORI_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MAMORI_SRC/tests/integration/e2e_lib.bash"
N=${BENCH_COMMANDS:-100}
APID=
trap '[[ -n $APID ]] && kill "$APID" 2>/dev/null && wait "$APID" 2>/dev/null; cleanup' EXIT
A=$T/pc-a
mkdir -p "$A/etc/mamori"
start_server "$T/srv" >/dev/null || { echo "bench commands: the server did not start"; exit 1; }
bootstrap "$T/srv" || { echo "bench commands: bootstrap failed"; exit 1; }
enroll "$A" pc-a soumu >/dev/null || { echo "bench commands: enrollment failed"; exit 1; }
printf 'language = en\nmodules = timesync\ncheck_interval = 3600\n' >"$A/etc/mamori/agent.conf"
"$SRC/$B/bin/mamorid" --root "$A" --foreground >"$T/agent.log" 2>&1 &
APID=$!
for _ in $(seq 300); do grep -q 'command poll' "$T/agent.log" 2>/dev/null && break; sleep 0.1; done
sleep 1
: >"$T/starts"
for i in $(seq "$N"); do
	t0=$(date +%s%6N)
	id=$(api POST /admin/v1/commands '{"terminal_id":"pc-a","type":"sync"}' | jq -r .id)
	[[ $id =~ ^[0-9a-f]{32}$ ]] || { echo "bench commands: request $i refused"; exit 1; }
	echo "$id $t0" >>"$T/starts"
	for _ in $(seq 100); do
		[[ -n $(journal_time "$A" command.executed "$id") ]] && break
		sleep 0.02
	done
	sleep 0.1
done
ctl "$A" journal export --format jsonl 2>/dev/null |
	jq -r 'select(.type=="command.executed") | "\(.payload.command_id) \(.time_us)"' >"$T/ends"
# latency in ms per command; a command never executed counts as 10 s
awk 'NR == FNR { end[$1] = $2; next } { d = ($1 in end) ? (end[$1] - $2) / 1000 : 10000; print d }' \
	"$T/ends" "$T/starts" | sort -n >"$T/lat"
missing=$(awk 'NR == FNR { end[$1] = 1; next } !($1 in end) { n++ } END { print n + 0 }' "$T/ends" "$T/starts")
awk -v n="$N" -v miss="$missing" '{ v[NR] = $1 } END {
	med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	i = int(0.99 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
	printf "command_to_executed_median_ms %.1f (%d commands, %d not executed; target < 1000) %s\n", med, n, miss,
		(med < 1000 && miss == 0) ? "met" : "NOT met"
	printf "command_to_executed_p99_ms %.1f (max %.1f; no target)\n", v[i], v[NR] }' "$T/lat"
