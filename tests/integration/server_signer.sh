#!/usr/bin/env bash
# tests/integration/server_signer.sh — issue 18.3: the signing keys (device
# CA, policy, command) are held by the signer child of mamori-server alone
# (server-api/signer.h), never by the process that parses the network.
# Oracles: the kernel (/proc/PID/fd, /proc/PID/mem read by this root shell),
# OpenSSL (the raw private key bytes, from `openssl pkey -text`), the real
# agent CLI enrolling over mTLS. A positive control: the same scan finds
# every key in the signer's memory. Then the signer is killed: the server
# stays up, refuses every signature with a clear log line, and records
# nothing unsigned (no terminal, no command, no published policy).
# Before: the web process held the CA key and read the policy and command
# keys at every signature (the scan finds them; no signer child exists).
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
trap cleanup EXIT
SCAN=$SRC/$B/itests/memscan

D=$T/srv
A=$T/pc-a
# the raw private key (hex) of a PEM key, as OpenSSL reads it
keyhex() {
	openssl pkey -in "$1" -noout -text | awk '/^priv:/ {p = 1; next} /^pub:/ {p = 0} p' | tr -d ' :\n' |
		sed -E 's/^00([0-9a-f]{64})$/\1/'
}

start_server "$D" || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
acct shonin approver 1002 "承認 花子" >/dev/null
approve_console shonin >/dev/null || bad "approver account"
stop_server
# the second start: the keys exist, the web process has no reason to touch them
start_server "$D" || { echo "FAIL  server did not start again"; exit 1; }
login ciso || bad "login"
WEB=$(jq -r .pid "$D/listen.json")
check "listen.json names the process that serves ($WEB)" test "$WEB" = "$SRV_PID"
SIGNER=$(cat /proc/"$WEB"/task/*/children | tr -s ' ' '\n' | grep -v '^$' | head -n1)
check "the server has a signer child ($SIGNER)" test -n "$SIGNER"
check "... the log names it and says the keys are hidden from the web process" \
	grep -q "held by the signer (pid $SIGNER), not readable by this process (Landlock)" "$D.log"
check "... the signer runs as another uid, not root ($(stat -c %u /proc/"$SIGNER"))" \
	bash -c "[[ \$(stat -c %u /proc/$SIGNER) != 0 && \$(stat -c %u /proc/$SIGNER) != \$(stat -c %u /proc/$WEB) ]]"
check "... and is not dumpable (no core, no ptrace by its uid)" \
	bash -c "[[ \$(stat -c %U /proc/$SIGNER/mem) == root ]]"

fds=$(ls -l /proc/"$WEB"/fd 2>/dev/null | grep -c -- '-signing.key\|ca.key')
check "the web process has no descriptor on a signing key ($fds)" test "$fds" = 0
needles=(ca="$(keyhex "$D/ca.key")" policy="$(keyhex "$D/policy-signing.key")" command="$(keyhex "$D/command-signing.key")")
check "the three private keys read as 32 bytes each" \
	bash -c "[[ '${needles[*]}' =~ ^ca=[0-9a-f]{64}\ policy=[0-9a-f]{64}\ command=[0-9a-f]{64}$ ]]"
sig_scan=$("$SCAN" "$SIGNER" "${needles[@]}" | tr '\n' ' ')
check "positive control: the scan finds every key in the signer's memory ($sig_scan)" \
	test "$sig_scan" = "ca found policy found command found "

# ---- everything that signs still works ----
check "enrollment: the signer signs the terminal's CSR" enroll "$A" pc-a kaikei
SA=$(state_dir "$A")
check "... a certificate of our CA, for pc-a, clientAuth" bash -c \
	"openssl verify -CAfile '$D/ca.pem' -purpose sslclient '$SA/device.pem' >/dev/null && openssl x509 -in '$SA/device.pem' -noout -subject | grep -q 'CN *= *pc-a'"
check "... it checks in over mTLS" ctl "$A" server sync
jq -j '.version = 2' "$SRC/policy/templates/lgwan.json" >"$T/p2.json"
check "a policy is approved and signed with the policy key" publish_policy kaikei "$T/p2.json" shonin
ctl "$A" server sync >/dev/null
check "... the agent verified and installed it" "$HELPER" verify-policy "$A/var/lib/mamori/policy.json" "$A/etc/mamori/policy.pub"
c1=$(cmd_request pc-a sync | jq -r .id)
check "a command is signed with the command key (queued: $c1)" test "$(cmd_status "$c1")" = queued
# after signing for each key: still nothing of them in the web process
web_scan=$("$SCAN" "$WEB" "${needles[@]}" | tr '\n' ' ')
check "the web process's memory holds none of the keys ($web_scan)" \
	test "$web_scan" = "ca absent policy absent command absent "

# ---- the signer killed: fail closed ----
terms=$(api GET /admin/v1/terminals | jq '.terminals | length')
kill -9 "$SIGNER"
for _ in $(seq 50); do
	st=$(awk '{print $3}' /proc/"$SIGNER"/stat 2>/dev/null)
	[[ -z $st || $st == Z ]] && break
	sleep 0.1
done
out=$(ctl "$T/pc-b" enroll --server "https://$ADM" --token "$(new_token kaikei)" --ca-fingerprint "$FPR" \
	--terminal-id pc-b 2>&1)
check "signer gone: enrollment refused with ca_error ($out)" matches "$out" "*ca_error*"
check "... no certificate reached the terminal" test ! -e "$T/pc-b/var/lib/mamori/device.pem"
check "... the log says why, in both languages" grep -q "署名プロセスが応答しません.*the signer (pid $SIGNER) is gone" "$D.log"
check "... no terminal was recorded" test "$(api GET /admin/v1/terminals | jq '.terminals | length')" = "$terms"
cmd_request pc-a sync >"$T/c2.json"
check "a command: 500 sign_failed" bash -c "[[ $CODE == 500 ]] && grep -q sign_failed '$T/c2.json'"
check "... none recorded unsigned" test "$(api GET '/admin/v1/commands?terminal=pc-a' | jq --arg c "$c1" '[.[] | select(.id != $c)] | length')" = 0
jq -j '.version = 3' "$SRC/policy/templates/lgwan.json" >"$T/p3.json"
api PUT /admin/v1/groups/kaikei/policy "$(cat "$T/p3.json")" >/dev/null
keep=$TOKEN; login shonin
api POST /admin/v1/groups/kaikei/policy/3/approve >"$T/a3.json"
check "a policy approval: 500 sign_failed" bash -c "[[ $CODE == 500 ]] && grep -q sign_failed '$T/a3.json'"
TOKEN=$keep
res=$(ctl "$A" --json server sync)
check "... the terminal still gets policy 2, signed, nothing newer" \
	bash -c "[[ \$(jq -r .policy_version <<<'$res') == 2 || \$(jq -r .policy_updated <<<'$res') == false ]]"
check "the server itself still answers (check-in accepted)" ctl "$A" server sync
finish
