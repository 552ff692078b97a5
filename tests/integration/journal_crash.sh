#!/usr/bin/env bash
# tests/integration/journal_crash.sh — kill -9 loop against the journal (issue 4).
set -euo pipefail
b=$MAMORI_BUILD
[[ $b == /* ]] || b=$MAMORI_SRC/$b
exec "$b/itests/journal_crash"
