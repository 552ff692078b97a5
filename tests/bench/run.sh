#!/usr/bin/env bash
# tests/bench/run.sh — `make bench`: runs every tests/bench/*.sh (except this
# one and scale.sh, which is make bench-scale) in name order; each prints "key value" lines or a small table.
set -uo pipefail
cd "$(dirname "$0")/../.."
export MAMORI_BUILD=${MAMORI_BUILD:-build}
export MAMORI_SRC=$PWD
rc=0
for b in tests/bench/*.sh; do
	# scale.sh is `make bench-scale` (minutes to an hour): not part of `make bench`
	[[ $(basename "$b") == run.sh || $(basename "$b") == scale.sh ]] && continue
	echo "== $(basename "$b" .sh)"
	bash "$b" || { echo "bench $(basename "$b"): failed"; rc=1; }
done
exit $rc
