#!/usr/bin/env bash
# tests/integration/server_pg_failover.sh — HA with a PostgreSQL standby
# (issue 18.6; docs/OPERATIONS.md "HA with a PostgreSQL standby"; LOG-1,
# OPS-5): a real PostgreSQL 15 primary and a streaming-replication hot
# standby (two clusters this test starts on unix sockets in its own
# directory; `synchronous_standby_names` on the primary, so that a commit is
# on both before it returns), and mamori-server on a libpq multi-host URL
# with `target_session_attrs=read-write`, as OPERATIONS.md sets it up. The
# primary is stopped at once (immediate: no shutdown checkpoint, as a crash)
# and the standby promoted:
#  - every record acknowledged to the terminal before the cut is in the
#    promoted database (none lost by the failover);
#  - the server finds the promoted primary by itself, without a restart: a
#    terminal's next sync succeeds (at most the call that met the cut fails,
#    503, and the agent sends again what was not acknowledged);
#  - the chain of the terminal verifies end to end on the promoted database.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
PGBIN=/usr/lib/postgresql/15/bin
PG=$(mktemp -d /tmp/mamori-pgha.XXXXXX)
pgrun() { runuser -u postgres -- "$PGBIN/$1" "${@:2}"; }
pg_stop_all() {
	for c in primary standby; do
		[[ -d $PG/$c ]] && pgrun pg_ctl -D "$PG/$c" -w -m immediate stop >/dev/null 2>&1
	done
	rm -rf --one-file-system "$PG"
}
trap 'cleanup; pg_stop_all' EXIT

chmod 755 "$PG" && chown postgres:postgres "$PG" || { echo "FAIL  cluster directory"; exit 1; }
runuser -u postgres -- mkdir "$PG/sa" "$PG/sb"
pgrun initdb -D "$PG/primary" -A trust --locale=C -E UTF8 --no-sync -U postgres >"$PG/initdb.log" 2>&1 ||
	{ cat "$PG/initdb.log"; echo "FAIL  initdb"; exit 1; }
pgrun pg_ctl -D "$PG/primary" -w -l "$PG/primary.log" \
	-o "-k $PG/sa -c listen_addresses='' -c wal_level=replica -c max_wal_senders=4 -c fsync=off" start >/dev/null ||
	{ cat "$PG/primary.log"; echo "FAIL  primary did not start"; exit 1; }
# the standby: a base backup of the primary, streaming from it (-R)
pgrun pg_basebackup -h "$PG/sa" -U postgres -D "$PG/standby" -R -X stream >"$PG/basebackup.log" 2>&1 ||
	{ cat "$PG/basebackup.log"; echo "FAIL  pg_basebackup"; exit 1; }
pgrun pg_ctl -D "$PG/standby" -w -l "$PG/standby.log" -o "-k $PG/sb -c listen_addresses='' -c fsync=off" start \
	>/dev/null || { cat "$PG/standby.log"; echo "FAIL  standby did not start"; exit 1; }
qa() { psql -XAtq -h "$PG/sa" -U postgres -d "${2:-postgres}" -c "$1"; }
qb() { psql -XAtq -h "$PG/sb" -U postgres -d "${2:-postgres}" -c "$1"; }
for _ in $(seq 100); do
	[[ $(qa "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == 1 ]] && break
	sleep 0.1
done
check "the standby streams from the primary" test "$(qa "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 1
# from here a commit returns only once the standby has it
qa "ALTER SYSTEM SET synchronous_standby_names = '*'" && qa "SELECT pg_reload_conf()" >/dev/null
qa 'CREATE DATABASE mamori'
check "the primary commits synchronously to the standby" \
	test "$(qa "SELECT sync_state FROM pg_stat_replication")" = sync
STORE="postgresql:///mamori?host=$PG/sa,$PG/sb&user=postgres&target_session_attrs=read-write"

D=$T/srv
A=$T/pc-f
mkdir -p "$A"
start_server "$D" --store "$STORE" || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
check "enroll pc-f" enroll "$A" pc-f soumu
SA=$(state_dir "$A")
"$HELPER" append "$SA" 20 || bad "append 20"
res=$(ctl "$A" --json server sync)
acked=$(jq .acked_seq <<<"$res")
check "before the failover: the records are acknowledged (acked_seq $acked)" test "${acked:-0}" -ge 20
stored_a=$(qa "SELECT count(*) FROM events WHERE terminal_id = 'pc-f'" mamori)

# ---- the primary goes away at once; the standby is promoted ----
pgrun pg_ctl -D "$PG/primary" -w -m immediate stop >/dev/null
check "the standby is promoted" pgrun pg_ctl -D "$PG/standby" -w promote
for _ in $(seq 100); do [[ $(qb 'SELECT pg_is_in_recovery()') == f ]] && break; sleep 0.1; done
check "the promoted server takes writes" test "$(qb 'SELECT pg_is_in_recovery()')" = f
check "every record acknowledged before the cut is in the promoted database ($stored_a)" \
	same "$(qb "SELECT count(*) FROM events WHERE terminal_id = 'pc-f'" mamori)" "$stored_a"

# ---- the same server process, no restart: it reconnects through the URL ----
"$HELPER" append "$SA" 10 || bad "append 10"
ok_sync=0
for i in 1 2 3; do
	if res=$(ctl "$A" --json server sync 2>"$T/sync.$i.err"); then
		ok_sync=$i
		break
	fi
	sleep 0.5
done
check "a sync succeeds after the failover without restarting the server (try $ok_sync of at most 2)" \
	test "$ok_sync" -ge 1 -a "$ok_sync" -le 2
check "... and the 10 new records are acknowledged" test "$(jq .acked_seq <<<"$res")" -ge $((acked + 10))
check "the server says it reconnected" grep -q 'reconnected to PostgreSQL' "$SRV_LOG"
check "the server process is the one started before the failover" kill -0 "$SRV_PID"
head_seq=$(jq .acked_seq <<<"$res")
check "the promoted database holds the chain up to the acknowledged seq ($head_seq)" \
	same "$(qb "SELECT max(seq) FROM events WHERE terminal_id = 'pc-f'" mamori)" "$head_seq"
out=$("$SERVER" --data "$D" --store "$STORE" verify 2>&1)
check "the chain verifies on the promoted database (mamori-server verify, exit 0)" test $? = 0
grep -q 'pc-f' <<<"$out" || echo "$out" | tail -n 5
stop_server
finish
