#!/usr/bin/env bash
# make_deps_order.sh — the Makefile computes package flags only after
# installer/deps.sh ran (issue 20: on a fresh machine the first `make demo`
# failed with "blkid.h: No such file or directory" because pkg-config ran
# while the Makefile was parsed, before the -dev packages existed).
#
# The oracle is pkg-config itself: the build starts with every .pc file
# hidden (PKG_CONFIG_LIBDIR points at an empty folder) and a stand-in for
# deps.sh that "installs" them (links the real .pc files into that folder).
# The compile line of modules/carry/carry.c (which includes <blkid.h>) must
# carry blkid's real cflags, and every link line libblkid.
set -euo pipefail
cd "$(dirname "$0")/../.."
T=$(mktemp -d /tmp/mamori-depsorder.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/pc"
want=$(pkg-config --cflags blkid | xargs)
[[ -n $want ]] || { echo "blkid has no cflags on this machine: cannot judge" >&2; exit 1; }
real=$(pkg-config --variable pc_path pkg-config)
cat > "$T/deps.sh" <<DEPS
#!/usr/bin/env bash
# stand-in for installer/deps.sh: the packages appear now
for d in ${real//:/ }; do [ -d "\$d" ] && ln -sf "\$d"/*.pc "$T/pc/" 2>/dev/null; done
touch "$T/deps-ran"
DEPS
# -n: print the commands; make still remakes the included config.mk for real.
PKG_CONFIG_LIBDIR=$T/pc make -n --no-print-directory O="$T/build" DEPS="$T/deps.sh" \
	"$T/build/obj/modules/carry/carry.o" "$T/build/bin/mamorid" > "$T/out" 2>&1 || {
	cat "$T/out"; echo "FAIL: make did not run" >&2; exit 1; }
[[ -e $T/deps-ran ]] || { echo "FAIL: deps.sh never ran" >&2; exit 1; }
line=$(grep -E -- '-c -o [^ ]*carry\.o modules/carry/carry\.c' "$T/out" || true)
[[ -n $line ]] || { cat "$T/out"; echo "FAIL: no compile line for carry.c" >&2; exit 1; }
if [[ " $line " != *" $want "* ]]; then
	echo "compile line: $line"
	echo "FAIL: carry.c compiled without '$want' (flags computed before deps.sh ran)" >&2
	exit 1
fi
link=$(grep -E -- '-o [^ ]*/bin/mamorid ' "$T/out" || true)
[[ $link == *-lblkid* ]] || { echo "link line: $link"; echo "FAIL: mamorid linked without -lblkid" >&2; exit 1; }
echo "PASS: flags computed after deps.sh ($want; -lblkid)"
