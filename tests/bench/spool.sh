#!/usr/bin/env bash
# tests/bench/spool.sh — the gate spool's cost on the decision path
# (spool_append) and of its batched fdatasync, on the disk of /var/tmp.
set -euo pipefail
b=${MAMORI_BUILD:-build}
[[ $b == /* ]] || b=${MAMORI_SRC:-$PWD}/$b
d=$(mktemp -d /var/tmp/mamori-spool.XXXXXX)
trap 'rm -rf "$d"' EXIT
"$b/bench/bench_spool" "$d"
