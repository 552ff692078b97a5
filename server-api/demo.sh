#!/usr/bin/env bash
# server-api/demo.sh — the reporting half of `make demo` (runs on the
# developer's machine, 127.0.0.1 only): starts mamori-server with a fresh
# data directory on free ports, creates the first administrator and an
# approver, publishes a group policy (uploaded by one person, approved by
# another: OPS-4), enrolls the local agent (under a root prefix), runs a
# posture check, syncs it (check-in + journal upload + policy download) and
# shows what the CISO now sees: compliance per requirement ID, events, tamper
# findings, the audit trail. Stops the server at the end unless --keep.
#
#   server-api/demo.sh [--build DIR] [--root DIR] [--group NAME] [--segment mynumber|lgwan|internet] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MAMORI_BUILD:-build}
root=
group=kaikei
segment=lgwan
keep=0
while (($#)); do
	case $1 in
	--build) build=$2; shift 2 ;;
	--root) root=$2; shift 2 ;;
	--group) group=$2; shift 2 ;;
	--segment) segment=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	*) echo "usage: $0 [--build DIR] [--root DIR] [--group NAME] [--segment S] [--keep]" >&2; exit 2 ;;
	esac
done
for b in mamori-server mamorictl; do
	[[ -x $build/bin/$b ]] || { echo "demo: $build/bin/$b is missing (make)" >&2; exit 1; }
done
command -v jq >/dev/null || { echo "demo: jq is missing (installer/deps.sh)" >&2; exit 1; }

work=$(mktemp -d /tmp/mamori-demo-server.XXXXXX)
root=${root:-$work/terminal}
data=$work/server
pw='demo-password-1234'
pid=
stop() {
	if [[ -n $pid && $keep == 0 ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	[[ $keep == 1 ]] || rm -rf "$work"
}
trap stop EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "mamori-server を起動 / starting mamori-server (127.0.0.1, free ports)"
"$build/bin/mamori-server" --data "$data" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -s $data/listen.json ]] && break; sleep 0.1; done
[[ -s $data/listen.json ]] || { cat "$work/server.log"; exit 1; }
dev=$(jq -r .device "$data/listen.json")
adm=$(jq -r .admin "$data/listen.json")
fpr=$(jq -r .ca_fingerprint "$data/listen.json")
echo "device API (mTLS): https://$dev   admin API: https://$adm"
echo "CA fingerprint: $fpr"

token=
api() { # METHOD PATH [BODY]
	curl -sS --fail-with-body --cacert "$data/ca.pem" -X "$1" ${token:+-H "Authorization: Bearer $token"} \
		${3:+--data-binary "$3"} "https://$adm$2"
}
login() { token=$(token='' api POST /admin/v1/login "{\"username\":\"$1\",\"password\":\"$pw\"}" | jq -r .token); }

say "初期管理者 (ciso) と承認者 / first administrator (ciso) and an approver"
secret=$(grep -o 'mb1_[A-Za-z0-9_-]*' "$work/server.log" | head -n1)
api POST /admin/v1/bootstrap "{\"secret\":\"$secret\",\"username\":\"ciso\",\"password\":\"$pw\"}" >/dev/null
login ciso
api POST /admin/v1/accounts "{\"username\":\"shonin\",\"password\":\"$pw\",\"role\":\"approver\",\"staff_no\":\"1002\",\"display_name\":\"承認 花子\"}" >/dev/null
# OPS-4: an approver needs a second CISO's approval, or the server's console
"$build/bin/mamori-server" --data "$data" --approve-account shonin >/dev/null
echo "accounts: ciso, shonin (approver, approved on the server's console)"

say "ポリシーの登録と承認 (OPS-4) / policy uploaded by ciso, approved by shonin"
jq -j '.version = 2' "policy/templates/$segment.json" >"$work/policy.json"
api PUT "/admin/v1/groups/$group/policy" "$(cat "$work/policy.json")" | jq -c .
login shonin
api POST "/admin/v1/groups/$group/policy/2/approve" | jq -c .
login ciso

say "端末の登録 / enrolling the local agent (root prefix $root)"
mkdir -p "$root"
api POST /admin/v1/groups "{\"name\":\"$group\"}" >/dev/null || true # 409 once it has a policy; tokens name existing groups only
tok=$(api POST /admin/v1/enrollment-tokens "{\"group\":\"$group\"}" | jq -r .token)
"$build/bin/mamorictl" --root "$root" enroll --server "https://$adm" --token "$tok" --ca-fingerprint "$fpr" \
	--terminal-id "${HOSTNAME:-demo}-demo"

say "点検と報告 / posture check and sync (check-in, journal upload, policy)"
"$build/bin/mamorictl" --root "$root" --json check >"$work/report.json" 2>/dev/null || true
jq -e '.results' "$work/report.json" >/dev/null 2>&1 || echo '{"results":[]}' >"$work/report.json"
"$build/bin/mamorictl" --root "$root" server sync --report "$work/report.json"

say "CISO の画面 / what the CISO sees"
api GET /admin/v1/terminals | jq -r '.terminals[] | "\(.terminal_id)  group=\(.group)  last_seen=\(.last_seen)  events=\(.events_stored)  tamper=\(.tamper_findings)",
	(.compliance | to_entries[] | "    \(.key)\t\(.value)")'
echo
echo "compliance per requirement ID (terminals per status):"
api GET /admin/v1/compliance | jq -r '.requirements | to_entries[] | "  \(.key)\t\(.value | to_entries | map("\(.key)=\(.value)") | join(" "))"'
echo
echo "events: $(api GET '/admin/v1/events?limit=1000' | jq '.events | length'), tamper findings: $(api GET /admin/v1/findings | jq '.findings | length')"
echo "audit trail:"
api GET /admin/v1/audit | jq -r '.audit[] | "  \(.time)  \(.actor)\t\(.action)\t\(.target)\t\(.result)"'
if [[ $keep == 1 ]]; then
	say "サーバーは起動したままです / server left running (pid $pid, data $data)"
	echo "login: ciso / $pw — stop with: kill $pid"
fi
