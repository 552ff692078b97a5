# tests/integration/clamd_lib.bash — a real clamd for the AV tests
# (av_clamd.sh, groundtruth_av.sh), started here on a socket in the test's
# temporary directory (never the system's) with a signature database written
# here (EICAR as a custom .ndb, so clamd starts in a moment). Sourced
# (set -euo pipefail from the caller). Fails, never skips, when clamd is
# missing or does not start.
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
clamd_pid=

# clamd_start DIR [CONF_LINE...]: DIR/db, DIR/clamd.conf (socket
# DIR/clamd.sock, log DIR/clamd.log, then the extra lines), clamd running.
clamd_start() {
	local dir=$1 clamd
	shift
	clamd=$(command -v clamd || true)
	[[ -x $clamd ]] || clamd=/usr/sbin/clamd
	[[ -x $clamd ]] || { echo "FAIL: clamd is not installed (apt-get install clamav-daemon)"; exit 1; }
	mkdir -p "$dir/db"
	printf 'Mamori-EICAR-Test:0:*:%s\n' "$(printf '%s' "$EICAR" | od -An -tx1 | tr -d ' \n')" >"$dir/db/mamori.ndb"
	printf '%s\n' "LocalSocket $dir/clamd.sock" "DatabaseDirectory $dir/db" "Foreground yes" \
		"LogFile $dir/clamd.log" "MaxThreads 2" "$@" >"$dir/clamd.conf"
	"$clamd" -c "$dir/clamd.conf" >/dev/null 2>&1 &
	clamd_pid=$!
	for _ in $(seq 1 100); do
		[[ -S $dir/clamd.sock ]] && return 0
		sleep 0.1
	done
	echo "FAIL: clamd did not start"
	cat "$dir/clamd.log" 2>/dev/null || true
	exit 1
}

# clamd_stop: the clamd clamd_start started, if any.
clamd_stop() {
	if [[ -n $clamd_pid ]]; then
		kill "$clamd_pid" 2>/dev/null && wait "$clamd_pid" 2>/dev/null
		clamd_pid=
	fi
	return 0
}
