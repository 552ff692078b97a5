#!/usr/bin/env bash
# tests/bench/usb.sh — `make bench`: USB decision latency, burst, memory and
# CPU of mamori's USB gate (MEDIA-1), side by side with USBGuard from Debian
# (the reference) and a minimal allowlist agent (the floor), all on the same
# umockdev testbed driven by the project's own driver (tests/bench/bench_usb.c;
# issue 23.6: nothing outside this repository). Besides the runs with a
# gap of 5 ms between insertions, every agent gets UGB_B2B insertions back
# to back (-g 0: the next is announced as soon as the last is decided and
# removed) and the 7-port-hub bursts; every decision is checked against the
# allowlist the agent was given (issue 23.4). mamori-stopped is mamori with
# mamori-worker SIGSTOPped for the whole run: the gate must not wait for it
# (issue 11.4). Every figure is the median over the runs.
#   env: UGB_N (insertions per run, default 1000), UGB_RUNS (default 5),
#        UGB_BURST (7-port-hub rounds per run, default 20),
#        UGB_B2B (insertions back to back per run, default 100)
set -euo pipefail
: "${MAMORI_BUILD:=build}" "${MAMORI_SRC:=$PWD}"
n=${UGB_N:-1000}
runs=${UGB_RUNS:-5}
burst=${UGB_BURST:-20}
b2b=${UGB_B2B:-100}
[[ $(id -u) -eq 0 ]] || { echo "usb.sh: must run as root (the agents write sysfs of the testbed as root)" >&2; exit 1; }
b=$MAMORI_BUILD
[[ $b = /* ]] || b=$MAMORI_SRC/$b
for f in bin/mamorid bin/mamori-worker bin/mamorictl bench/bench_usb bench/bench_usb_floor bench/uevent_kernel.so; do
	[[ -e $b/$f ]] || { echo "usb.sh: $b/$f missing (make bench builds it)" >&2; exit 1; }
done
command -v usbguard-daemon >/dev/null || { echo "usb.sh: usbguard-daemon missing (installer/deps.sh --check)" >&2; exit 1; }
pgrep -x usbguard-daemon >/dev/null && { echo "usb.sh: a usbguard-daemon is running; stop it first (one IPC name)" >&2; exit 1; }
# awk reads to the end: an early exit lets ldconfig die of SIGPIPE, and
# under pipefail that ended the bench without a word (make bench, 2026-12-07)
preload=$(ldconfig -p | awk '/libumockdev-preload.so.0 / && !p {p = $NF} END {print p}')
[[ -n $preload ]] || { echo "usb.sh: libumockdev-preload.so.0 not found (umockdev)" >&2; exit 1; }

out=$(mktemp -d /tmp/mamori-bench-usb.XXXXXX)
trap 'rm -rf --one-file-system "$out"' EXIT
# rounds outside, agents inside: every round runs each agent once, so that a
# drift of this shared VM over the minutes of the bench (the same agent's
# median moved 188 -> 258 us between two runs a minute apart, 2026-12-07)
# falls on all agents alike instead of on whichever ran last; the medians
# below compare agents measured in the same minutes
for r in $(seq 1 "$runs"); do
	for agent in usbguard floor mamori mamori-stopped; do
		# the driver owns its testbed: UMOCKDEV_DIR must not be inherited
		if ! env -u UMOCKDEV_DIR LD_PRELOAD="$preload" "$b/bench/bench_usb" -a "$agent" -B "$b/bin" -n "$n" \
			-g 5 -b "$burst" -w "$out/$agent.$r" >"$out/$agent.$r.txt" 2>"$out/$agent.$r.err"; then
			echo "usb.sh: $agent run $r: wrong or missing decisions:" >&2
			grep -E '^(decided|correct|timeouts|burst_decided|burst_correct) ' "$out/$agent.$r.txt" >&2 || true
			tail -5 "$out/$agent.$r.err" >&2
			exit 1
		fi
		# back to back (issue 23.4): no gap, no burst; figures under b2b-AGENT
		if ! env -u UMOCKDEV_DIR LD_PRELOAD="$preload" "$b/bench/bench_usb" -a "$agent" -B "$b/bin" -n "$b2b" \
			-g 0 -w "$out/b2b-$agent.$r" >"$out/b2b-$agent.$r.txt" 2>"$out/b2b-$agent.$r.err"; then
			echo "usb.sh: $agent back-to-back run $r: wrong or missing decisions:" >&2
			grep -E '^(decided|correct|timeouts) ' "$out/b2b-$agent.$r.txt" >&2 || true
			tail -5 "$out/b2b-$agent.$r.err" >&2
			exit 1
		fi
	done
done

# median over the runs of one figure of one agent
fig() {
	# OFMT: a median of two large figures stays a plain number (not 2.9e+06)
	cat "$out/$1".*.txt | awk -v k="$2" '$1 == k && $2 != "-" { print $2 }' | sort -n |
		awk -v OFMT=%.1f '{ v[++n] = $1 } END { if (!n) { print "-"; exit }
			print (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2) }'
}
printf '%-34s %12s %12s %12s %12s\n' figure usbguard floor mamori mamori-stopped
for k in startup_ms latency_median_us latency_p99_us latency_max_us latency_from_emit_median_us \
	latency_from_emit_p99_us latency_from_emit_max_us latency_allowed_median_us latency_blocked_median_us \
	burst_last_median_us burst_last_p99_us burst_each_p99_us vmrss_end_kb vmhwm_start_kb vmhwm_kb worker_vmrss_kb \
	agent_total_vmrss_kb cpu_us_per_insertion; do
	printf '%-34s %12s %12s %12s %12s\n' "$k" "$(fig usbguard $k)" "$(fig floor $k)" "$(fig mamori $k)" \
		"$(fig mamori-stopped $k)"
done
for k in insertions_last_decided_us latency_from_emit_median_us latency_from_emit_p99_us latency_from_emit_max_us; do
	printf '%-34s %12s %12s %12s %12s\n' "b2b_$k" "$(fig b2b-usbguard $k)" "$(fig b2b-floor $k)" "$(fig b2b-mamori $k)" \
		"$(fig b2b-mamori-stopped $k)"
done
echo "(${runs} runs x ${n} insertions + ${burst} bursts of a 7-port hub with 7 sticks; every decision checked:"
echo " a wrong or missing one fails the benchmark. latency_* from the umockdev_testbed_uevent() call,"
echo " latency_from_emit_* from the sendmsg() to the agent's socket; agent on CPU 0, driver on CPU 1;"
echo " b2b_*: ${runs} runs x ${b2b} insertions back to back, -g 0; b2b_insertions_last_decided_us from the"
echo " first uevent to the last decision)"

# targets (issue 23): figure, reference from this run, target, met / NOT met
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "NOT met (no figure)";
	else print (a + 0 <= b + 0 ? "met" : "NOT met") }'; }
m_med=$(fig mamori latency_from_emit_median_us) f_med=$(fig floor latency_from_emit_median_us)
m_p99=$(fig mamori latency_from_emit_p99_us) f_p99=$(fig floor latency_from_emit_p99_us)
own=$(awk -v a="$m_med" -v b="$f_med" 'BEGIN { print a - b }')
p99lim=$(awk -v b="$f_p99" 'BEGIN { print b * 1.2 }')
mx=$(cat "$out"/mamori.*.txt | awk '$1 == "latency_from_emit_max_us" && $2 > m { m = $2 } END { print m + 0 }')
hwm=$(fig mamori vmhwm_kb) tot=$(fig mamori agent_total_vmrss_kb)
# the largest of every run of one agent, the gapped and the back-to-back runs
maxall() { cat "$out/$1".*.txt "$out/b2b-$1".*.txt | awk -v k="$2" '$1 == k && $2 > m { m = $2 } END { print m + 0 }'; }
ug=$(fig usbguard latency_from_emit_median_us) st=$(fig mamori-stopped latency_from_emit_median_us)
echo "usb_own_share_median_us $own (mamori $m_med - floor $f_med; target <= 50) $(verdict "$own" 50)"
echo "usb_p99_from_emit_us $m_p99 (floor $f_p99; target <= 1.2x floor = $p99lim) $(verdict "$m_p99" "$p99lim")"
echo "usb_max_from_emit_us $mx (every run; target <= 5000) $(verdict "$mx" 5000)"
echo "usb_median_vs_usbguard_us $m_med (USBGuard $ug; target <= USBGuard) $(verdict "$m_med" "$ug")"
echo "usb_worker_stopped_median_us $st (normal $m_med; target <= 1.2x normal) $(verdict "$st" "$(awk -v a="$m_med" 'BEGIN { print a * 1.2 }')")"
bl=$(fig b2b-mamori insertions_last_decided_us) bp=$(fig b2b-mamori latency_from_emit_p99_us)
bfp=$(fig b2b-floor latency_from_emit_p99_us)
echo "usb_b2b_last_decided_us $bl (${b2b} insertions back to back; USBGuard $(fig b2b-usbguard insertions_last_decided_us), floor $(fig b2b-floor insertions_last_decided_us); target <= USBGuard) $(verdict "$bl" "$(fig b2b-usbguard insertions_last_decided_us)")"
echo "usb_b2b_p99_from_emit_us $bp (floor $bfp; target <= 1.2x floor = $(awk -v b="$bfp" 'BEGIN { print b * 1.2 }')) $(verdict "$bp" "$(awk -v b="$bfp" 'BEGIN { print b * 1.2 }')")"
echo "usb_max_from_emit_all_us $(maxall mamori latency_from_emit_max_us) (gapped and back-to-back runs; floor $(maxall floor latency_from_emit_max_us); target <= 5000) $(verdict "$(maxall mamori latency_from_emit_max_us)" 5000)"
echo "usb_burst_last_p99_us $(fig mamori burst_last_p99_us) (USBGuard $(fig usbguard burst_last_p99_us), floor $(fig floor burst_last_p99_us); target <= USBGuard) $(verdict "$(fig mamori burst_last_p99_us)" "$(fig usbguard burst_last_p99_us)")"
echo "gate_vmhwm_kb $hwm (USBGuard $(fig usbguard vmhwm_kb); target <= 3072) $(verdict "$hwm" 3072)"
echo "agent_total_vmrss_kb $tot (gate + worker; target <= 8192) $(verdict "$tot" 8192)"
