#!/usr/bin/env bash
# tests/groundtruth/root.sh — build (once per machine) and unpack the Debian 12
# root the ground-truth suite judges mamori against (issue 21, LOCK-2, LOCK-3,
# PATCH-1, SOFT-1). Run by the test scripts, as root.
#
#   root.sh tarball        print the cached tarball's path, building it if needed
#   root.sh unpack DIR     unpack the cached root into DIR (built if needed)
#
# The root is `debootstrap --variant=minbase bookworm` from the mirror of the
# machine's own /etc/apt/sources.list*, plus the real components that judge:
# libpam-modules, libpam-pwquality, pamtester, libpwquality-tools, bash, apt,
# dconf-cli, chrony. The tarball is cached in /var/cache/mamori-groundtruth/
# (its own directory: `make fresh` keeps its root elsewhere); concurrent runs
# wait on a flock. The first build takes about 3 minutes; later runs only
# unpack it (a few seconds).
set -euo pipefail
cache=${MAMORI_GROUNDTRUTH_CACHE:-/var/cache/mamori-groundtruth}
version=1 # bump when the package list changes
tarball=$cache/debian12-minbase-v$version.tar.gz
lists=$cache/debian12-apt-lists-v$version.tar.gz # apt-get update of bookworm{,-updates,-security}
debs=$cache/debian12-upgrade-debs-v$version.tar.gz # apt-get -d upgrade: the pending updates' .debs
pkgs=libpam-modules,libpam-modules-bin,libpam-pwquality,pamtester,libpwquality-tools,bash,apt,dconf-cli,chrony,passwd,login

mirror() {
	local m
	m=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -v security | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' |
		awk '{print $1; exit}')
	echo "${m:-http://deb.debian.org/debian}"
}

build() {
	local tmp m
	m=$(mirror)
	tmp=$(mktemp -d "$cache/build.XXXXXX")
	echo "root.sh: building the Debian 12 ground-truth root from $m (about 3 minutes, once)" >&2
	if ! debootstrap --variant=minbase --include="$pkgs" bookworm "$tmp/root" "$m" >"$tmp/log" 2>&1; then
		tail -n 20 "$tmp/log" >&2
		umount -R "$tmp/root/proc" 2>/dev/null || true
		rm -rf --one-file-system "$tmp"
		return 1
	fi
	# no mounts may remain before packing or removing
	findmnt -R "$tmp/root" >/dev/null 2>&1 && umount -R "$tmp/root"/* 2>/dev/null || true
	rm -rf --one-file-system "$tmp/root/var/cache/apt/archives/"*.deb
	tar -C "$tmp/root" --numeric-owner -czf "$tmp/root.tar.gz" .
	mv "$tmp/root.tar.gz" "$tarball"
	rm -rf --one-file-system "$tmp"
}

# apt's own lists of the three suites, fetched by the root's apt (its
# plain, uncompressed form: the suite compresses copies per variant).
build_lists() {
	local tmp m
	m=$(mirror)
	tmp=$(mktemp -d "$cache/lists.XXXXXX")
	mkdir "$tmp/root"
	tar -C "$tmp/root" --numeric-owner -xzf "$tarball"
	cat >"$tmp/root/etc/apt/sources.list" <<-SRC
		deb $m bookworm main
		deb $m bookworm-updates main
		deb ${m%/debian}/debian-security bookworm-security main
	SRC
	cp /etc/resolv.conf "$tmp/root/etc/resolv.conf"
	if ! chroot "$tmp/root" apt-get -qq -o Acquire::Languages=none update >"$tmp/log" 2>&1; then
		tail -n 20 "$tmp/log" >&2
		rm -rf --one-file-system "$tmp"
		return 1
	fi
	rm -f "$tmp/root/var/lib/apt/lists/lock"
	tar -C "$tmp/root" --numeric-owner -czf "$tmp/lists.tar.gz" etc/apt/sources.list var/lib/apt/lists
	mv "$tmp/lists.tar.gz" "$lists"
	rm -rf --one-file-system "$tmp"
}

# the .deb files of the pending upgrade, so that a variant can really
# install them (dpkg, offline) instead of editing dpkg's status
build_debs() {
	local tmp
	tmp=$(mktemp -d "$cache/debs.XXXXXX")
	mkdir "$tmp/root"
	tar -C "$tmp/root" --numeric-owner -xzf "$tarball"
	tar -C "$tmp/root" --numeric-owner -xzf "$lists"
	cp /etc/resolv.conf "$tmp/root/etc/resolv.conf"
	if ! chroot "$tmp/root" apt-get -qq -d -y upgrade >"$tmp/log" 2>&1; then
		tail -n 20 "$tmp/log" >&2
		rm -rf --one-file-system "$tmp"
		return 1
	fi
	tar -C "$tmp/root" --numeric-owner -czf "$tmp/debs.tar.gz" var/cache/apt/archives
	mv "$tmp/debs.tar.gz" "$debs"
	rm -rf --one-file-system "$tmp"
}

ensure() {
	mkdir -p "$cache"
	exec 8>"$cache/lock"
	flock 8
	[[ -s $tarball ]] || build
	[[ -s $lists ]] || build_lists
	[[ -s $debs ]] || build_debs
	flock -u 8
}

case ${1:-} in
tarball)
	ensure
	echo "$tarball"
	;;
unpack)
	[[ -n ${2:-} ]] || { echo "usage: $0 unpack DIR" >&2; exit 2; }
	ensure
	mkdir -p "$2"
	tar -C "$2" --numeric-owner -xzf "$tarball"
	tar -C "$2" --numeric-owner -xzf "$lists"
	tar -C "$2" --numeric-owner -xzf "$debs"
	;;
*)
	echo "usage: $0 tarball | unpack DIR" >&2
	exit 2
	;;
esac
