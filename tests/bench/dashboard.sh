#!/usr/bin/env bash
# tests/bench/dashboard.sh — the dashboard API's p50/p99 with 10,000
# terminals and 1,000,000 events in the store (issue 15; bench_dashboard.c).
# BENCH_DASH_TERMINALS / BENCH_DASH_EVENTS change the sizes.
set -euo pipefail
b=$MAMORI_BUILD
[[ $b == /* ]] || b=$MAMORI_SRC/$b
"$b/bench/bench_dashboard"
