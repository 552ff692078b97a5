#!/usr/bin/env bash
# tests/integration/daemon_sync.sh — the running agent reports by itself
# (issue 8 through mamorid → mamori-worker, OPS-1, LOG-1): a real
# mamori-server on 127.0.0.1, the terminal enrolled with mamorictl, then
# mamorid started: its worker checks in and uploads the journal without any
# command, acknowledges what the server holds, and applies a newer policy
# the CISO approved (downloaded, verified, handed to the USB gate). The
# network part of each sync runs unprivileged under seccomp (issue 19).
set -euo pipefail
B=$MAMORI_SRC/$MAMORI_BUILD/bin
T=$(mktemp -d /tmp/mamori-sync.XXXXXX)
spid= apid=
cleanup() {
	[[ -n $apid ]] && kill "$apid" 2>/dev/null && wait "$apid" 2>/dev/null
	[[ -n $spid ]] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -30 "$T/agent.log" 2>/dev/null; tail -10 "$T/server.log" 2>/dev/null; exit 1; }

data=$T/server root=$T/terminal pw='sync-test-password-1'
"$B/mamori-server" --data "$data" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >"$T/server.log" 2>&1 &
spid=$!
for _ in $(seq 100); do [[ -s $data/listen.json ]] && break; sleep 0.1; done
[[ -s $data/listen.json ]] || fail "server did not start"
adm=$(jq -r .admin "$data/listen.json")
fpr=$(jq -r .ca_fingerprint "$data/listen.json")
token=
api() { curl -sS --fail-with-body --cacert "$data/ca.pem" -X "$1" ${token:+-H "Authorization: Bearer $token"} \
	${3:+--data-binary "$3"} "https://$adm$2"; }
login() { token=$(token='' api POST /admin/v1/login "{\"username\":\"$1\",\"password\":\"$pw\"}" | jq -r .token); }
secret=$(grep -o 'mb1_[A-Za-z0-9_-]*' "$T/server.log" | head -n1)
api POST /admin/v1/bootstrap "{\"secret\":\"$secret\",\"username\":\"ciso\",\"password\":\"$pw\"}" >/dev/null
login ciso
api POST /admin/v1/accounts "{\"username\":\"shonin\",\"password\":\"$pw\",\"role\":\"approver\",\"staff_no\":\"1002\",\"display_name\":\"承認 花子\"}" >/dev/null
# OPS-4: an approver is approved by a second CISO, or out of band on the server's console
"$B/mamori-server" --data "$data" --approve-account shonin >/dev/null
publish() { # version
	login ciso
	jq ".version = $1" "$MAMORI_SRC/policy/templates/lgwan.json" >"$T/p$1.json"
	api PUT /admin/v1/groups/soumu/policy "$(cat "$T/p$1.json")" >/dev/null
	login shonin
	api POST "/admin/v1/groups/soumu/policy/$1/approve" >/dev/null
	login ciso
}
publish 2

mkdir -p "$root/etc/mamori"
printf 'language = en\nmodules = timesync, usb\ncheck_interval = 3600\n' >"$root/etc/mamori/agent.conf"
tok=$(api POST /admin/v1/enrollment-tokens '{"group":"soumu"}' | jq -r .token)
"$B/mamorictl" --root "$root" enroll --server "https://$adm" --token "$tok" --ca-fingerprint "$fpr" \
	--terminal-id sync-test >/dev/null || fail "enroll"

"$B/mamorid" --root "$root" --foreground --log-level debug >"$T/agent.log" 2>&1 &
apid=$!
# the worker's first sync comes 3 s after start, after the first posture pass
seen=
for _ in $(seq 100); do
	t=$(api GET /admin/v1/terminals | jq -c '.terminals[] | select(.terminal_id == "sync-test")')
	if [[ -n $t && $(jq .events_stored <<<"$t") -ge 1 && $(jq -r '.compliance["LOG-2"] // empty' <<<"$t") != "" ]]; then
		seen=1; break
	fi
	sleep 0.2
done
[[ -n $seen ]] || fail "no report from the running agent: $t"
# the worker logs the sync when it ends, after the server stored the events
# (the poll above can see them first: wait for the line, as for acked below)
for _ in $(seq 50); do grep -q "server sync: .* records uploaded" "$T/agent.log" && break; sleep 0.2; done
grep -q "server sync: .* records uploaded" "$T/agent.log" || fail "no sync logged"
# least privilege (issue 19 item 4): the part that talked to the server and
# parsed its answers ran as another user, with no capability in any set, no
# new privileges and a seccomp filter — as /proc/self/status told that child
sb=$(grep -o 'network part ran as .*' "$T/agent.log" | head -n1)
[[ -n $sb ]] || fail "the sync did not report its network child's credentials"
uid=$(grep -o 'Uid=[0-9]*' <<<"$sb" | cut -d= -f2)
[[ -n $uid && $uid != 0 ]] || fail "the network part ran as root: $sb"
for want in CapInh=0000000000000000 CapPrm=0000000000000000 CapEff=0000000000000000 \
	CapAmb=0000000000000000 NoNewPrivs=1 Seccomp=2; do
	grep -q "$want" <<<"$sb" || fail "network part: want $want: $sb"
done
# what the server holds is acknowledged in the terminal's journal
acked() { "$B/mamorictl" --root "$root" journal status | awk '$1 == "acked" { print $2 }'; }
for _ in $(seq 50); do [[ $(acked) -ge 1 ]] && break; sleep 0.2; done
[[ $(acked) -ge 1 ]] || fail "nothing acknowledged in the journal: $("$B/mamorictl" --root "$root" journal status)"

# the CISO approves v3; a reload makes the agent report at once and apply it
publish 3
kill -HUP "$apid"
ok=
for _ in $(seq 100); do
	st=$(printf '{"cmd":"status"}\n' | "$MAMORI_SRC/$MAMORI_BUILD/itests/sockclient" "$root/run/mamori/mamorid.sock")
	grep -q '"policy":{"version":3,' <<<"$st" && { ok=1; break; }
	sleep 0.2
done
[[ -n $ok ]] || fail "policy v3 not applied: $st"
grep -q "policy version 3 applied to the USB gate" "$T/agent.log" || fail "the gate did not get v3"
kill -TERM "$apid"; wait "$apid" || fail "agent exit status $?"; apid=
grep -qi "AddressSanitizer\|runtime error" "$T/agent.log" "$T/server.log" && fail "sanitizer report"
echo "daemon_sync: ok"
