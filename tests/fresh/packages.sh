#!/usr/bin/env bash
# tests/fresh/packages.sh — the package life cycle inside the `make fresh`
# root (run there by tests/fresh/run.sh, from the source tree, as root):
# install (apt install ./*.deb), README's agent deployment steps as written,
# mamorictl check, mamori-server started once, upgrade to a second build with
# a higher version, remove (state kept), purge (state gone). Each statement of
# docs/OPERATIONS.md is checked here; the first one that does not hold fails.
#   tests/fresh/packages.sh DEBDIR1 DEBDIR2
set -euo pipefail
d1=$(cd "$1" && pwd)
d2=$(cd "$2" && pwd)
src=$PWD
n=0
ok() { n=$((n + 1)); printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*" >&2; exit 1; }
status_of() { dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$1" 2>/dev/null || true; }
agent_pid=
stop_agent() {
	[[ -n $agent_pid ]] || return 0
	kill -TERM "$agent_pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$agent_pid" 2>/dev/null && fail "mamorid did not stop on SIGTERM within 10 s"
	wait "$agent_pid" 2>/dev/null || true
	agent_pid=
}
trap stop_agent EXIT
sha() { sha256sum "$@" | awk '{print $1}' | tr '\n' ' '; }

v1=$(dpkg-deb -f "$(ls "$d1"/mamori-agent_*.deb)" Version)
v2=$(dpkg-deb -f "$(ls "$d2"/mamori-agent_*.deb)" Version)
dpkg --compare-versions "$v2" gt "$v1" || fail "second build $v2 is not newer than $v1"

# ---- README, "Deploying the agent": the block run as written ----------------
# The code block is taken from README.md itself (the lines between the
# heading and the end of its first ```sh block), run from the directory of
# the packages. This root has no systemd (no PID 1 here), so `systemctl` is a
# shell function that does what the unit does: ExecStart=/usr/sbin/mamorid
# (the sysfs of this root is read-only and has no USB: nothing is changed).
readme_block=$(awk '/^## Deploying the agent/{f=1; next} f && /^```sh/{b=1; next} b && /^```/{exit} b' "$src/README.md")
[[ -n $readme_block ]] || fail "README.md has no \"Deploying the agent\" sh block"
grep -q '^apt install ./mamori-agent_\*\.deb' <<<"$readme_block" || fail "README's deployment does not start with apt install ./mamori-agent_*.deb"
systemctl() {
	case "$*" in
	"start mamorid" | "enable --now mamorid")
		/usr/sbin/mamorid &
		agent_pid=$!
		for _ in $(seq 100); do [[ -S /run/mamori/mamorid.sock ]] && return 0; sleep 0.1; done
		fail "mamorid did not open /run/mamori/mamorid.sock within 10 s"
		;;
	*) fail "README calls systemctl $*: not emulated in make fresh" ;;
	esac
}
# `mamorictl report` (and check) exit 1 when the terminal is not compliant:
# that is their answer, printed for the reader, not a failed step. Any other
# status (2: usage, daemon unreachable) fails the block.
mamorictl() {
	local rc=0 cmd= skip=0 a
	command mamorictl "$@" || rc=$?
	for a in "$@"; do # the command: the first word that is not an option or its value
		((skip)) && { skip=0; continue; }
		case $a in --root | --config | --lang) skip=1 ;; -*) ;; *) cmd=$a; break ;; esac
	done
	[[ $rc == 1 && ($cmd == report || $cmd == check) ]] && return 0
	return $rc
}
# the server package too, like the agent, with apt from the files
(cd "$d1" && apt-get install -y -q ./mamori-server_*.deb >/tmp/apt-server.log 2>&1) || { cat /tmp/apt-server.log; fail "apt install ./mamori-server_*.deb"; }
cd "$d1"
echo "---- README deployment steps (from README.md) ----"
set -x
eval "$readme_block"
{ set +x; } 2>/dev/null
echo "---- end of README steps ----"
unset -f mamorictl systemctl
cd "$src"
ok "README's agent deployment steps ran as written (apt install, keygen, policy check/sign/install, start, status, report)"

# ---- install --------------------------------------------------------------
[[ $(status_of mamori-agent) == "ii $v1" ]] || fail "mamori-agent not installed: $(status_of mamori-agent)"
[[ $(status_of mamori-server) == "ii $v1" ]] || fail "mamori-server not installed: $(status_of mamori-server)"
ok "apt install ./mamori-agent_$v1 ./mamori-server_$v1"
getent group mamori >/dev/null || fail "no mamori group"
getent passwd mamori >/dev/null || fail "no mamori user"
[[ $(stat -c %a /var/lib/mamori) == 700 ]] || fail "/var/lib/mamori is not mode 0700"
ok "postinst: user and group mamori, /var/lib/mamori 0700"
dpkg-query -W -f='${Conffiles}\n' mamori-agent | grep -q ' /etc/mamori/agent.conf ' || fail "agent.conf is not a conffile"
ok "/etc/mamori/agent.conf is a conffile"
for u in mamorid mamori-server; do
	[[ -L /etc/systemd/system/multi-user.target.wants/$u.service ]] || fail "$u.service not enabled"
done
ok "mamorid.service and mamori-server.service enabled (deb-systemd-helper)"
for p in mamorid.8 mamori-worker.8 mamorictl.8 mamori-server.8 mamori-agent.conf.5 mamori-policy.5; do
	name=${p%.*} sec=${p##*.}
	[[ $(man -w "$sec" "$name") == /usr/share/man/man$sec/$p.gz ]] || fail "man $sec $name: $(man -w "$sec" "$name" 2>&1)"
	[[ $(man -L ja -w "$sec" "$name") == /usr/share/man/ja/man$sec/$p.gz ]] || fail "man -L ja $sec $name"
	out=$(MANWIDTH=80 man "$sec" "$name" 2>&1) && grep -q '^NAME' <<<"$out" || fail "man $sec $name does not render"
	out=$(MANWIDTH=80 man -L ja "$sec" "$name" 2>&1) && grep -q '^名前' <<<"$out" || fail "man -L ja $sec $name does not render"
	w=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "/usr/share/man/ja/man$sec/$p.gz" 2>&1 >/dev/null)
	[[ -z $w ]] || fail "man -L ja $p: groff warnings: $w"
done
ok "6 man pages in English and Japanese (man -L ja), no groff warning"
[[ $(mamorictl --version) == "mamorictl ${v1%-*}" ]] || fail "mamorictl --version: $(mamorictl --version)"
ok "mamorictl --version: $(mamorictl --version)"

# ---- mamorictl check (read-only, the policy from the README steps) --------
rc=0
mamorictl --lang en check > /tmp/check.txt 2>&1 || rc=$?
((rc == 0 || rc == 1)) || { cat /tmp/check.txt; fail "mamorictl check: exit $rc"; }
[[ -s /tmp/check.txt ]] || fail "mamorictl check printed nothing"
counts=$(grep -o '^\[[^]]*\]' /tmp/check.txt | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep = ", "}')
[[ -n $counts ]] || { cat /tmp/check.txt; fail "mamorictl check printed no result"; }
if grep -q '^\[FAIL\]' /tmp/check.txt; then ((rc == 1)) || fail "mamorictl check: findings but exit $rc"; fi
ok "mamorictl check (exit $rc: 0 compliant, 1 findings): $counts"

# ---- the journal, exported as docs/OPERATIONS.md says ---------------------
mamorictl journal verify >/tmp/verify.txt 2>&1 || { cat /tmp/verify.txt; fail "mamorictl journal verify"; }
mamorictl journal export --format jsonl > /root/journal.jsonl
[[ -s /root/journal.jsonl ]] || fail "journal export is empty"
ok "mamorictl journal verify; journal export --format jsonl: $(wc -l < /root/journal.jsonl) records"
stop_agent
ok "mamorid stopped on SIGTERM"

# ---- mamori-server, started once ------------------------------------------
rm -f /tmp/server.out
mamori-server --data /var/lib/mamori-server --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >/tmp/server.out 2>&1 &
spid=$!
for _ in $(seq 150); do [[ -s /var/lib/mamori-server/listen.json ]] && break; sleep 0.1; done
[[ -s /var/lib/mamori-server/listen.json ]] || { cat /tmp/server.out; fail "mamori-server wrote no listen.json in 15 s"; }
admin=$(jq -r .admin /var/lib/mamori-server/listen.json)
fp=$(jq -r .ca_fingerprint /var/lib/mamori-server/listen.json)
grep -q "$fp" /tmp/server.out || fail "mamori-server did not print its CA fingerprint"
curl -sSk -o /tmp/ca.pem -w '%{http_code}' "https://$admin/enroll/v1/ca" > /tmp/code || fail "GET /enroll/v1/ca failed"
[[ $(cat /tmp/code) == 200 ]] || fail "GET /enroll/v1/ca: HTTP $(cat /tmp/code)"
kill -TERM "$spid"
wait "$spid" || fail "mamori-server exit status $? on SIGTERM"
ok "mamori-server --data /var/lib/mamori-server: CA $fp, GET https://$admin/enroll/v1/ca 200, clean stop"

# ---- upgrade ----------------------------------------------------------------
echo "# local setting" >> /etc/mamori/agent.conf
state="/var/lib/mamori/journal.db /var/lib/mamori/policy.json /var/lib/mamori/policy.json.sig /etc/mamori/policy.pub /etc/mamori/agent.conf /var/lib/mamori-server/server.db"
before=$(sha $state)
(cd "$d2" && apt-get install -y -q ./mamori-agent_*.deb ./mamori-server_*.deb >/tmp/apt-up.log 2>&1) || { cat /tmp/apt-up.log; fail "upgrade"; }
[[ $(status_of mamori-agent) == "ii $v2" && $(status_of mamori-server) == "ii $v2" ]] || fail "upgrade: $(status_of mamori-agent)"
[[ $(sha $state) == "$before" ]] || fail "upgrade changed the state or the configuration"
ok "upgrade $v1 → $v2: journal, policy, keys, server database and the edited agent.conf kept"

# ---- remove: state kept -------------------------------------------------------
apt-get remove -y -q mamori-agent mamori-server >/tmp/apt-rm.log 2>&1 || { cat /tmp/apt-rm.log; fail "remove"; }
[[ $(status_of mamori-agent) == "rc $v2" ]] || fail "remove: $(status_of mamori-agent)"
[[ ! -e /usr/sbin/mamorid && ! -e /usr/sbin/mamori-server ]] || fail "remove left the programs"
[[ $(sha $state) == "$before" ]] || fail "remove deleted or changed state"
ok "remove: programs gone; journal, keys, policy, configuration and server data kept"

# ---- purge: state gone ----------------------------------------------------------
apt-get purge -y -q mamori-agent mamori-server >/tmp/apt-purge.log 2>&1 || { cat /tmp/apt-purge.log; fail "purge"; }
[[ -z $(status_of mamori-agent) || $(status_of mamori-agent) == un* ]] || fail "purge: $(status_of mamori-agent)"
for p in /var/lib/mamori /etc/mamori /var/lib/mamori-server /etc/default/mamori-server; do
	[[ ! -e $p ]] || fail "purge left $p"
done
ok "purge: /var/lib/mamori, /etc/mamori, /var/lib/mamori-server and /etc/default/mamori-server gone"
echo "packages: $n checks passed"
