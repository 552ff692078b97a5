#!/usr/bin/env bash
# tests/integration/groundtruth_patch.sh — PATCH-1 against the root's own apt
# (issue 21, D2): per variant of a Debian 12 root's apt lists (plain as
# fetched from bookworm, -updates and -security; compressed as
# Acquire::GzipIndexes / CompressionTypes leave them: .gz, .xz, .lz4;
# updates applied), the number of pending security updates is what
# `apt-get -s upgrade` in the root installs from a -security suite, and the
# verdict follows the policy's max_pending_security; mamori's count and
# verdict (patch.security_updates) must be the same. Needs root.
cd "$(dirname "$0")/../.."
: "${MAMORI_SRC:=$PWD}"
source tests/groundtruth/lib.bash
gt_unpack

L=var/lib/apt/lists
real_security_updates() {
	local n max m
	n=$(chroot "$GT_V" apt-get -s -o Debug::NoLocking=1 upgrade 2>"$GT_D/apt.err" | grep -c '^Inst .*-security' || true)
	if grep -q '^E:' "$GT_D/apt.err"; then
		gt_detail "apt: $(grep '^E:' "$GT_D/apt.err" | head -n 1)"
		echo error
		return
	fi
	max=$(gt_evidence patch.security_updates max_pending_security)
	m=$(gt_evidence patch.security_updates pending_security)
	gt_detail "apt-get -s upgrade: $n from -security; mamori: ${m:-none} (max $max)"
	if [[ $n != "$m" ]]; then
		echo "count-$n"
	elif ((n > max)); then
		echo fail
	else
		echo pass
	fi
}
real_verdict() { real_security_updates; }

compress_lists() { # tool ext [only-pattern]
	local f
	echo 'Acquire::GzipIndexes "true";' >"$GT_V/etc/apt/apt.conf.d/90gt-compressed"
	for f in "$GT_V/$L"/*"${3:-}"*_Packages; do
		case $1 in
		gzip) gzip -1n "$f" ;;
		xz) xz -1 "$f" ;;
		lz4) lz4 -q --rm "$f" "$f.lz4" ;;
		esac
	done
}
# apply updates for real: dpkg installs the cached .debs (offline)
apply_updates() { # [package…] (all pending when none)
	local log=$GT_D/apply.log
	if (($#)); then
		chroot "$GT_V" apt-get -qq -y --no-download -o Debug::NoLocking=1 install "$@" >"$log" 2>&1
	else
		chroot "$GT_V" apt-get -qq -y --no-download -o Debug::NoLocking=1 upgrade >"$log" 2>&1
	fi || { echo "apply failed:" >&2; tail -n 5 "$log" >&2; }
}
p_plain() { :; }
p_gz() { compress_lists gzip gz; }
p_xz() { compress_lists xz xz; }
p_lz4() { compress_lists lz4 lz4; }
p_mixed() { compress_lists lz4 lz4 security; compress_lists gzip gz; }
p_all_applied() { apply_updates; }
p_some_applied() { apply_updates perl-base liblzma5 zlib1g tzdata libssl3; }
run_variant() { gt_run real_verdict "$@"; }
run_variant patch.security_updates plain-lists p_plain
run_variant patch.security_updates D2-gz-GzipIndexes p_gz
run_variant patch.security_updates D2-xz p_xz
run_variant patch.security_updates D2-lz4 p_lz4
run_variant patch.security_updates D2-lz4-security-gz-rest p_mixed
run_variant patch.security_updates all-applied p_all_applied
run_variant patch.security_updates five-applied p_some_applied
gt_report
