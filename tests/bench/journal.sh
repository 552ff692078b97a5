#!/usr/bin/env bash
# tests/bench/journal.sh — journal throughput vs raw SQLite WAL (same fsync
# policy), bytes per event, verify speed. BENCH_SECONDS per measurement.
set -euo pipefail
b=${MAMORI_BUILD:-build}
[[ $b == /* ]] || b=${MAMORI_SRC:-$PWD}/$b
exec "$b/bench/bench_journal" "${BENCH_SECONDS:-2}"
