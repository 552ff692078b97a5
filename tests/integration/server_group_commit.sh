#!/usr/bin/env bash
# tests/integration/server_group_commit.sh — the group commit of event
# uploads (issue 18; LOG-1), real mamori-server, libcurl and SQLite on
# 127.0.0.1: at most one commit every 10 ms, so that uploads of terminals
# arriving one after another share a commit instead of paying one fsync each,
# and every upload still answered (after its commit).
# Two terminals each post UPLOADS batches one after the other on one
# keep-alive connection (the next only after the answer to the last): with
# a commit the moment an upload arrives, nearly every upload is a commit of
# its own; with the gap, one terminal's upload waits for the other's.
# The oracle is the server's own counters (/metrics) and the HTTP answers.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
trap cleanup EXIT

UPLOADS=40
D=$T/srv
start_server "$D" || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
enroll "$T/a" pc-a soumu >/dev/null || bad "enroll pc-a"
enroll "$T/b" pc-b soumu >/dev/null || bad "enroll pc-b"
# each terminal's body: 3 records of its journal (the first upload stores
# them, the others are duplicates: 200 all the same, through the same commit)
for t in a b; do
	"$HELPER" append "$(state_dir "$T/$t")" 3 || bad "append $t"
	"$HELPER" batch "$(state_dir "$T/$t")" 1 3 >"$T/$t.json" || bad "batch $t"
done

# post ROOT OUT: UPLOADS batches (ROOT.json), one after the other, one connection
post() {
	local urls=()
	for _ in $(seq "$UPLOADS"); do urls+=(-o /dev/null "https://$DEV/api/v1/events"); done
	dev_curl "$(state_dir "$1")" -w '%{http_code}\n' -H 'Content-Type: application/json' \
		--data-binary @"$1.json" "${urls[@]}" >"$2" 2>"$2.err.out"
}
post "$T/a" "$T/a.codes.out" &
pa=$!
post "$T/b" "$T/b.codes.out" &
pb=$!
wait "$pa" "$pb"
check "every upload of pc-a answered 200 ($UPLOADS)" test "$(grep -c '^200$' "$T/a.codes.out")" = "$UPLOADS"
check "every upload of pc-b answered 200 ($UPLOADS)" test "$(grep -c '^200$' "$T/b.codes.out")" = "$UPLOADS"

login ciso || bad "login"
api GET /metrics >"$T/metrics"
commits=$(awk '$1 == "mamori_event_upload_commits_total" {print $2}' "$T/metrics")
uploads=$(awk '$1 == "mamori_event_uploads_committed_total" {print $2}' "$T/metrics")
echo "info  $uploads uploads in $commits commits"
check "/metrics counts every upload committed ($((2 * UPLOADS)))" test "${uploads:-0}" = $((2 * UPLOADS))
# both terminals stay in step: about two uploads a commit; a commit per
# upload would be 80
check "uploads share commits: $commits commits for $uploads uploads (at most 3/4 of them)" \
	test "${commits:-999}" -le $((2 * UPLOADS * 3 / 4))
finish
