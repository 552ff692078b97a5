#!/usr/bin/env bash
# tests/integration/groundtruth_ports.sh — NET-1 against ss (issue 21): in a
# network namespace this test creates (unshare -n), listeners are opened
# (build-san/itests/listeners), then mamori's ports.listen verdict is
# compared with what `ss -H -ltnu` shows in the same namespace: the real
# verdict is fail when ss lists a listener that is not on loopback and not
# allowed (the default policy allows none), and every such listener must be
# named in mamori's evidence. 1,100 loopback listeners (more than mamori's
# cap of 1,024) must never hide one. Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${MAMORI_BUILD:=build-san}"
CTL=${GT_CTL:-$PWD/$MAMORI_BUILD/bin/mamorictl}
HELPER=$PWD/$MAMORI_BUILD/itests/listeners
work=$(mktemp -d /tmp/mamori-gt-ports.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
: >"$work/table"

variant() { # name helper-args…
	local name=$1 real m mc n missing=""
	shift
	unshare -n bash -c '
		set -e
		ip link set lo up
		coproc L { "$1" "${@:4}"; }
		read -r line <&"${L[0]}"
		[[ $line == ready ]]
		"$2" --json check --module ports >"$3/mamori.json" 2>/dev/null || true
		ss -H -ltnu >"$3/ss.txt"
		exec {L[1]}>&-
		wait' _ "$HELPER" "$CTL" "$work" "$@"
	# ss: "tcp LISTEN 0 1 127.0.0.1:30000 0.0.0.0:*" — local address is column 5
	awk '{a = $5; sub(/^\*:/, "[::]:", a); print $1, a}' "$work/ss.txt" |
		grep -vE ' (127\.[0-9.]+|\[::1\]|\[::ffff:127\.[0-9.]+\]):[0-9]+$' | sort -u >"$work/ss-open" || true
	if [[ -s $work/ss-open ]]; then real=fail; else real=pass; fi
	m=$(jq -r '.results[] | select(.id == "ports.listen") | .status' "$work/mamori.json")
	mc=$(jq -r '.results[] | select(.id == "ports.listen") | .evidence.unexpected_count // "0"' "$work/mamori.json")
	n=$(wc -l <"$work/ss-open")
	if [[ $mc == *"or more" ]]; then # capped: at least that many, never a pass
		((n >= ${mc%% *})) || missing+="count(mamori=$mc) "
	else
		[[ $mc == "$n" ]] || missing+="count(mamori=$mc) "
	fi
	((n <= 10)) || : >"$work/ss-open" # the names of a long list are not all in the evidence
	while read -r proto addr; do
		if ! jq -r '.results[] | select(.id == "ports.listen") | .evidence.unexpected // ""' "$work/mamori.json" |
			grep -qF "$proto/$addr"; then
			missing+="$proto/$addr "
		fi
	done < <(head -n 10 "$work/ss-open")
	printf '%-14s %-40s real=%-5s mamori=%-5s ss-non-loopback=%-5s not-named-by-mamori=%s %s\n' ports.listen "$name" \
		"$real" "$m" "$n" "${missing:-none}" \
		"$([[ $real == "$m" && -z $missing ]] && echo OK || echo MISMATCH)" | tee -a "$work/table"
}
variant none 0
variant 1100-loopback 1100
variant 1100-loopback+udp-5555+tcp6-2222 1100 udp:0.0.0.0:5555 tcp6:[::]:2222
variant udp6-any-5353 0 udp6:[::]:5353
variant 1030-on-0.0.0.0 0 range:tcp:0.0.0.0:20000:1030
echo
cat "$work/table"
! grep -q MISMATCH "$work/table"
