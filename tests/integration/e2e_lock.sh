#!/usr/bin/env bash
# tests/integration/e2e_lock.sh — `lock` / `unlock` and the dead-man rule end
# to end (MDM-1; docs/COMMANDS.md "lock / unlock"), judged by real PAM: the
# terminal is a Debian 12 root (tests/groundtruth/root.sh, with pamtester)
# whose PAM stacks got mamori's shipped profile (installer/pam-configs/
# mamori-lock) through the root's own pam-auth-update; mamorid runs with
# --root on it, against a real mamori-server on 127.0.0.1.
#   Before: a normal account (shokuin) and the policy's maintenance account
#     (hoshu) log in (pamtester login: authenticate + acct_mgmt).
#   lock (signed command): executed; every "user" session but hoshu's is
#     ended through logind's D-Bus API; shokuin is refused by libpam and
#     shown the bilingual notice (JST); hoshu still logs in.
#   agent restart with the notice gone (as a damaged disk would): the lock
#     comes back at start. unlock (signed command): both log in again.
#   Dead-man rule: policy terminal_lock.offline_lock_days = 2; a last contact
#     1 day ago leaves the terminal unlocked; 3 days ago (the test sets the
#     agent's own last_contact file back — the machine's clock is never
#     touched) locks it at start, and the server holds terminal.locked
#     (reason offline) after the next contact.
#   Offline unlock code (the emergency-code mechanism, OPS-3): a code of
#     another scope leaves it locked; the unlock code made from the
#     terminal's secret, entered at the terminal, unlocks it; not twice.
# logind: a fake on a private dbus-daemon under the root (why:
# tests/integration/fake_logind.c); the agent under --root only ever talks to
# the bus in its root, never the machine's (agent/worker/lock.c).
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
source "$(dirname "$0")/events_doc.bash"
BUS_PID= LOGIND_PID=
trap 'agent_stop; [[ -n $LOGIND_PID ]] && kill "$LOGIND_PID"; [[ -n $BUS_PID ]] && kill "$BUS_PID"; cleanup' EXIT
D=$T/srv
A=$T/pc-l
PW_S='Tsukue-Midori-2026!' PW_H='Kagi-Aoi-2026!x'

# the Debian root, its accounts and mamori's PAM profile, enabled by its pam-auth-update
mkdir -p "$A"
tar -C "$A" --numeric-owner -xzf "$(bash "$SRC/tests/groundtruth/root.sh" tarball)" || { echo "FAIL  root"; exit 1; }
for u in shokuin hoshu; do chroot "$A" useradd -m -s /bin/bash "$u"; done
printf 'shokuin:%s\nhoshu:%s\n' "$PW_S" "$PW_H" | chroot "$A" chpasswd
cp "$SRC/installer/pam-configs/mamori-lock" "$A/usr/share/pam-configs/"
chroot "$A" pam-auth-update --package >/dev/null 2>&1
check "pam-auth-update put mamori's lines in common-auth" grep -q 'pam_nologin.so file=/var/lib/mamori/lock/nologin' "$A/etc/pam.d/common-auth"
check "... and in common-account" grep -q 'pam_nologin.so file=/var/lib/mamori/lock/nologin' "$A/etc/pam.d/common-account"

# login USER PASSWORD: libpam's verdict on the root's login service (0 = PAM_SUCCESS)
login_ok() { printf '%s\n' "$2" | chroot "$A" pamtester login "$1" authenticate acct_mgmt >"$T/pam.out" 2>&1; }
refused() { ! login_ok "$@"; }
check "oracle: a wrong password is refused" refused shokuin 'wrong'
check "before: shokuin logs in" login_ok shokuin "$PW_S"
check "before: hoshu logs in" login_ok hoshu "$PW_H"

# the root's D-Bus system bus and logind on it (sessions: shokuin's two, hoshu's, the greeter)
mkdir -p "$A/run/dbus"
cat >"$T/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$A/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
EOF
dbus-daemon --config-file="$T/bus.conf" --nofork --nopidfile >"$T/bus.log" 2>&1 &
BUS_PID=$!
for _ in $(seq 50); do [[ -S $A/run/dbus/system_bus_socket ]] && break; sleep 0.1; done
start_logind() {
	DBUS_SYSTEM_BUS_ADDRESS="unix:path=$A/run/dbus/system_bus_socket" "$SRC/$B/itests/fake_logind" "$T/logind.log" \
		3:1001:shokuin:user 4:1001:shokuin:user 5:1002:hoshu:user c1:110:Debian-gdm:greeter >"$T/logind.out" 2>&1 &
	LOGIND_PID=$!
	for _ in $(seq 50); do grep -q ready "$T/logind.out" && return 0; sleep 0.1; done
	return 1
}
check "logind (fake) on the root's bus" start_logind

command_server "$D"
jq '.version = 2 | .terminal_lock = {"maintenance_account": "hoshu", "requirements": ["MDM-1"]}' \
	"$SRC/policy/templates/lgwan.json" >"$T/policy.json"
check "policy with terminal_lock published (two persons)" publish_policy soumu "$T/policy.json" shonin
mkdir -p "$A/etc/mamori"
printf 'language = en\nmodules = timesync\ncheck_interval = 3600\n' >"$A/etc/mamori/agent.conf"
check "enroll pc-l" enroll "$A" pc-l soumu >/dev/null
SA=$(state_dir "$A")
agent_start "$A"
for _ in $(seq 100); do [[ -s $SA/upload.state && -s $SA/policy.json ]] && break; sleep 0.2; done
check "the agent runs the policy" test "$(jq -r .terminal_lock.maintenance_account "$SA/policy.json" 2>/dev/null)" = hoshu

# lock
lid=$(cmd_request pc-l lock | jq -r .id)
kill -HUP "$APID"
check "lock: executed (one person is enough)" cmd_wait "$lid" executed
check "... the result says what was done" matches "$(api GET "/admin/v1/commands/$lid" | jq -r .result)" '*2 user session(s) ended*'
check "logind: shokuin's sessions ended" test "$(grep -c '^terminated [34] shokuin$' "$T/logind.log")" = 2
check "logind: hoshu's session and the greeter kept" bash -c "! grep -qE ' (hoshu|Debian-gdm)$' '$T/logind.log'"
check "locked: libpam refuses shokuin" refused shokuin "$PW_S"
check "... and shows the Japanese notice" grep -q 'この端末は管理者によりロックされています' "$T/pam.out"
check "... and the English one, time in JST" grep -qE 'locked by the administrator \([0-9-]+ [0-9:]+ JST\)' "$T/pam.out"
check "locked: the maintenance account hoshu logs in" login_ok hoshu "$PW_H"
check "locked: root's own nologin is untouched" test ! -e "$A/run/nologin" -a ! -e "$A/etc/nologin"
ctl "$A" --json status >"$T/status.json" 2>/dev/null
check "mamorictl status --json: the lock, its command and since when" \
	test "$(jq -r '[.lock.reason, .lock.by, (.lock.since > 0), .lock.maintenance_account, .isolated, .retired] | join(" ")' "$T/status.json")" \
	= "command $lid true hoshu false false"
ctl "$A" status >"$T/status.txt" 2>&1
check "mamorictl status: LOCKED, since when in Japan time" \
	grep -qE '^remote: +LOCKED \(administrator.s command, since [0-9-]+ [0-9:]+ JST\)$' "$T/status.txt"
check "... and the last check in Japan time" grep -qE '^last check: [0-9-]+ [0-9:]+ JST$' "$T/status.txt"

# restart, the notice lost: the lock is back at start
agent_stop
rm -f "$A/var/lib/mamori/lock/nologin"
check "(notice deleted by hand: shokuin logs in)" login_ok shokuin "$PW_S"
agent_start "$A"
for _ in $(seq 100); do [[ -e $A/var/lib/mamori/lock/nologin ]] && break; sleep 0.2; done
check "after an agent restart: locked again (libpam refuses shokuin)" refused shokuin "$PW_S"
check "... hoshu still logs in" login_ok hoshu "$PW_H"

# unlock
uid=$(cmd_request pc-l unlock | jq -r .id)
kill -HUP "$APID"
check "unlock: executed" cmd_wait "$uid" executed
check "unlocked: shokuin logs in" login_ok shokuin "$PW_S"
check "unlocked: hoshu logs in" login_ok hoshu "$PW_H"
check "mamorictl status --json: no lock" test "$(ctl "$A" --json status 2>/dev/null | jq -c .lock)" = null
agent_stop
agent_start "$A"
sleep 3
check "after a restart it stays unlocked" login_ok shokuin "$PW_S"

# the dead-man rule
jq '.version = 3 | .terminal_lock.offline_lock_days = 2' "$T/policy.json" >"$T/policy3.json"
check "policy with offline_lock_days = 2 published" publish_policy soumu "$T/policy3.json" shonin
kill -HUP "$APID"
for _ in $(seq 100); do [[ $(jq -r .terminal_lock.offline_lock_days "$SA/policy.json" 2>/dev/null) == 2 ]] && break; sleep 0.2; done
check "the agent runs it" test "$(jq -r .terminal_lock.offline_lock_days "$SA/policy.json" 2>/dev/null)" = 2
agent_stop
echo $(($(date +%s) - 86400)) >"$SA/last_contact"
agent_start "$A"
for _ in $(seq 100); do (($(cat "$SA/last_contact") > $(date +%s) - 600)) && break; sleep 0.2; done
check "last contact 1 day ago: not locked" login_ok shokuin "$PW_S"
check "... a check-in records the contact" test "$(cat "$SA/last_contact")" -gt $(($(date +%s) - 600))
agent_stop
echo $(($(date +%s) - 3 * 86400)) >"$SA/last_contact"
: >"$T/logind.log"
agent_start "$A"
for _ in $(seq 100); do [[ -e $A/var/lib/mamori/lock/nologin ]] && break; sleep 0.2; done
check "last contact 3 days ago: locked at start (libpam refuses shokuin)" refused shokuin "$PW_S"
check "... with the notice of the automatic lock" grep -q 'サーバーと長期間通信がなかったため' "$T/pam.out"
check "... hoshu logs in" login_ok hoshu "$PW_H"
ev=
for _ in $(seq 100); do
	ev=$(api GET "/admin/v1/events?terminal=pc-l&type=terminal.&limit=100")
	[[ $(jq '[.events[] | select(.record.type=="terminal.locked" and .record.payload.reason=="offline")] | length' <<<"$ev") == 1 ]] && break
	sleep 0.2
done
check "the server holds terminal.locked (reason offline) after the next contact" \
	test "$(jq '[.events[] | select(.record.type=="terminal.locked" and .record.payload.reason=="offline")] | length' <<<"$ev")" = 1

# the offline unlock code, read out by phone (the emergency-code mechanism,
# OPS-3): made from the terminal's secret for the scope check:mamori.unlock,
# entered at the terminal; the worker reads it at its next posture pass
# (here: at start, as after a reboot)
ctl "$A" exception init-secret >/dev/null
mkcode() { ctl "$A" exception make-code --secret "$SA/terminal.secret" --scope "$1" --hours 1 | grep -oE '[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}' | head -n1; }
other=$(mkcode check:timesync.daemon)
code=$(mkcode check:mamori.unlock)
agent_stop
check "a code of another scope is accepted as an emergency exception" \
	ctl "$A" exception enter "$other" --scope check:timesync.daemon --person hoshu
agent_start "$A"
applied() { ctl "$A" journal export --format jsonl 2>/dev/null | grep -q '"exception.applied"'; }
for _ in $(seq 100); do applied && break; sleep 0.2; done
check "... the worker read it (exception.applied)" applied
check "... and the terminal stays locked" refused shokuin "$PW_S"
agent_stop
check "the unlock code is accepted at the terminal" \
	ctl "$A" exception enter "$code" --scope check:mamori.unlock --person hoshu
agent_start "$A"
for _ in $(seq 100); do [[ ! -e $A/var/lib/mamori/lock/nologin ]] && break; sleep 0.2; done
check "unlocked by the code: shokuin logs in" login_ok shokuin "$PW_S"
check "the code cannot be used twice" bash -c "! '$CTL' --root '$A' --lang en exception enter '$code' --scope check:mamori.unlock >/dev/null 2>&1"
agent_stop

"$CTL" --root "$A" --lang en journal export --format jsonl >"$T/j.jsonl" 2>/dev/null
check "journal: command.executed for lock and unlock" \
	test "$(jq -r --arg l "$lid" --arg u "$uid" 'select(.type=="command.executed" and (.payload.command_id==$l or .payload.command_id==$u)) | .payload.type' "$T/j.jsonl" | sort | tr '\n' ' ')" = "lock unlock "
check "journal: terminal.locked by the command and by the dead-man rule" \
	test "$(jq -r 'select(.type=="terminal.locked") | .payload.reason' "$T/j.jsonl" | tr '\n' ' ')" = "command offline "
check "journal: terminal.lock_reapplied at the restart" \
	test "$(jq -r 'select(.type=="terminal.lock_reapplied") | .payload.result' "$T/j.jsonl" | head -n1)" = done
check "journal: terminal.unlocked by the command and by the code" \
	test "$(jq -r 'select(.type=="terminal.unlocked") | .payload.by' "$T/j.jsonl" | sed 's/^code EMG-.*/code/' | tr '\n' ' ')" = "$uid code "
check "every recorded event matches docs/EVENTS.md" events_doc_check "$T/j.jsonl"
if grep -qi "AddressSanitizer\|runtime error" "$T/agent.log" "$SRV_LOG"; then bad "sanitizer report"; fi
finish
