#!/usr/bin/env bash
# tests/integration/groundtruth_av.sh — AV-1 on-access protection against the
# real process identity of clamonacc (issue 21.6). Each variant runs in a
# private mount namespace this test creates (the machine's files and mounts
# are untouched), next to a real clamd started here on a socket in a
# temporary directory:
#   none                 no clamonacc at all
#   renamed-sleep        a copy of sleep named clamonacc (comm "clamonacc")
#   sleep-at-the-path    sleep bind-mounted over /usr/sbin/clamonacc (in the
#                        namespace only), started as clamonacc
#   real-clamonacc       the package's /usr/sbin/clamonacc, on-access
#                        watching a tmpfs of this namespace
# The real verdict: a process named clamonacc whose /proc/PID/exe names a
# file `dpkg -S` attributes to clamav-daemon and whose MD5 (md5sum of
# /proc/PID/exe, the file really running) equals dpkg's md5sums entry is
# protection (pass); anything else fails. mamori's av.on_access (`mamorictl
# --json check --module av`, run in the same namespace) must agree. Fails,
# never skips, when clamd or clamonacc are missing. Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${MAMORI_BUILD:=build-san}"
CTL=${GT_CTL:-$PWD/$MAMORI_BUILD/bin/mamorictl}
. tests/integration/clamd_lib.bash
ONACC=/usr/sbin/clamonacc
[[ -x $ONACC ]] || { echo "FAIL: $ONACC is not installed (apt-get install clamav-daemon)"; exit 1; }
work=$(mktemp -d /tmp/mamori-gt-av.XXXXXX)
cleanup() {
	clamd_stop
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT
mkdir -p "$work/watch"
clamd_start "$work" "OnAccessIncludePath $work/watch" "OnAccessPrevention no" "OnAccessExcludeUname root"
cp /bin/sleep "$work/clamonacc"
: >"$work/table"

# in the namespace: start the variant's process, let mamori judge, then the
# real verdict from dpkg's own records
inner() { # variant work ctl onacc
	set -e
	local v=$1 w=$2 ctl=$3 onacc=$4 pid= p exe pkg want have real=fail why="no process named clamonacc"
	mount -t tmpfs gt-watch "$w/watch"
	case $v in
	none) ;;
	renamed-sleep) "$w/clamonacc" 300 & pid=$! ;;
	sleep-at-the-path)
		mount --bind /bin/sleep "$onacc"
		(exec -a clamonacc "$onacc" 300) & pid=$! ;;
	real-clamonacc)
		"$onacc" --foreground --config-file="$w/clamd.conf" --log="$w/onacc.log" & pid=$!
		for _ in $(seq 1 50); do grep -q "watching" "$w/onacc.log" 2>/dev/null && break; sleep 0.1; done ;;
	esac
	sleep 0.3
	"$ctl" --json check --module av >"$w/mamori.json" 2>/dev/null || true
	for p in $(pgrep -x clamonacc || true); do
		exe=$(readlink "/proc/$p/exe" || true)
		pkg=$(dpkg -S "$exe" 2>/dev/null | cut -d: -f1 || true)
		want=$(awk -v f="${exe#/}" '$2 == f {print $1}' "/var/lib/dpkg/info/$pkg.md5sums" 2>/dev/null || true)
		have=$(md5sum <"/proc/$p/exe" | cut -d' ' -f1)
		if [[ -n $pkg && -n $want && $want == "$have" ]]; then
			real=pass why="pid $p: $exe of $pkg, md5 $have as dpkg recorded"
			break
		fi
		why="pid $p: exe $exe, package '${pkg:-none}', md5 $have vs dpkg '${want:-none}'"
	done
	echo "$real|$why" >"$w/real"
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
}
export -f inner

variant() {
	local v=$1 m real why
	rm -f "$work/mamori.json" "$work/real" "$work/onacc.log"
	unshare -m --propagation private bash -c 'inner "$@"' _ "$v" "$work" "$CTL" "$ONACC"
	IFS='|' read -r real why <"$work/real"
	m=$(jq -r '.results[] | select(.id == "av.on_access") | .status' "$work/mamori.json")
	printf '%-14s %-20s real=%-5s mamori=%-5s %-8s %s | mamori: %s\n' av.on_access "$v" "$real" "${m:-none}" \
		"$([[ $real == "$m" ]] && echo OK || echo MISMATCH)" "$why" \
		"$(jq -r '.results[] | select(.id == "av.on_access") | .evidence | tostring' "$work/mamori.json")" |
		tee -a "$work/table"
}
variant none
variant renamed-sleep
variant sleep-at-the-path
variant real-clamonacc
echo
cat "$work/table"
! grep -q MISMATCH "$work/table"
