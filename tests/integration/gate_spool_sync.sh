#!/usr/bin/env bash
# tests/integration/gate_spool_sync.sh — the gate's spool is synced outside
# the gate's loop (issue 23.4; LOG-1, MEDIA-1): a fdatasync in the loop held
# every USB decision that arrived meanwhile (2–10 ms every 200 ms while
# events were pending: the p99 of `make bench`). Runs gate.c's scenario
# (devices decided, events acknowledged by the worker) with mamorid under
# strace(1) — -D keeps mamorid's pid, every thread and child traced — and
# judges from the trace: mamorid's main thread calls fdatasync at most at
# start (spool_open) and stop (spool_close) and never ftruncate (emptying
# the spool is a journaled metadata change that can wait for a commit: the
# syncer does it too); the spool is still synced, by another thread of
# mamorid. The old gate synced and truncated in its loop at
# acknowledgements: this test fails on it.
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
command -v strace >/dev/null || { echo "gate_spool_sync: strace missing (installer/deps.sh --check)"; exit 1; }
real=${MAMORI_GATE_BIN:-$MAMORI_SRC/$MAMORI_BUILD/bin}
work=$(mktemp -d /tmp/mamori-spoolsync.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
mkdir "$work/bin" "$work/trace"
# the testbed's preloads go to mamorid, not to strace; LeakSanitizer cannot
# run under ptrace (the other sanitizer checks stay on)
cat >"$work/bin/mamorid" <<SH
#!/bin/sh
exec env -u LD_PRELOAD strace -D -f -qq --seccomp-bpf -e trace=fdatasync,ftruncate,execve,clone,clone3 \
	-E "LD_PRELOAD=\$LD_PRELOAD" -E "ASAN_OPTIONS=\${ASAN_OPTIONS:-}:detect_leaks=0" \
	-ff -o "$work/trace/t" "$real/mamorid" "\$@"
SH
chmod +x "$work/bin/mamorid"
ln -s "$real/mamori-worker" "$work/bin/mamori-worker"
ln -s "$real/mamorictl" "$work/bin/mamorictl"
MAMORI_GATE_BIN=$work/bin bash "$MAMORI_SRC/tests/integration/gate.sh"

gates=0 main_syncs=0 thread_syncs=0 bad=0
for f in "$work"/trace/t.*; do
	# a gate's main thread: its first execve is mamorid's
	grep -m1 'execve(' "$f" | grep -q '/mamorid"' || continue
	gates=$((gates + 1))
	n=$(grep -c '^fdatasync(' "$f" || true)
	main_syncs=$((main_syncs + n))
	if ((n > 2)); then
		echo "gate_spool_sync: mamorid's main thread (${f##*.}) called fdatasync $n times (at most start and stop)"
		bad=1
	fi
	t=$(grep -c '^ftruncate(' "$f" || true)
	if ((t > 0)); then
		echo "gate_spool_sync: mamorid's main thread (${f##*.}) called ftruncate $t times (the syncer's)"
		bad=1
	fi
	# its threads: clone/clone3 with CLONE_THREAD
	for tid in $(grep -E '^clone3?\(.*CLONE_THREAD' "$f" | sed -E 's/.*= ([0-9]+)$/\1/'); do
		[[ -f $work/trace/t.$tid ]] || continue
		thread_syncs=$((thread_syncs + $(grep -c '^fdatasync(' "$work/trace/t.$tid" || true)))
	done
done
echo "gate_spool_sync: $gates gate(s); fdatasync in the main thread $main_syncs, in the gate's syncer thread $thread_syncs"
((gates > 0)) || { echo "gate_spool_sync: no mamorid in the trace"; exit 1; }
((thread_syncs > 0)) || { echo "gate_spool_sync: the spool was never synced by the gate's syncer thread"; bad=1; }
exit $bad
