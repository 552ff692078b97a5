#!/usr/bin/env bash
# tests/integration/groundtruth_timesync.sh — LOG-2 time sources against the
# root's own chronyd (issue 21.7): per variant of the Debian 12 root's chrony
# configuration (the default pool; no source; a server in sources.d/*.sources
# — read because chrony.conf says `sourcedir /etc/chrony/sources.d`; a
# *.conf file there, which chrony ignores; a server in conf.d/*.conf; the
# sourcedir line removed), the real verdict is whether the root's chronyd,
# started in a network namespace this test creates with -x (it never
# controls the clock) and without CAP_SYS_TIME (setpriv), lists any source
# in `chronyc -n -c sources`. mamori's timesync.daemon (under --root: the
# daemon enabled and configured; whether it runs is the host's, not judged)
# must agree. Needs root.
cd "$(dirname "$0")/../.."
: "${MAMORI_SRC:=$PWD}"
source tests/groundtruth/lib.bash
gt_unpack

real_verdict() {
	local n
	unshare -n -m --propagation private bash -c '
		V=$1 D=$2
		mount -t tmpfs gt-run "$V/run"
		# an address of its own, so that getaddrinfo (AI_ADDRCONFIG) resolves
		# pool names from the root'"'"'s /etc/hosts
		ip link add gt0 type veth peer name gt1 && ip addr add 192.0.2.1/24 dev gt0 &&
			ip link set gt0 up && ip link set gt1 up
		setpriv --bounding-set=-sys_time chroot "$V" chronyd -x -d -f /etc/chrony/chrony.conf >"$D/chronyd.log" 2>&1 &
		pid=$!
		for _ in $(seq 1 50); do [[ -S $V/run/chrony/chronyd.sock ]] && break; sleep 0.1; done
		for _ in $(seq 1 20); do # names resolve asynchronously: up to 2 s
			chroot "$V" chronyc -n -c sources >"$D/sources" 2>>"$D/chronyd.log" || true
			[[ -s $D/sources ]] && break
			sleep 0.1
		done
		kill $pid; wait $pid 2>/dev/null || true' _ "$GT_V" "$GT_D"
	n=$(grep -c '^\^\|^=' "$GT_D/sources" || true)
	gt_detail "chronyc sources: $n ($(cut -d, -f3 "$GT_D/sources" | tr '\n' ' ')); mamori: $(gt_evidence timesync.daemon servers)"
	((n > 0)) && echo pass || echo fail
}

C=etc/chrony/chrony.conf
no_pool() { sed -i 's/^pool /#pool /' "$GT_V/$C"; }
t_default() { echo "192.0.2.53 2.debian.pool.ntp.org" >>"$GT_V/etc/hosts"; }
t_none() { no_pool; }
t_sources_d() { no_pool; echo "server 192.0.2.10 iburst" >"$GT_V/etc/chrony/sources.d/office.sources"; }
t_sources_d_conf_suffix() { no_pool; echo "server 192.0.2.10 iburst" >"$GT_V/etc/chrony/sources.d/office.conf"; }
t_conf_d() { no_pool; echo "server 192.0.2.11 iburst" >"$GT_V/etc/chrony/conf.d/office.conf"; }
t_sourcedir_removed() {
	no_pool
	sed -i '/^sourcedir \/etc\/chrony\/sources.d/d' "$GT_V/$C"
	echo "server 192.0.2.10 iburst" >"$GT_V/etc/chrony/sources.d/office.sources"
}
t_peer_in_sources() { no_pool; echo "pool 192.0.2.12 iburst maxsources 1" >"$GT_V/etc/chrony/sources.d/a.sources"; }

run_variant() { gt_run real_verdict timesync.daemon "$@"; }
run_variant debian-default-pool t_default
run_variant no-source t_none
run_variant server-in-sources.d t_sources_d
run_variant sources.d-.conf-ignored t_sources_d_conf_suffix
run_variant server-in-conf.d t_conf_d
run_variant sourcedir-line-removed t_sourcedir_removed
run_variant pool-in-sources.d t_peer_in_sources
gt_report
