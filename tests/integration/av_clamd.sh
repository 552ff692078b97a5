#!/usr/bin/env bash
# tests/integration/av_clamd.sh — the ClamAV adapter against a real clamd
# started here on a socket in a temporary directory (never the system's),
# with a signature database written here (EICAR as a custom .ndb). Fails,
# never skips, when clamd is missing.
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
. "$(dirname "$0")/clamd_lib.bash"

tmp=$(mktemp -d /tmp/mamori-av-clamd.XXXXXX)
cleanup() { clamd_stop; rm -rf "$tmp"; }
trap cleanup EXIT

mkdir -p "$tmp/scan"
clamd_start "$tmp"
printf '%s' "$EICAR" >"$tmp/scan/eicar.com"
echo "just a clean file" >"$tmp/scan/clean.txt"
AV_TMP=$tmp "$MAMORI_BUILD/itests/av_clamd"
