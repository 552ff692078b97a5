#!/usr/bin/env bash
# tests/integration/carry_perm.sh — the carry module's permission-event
# thread on a real fanotify group watching a directory made here (in /tmp,
# removed in the trap). Root-only (fanotify); not root is a FAILURE.
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
if [[ $(id -u) -ne 0 ]]; then
	echo "carry_perm.sh: FAIL: must run as root (fanotify)" >&2
	exit 1
fi
bin=$MAMORI_SRC/$MAMORI_BUILD/itests/carry_perm
[[ $MAMORI_BUILD = /* ]] && bin=$MAMORI_BUILD/itests/carry_perm
tmp=$(mktemp -d /tmp/mamori-carry-perm.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
CARRY_PERM_TMP=$tmp "$bin"
