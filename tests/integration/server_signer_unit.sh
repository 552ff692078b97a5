#!/usr/bin/env bash
# tests/integration/server_signer_unit.sh — issue 18.3 under the shipped
# unit's privileges: mamori-server with its signer child, as a non-root uid
# with no capability and no_new_privs (setpriv), under the SystemCallFilter=
# PARSED from installer/mamori-server.service (unit_privileges.bash, applied
# by itests/unitexec as systemd would; PID 1 here is not systemd). The
# signer starts, installs its own seccomp filter (the prctl form: seccomp(2)
# is outside @system-service), the web process hides the keys (Landlock),
# and enrollment and command signing work. The same unit without its
# landlock_* line: the server refuses to serve and says why (fail closed).
# Root-only (setpriv to another uid).
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
source "$(dirname "$0")/unit_privileges.bash"
trap cleanup EXIT
UNIT=$SRC/installer/mamori-server.service
UNITEXEC=$SRC/$B/itests/unitexec
REAL=$SERVER

# a uid of the dynamic range that owns nothing (as DynamicUser= picks one)
uid=
for u in $(seq 65100 65519); do
	getent passwd "$u" >/dev/null || getent group "$u" >/dev/null || pgrep -U "$u" >/dev/null || { uid=$u; break; }
done
[[ -n $uid ]] || { echo "FAIL  no free uid"; exit 1; }
chmod 0711 "$T"
# the wrapper start_server runs: setpriv as the unit does it, then the filter
wrap() { # UNIT_FILE → $T/run-NAME: runs mamori-server under that unit's filter
	local u=$1 name=$2
	unit_syscall_lists "$u" "$T/$name.allow" "$T/$name.deny" || return 1
	cat >"$T/run-$name" <<EOF
#!/bin/sh
ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0 exec setpriv --reuid=$uid --regid=$uid --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- \
	"$UNITEXEC" "$T/$name.allow" "$T/$name.deny" EPERM -- "$REAL" "\$@"
EOF
	chmod 0755 "$T/run-$name"
}
wrap "$UNIT" unit || { echo "FAIL  cannot parse $UNIT"; exit 1; }
grep -q '^SystemCallFilter=landlock_' "$UNIT" || bad "the unit allows the landlock calls"
grep -v '^SystemCallFilter=landlock_' "$UNIT" >"$T/nolandlock.service"
wrap "$T/nolandlock.service" nolandlock || { echo "FAIL  cannot parse the copy"; exit 1; }

D=$T/srv
mkdir -m 0700 "$D" && chown "$uid:$uid" "$D"
SERVER=$T/run-unit
start_server "$D" || { echo "FAIL  the server did not start under the unit's settings"; exit 1; }
ok "mamori-server starts under the unit's settings as uid $uid"
bootstrap "$D" || bad "bootstrap"
WEB=$SRV_PID
SIGNER=$(cat /proc/"$WEB"/task/*/children | tr -s ' ' '\n' | grep -v '^$' | head -n1)
check "the signer child runs ($SIGNER), as the unit's user too" test "$(stat -c %u /proc/"$SIGNER")" = "$uid"
st=$(grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/"$SIGNER"/status | tr -s '\t\n' '  ')
check "... with no capability and no_new_privs ($st)" \
	bash -c "[[ '$st' == *'NoNewPrivs: 1'* && '$st' == *'CapEff: 0000000000000000'* ]]"
nf_web=$(awk '/^Seccomp_filters:/ {print $2}' /proc/"$WEB"/status)
nf_sig=$(awk '/^Seccomp_filters:/ {print $2}' /proc/"$SIGNER"/status)
check "... and its own seccomp filter on top of the unit's (filters: web $nf_web, signer $nf_sig)" \
	test "$nf_sig" -gt "$nf_web"
check "the web process hid the keys from itself" grep -q "not readable by this process (Landlock)" "$D.log"
check "the key files are the unit user's, 0600" test "$(stat -c '%u %a' "$D/ca.key")" = "$uid 600"
check "enrollment: the signer signs the CSR" enroll "$T/pc-a" pc-a kaikei
c1=$(cmd_request pc-a sync | jq -r .id)
check "a command is signed (queued)" test "$(cmd_status "$c1")" = queued
stop_server

SERVER=$T/run-nolandlock
if start_server "$D" >/dev/null 2>&1; then
	bad "without landlock_* in the unit the server must not serve"
else
	ok "without landlock_* in the unit the server does not serve"
fi
check "... and says why" grep -q "cannot hide the signing keys from this process (Landlock" "$D.log"
SRV_PID=
finish
