#!/usr/bin/env bash
# tests/bench/run.sh — `make bench`: runs every tests/bench/*.sh (except this
# one) in name order; each prints "key value" lines or a small table.
set -uo pipefail
cd "$(dirname "$0")/../.."
export MAMORI_BUILD=${MAMORI_BUILD:-build}
export MAMORI_SRC=$PWD
rc=0
for b in tests/bench/*.sh; do
	[[ $(basename "$b") == run.sh ]] && continue
	echo "== $(basename "$b" .sh)"
	bash "$b" || { echo "bench $(basename "$b"): failed"; rc=1; }
done
exit $rc
