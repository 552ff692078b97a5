#!/usr/bin/env bash
# tests/integration/groundtruth_routes.sh — NET-2 routes against a real TCP
# connection (issue 21.2). Two network namespaces this test creates (ip
# netns, a veth pair): the terminal T (10.1.0.2/24, fd00:1::2/64; the
# policy allows only 10.1.0.0/24 and fd00:1::/64) and the outside O, which
# answers on 198.51.100.1, 203.0.113.1 and 2001:db8:ff::1 (outside the
# allowed ranges)
# with a TCP listener. Per variant of T's routes and ip rules (main table,
# table 100 with and without a rule, a rule by destination, a rule by
# firewall mark, blackhole and unreachable defaults, IPv4 and IPv6), the
# real verdict is whether a TCP connect from T to an outside address
# succeeds (also with each fwmark `ip rule` names, set with SO_MARK: what
# a program marking its traffic gets); mamori's network.routes, run inside
# T, must agree. Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${MAMORI_BUILD:=build-san}"
CTL=${GT_CTL:-$PWD/$MAMORI_BUILD/bin/mamorictl}
work=$(mktemp -d /tmp/mamori-gt-routes.XXXXXX)
T=gt-rt-t-$$ O=gt-rt-o-$$
srv=
cleanup() {
	[[ -n $srv ]] && kill "$srv" 2>/dev/null
	ip netns del "$T" 2>/dev/null || true
	ip netns del "$O" 2>/dev/null || true
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT
jq '.network.allowed_destinations = [{"cidr": "10.1.0.0/24"}, {"cidr": "fd00:1::/64"}]' \
	policy/templates/mynumber.json >"$work/policy.json"
: >"$work/table"

ip netns add "$T"
ip netns add "$O"
ip -n "$T" link set lo up
ip -n "$O" link set lo up
ip -n "$T" link add gt0 type veth peer name gt1 netns "$O"
ip -n "$T" addr add 10.1.0.2/24 dev gt0
ip -n "$T" addr add fd00:1::2/64 dev gt0 nodad
ip -n "$O" addr add 10.1.0.1/24 dev gt1
ip -n "$O" addr add fd00:1::1/64 dev gt1 nodad
ip -n "$O" addr add 198.51.100.1/32 dev lo
ip -n "$O" addr add 203.0.113.1/32 dev lo
ip -n "$O" addr add 2001:db8:ff::1/128 dev lo nodad
ip -n "$T" link set gt0 up
ip -n "$O" link set gt1 up
ip netns exec "$O" python3 -c '
import socket, threading
def serve(fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 8080)); s.listen(64)
    while True:
        c, _ = s.accept(); c.close()
threading.Thread(target=serve, args=(socket.AF_INET, "198.51.100.1"), daemon=True).start()
threading.Thread(target=serve, args=(socket.AF_INET, "203.0.113.1"), daemon=True).start()
serve(socket.AF_INET6, "2001:db8:ff::1")' &
srv=$!
sleep 0.5

# the real verdict: does any TCP connect from T to an outside address succeed?
connect_out() {
	local marks
	marks=$(ip -n "$T" -4 rule show; ip -n "$T" -6 rule show) 
	marks=$(grep -o 'fwmark 0x[0-9a-f]*' <<<"$marks" | awk '{print $2}' | sort -u | tr '\n' ' ')
	ip netns exec "$T" python3 - $marks <<-'PY'
		import socket, sys
		ok = []
		for mark in [None] + [int(m, 16) for m in sys.argv[1:]]:
		    for fam, addr in ((socket.AF_INET, "198.51.100.1"), (socket.AF_INET, "203.0.113.1"),
		                      (socket.AF_INET6, "2001:db8:ff::1")):
		        s = socket.socket(fam, socket.SOCK_STREAM)
		        s.settimeout(1)
		        if mark is not None:
		            s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
		        try:
		            s.connect((addr, 8080)); ok.append(addr + ("" if mark is None else " mark %#x" % mark))
		        except OSError as e:
		            pass
		        s.close()
		print(",".join(ok))
	PY
}

variant() { # name commands-in-T
	local name=$1 out m real
	ip -n "$T" route flush table 100 2>/dev/null || true
	ip -n "$T" -6 route flush table 100 2>/dev/null || true
	# every route the variants add (proto boot); the link routes stay (proto kernel)
	ip -n "$T" route flush table main proto boot 2>/dev/null || true
	ip -n "$T" -6 route flush table main proto boot 2>/dev/null || true
	while ip -n "$T" rule del pref 500 2>/dev/null; do :; done
	while ip -n "$T" -6 rule del pref 500 2>/dev/null; do :; done
	ip netns exec "$T" bash -c "$2"
	out=$(connect_out)
	if [[ -n $out ]]; then real=fail; else real=pass; fi
	ip netns exec "$T" "$CTL" --json check --module network --policy "$work/policy.json" >"$work/mamori.json" 2>/dev/null || true
	m=$(jq -r '.results[] | select(.id == "network.routes") | .status' "$work/mamori.json")
	printf '%-14s %-34s real=%-5s mamori=%-5s %-8s connected: %s | mamori: %s\n' network.routes "$name" "$real" \
		"${m:-none}" "$([[ $real == "$m" ]] && echo OK || echo MISMATCH)" "${out:-none}" \
		"$(jq -r '.results[] | select(.id == "network.routes") | .evidence.not_allowed // .evidence.error // ""' "$work/mamori.json")" |
		tee -a "$work/table"
}
variant segment-only ':'
variant v4-default-main 'ip route add default via 10.1.0.1'
variant v4-default-table100-no-rule 'ip route add default via 10.1.0.1 table 100'
variant v4-default-table100+rule 'ip route add default via 10.1.0.1 table 100; ip rule add lookup 100 pref 500'
variant v4-table100+rule-to-198.51.100/24 'ip route add default via 10.1.0.1 table 100; ip rule add to 198.51.100.0/24 lookup 100 pref 500'
variant v4-table100+rule-to-203.0.113/24 'ip route add default via 10.1.0.1 table 100; ip rule add to 203.0.113.0/24 lookup 100 pref 500'
variant v4-table100+rule-fwmark 'ip route add default via 10.1.0.1 table 100; ip rule add fwmark 0x7 lookup 100 pref 500'
variant v4-table100+rule-to-allowed-only 'ip route add default via 10.1.0.1 table 100; ip rule add to 10.1.0.0/24 lookup 100 pref 500'
variant v4-host-route-main 'ip route add 198.51.100.1/32 via 10.1.0.1'
variant v4-blackhole-default 'ip route add blackhole default'
variant v4-unreachable-default+table100 'ip route add unreachable default; ip route add 198.51.100.0/24 via 10.1.0.1 table 100'
variant v6-default-main 'ip -6 route add default via fd00:1::1'
variant v6-default-table100+rule 'ip -6 route add default via fd00:1::1 table 100; ip -6 rule add lookup 100 pref 500'
variant v6-table100-no-rule 'ip -6 route add default via fd00:1::1 table 100'
echo
cat "$work/table"
! grep -q MISMATCH "$work/table"
