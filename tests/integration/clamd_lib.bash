# tests/integration/clamd_lib.bash — a real clamd for the AV tests
# (av_clamd.sh, groundtruth_av.sh, and through e2e_lib.bash the e2e
# scans), started here on a socket in the test's
# temporary directory (never the system's) with a signature database written
# here (EICAR as a custom .ndb, so clamd starts in a moment). Sourced
# (set -euo pipefail from the caller). Fails, never skips, when clamd is
# missing or does not start.
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
clamd_pid=

# clamd_start_at DIR SOCKET [CONF_LINE...]: DIR/db, DIR/clamd.conf (socket
# SOCKET, log DIR/clamd.log, then the extra lines), clamd running in
# $clamd_pid; returns 1 (with the reason) when clamd is missing or does not
# start.
clamd_start_at() {
	local dir=$1 sock=$2 clamd
	shift 2
	clamd=$(command -v clamd || true)
	[[ -x $clamd ]] || clamd=/usr/sbin/clamd
	[[ -x $clamd ]] || { echo "FAIL: clamd is not installed (apt-get install clamav-daemon)"; return 1; }
	mkdir -p "$dir/db" "$(dirname "$sock")"
	printf 'Mamori-EICAR-Test:0:*:%s\n' "$(printf '%s' "$EICAR" | od -An -tx1 | tr -d ' \n')" >"$dir/db/mamori.ndb"
	printf '%s\n' "LocalSocket $sock" "DatabaseDirectory $dir/db" "Foreground yes" \
		"LogFile $dir/clamd.log" "MaxThreads 2" "$@" >"$dir/clamd.conf"
	"$clamd" -c "$dir/clamd.conf" >/dev/null 2>&1 &
	clamd_pid=$!
	for _ in $(seq 1 150); do
		[[ -S $sock ]] && return 0
		sleep 0.1
	done
	echo "FAIL: clamd did not start"
	cat "$dir/clamd.log" 2>/dev/null || true
	return 1
}

# clamd_start DIR [CONF_LINE...]: clamd_start_at on DIR/clamd.sock; the
# test ends (exit 1) when clamd does not run.
clamd_start() {
	local dir=$1
	shift
	clamd_start_at "$dir" "$dir/clamd.sock" "$@" || exit 1
}

# clamd_stop: the clamd clamd_start started, if any.
clamd_stop() {
	if [[ -n $clamd_pid ]]; then
		kill "$clamd_pid" 2>/dev/null && wait "$clamd_pid" 2>/dev/null
		clamd_pid=
	fi
	return 0
}
