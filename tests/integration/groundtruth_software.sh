#!/usr/bin/env bash
# tests/integration/groundtruth_software.sh — SOFT-1 against the root's own
# dpkg (issue 21.4): a small package named `telnetd` (on the templates' deny
# list) is built here with dpkg-deb and brought by the root's dpkg into each
# of its states (`dpkg --unpack`, `dpkg -i` with a failing postinst,
# `dpkg-trigger`, `dpkg -i`, `dpkg -r`, `dpkg -P`). The real verdict comes
# from `dpkg-query -W -f='${db:Status-Abbrev}'` in the root (which reads the
# status file and dpkg's updates/ journal, left by a dpkg run killed in its
# preinst in one variant): any state in
# which the package's files are on disk (U unpacked, F half-configured,
# H half-installed, W triggers-awaited, t triggers-pending, i installed) is a
# deny-listed package present = fail; n (not-installed) and c (config-files)
# pass. mamori judges with the internet template's policy. Needs root.
cd "$(dirname "$0")/../.."
: "${MAMORI_SRC:=$PWD}"
source tests/groundtruth/lib.bash
gt_unpack

POLICY=$MAMORI_SRC/policy/templates/internet.json
PKGS=$GT_WORK/pkgs
mkdir -p "$PKGS"

# mkdeb NAME VERSION [postinst-exit] [trigger-interest]
mkdeb() {
	local d=$PKGS/src-$1-$2-${3:-0}-${4:-none}
	mkdir -p "$d/DEBIAN" "$d/usr/sbin" "$d/etc"
	printf '#!/bin/sh\necho %s\n' "$1" >"$d/usr/sbin/in.$1"
	chmod 755 "$d/usr/sbin/in.$1"
	echo "# $1 config" >"$d/etc/$1.conf"
	echo "/etc/$1.conf" >"$d/DEBIAN/conffiles"
	cat >"$d/DEBIAN/control" <<-CTL
		Package: $1
		Version: $2
		Architecture: all
		Maintainer: mamori ground truth <root@localhost>
		Description: deny-listed stand-in built by groundtruth_software.sh
	CTL
	if [[ ${3:-0} != 0 ]]; then
		printf '#!/bin/sh\nexit %s\n' "$3" >"$d/DEBIAN/postinst"
		chmod 755 "$d/DEBIAN/postinst"
	fi
	[[ ${4:-none} == none ]] || echo "interest-noawait ${4}" >"$d/DEBIAN/triggers"
	dpkg-deb --root-owner-group -Zgzip -b "$d" "$PKGS/$1_$2_${3:-0}_${4:-none}.deb" >/dev/null
	echo "$PKGS/$1_$2_${3:-0}_${4:-none}.deb"
}
DEB_OK=$(mkdeb telnetd 1.0)
DEB_FAILS=$(mkdeb telnetd 1.0 1)
DEB_TRIG=$(mkdeb telnetd 1.0 0 gt-telnetd-trigger)
# a preinst that kills dpkg: the run ends with its journal (updates/NNNN)
# not merged into the status file, as after a crash or a power cut
DEB_KILL=$PKGS/telnetd_kill.deb
mkdir -p "$PKGS/src-kill/DEBIAN" "$PKGS/src-kill/usr/sbin"
cp "$PKGS"/src-telnetd-1.0-0-none/DEBIAN/control "$PKGS/src-kill/DEBIAN/"
cp "$PKGS"/src-telnetd-1.0-0-none/usr/sbin/in.telnetd "$PKGS/src-kill/usr/sbin/"
printf '#!/bin/sh\nkill -9 $PPID\nsleep 1\n' >"$PKGS/src-kill/DEBIAN/preinst"
chmod 755 "$PKGS/src-kill/DEBIAN/preinst"
dpkg-deb --root-owner-group -Zgzip -b "$PKGS/src-kill" "$DEB_KILL" >/dev/null

dpkg_in_root() { chroot "$GT_V" dpkg --force-not-root "$@" >>"$GT_D/dpkg.log" 2>&1 || true; }
with_deb() { cp "$1" "$GT_V/tmp/pkg.deb"; }

real_verdict() { # dpkg-query's own view of the package's state
	local abbrev state
	abbrev=$(chroot "$GT_V" dpkg-query -W -f='${db:Status-Abbrev}' telnetd 2>/dev/null || true)
	state=${abbrev:1:1}
	gt_detail "dpkg-query: '${abbrev:-absent}'; /usr/sbin/in.telnetd $([[ -e $GT_V/usr/sbin/in.telnetd ]] && echo on disk || echo absent)"
	case $state in
	U | F | H | W | t | i) echo fail ;;
	n | c | '') echo pass ;;
	*) echo "unknown-state-$state" ;;
	esac
}
gt_mamori() { # the deny list of the internet template
	"$CTL" --root "$GT_V" --json check --policy "$POLICY" --module software >"$GT_D/mamori.json" 2>"$GT_D/mamori.err" || true
	jq -r --arg id "$1" '.results[] | select(.id == $id) | .status' "$GT_D/mamori.json"
}

s_absent() { :; }
s_installed() { with_deb "$DEB_OK"; dpkg_in_root -i /tmp/pkg.deb; }
s_unpacked() { with_deb "$DEB_OK"; dpkg_in_root --unpack /tmp/pkg.deb; }
s_half_configured() { with_deb "$DEB_FAILS"; dpkg_in_root -i /tmp/pkg.deb; }
s_triggers_pending() {
	with_deb "$DEB_TRIG"
	dpkg_in_root -i /tmp/pkg.deb
	chroot "$GT_V" dpkg-trigger --no-await gt-telnetd-trigger >>"$GT_D/dpkg.log" 2>&1 || true
}
s_interrupted_journal() { with_deb "$DEB_KILL"; dpkg_in_root -i /tmp/pkg.deb; }
s_removed_config_files() { with_deb "$DEB_OK"; dpkg_in_root -i /tmp/pkg.deb; dpkg_in_root -r telnetd; }
s_purged() { with_deb "$DEB_OK"; dpkg_in_root -i /tmp/pkg.deb; dpkg_in_root -P telnetd; }

run_variant() { gt_run real_verdict software.policy "$@"; }
run_variant not-installed s_absent
run_variant installed s_installed
run_variant unpacked s_unpacked
run_variant half-configured s_half_configured
run_variant triggers-pending s_triggers_pending
run_variant dpkg-killed-journal-only s_interrupted_journal
run_variant removed-config-files s_removed_config_files
run_variant purged s_purged
gt_report
