#!/usr/bin/env bash
# tests/integration/server_keyperms.sh — issue 18.3: the signing keys (device
# CA, policy, command) and the TLS key are the server's alone. Instances that
# share them share them as one user with mode 0600 (docs/OPERATIONS.md
# "Keys"); a key readable by a group or by others, owned by another user, or
# a symlink is refused at start with a message naming the file, and the
# server does not run. Before, mamori-server started with any mode.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
trap cleanup EXIT

D=$T/srv
start_server "$D" || { echo "FAIL  server did not start"; exit 1; }
stop_server
for k in ca.key policy-signing.key command-signing.key server.key; do
	check "$k was made mode 0600" test "$(stat -c %a "$D/$k")" = 600
done

# refused: RUN the server once with the data directory as it is → its status
try() {
	rm -f "$D/listen.json"
	timeout 30 "$SERVER" --data "$D" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >"$T/try.log" 2>&1 &
	local pid=$! rc up=
	for _ in $(seq 100); do
		[[ -s $D/listen.json ]] && up=1 && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[[ -n $up ]] && kill "$pid"
	wait "$pid"
	rc=$?
	[[ -n $up ]] && echo "started $rc" || echo "refused $rc"
}
for k in ca.key policy-signing.key command-signing.key server.key; do
	for mode in 0640 0604; do
		chmod "$mode" "$D/$k"
		res=$(try)
		check "$k mode $mode: the server refuses to start ($res)" matches "$res" "refused [1-9]*"
		check "... and says which key and what to do" grep -q "$k (mode $mode.*chmod 0600" "$T/try.log"
	done
	chmod 0600 "$D/$k"
done
chown nobody "$D/command-signing.key"
res=$(try)
check "command-signing.key owned by another user: refused ($res)" matches "$res" "refused [1-9]*"
chown "$(id -u)" "$D/command-signing.key"
mv "$D/policy-signing.key" "$T/policy-signing.key"
ln -s "$T/policy-signing.key" "$D/policy-signing.key"
res=$(try)
check "policy-signing.key a symlink: refused ($res)" matches "$res" "refused [1-9]*"
check "... the log says so" grep -q "policy-signing.key is not a regular file" "$T/try.log"
rm "$D/policy-signing.key" && mv "$T/policy-signing.key" "$D/policy-signing.key"
res=$(try)
check "every key 0600 and the server's own again: it starts and stops cleanly ($res)" test "$res" = "started 0"
finish
