#!/usr/bin/env bash
# tests/integration/posture_fair.sh — a slow posture pass does not starve
# mamori-worker's loop (issue 11.5, 19.4; OPS-1): the software module's input,
# var/lib/dpkg/status under the test's root, is a FIFO that nobody writes
# until the end, so the check blocks in open(2) — a real slow input, no
# sleep in product code. While that pass runs (the worker's status says
# posture_pass.running), measured: `status` on the control socket, the gate's
# ping → pong round trip over the gate↔worker IPC (mamorid's debug log), and
# SIGTERM to the worker (until it has exited) — each within 100 ms. Then the
# pass is released and must finish with the software check's result, and
# SIGTERM to mamorid ends both processes promptly.
set -euo pipefail
B=$MAMORI_SRC/$MAMORI_BUILD
BIN=${MAMORI_GATE_BIN:-$B/bin} # the old code: another build's mamorid + mamori-worker
T=$(mktemp -d /tmp/mamori-fair.XXXXXX)
pid=
cleanup() {
	if [[ -n $pid ]]; then kill -9 "$pid" 2>/dev/null || true; fi
	# unblock a worker of the old code still stuck in the FIFO
	if [[ -p $T/var/lib/dpkg/status ]]; then timeout 1 bash -c ": >'$T/var/lib/dpkg/status'" 2>/dev/null || true; fi
	rm -rf --one-file-system "$T"
}
trap cleanup EXIT
fail() { echo "posture_fair.sh: FAIL: $*"; [[ -f $T/log ]] && grep -v '^event ' "$T/log" | tail -25; exit 1; }
# The budget (issue 11.5) is 100 ms; on this shared 2-core machine one
# sample can stall behind other helpers' builds, so the budget holds for the
# median of each measure and every single sample must stay under HARD ms (the
# old code misses both by seconds: its loop is blocked until the FIFO opens).
LIMIT=${FAIR_LIMIT_MS:-100}
HARD=${FAIR_HARD_MS:-1000}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

mkdir -p "$T/etc/mamori" "$T/var/lib/dpkg"
printf 'language = en\ncheck_interval = 3600\nmodules = software\n' >"$T/etc/mamori/agent.conf"
mkfifo "$T/var/lib/dpkg/status"
# LeakSanitizer's scan at exit alone takes ~200 ms here: the exit time
# measured is the product's (ASan itself stays on). A systemd watchdog of
# 2 s (as the shipped unit has one, of 60 s) makes the gate ping every
# second; idle, it pings only every 10 s (issue 23).
WATCHDOG_USEC=2000000 ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
	"$BIN/mamorid" --root "$T" --foreground --log-level debug >"$T/log" 2>&1 &
pid=$!
sock=$T/run/mamori/mamorid.sock
status() { "$BIN/mamorictl" --root "$T" --json status; }
for _ in $(seq 100); do [[ -S $sock ]] && status >/dev/null 2>&1 && break; sleep 0.1; done
[[ -S $sock ]] || fail "no control socket"

# the first pass starts 2 s after the worker is ready and blocks in the FIFO
for _ in $(seq 100); do grep -q 'mamori-worker .* ready' "$T/log" && break; sleep 0.1; done
grep -q 'mamori-worker .* ready' "$T/log" || fail "the worker did not start"
sleep 3

# 1. control socket while the pass runs
samples=()
for i in $(seq 10); do
	t=$("$B/itests/fairprobe" status "$sock") || fail "status while the pass runs: $t"
	echo "posture_fair.sh: status answered in $t ms"
	((${t%.*} <= HARD)) || fail "status took $t ms (> $HARD ms) while the pass runs"
	samples+=("${t%.*}")
	sleep 0.05
done
m=$(median "${samples[@]}")
echo "posture_fair.sh: status median $m ms"
((m <= LIMIT)) || fail "status median $m ms (> $LIMIT ms) while the pass runs"
grep -q '"running":[[:space:]]*true' <<<"$(status)" || fail "status does not say a pass is running"
echo "posture_fair.sh: a pass is running (blocked in the FIFO)"

# 2. the gate's ping → pong round trip while the pass runs (two more pings)
n0=$(grep -c 'worker pong' "$T/log" || true)
sleep 4.2
mapfile -t rtt < <(grep -o 'worker pong [0-9]* after [0-9]* ms' "$T/log" | tail -n +$((n0 + 1)) | awk '{print $5}')
((${#rtt[@]} >= 2)) || fail "fewer than 2 pongs in 4.2 s while the pass runs"
for r in "${rtt[@]}"; do
	echo "posture_fair.sh: gate ping → worker pong $r ms"
	((r <= HARD)) || fail "gate↔worker round trip $r ms (> $HARD ms) while the pass runs"
done
m=$(median "${rtt[@]}")
((m <= LIMIT)) || fail "gate↔worker round trip median $m ms (> $LIMIT ms) while the pass runs"
grep -q '"running":[[:space:]]*true' <<<"$(status)" || fail "the pass ended by itself (the FIFO was not blocking)"

# 3. SIGTERM to the worker during the pass: it exits at once (the gate restarts it)
wpid=$(status | grep -o '"pid":[[:space:]]*[0-9]*' | head -1 | grep -o '[0-9]*$')
[[ -n $wpid && $wpid != "$pid" ]] || fail "no worker pid in status"
# served: the worker stops serving its control socket (the loop acted on
# the signal and left); then it exits (closing the journal: not bounded here
# by 100 ms, by 2 s, because fsync and ASan's teardown vary on a shared machine)
t=$("$B/itests/fairprobe" term "$wpid" "$sock") || fail "the worker did not act on SIGTERM during the pass: $t"
read -r served exited <<<"$t"
echo "posture_fair.sh: worker acted on SIGTERM after $served ms, exited after $exited ms"
# one sample only (the worker is gone after it): the hard bound
((${served%.*} <= HARD)) || fail "SIGTERM served after $served ms (> $HARD ms)"
((${exited%.*} <= 2000)) || fail "the worker took $exited ms to exit"
grep -q "posture pass failed" "$T/log" && fail "a killed pass at stop was recorded as a failure"

# 4. the replacement worker's pass blocks again. Its child killed: a recorded
#    failure of the pass (an error result, counted), never a pass.
for _ in $(seq 100); do
	s=$(status 2>/dev/null || true)
	grep -q '"running":[[:space:]]*true' <<<"$s" && break
	sleep 0.1
done
grep -q '"running":[[:space:]]*true' <<<"$s" || fail "the new worker's pass did not start"
child=$(grep -o 'posture pass: child [0-9]* started' "$T/log" | tail -1 | awk '{print $4}')
[[ -n $child ]] || fail "no pass child in the log"
kill -9 "$child"
for _ in $(seq 50); do
	s=$(status)
	grep -q '"failures":[[:space:]]*1' <<<"$s" && break
	sleep 0.1
done
grep -q '"failures":[[:space:]]*1' <<<"$s" || fail "a killed pass child was not counted as a failure: $s"
r=$("$BIN/mamorictl" --root "$T" --json report)
sw=$(jq -c '[.results[] | select(.module == "software") | {status, f: .evidence.pass_failure}]' <<<"$r")
[[ $sw == '[{"status":"error","f":"the child was killed"}]' ]] || fail "the killed pass is not an error result: $sw"
echo "posture_fair.sh: killed pass child recorded as a failure"

# 5. `mamorictl check` starts a pass and waits for it (the control socket
#    keeps serving others); releasing the FIFO ends it with the software
#    module's own result
"$BIN/mamorictl" --root "$T" --json check >"$T/check.out" 2>"$T/check.err" &
chk=$!
for _ in $(seq 50); do
	grep -q '"running":[[:space:]]*true' <<<"$(status)" && break
	sleep 0.1
done
t=$("$B/itests/fairprobe" status "$sock") || fail "status while mamorictl check waits: $t"
echo "posture_fair.sh: status answered in $t ms while mamorictl check waits for the pass"
((${t%.*} <= HARD)) || fail "status took $t ms (> $HARD ms) while a check waits"
printf 'Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2\n\n' >"$T/var/lib/dpkg/status"
wait "$chk" || fail "mamorictl check failed: $(cat "$T/check.out" "$T/check.err")"
sw=$(jq -c '[.results[] | select(.module == "software") | .status] | unique' "$T/check.out")
[[ $sw == '["pass"]' || $sw == '["fail"]' ]] || fail "check lacks the software module's own result: $sw"
grep -q '"pass_failure"' "$T/check.out" && fail "the released pass failed: $(cat "$T/check.out")"
s=$(status)
grep -q '"failures":[[:space:]]*1' <<<"$s" || fail "the released pass counted as failed: $s"
echo "posture_fair.sh: mamorictl check got the released pass's software result"

# 6. SIGTERM to mamorid ends both
t=$("$B/itests/fairprobe" term "$pid") || fail "mamorid did not stop: $t"
echo "posture_fair.sh: mamorid and its worker stopped $t ms after SIGTERM"
pid=
echo "posture_fair.sh: PASS"
exit 0
