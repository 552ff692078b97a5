#!/usr/bin/env bash
# installer/deb.sh — build the mamori-agent and mamori-server packages
# (`make deb`) from a copy of this tree, then run lintian on them.
#   installer/deb.sh VERSION OUTDIR
# The version comes from one place, protocol/version.h (the Makefile reads it);
# DEB_REVISION (default 1) is the Debian revision. The packaging lives in
# installer/debian/; the copy gets it as debian/ and a changelog written here.
# Output: OUTDIR/*.deb and OUTDIR/lintian.txt. Fails on a lintian error.
set -euo pipefail
(($# == 2)) || { echo "usage: $0 VERSION OUTDIR" >&2; exit 2; }
version=$1 out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
[[ $version =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || { echo "deb.sh: bad version '$version'" >&2; exit 2; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
src=$out/mamori-$version
rm -rf --one-file-system "$src"
mkdir -p "$src"
# the source tree without build output or git metadata; node_modules (the
# npm packages the dashboard is built from, pinned by package-lock.json) is
# installed here first and copied: the package build has no network
bash "$root/installer/deps.sh" --www >/dev/null
tar -C "$root" --exclude=./.git --exclude='./build*' -cf - . | tar -C "$src" -xf -
mv "$src/installer/debian" "$src/debian"
{
	echo "mamori ($version) unstable; urgency=medium"
	echo
	echo "  * Built from the mamori tree (version in protocol/version.h)."
	echo
	echo " -- mamori developers <mamori@example.jp>  $(date -R -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")"
} > "$src/debian/changelog"
# a native package's version has no Debian revision: 0.1.0-2 → 0.1.0.2 is
# not what we want, so a revision makes it a non-native "1.0" source
if [[ $version == *-* ]]; then echo "1.0" > "$src/debian/source/format"; fi

rm -f "$out"/mamori-agent_*.deb "$out"/mamori-server_*.deb "$out"/mamori-*dbgsym*.deb "$out"/mamori_*.changes "$out"/mamori_*.buildinfo
(cd "$src" && dpkg-buildpackage -b -us -uc --no-sign) > "$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	echo "deb.sh: dpkg-buildpackage failed (log: $out/build.log)" >&2
	exit 1
}
rm -rf --one-file-system "$src"
changes=$(ls "$out"/mamori_"${version}"_*.changes)
# lintian: no error (warnings are listed, not fatal)
lintian --fail-on error --info "$changes" > "$out/lintian.txt" 2>&1 || {
	cat "$out/lintian.txt" >&2
	echo "deb.sh: lintian reports errors" >&2
	exit 1
}
echo "deb.sh: $(cd "$out" && ls mamori-agent_"${version}"_*.deb mamori-server_"${version}"_*.deb | tr '\n' ' ')in $out"
echo "deb.sh: lintian: $(grep -c '^E:' "$out/lintian.txt" || true) errors, $(grep -c '^W:' "$out/lintian.txt" || true) warnings ($out/lintian.txt)"
