#!/usr/bin/env bash
# tests/bench/usb.sh — `make bench`: USB decision latency (from the uevent
# call to the `authorized` write) and memory of mamori's usb module, side by
# side with USBGuard, through the shared usbguard-bench harness.
#
# The harness is used as it is: its files are symlinked into
# /tmp/ugbench/harness together with our hook and profile
# (tests/bench/usbguard-bench/), because compare.sh looks for profiles next to
# itself. Nothing of it is copied into our tree.
#   env: UGB_N (insertions, default 1000), UGB_RUNS (default 1), UGBENCH_SRC
set -euo pipefail
: "${MAMORI_BUILD:=build}" "${MAMORI_SRC:=$PWD}"
src=${UGBENCH_SRC:-/work/shared/bench/usbguard-bench}
n=${UGB_N:-1000}
runs=${UGB_RUNS:-1}
[[ -f $src/compare.sh ]] || { echo "usb.sh: no usbguard-bench at $src" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "usb.sh: must run as root (harness)" >&2; exit 1; }
bin=$MAMORI_BUILD/bin
[[ $bin = /* ]] || bin=$MAMORI_SRC/$bin
[[ -x $bin/mamorid && -x $bin/mamori-worker ]] || { echo "usb.sh: $bin/mamorid missing (make builds it)" >&2; exit 1; }
export MAMORI_BIN=$bin
export UGBENCH_BUILD=/tmp/ugbench/build
h=/tmp/ugbench/harness
rm -rf "$h"
mkdir -p "$h/hooks" "$h/agents"
for f in "$src"/*; do [[ -f $f ]] && ln -s "$f" "$h/"; done
for f in "$src"/hooks/* "$MAMORI_SRC"/tests/bench/usbguard-bench/hooks/*; do ln -sf "$f" "$h/hooks/"; done
for f in "$src"/agents/* "$MAMORI_SRC"/tests/bench/usbguard-bench/agents/*; do ln -sf "$f" "$h/agents/"; done
[[ -x $UGBENCH_BUILD/ugbench ]] || "$h/build.sh" >/dev/null
pgrep -x usbguard-daemon >/dev/null && { echo "usb.sh: a usbguard-daemon is running; stop it first" >&2; exit 1; }
# refagent is the harness's floor (3 sysfs reads, 1 write): read our cost as ours - floor
# mamori-stopped: the same with mamori-worker SIGSTOPped all along (the gate
# never waits for it: the figure should match mamori's)
"$h/compare.sh" -r "$runs" -n "$n" usbguard refagent mamori mamori-stopped
echo "(latency_* from the umockdev_testbed_uevent() call; target mamori <= 440/700 us median/p99, VmRSS <= 3 MB;"
echo " mamori-stopped: mamori-worker stopped during the whole run, decision latency next to the normal figure;"
echo " the harness measures mamorid, the USB gate; tests/bench/agent.sh prints mamorid + mamori-worker together)"
