#!/usr/bin/env bash
# tests/integration/av_clamd.sh — the ClamAV adapter against a real clamd
# started here on a socket in a temporary directory (never the system's),
# with a signature database written here (EICAR as a custom .ndb). Fails,
# never skips, when clamd is missing.
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
CLAMD=$(command -v clamd || true)
[[ -x $CLAMD ]] || CLAMD=/usr/sbin/clamd
if [[ ! -x $CLAMD ]]; then echo "FAIL: clamd is not installed (apt-get install clamav-daemon)"; exit 1; fi

tmp=$(mktemp -d /tmp/mamori-av-clamd.XXXXXX)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

mkdir -p "$tmp/db" "$tmp/scan"
eicar='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
printf 'Mamori-EICAR-Test:0:*:%s\n' "$(printf '%s' "$eicar" | od -An -tx1 | tr -d ' \n')" >"$tmp/db/mamori.ndb"
cat >"$tmp/clamd.conf" <<CONF
LocalSocket $tmp/clamd.sock
DatabaseDirectory $tmp/db
Foreground yes
LogFile $tmp/clamd.log
MaxThreads 2
CONF
"$CLAMD" -c "$tmp/clamd.conf" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do [[ -S $tmp/clamd.sock ]] && break; sleep 0.1; done
if [[ ! -S $tmp/clamd.sock ]]; then echo "FAIL: clamd did not start"; cat "$tmp/clamd.log" 2>/dev/null; exit 1; fi
printf '%s' "$eicar" >"$tmp/scan/eicar.com"
echo "just a clean file" >"$tmp/scan/clean.txt"
AV_TMP=$tmp "$MAMORI_BUILD/itests/av_clamd"
