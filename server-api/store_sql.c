/* server-api/store_sql.c — the store's operations in SQL, for both of its
 * engines (mamori-server): the embedded SQLite file (store_sqlite_ops, the
 * default) and PostgreSQL (store_pg_ops, "postgresql://…"). SQL goes through
 * sqldb.h (sqldb_sqlite.c, sqldb_pg.c): no other file of the server calls
 * SQLite or libpq for the store.
 *
 * One file (server.db) in WAL mode. Durability: synchronous=FULL (the WAL is
 * fsynced at every commit) for everything that is evidence or that the server
 * promises — acknowledged events, findings, the audit trail, enrollment,
 * revocation, policies. A check-in is the exception: it is committed with
 * synchronous=NORMAL (no fsync; the next durable commit or checkpoint carries
 * it), because it is replaced by the next one a few minutes later and the
 * check-in rate is what the server must sustain.
 *
 * Statements are prepared once and kept (persistent); the server is one
 * thread, so one connection serves every request.
 *
 * The same operations run on PostgreSQL (issue 18): the SQL text is written
 * once, in SQLite's dialect where both engines take it, and sqldb.h binds
 * and reads it on either engine; sql_text_pg, schema_pg and the PG_* macros
 * hold the few texts whose dialects differ (JSON, DDL, transactions). An
 * operation added here is on both engines; port one written against
 * sqlite3_* by replacing sqlite3_column_X with sqldb_col_X, sqlite3_step with
 * sqldb_step (1 row, 0 done, -errno) and typed binds (sqldb.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "log.h"
#include "store.h"
#include "crypto.h"
#include "store_sqlite.h"
#include "sqldb.h"
#include "store_pg.h"
#include "strutil.h"
#include "throttle.h"

#define BUSY_TIMEOUT_MS 5000

enum {
	Q_META_GET,
	Q_META_SET,
	Q_META_DEL,
	Q_TOKEN_ADD,
	Q_TOKEN_GET,
	Q_TOKEN_USE,
	Q_DEVICE_GET,
	Q_DEVICE_INSERT,
	Q_DEVICE_REENROLL,
	Q_DEVICE_REVOKE,
	Q_DEVICE_SET_DEPT,
	Q_DEVICE_RETIRE,
	Q_CERT_ADD,
	Q_CERT_GET,
	Q_CERT_REVOKE_ALL,
	Q_CERT_COUNT_SINCE,
	Q_CERT_REVOKE_OTHERS,
	Q_DEVICE_LIST,
	Q_DEVICE_LIST_GROUP,
	Q_DEVICE_REPORT,
	Q_CHECKIN,
	Q_CHAIN_GET,
	Q_EVENT_HASH,
	Q_RESTART_ACK,
	Q_EVENT_SAME,
	Q_EVENT_INSERT,
	Q_CHAIN_MOVE,
	Q_EVENTS_LIST,
	Q_FINDING_ADD,
	Q_FINDING_COUNT,
	Q_FINDINGS_LIST,
	Q_FINDINGS_LIST_ALL,
	Q_ACCOUNT_ADD,
	Q_ACCOUNT_GET,
	Q_ACCOUNT_COUNT,
	Q_ACCOUNT_ACTIVATE,
	Q_ACCOUNT_LIST,
	Q_CRED_ADD,
	Q_CRED_GET,
	Q_CRED_DEL,
	Q_CRED_PURGE,
	Q_CRED_DEL_SESSIONS,
	Q_ACCOUNT_DISABLE,
	Q_ACCOUNT_PASSWORD,
	Q_POLICY_PUT,
	Q_POLICY_MAX,
	Q_POLICY_GET,
	Q_POLICY_PUBLISH,
	Q_POLICY_CURRENT,
	Q_GROUP_LIST,
	Q_AUDIT_ADD,
	Q_AUDIT_LIST,
	Q_AUDIT_LAST,
	Q_AUDIT_ALL,
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_SYNC_FULL,
	Q_SYNC_NORMAL,
	Q_LOCK,
	_Q_MAX,
};

#define ACCOUNT_COLS                                                                                                   \
	"username, role, pwhash, created_us, coalesce(staff_no,''), coalesce(display_name,''), "                       \
	"coalesce(name_key,''), coalesce(staff_key,''), coalesce(created_by,''), pending, coalesce(approved_by,''), "  \
	"disabled, dept"

#define DEVICE_COLS                                                                                                    \
	"terminal_id, grp, coalesce(hostname,''), revoked, enrolled_us, last_seen_us, coalesce(agent_version,''), "    \
	"policy_version, chain, head_seq, head_hash, events, "                                                         \
	"(SELECT count(*) FROM findings f WHERE f.terminal_id = devices.terminal_id), compliance, "                    \
	"prev_chain, prev_head_seq, prev_head_hash, restart_seq, dept"

/* The failing requirement IDs of a compliance summary {"ID": "status"}, kept
 * beside it at each check-in so that the terminal list sorts, filters and
 * pages in SQL (issue 15): how many, and a JSON array of them in the
 * summary's order. Not an object (or not JSON): none, as cJSON_Parse failing
 * gave before. */
#define COMPLIANCE_OBJECT(x) "(CASE WHEN json_valid(" x ") THEN json_type(" x ") = 'object' ELSE 0 END)"
#define FAILING_OF(x)                                                                                                  \
	"(CASE WHEN " COMPLIANCE_OBJECT(x) " THEN (SELECT count(*) FROM json_each(" x                                  \
	                                   ") WHERE type = 'text' AND value = 'fail') ELSE 0 END)"
#define FAILING_IDS_OF(x)                                                                                              \
	"(CASE WHEN " COMPLIANCE_OBJECT(x) " THEN (SELECT coalesce(json_group_array(key), '[]') FROM json_each(" x     \
	                                   ") WHERE type = 'text' AND value = 'fail') ELSE '[]' END)"

/* The next approval data version (protocol/approval.h: for every terminal
 * it only grows): above every approval's and every terminal's own (a
 * department change, Q_DEVICE_SET_DEPT). One sequence, so that a document
 * that changed always comes with a version higher than any the terminal
 * installed. Read under Q_LOCK. */
#define GRANTS_NEXT                                                                                                    \
	"(SELECT COALESCE(MAX(v), 0) + 1 FROM (SELECT MAX(version) AS v FROM requests UNION ALL "                      \
	"SELECT MAX(grants_version) FROM devices) nv)"

static const char *const sql_text[_Q_MAX] = {
        [Q_META_GET] = "SELECT value FROM meta WHERE key = ?1",
        [Q_META_SET] = "INSERT INTO meta(key, value) VALUES (?1, ?2) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [Q_META_DEL] = "DELETE FROM meta WHERE key = ?1",
        [Q_TOKEN_ADD] = "INSERT INTO tokens(hash, grp, expires_us, created_by, dept) VALUES (?1, ?2, ?3, ?4, ?5)",
        [Q_TOKEN_GET] = "SELECT grp, expires_us, used_us, dept FROM tokens WHERE hash = ?1",
        [Q_TOKEN_USE] = "UPDATE tokens SET used_us = ?2, used_by = ?3 WHERE hash = ?1 AND used_us IS NULL "
                        "AND expires_us > ?2",
        [Q_DEVICE_GET] = "SELECT " DEVICE_COLS " FROM devices WHERE terminal_id = ?1",
        [Q_DEVICE_INSERT] = "INSERT INTO devices(terminal_id, grp, hostname, enrolled_us, dept) "
                            "VALUES (?1, ?2, ?3, ?4, ?5)",
        /* a re-enrollment keeps the department unless the token names one */
        [Q_DEVICE_REENROLL] = "UPDATE devices SET grp = ?2, hostname = ?3, enrolled_us = ?4, revoked = 0, "
                              "revoked_us = NULL, grants_version = CASE WHEN ?5 <> '' AND ?5 <> dept THEN " GRANTS_NEXT
                              " ELSE grants_version END, dept = CASE WHEN ?5 <> '' THEN ?5 ELSE dept END "
                              "WHERE terminal_id = ?1 AND revoked <> 0",
        /* a new department: a new approval data version for the terminal
         * (under Q_LOCK, as an approval's) */
        [Q_DEVICE_SET_DEPT] = "UPDATE devices SET grants_version = CASE WHEN dept <> ?2 THEN " GRANTS_NEXT
                              " ELSE grants_version END, dept = ?2 WHERE terminal_id = ?1",
        [Q_DEVICE_REVOKE] = "UPDATE devices SET revoked = 1, revoked_us = ?2 WHERE terminal_id = ?1",
        /* revoked = 2: revoked by a `retire` the terminal executed (MDM-3) */
        [Q_DEVICE_RETIRE] = "UPDATE devices SET revoked = 2, revoked_us = ?2 WHERE terminal_id = ?1",
        [Q_CERT_ADD] = "INSERT INTO certs(serial, terminal_id, not_after_us, issued_us) VALUES (?1, ?2, ?3, ?4)",
        [Q_CERT_GET] = "SELECT terminal_id, not_after_us, revoked FROM certs WHERE serial = ?1",
        [Q_CERT_REVOKE_ALL] = "UPDATE certs SET revoked = 1 WHERE terminal_id = ?1 AND revoked = 0",
        [Q_CERT_COUNT_SINCE] = "SELECT count(*) FROM certs WHERE terminal_id = ?1 AND issued_us >= ?2",
        [Q_CERT_REVOKE_OTHERS] = "UPDATE certs SET revoked = 1 WHERE terminal_id = ?1 AND serial <> ?2 AND revoked = 0",
        [Q_DEVICE_LIST] = "SELECT " DEVICE_COLS " FROM devices ORDER BY terminal_id",
        [Q_DEVICE_LIST_GROUP] = "SELECT " DEVICE_COLS " FROM devices WHERE grp = ?1 ORDER BY terminal_id",
        [Q_DEVICE_REPORT] = "SELECT report FROM devices WHERE terminal_id = ?1",
        [Q_CHECKIN] = "UPDATE devices SET last_seen_us = ?2, agent_version = ?3, hostname = coalesce(?4, hostname), "
                      "policy_version = ?5, report = coalesce(?6, report), compliance = coalesce(?7, compliance), "
                      "inventory = coalesce(?8, inventory), agent_head_seq = ?9, "
                      "failing = CASE WHEN ?7 IS NULL THEN failing ELSE " FAILING_OF(
                              "?7") " END, "
                                    "failing_ids = CASE WHEN ?7 IS NULL THEN failing_ids ELSE " FAILING_IDS_OF(
                                            "?7") " END "
                                                  "WHERE terminal_id = ?1",
        [Q_CHAIN_GET] = "SELECT chain, head_seq, head_hash, prev_chain, prev_head_seq, prev_head_hash, restart_seq "
                        "FROM devices WHERE terminal_id = ?1",
        [Q_EVENT_HASH] = "SELECT hash FROM events WHERE terminal_id = ?1 AND seq = ?2",
        [Q_RESTART_ACK] = "UPDATE devices SET prev_chain = '', prev_head_seq = 0, prev_head_hash = '', restart_seq = 0 "
                          "WHERE terminal_id = ?1 AND restart_seq = ?2 AND restart_seq <> 0",
        [Q_EVENT_SAME] = "SELECT hash, canon FROM events WHERE terminal_id = ?1 AND seq = ?2",
        [Q_EVENT_INSERT] = "INSERT INTO events(terminal_id, seq, time_us, type, hash, received_us, canon) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        [Q_CHAIN_MOVE] = "UPDATE devices SET chain = ?5, head_seq = ?6, head_hash = ?7, events = events + ?8, "
                         "prev_chain = ?9, prev_head_seq = ?10, prev_head_hash = ?11, restart_seq = ?12 "
                         "WHERE terminal_id = ?1 AND chain = ?2 AND head_seq = ?3 AND head_hash = ?4",
        [Q_EVENTS_LIST] = "SELECT id, terminal_id, seq, hash, received_us, canon FROM events "
                          "WHERE id > ?1 AND (?2 IS NULL OR terminal_id = ?2) "
                          "AND (?3 IS NULL OR substr(type, 1, length(?3)) = ?3) ORDER BY id LIMIT ?4",
        [Q_FINDING_ADD] = "INSERT INTO findings(terminal_id, kind, seq, expected_seq, time_us, detail) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        [Q_FINDING_COUNT] = "SELECT count(*) FROM findings WHERE terminal_id = ?1",
        [Q_FINDINGS_LIST] = "SELECT terminal_id, kind, seq, expected_seq, time_us, coalesce(detail,'') FROM findings "
                            "WHERE terminal_id = ?1 ORDER BY id DESC LIMIT ?2",
        [Q_FINDINGS_LIST_ALL] = "SELECT terminal_id, kind, seq, expected_seq, time_us, coalesce(detail,'') "
                                "FROM findings ORDER BY id DESC LIMIT ?1",
        [Q_ACCOUNT_ADD] = "INSERT INTO accounts(username, role, pwhash, created_us, staff_no, display_name, name_key, "
                          "staff_key, created_by, pending, dept) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        [Q_ACCOUNT_GET] = "SELECT " ACCOUNT_COLS " FROM accounts WHERE name_key = ?1",
        [Q_ACCOUNT_COUNT] = "SELECT count(*) FROM accounts",
        [Q_ACCOUNT_LIST] = "SELECT " ACCOUNT_COLS " FROM accounts ORDER BY username",
        [Q_ACCOUNT_ACTIVATE] = "UPDATE accounts SET pending = 0, approved_by = ?2 WHERE name_key = ?1 AND pending = 1",
        [Q_CRED_ADD] = "INSERT INTO creds(hash, kind, principal, role, expires_us, created_by, created_us) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        [Q_CRED_GET] = "SELECT kind, principal, role, expires_us FROM creds WHERE hash = ?1 AND expires_us > ?2",
        [Q_CRED_DEL] = "DELETE FROM creds WHERE hash = ?1",
        [Q_CRED_PURGE] = "DELETE FROM creds WHERE expires_us <= ?1",
        [Q_CRED_DEL_SESSIONS] = "DELETE FROM creds WHERE kind = 'session' AND principal = ?1",
        [Q_ACCOUNT_DISABLE] = "UPDATE accounts SET disabled = 1 WHERE username = ?1 AND disabled = 0",
        [Q_ACCOUNT_PASSWORD] = "UPDATE accounts SET pwhash = ?2 WHERE username = ?1",
        [Q_POLICY_PUT] = "INSERT INTO policies(grp, version, document, sha256, uploaded_by, uploaded_us) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        [Q_POLICY_MAX] = "SELECT coalesce(max(version), 0) FROM policies WHERE grp = ?1 AND signature IS NOT NULL",
        [Q_POLICY_GET] = "SELECT version, document, sha256, coalesce(signature,''), uploaded_by, "
                         "coalesce(approved_by,'') FROM policies WHERE grp = ?1 AND version = ?2",
        [Q_POLICY_PUBLISH] = "UPDATE policies SET signature = ?3, approved_by = ?4, published_us = ?5 "
                             "WHERE grp = ?1 AND version = ?2 AND signature IS NULL",
        [Q_POLICY_CURRENT] = "SELECT version, document, sha256, signature, uploaded_by, coalesce(approved_by,'') "
                             "FROM policies WHERE grp = ?1 AND signature IS NOT NULL ORDER BY version DESC LIMIT 1",
        [Q_GROUP_LIST] = "SELECT g, (SELECT count(*) FROM devices d WHERE d.grp = g AND d.revoked = 0), "
                         "(SELECT coalesce(max(version),0) FROM policies p WHERE p.grp = g AND signature IS NOT NULL), "
                         "(SELECT coalesce(max(version),0) FROM policies p WHERE p.grp = g AND signature IS NULL) "
                         "FROM (SELECT grp AS g FROM devices UNION SELECT grp FROM policies "
                         "UNION SELECT grp FROM tokens UNION SELECT name FROM groups) AS u ORDER BY g",
        [Q_AUDIT_ADD] = "INSERT INTO audit(time_us, actor, action, target, result, detail, hash) "
                        "VALUES (?1,?2,?3,?4,?5,?6,?7)",
        [Q_AUDIT_LAST] = "SELECT coalesce(hash,'') FROM audit ORDER BY id DESC LIMIT 1",
        [Q_AUDIT_LIST] =
                "SELECT time_us, actor, action, coalesce(target,''), result, coalesce(detail,''), id, "
                "coalesce(hash,'') FROM audit WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2) "
                "AND (?3 IS NULL OR target = ?3) AND (?4 IS NULL OR time_us >= ?4) "
                "AND (?5 IS NULL OR time_us < ?5) AND (?6 IS NULL OR id < ?6) ORDER BY id DESC LIMIT ?7",
        [Q_AUDIT_ALL] = "SELECT time_us, actor, action, coalesce(target,''), result, coalesce(detail,''), id, "
                        "coalesce(hash,'') FROM audit ORDER BY id",
        [Q_BEGIN] = "BEGIN IMMEDIATE",
        [Q_COMMIT] = "COMMIT",
        [Q_ROLLBACK] = "ROLLBACK",
        [Q_SYNC_FULL] = "PRAGMA synchronous = FULL",
        [Q_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
        /* the writer lock that a read-then-write needs (the audit chain's
         * last hash, the next approval version, a schema step): SQLite's
         * BEGIN IMMEDIATE holds it already */
        [Q_LOCK] = "SELECT 1",
};

/* PostgreSQL: a compliance summary's failing count and IDs (FAILING_OF),
 * with mamori_json_object() (schema_pg) for "an object, else NULL": key
 * order kept (json, not jsonb), the array written as SQLite writes it. */
#define PG_FAILING_OF(x)                                                                                               \
	"(SELECT count(*) FROM json_each(mamori_json_object(" x ")) e WHERE json_typeof(e.value) = 'string'"           \
	" AND e.value #>> '{}' = 'fail')"
#define PG_FAILING_IDS_OF(x)                                                                                           \
	"(SELECT coalesce('[' || string_agg(to_json(e.key)::text, ',' ORDER BY e.n) || ']', '[]')"                     \
	" FROM json_each(mamori_json_object(" x ")) WITH ORDINALITY AS e(key, value, n)"                               \
	" WHERE json_typeof(e.value) = 'string' AND e.value #>> '{}' = 'fail')"

/* The statements whose text differs on PostgreSQL (NULL: sql_text's). */
static const char *const sql_text_pg[_Q_MAX] = {
        [Q_CHECKIN] = "UPDATE devices SET last_seen_us = ?2, agent_version = ?3, hostname = coalesce(?4, hostname), "
                      "policy_version = ?5, report = coalesce(?6, report), compliance = coalesce(?7, compliance), "
                      "inventory = coalesce(?8, inventory), agent_head_seq = ?9, "
                      "failing = CASE WHEN ?7 IS NULL THEN failing ELSE " PG_FAILING_OF(
                              "?7") " END, failing_ids = CASE WHEN ?7 IS NULL THEN failing_ids "
                                    "ELSE " PG_FAILING_IDS_OF("?7") " END WHERE terminal_id = ?1",
        [Q_BEGIN] = "BEGIN",
        /* a check-in is not waited for (synchronous_commit off), as on SQLite */
        [Q_SYNC_FULL] = "SET synchronous_commit = on",
        [Q_SYNC_NORMAL] = "SET synchronous_commit = off",
        /* one lock for every read-then-write of the store: several servers
         * share the database (issue 18) */
        [Q_LOCK] = "SELECT pg_advisory_xact_lock(7242519)",
};

static const char schema_sql[] =
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS tokens(hash TEXT PRIMARY KEY, grp TEXT NOT NULL, expires_us INTEGER NOT NULL,"
        " created_by TEXT, used_us INTEGER, used_by TEXT) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS devices(terminal_id TEXT PRIMARY KEY, grp TEXT NOT NULL, hostname TEXT,"
        " revoked INTEGER NOT NULL DEFAULT 0, revoked_us INTEGER, enrolled_us INTEGER NOT NULL,"
        " last_seen_us INTEGER NOT NULL DEFAULT 0, agent_version TEXT, policy_version INTEGER NOT NULL DEFAULT 0,"
        " chain TEXT NOT NULL DEFAULT '', head_seq INTEGER NOT NULL DEFAULT 0, head_hash TEXT NOT NULL DEFAULT '',"
        " agent_head_seq INTEGER, events INTEGER NOT NULL DEFAULT 0, report TEXT, compliance TEXT, inventory TEXT,"
        " prev_chain TEXT NOT NULL DEFAULT '', prev_head_seq INTEGER NOT NULL DEFAULT 0,"
        " prev_head_hash TEXT NOT NULL DEFAULT '', restart_seq INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX IF NOT EXISTS devices_grp ON devices(grp);"
        "CREATE TABLE IF NOT EXISTS certs(serial TEXT PRIMARY KEY, terminal_id TEXT NOT NULL,"
        " not_after_us INTEGER NOT NULL, issued_us INTEGER, revoked INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
        "CREATE INDEX IF NOT EXISTS certs_terminal ON certs(terminal_id);"
        "CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, terminal_id TEXT NOT NULL, seq INTEGER NOT NULL,"
        " time_us INTEGER NOT NULL, type TEXT NOT NULL, hash TEXT NOT NULL, received_us INTEGER NOT NULL,"
        " canon BLOB NOT NULL, UNIQUE(terminal_id, seq));"
        "CREATE TABLE IF NOT EXISTS findings(id INTEGER PRIMARY KEY, terminal_id TEXT NOT NULL, kind TEXT NOT NULL,"
        " seq INTEGER NOT NULL, expected_seq INTEGER, time_us INTEGER NOT NULL, detail TEXT,"
        " UNIQUE(terminal_id, kind, seq));"
        "CREATE TABLE IF NOT EXISTS accounts(username TEXT PRIMARY KEY, role TEXT NOT NULL, pwhash TEXT NOT NULL,"
        " created_us INTEGER NOT NULL, staff_no TEXT, display_name TEXT, name_key TEXT, staff_key TEXT,"
        " created_by TEXT, pending INTEGER NOT NULL DEFAULT 0, approved_by TEXT,"
        " disabled INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS creds(hash TEXT PRIMARY KEY, kind TEXT NOT NULL, principal TEXT NOT NULL,"
        " role TEXT NOT NULL, expires_us INTEGER NOT NULL, created_by TEXT, created_us INTEGER) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS policies(grp TEXT NOT NULL, version INTEGER NOT NULL, document BLOB NOT NULL,"
        " sha256 TEXT NOT NULL, signature TEXT, uploaded_by TEXT NOT NULL, uploaded_us INTEGER, approved_by TEXT,"
        " published_us INTEGER, PRIMARY KEY(grp, version));"
        "CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, actor TEXT NOT NULL,"
        " action TEXT NOT NULL, target TEXT, result TEXT NOT NULL, detail TEXT, hash TEXT);"
        "CREATE TABLE IF NOT EXISTS commands(id TEXT PRIMARY KEY, terminal_id TEXT NOT NULL, type TEXT NOT NULL,"
        " params TEXT NOT NULL, issued_at BIGINT NOT NULL, not_after BIGINT NOT NULL, nonce TEXT NOT NULL,"
        " requested_by TEXT NOT NULL, approved_by TEXT NOT NULL, status TEXT NOT NULL, envelope TEXT NOT NULL,"
        " signature TEXT NOT NULL, result TEXT NOT NULL, created_us BIGINT NOT NULL, updated_us BIGINT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS commands_terminal ON commands(terminal_id, status);"
        "CREATE TABLE IF NOT EXISTS requests(id TEXT PRIMARY KEY, terminal_id TEXT NOT NULL, grp TEXT NOT NULL,"
        " request_id TEXT NOT NULL, kind TEXT NOT NULL, person TEXT NOT NULL, body TEXT NOT NULL,"
        " seq BIGINT NOT NULL, status TEXT NOT NULL, scope TEXT NOT NULL, decision TEXT NOT NULL,"
        " decided_by TEXT NOT NULL, version BIGINT NOT NULL, not_after BIGINT NOT NULL,"
        " created_us BIGINT NOT NULL, decided_us BIGINT NOT NULL, UNIQUE(terminal_id, request_id));"
        "CREATE INDEX IF NOT EXISTS requests_status ON requests(status, created_us);"
        "CREATE TABLE IF NOT EXISTS groups(name TEXT PRIMARY KEY, created_by TEXT, created_us INTEGER) WITHOUT ROWID;"
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('format', '1');";

/* PostgreSQL's schema of version 1 (schema_sql's tables with the columns
 * added to old SQLite files): INTEGER is BIGINT, BLOB is BYTEA, row ids are
 * identities. Text compares byte-wise (COLLATE "C") as SQLite's does, so
 * that lists are in the same order on both engines. */
#define PG_TEXT "TEXT COLLATE \"C\""
static const char schema_pg[] =
        "CREATE OR REPLACE FUNCTION mamori_json_object(t text) RETURNS json LANGUAGE plpgsql IMMUTABLE AS $f$"
        " BEGIN IF t IS NULL THEN RETURN NULL; END IF;"
        " IF json_typeof(t::json) = 'object' THEN RETURN t::json; END IF; RETURN NULL;"
        " EXCEPTION WHEN others THEN RETURN NULL; END $f$;"
        "CREATE TABLE IF NOT EXISTS meta(key " PG_TEXT " PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS tokens(hash " PG_TEXT " PRIMARY KEY, grp " PG_TEXT " NOT NULL,"
        " expires_us BIGINT NOT NULL, created_by TEXT, used_us BIGINT, used_by TEXT);"
        "CREATE TABLE IF NOT EXISTS devices(terminal_id " PG_TEXT " PRIMARY KEY, grp " PG_TEXT " NOT NULL,"
        " hostname " PG_TEXT ", revoked BIGINT NOT NULL DEFAULT 0, revoked_us BIGINT, enrolled_us BIGINT NOT NULL,"
        " last_seen_us BIGINT NOT NULL DEFAULT 0, agent_version " PG_TEXT ","
        " policy_version BIGINT NOT NULL DEFAULT 0, chain TEXT NOT NULL DEFAULT '',"
        " head_seq BIGINT NOT NULL DEFAULT 0, head_hash TEXT NOT NULL DEFAULT '', agent_head_seq BIGINT,"
        " events BIGINT NOT NULL DEFAULT 0, report TEXT, compliance TEXT, inventory TEXT,"
        " prev_chain TEXT NOT NULL DEFAULT '', prev_head_seq BIGINT NOT NULL DEFAULT 0,"
        " prev_head_hash TEXT NOT NULL DEFAULT '', restart_seq BIGINT NOT NULL DEFAULT 0);"
        "CREATE INDEX IF NOT EXISTS devices_grp ON devices(grp);"
        "CREATE TABLE IF NOT EXISTS certs(serial " PG_TEXT " PRIMARY KEY, terminal_id " PG_TEXT " NOT NULL,"
        " not_after_us BIGINT NOT NULL, issued_us BIGINT, revoked BIGINT NOT NULL DEFAULT 0);"
        "CREATE INDEX IF NOT EXISTS certs_terminal ON certs(terminal_id);"
        "CREATE TABLE IF NOT EXISTS events(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        " terminal_id " PG_TEXT " NOT NULL, seq BIGINT NOT NULL, time_us BIGINT NOT NULL, type " PG_TEXT " NOT NULL,"
        " hash TEXT NOT NULL, received_us BIGINT NOT NULL, canon BYTEA NOT NULL, UNIQUE(terminal_id, seq));"
        "CREATE TABLE IF NOT EXISTS findings(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        " terminal_id " PG_TEXT " NOT NULL, kind TEXT NOT NULL, seq BIGINT NOT NULL, expected_seq BIGINT,"
        " time_us BIGINT NOT NULL, detail TEXT, UNIQUE(terminal_id, kind, seq));"
        "CREATE TABLE IF NOT EXISTS accounts(username " PG_TEXT " PRIMARY KEY, role TEXT NOT NULL,"
        " pwhash TEXT NOT NULL, created_us BIGINT NOT NULL, staff_no TEXT, display_name TEXT, name_key " PG_TEXT ","
        " staff_key " PG_TEXT ", created_by TEXT, pending BIGINT NOT NULL DEFAULT 0, approved_by TEXT,"
        " disabled BIGINT NOT NULL DEFAULT 0);"
        "CREATE UNIQUE INDEX IF NOT EXISTS accounts_name_key ON accounts(name_key);"
        "CREATE UNIQUE INDEX IF NOT EXISTS accounts_staff_key ON accounts(staff_key);"
        "CREATE TABLE IF NOT EXISTS creds(hash " PG_TEXT " PRIMARY KEY, kind TEXT NOT NULL,"
        " principal " PG_TEXT " NOT NULL, role TEXT NOT NULL, expires_us BIGINT NOT NULL, created_by TEXT,"
        " created_us BIGINT);"
        "CREATE TABLE IF NOT EXISTS policies(grp " PG_TEXT " NOT NULL, version BIGINT NOT NULL,"
        " document BYTEA NOT NULL, sha256 TEXT NOT NULL, signature TEXT, uploaded_by TEXT NOT NULL,"
        " uploaded_us BIGINT, approved_by TEXT, published_us BIGINT, PRIMARY KEY(grp, version));"
        "CREATE TABLE IF NOT EXISTS audit(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        " time_us BIGINT NOT NULL, actor " PG_TEXT " NOT NULL, action " PG_TEXT " NOT NULL, target " PG_TEXT ","
        " result TEXT NOT NULL, detail TEXT, hash TEXT);"
        "CREATE TABLE IF NOT EXISTS commands(id " PG_TEXT " PRIMARY KEY, terminal_id " PG_TEXT " NOT NULL,"
        " type TEXT NOT NULL, params TEXT NOT NULL, issued_at BIGINT NOT NULL, not_after BIGINT NOT NULL,"
        " nonce TEXT NOT NULL, requested_by TEXT NOT NULL, approved_by TEXT NOT NULL, status " PG_TEXT " NOT NULL,"
        " envelope TEXT NOT NULL, signature TEXT NOT NULL, result TEXT NOT NULL, created_us BIGINT NOT NULL,"
        " updated_us BIGINT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS commands_terminal ON commands(terminal_id, status);"
        "CREATE TABLE IF NOT EXISTS requests(id " PG_TEXT " PRIMARY KEY, terminal_id " PG_TEXT " NOT NULL,"
        " grp " PG_TEXT " NOT NULL, request_id " PG_TEXT " NOT NULL, kind TEXT NOT NULL, person TEXT NOT NULL,"
        " body TEXT NOT NULL, seq BIGINT NOT NULL, status " PG_TEXT " NOT NULL, scope TEXT NOT NULL,"
        " decision TEXT NOT NULL, decided_by TEXT NOT NULL, version BIGINT NOT NULL, not_after BIGINT NOT NULL,"
        " created_us BIGINT NOT NULL, decided_us BIGINT NOT NULL, UNIQUE(terminal_id, request_id));"
        "CREATE INDEX IF NOT EXISTS requests_status ON requests(status, created_us);"
        "CREATE TABLE IF NOT EXISTS groups(name " PG_TEXT " PRIMARY KEY, created_by TEXT, created_us BIGINT);"
        "INSERT INTO meta(key, value) VALUES ('format', '1') ON CONFLICT DO NOTHING;";

struct sq_store {
	struct store base; /* first: the ops functions get a struct store * */
	struct sqldb *db;
	struct sqldb_stmt *st[_Q_MAX];
	bool in_txn;
	bool in_group; /* group_begin: operations are savepoints of one transaction */
};

static struct sq_store *SQ(struct store *s)
{
	return (struct sq_store *)s;
}

static bool is_pg(const struct sq_store *s)
{
	return sqldb_engine(s->db) == SQLDB_PG;
}

/* The text of q for this store's engine: PostgreSQL's where it differs. */
static const char *q_text(const struct sq_store *s, int q)
{
	return is_pg(s) && sql_text_pg[q] ? sql_text_pg[q] : sql_text[q];
}

/* The prepared statement for q, reset and unbound (prepared on first use). */
static int stmt(struct sq_store *s, int q, struct sqldb_stmt **ret)
{
	int r;

	if (!s->st[q]) {
		r = sqldb_prepare(s->db, q_text(s, q), true, &s->st[q]);
		if (r < 0) {
			log_error("store: statement %d: %s", q, sqldb_errmsg(s->db));
			return r;
		}
	}
	sqldb_reset(s->st[q]);
	*ret = s->st[q];
	return 0;
}

/* Bind helpers: NULL text binds NULL. */
static int bind_text(struct sqldb_stmt *st, int i, const char *v)
{
	return sqldb_bind_text(st, i, v);
}

static int bind_int(struct sqldb_stmt *st, int i, int64_t v)
{
	return sqldb_bind_int(st, i, v);
}

/* Step a statement that returns no row (or whose rows are ignored). */
static int step_done(struct sqldb_stmt *st)
{
	int r = sqldb_step(st);

	sqldb_reset(st);
	return r < 0 ? r : 0;
}

/* Step expecting one row: 1 row, 0 none, negative error. */
static int step_row(struct sqldb_stmt *st)
{
	int r = sqldb_step(st);

	if (r != 1)
		sqldb_reset(st);
	return r;
}

static void col_copy(struct sqldb_stmt *st, int i, char *buf, size_t bufsz)
{
	const char *t = sqldb_col_text(st, i);

	(void)strscpy(buf, bufsz, t ? t : "");
}

static int run(struct sq_store *s, int q)
{
	struct sqldb_stmt *st = NULL;
	int r = stmt(s, q, &st);

	return r < 0 ? r : step_done(st);
}

static int txn_begin(struct sq_store *s, bool durable)
{
	int r;

	if (s->in_group) {
		/* inside the group's durable transaction (begun with FULL) */
		r = sqldb_exec(s->db, "SAVEPOINT op");
		if (r == 0)
			s->in_txn = true;
		return r;
	}
	r = run(s, durable ? Q_SYNC_FULL : Q_SYNC_NORMAL);
	if (r < 0)
		return r;
	r = run(s, Q_BEGIN);
	if (r == 0)
		s->in_txn = true;
	return r;
}

static int txn_end(struct sq_store *s, int r)
{
	if (!s->in_txn)
		return r;
	s->in_txn = false;
	if (s->in_group) {
		int c;

		if (r < 0)
			(void)sqldb_exec(s->db, "ROLLBACK TO SAVEPOINT op");
		c = sqldb_exec(s->db, "RELEASE SAVEPOINT op");
		return r < 0 ? r : c < 0 ? c : r;
	}
	if (r >= 0) {
		int c = run(s, Q_COMMIT);
		if (c == 0)
			return r;
		r = c;
	}
	(void)run(s, Q_ROLLBACK);
	return r;
}

static int sq_group_begin(struct store *base)
{
	struct sq_store *s = SQ(base);
	int r;

	if (s->in_group || s->in_txn)
		return -EBUSY;
	r = txn_begin(s, true);
	if (r < 0)
		return r;
	s->in_txn = false;
	s->in_group = true;
	return 0;
}

static int sq_group_end(struct store *base, int r)
{
	struct sq_store *s = SQ(base);

	if (!s->in_group)
		return -EINVAL;
	if (s->in_txn) /* an operation left open: undone */
		r = txn_end(s, r < 0 ? r : -EINVAL);
	s->in_group = false;
	s->in_txn = true;
	return txn_end(s, r);
}

/* ---- open/close -------------------------------------------------------- */

static int media_schema(struct sq_store *s); /* the media register's table (below) */

static void sq_close(struct store *base)
{
	struct sq_store *s = SQ(base);

	if (!s)
		return;
	for (int i = 0; i < _Q_MAX; i++)
		sqldb_finalize(s->st[i]);
	sqldb_close(s->db);
	free(s);
}

static int sq_meta_get(struct store *base, const char *key, char *buf, size_t bufsz);
static int sq_meta_set(struct store *base, const char *key, const char *value);

/* Versioned schema changes, for both engines. meta 'schema' is the version
 * of the store: 1 is schema_sql (schema_pg) with the columns added above
 * (stores made before versions were counted have no 'schema' row: 1).
 * migrations[v - 2] brings a store from version v - 1 to v, in one
 * transaction with the new version number ([0] SQLite, [1] PostgreSQL; a
 * PostgreSQL store starts at 1 and takes the same steps). A store of a
 * version this program does not know (made by a newer mamori-server) is
 * refused, never used: -EPROTO. */
static const char *const migrations[][2] = {
        /* 2 (issue 15): departments (部署), apart from groups: set by the
         * enrollment token or by an administrator */
        {"ALTER TABLE devices ADD COLUMN dept TEXT NOT NULL DEFAULT '';"
         "ALTER TABLE tokens ADD COLUMN dept TEXT NOT NULL DEFAULT '';"
         "CREATE INDEX devices_dept ON devices(dept);",
         "ALTER TABLE devices ADD COLUMN dept TEXT NOT NULL DEFAULT '';"
         "ALTER TABLE tokens ADD COLUMN dept TEXT NOT NULL DEFAULT '';"
         "CREATE INDEX devices_dept ON devices(dept);"},
        /* 3 (issue 15): the terminal list sorted and paged in SQL */
        {"ALTER TABLE devices ADD COLUMN failing INTEGER NOT NULL DEFAULT 0;"
         "ALTER TABLE devices ADD COLUMN failing_ids TEXT NOT NULL DEFAULT '[]';"
         "UPDATE devices SET failing = " FAILING_OF("compliance") ", failing_ids = " FAILING_IDS_OF(
                 "compliance") " WHERE compliance IS NOT NULL;",
         "ALTER TABLE devices ADD COLUMN failing BIGINT NOT NULL DEFAULT 0;"
         "ALTER TABLE devices ADD COLUMN failing_ids TEXT NOT NULL DEFAULT '[]';"
         "UPDATE devices SET failing = " PG_FAILING_OF("compliance") ", failing_ids = " PG_FAILING_IDS_OF(
                 "compliance") " WHERE compliance IS NOT NULL;"},
        /* 4 (issue 15): the daily compliance figures of the 90-day trend */
        {"CREATE TABLE daily(day TEXT PRIMARY KEY, terminals INTEGER NOT NULL, compliant INTEGER NOT NULL,"
         " updated_us INTEGER NOT NULL) WITHOUT ROWID;",
         "CREATE TABLE daily(day TEXT PRIMARY KEY, terminals BIGINT NOT NULL, compliant BIGINT NOT NULL,"
         " updated_us BIGINT NOT NULL);"},
        /* 5 (issue 16.2): the department an account approves for ('*' =
         * every department; '' = none). The accounts made before could
         * decide every request: they keep that ('*'); a new account names
         * its department or has none. */
        {"ALTER TABLE accounts ADD COLUMN dept TEXT NOT NULL DEFAULT '';"
         "UPDATE accounts SET dept = '*';",
         "ALTER TABLE accounts ADD COLUMN dept TEXT NOT NULL DEFAULT '';"
         "UPDATE accounts SET dept = '*';"},
        /* 6 (issue 18.3): dashboard sessions' last use and the login
         * throttles, in the store so that every instance shares them */
        {"CREATE TABLE web_sessions(hash TEXT PRIMARY KEY, last_us INTEGER NOT NULL) WITHOUT ROWID;"
         "CREATE TABLE throttles(kind TEXT NOT NULL, key TEXT NOT NULL, level_us INTEGER NOT NULL,"
         " updated_us INTEGER NOT NULL, locked_until_us INTEGER NOT NULL, lock_count INTEGER NOT NULL,"
         " PRIMARY KEY(kind, key)) WITHOUT ROWID;",
         "CREATE TABLE web_sessions(hash " PG_TEXT " PRIMARY KEY, last_us BIGINT NOT NULL);"
         "CREATE TABLE throttles(kind " PG_TEXT " NOT NULL, key " PG_TEXT " NOT NULL, level_us BIGINT NOT NULL,"
         " updated_us BIGINT NOT NULL, locked_until_us BIGINT NOT NULL, lock_count BIGINT NOT NULL,"
         " PRIMARY KEY(kind, key));"},
        /* 7 (issue 18.5, LOG-1): the archive files the oldest records
         * were moved to (archive.h), one row per file */
        {"CREATE TABLE archives(id INTEGER PRIMARY KEY, terminal_id TEXT NOT NULL, first_seq INTEGER NOT NULL,"
         " last_seq INTEGER NOT NULL, n_records INTEGER NOT NULL, first_received_us INTEGER NOT NULL,"
         " last_received_us INTEGER NOT NULL, prev_hash TEXT NOT NULL, last_hash TEXT NOT NULL,"
         " file TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL, bytes INTEGER NOT NULL, created_us INTEGER NOT NULL,"
         " UNIQUE(terminal_id, first_seq));",
         "CREATE TABLE archives(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
         " terminal_id " PG_TEXT " NOT NULL, first_seq BIGINT NOT NULL, last_seq BIGINT NOT NULL,"
         " n_records BIGINT NOT NULL, first_received_us BIGINT NOT NULL, last_received_us BIGINT NOT NULL,"
         " prev_hash TEXT NOT NULL, last_hash TEXT NOT NULL, file " PG_TEXT " NOT NULL UNIQUE,"
         " sha256 TEXT NOT NULL, bytes BIGINT NOT NULL, created_us BIGINT NOT NULL,"
         " UNIQUE(terminal_id, first_seq));"},
        /* 8 (issue 16.2): a request's grp column holds its terminal's
         * department (部署), no longer its policy group: a department-wide
         * approval covers the terminals of the department it was decided
         * for. Rows of before: their terminal's department now ('' when
         * it has none: the approval then covers its own terminal only). */
        {"UPDATE requests SET grp = coalesce((SELECT d.dept FROM devices d WHERE d.terminal_id = "
         "requests.terminal_id), '');",
         "UPDATE requests SET grp = coalesce((SELECT d.dept FROM devices d WHERE d.terminal_id = "
         "requests.terminal_id), '');"},
        /* 9 (issue 23.5, 18): what every check-in and the tick read, by
         * index instead of the whole table, which only grows: the highest
         * approval version (MAX), the approvals still in force (status,
         * not_after) and the commands to mark expired */
        {"CREATE INDEX IF NOT EXISTS requests_version ON requests(version);"
         "CREATE INDEX IF NOT EXISTS requests_live ON requests(status, not_after);"
         "CREATE INDEX IF NOT EXISTS commands_live ON commands(status, not_after);",
         "CREATE INDEX IF NOT EXISTS requests_version ON requests(version);"
         "CREATE INDEX IF NOT EXISTS requests_live ON requests(status, not_after);"
         "CREATE INDEX IF NOT EXISTS commands_live ON commands(status, not_after);"},
        /* 10 (issue 16.2, 18): a terminal's own approval data version,
         * taken from the approvals' sequence when its department changes:
         * its document then differs (department-wide approvals come or
         * go) and must reach it with a higher version (GRANTS_NEXT) */
        {"ALTER TABLE devices ADD COLUMN grants_version INTEGER NOT NULL DEFAULT 0;"
         "CREATE INDEX IF NOT EXISTS devices_grants_version ON devices(grants_version);",
         "ALTER TABLE devices ADD COLUMN grants_version BIGINT NOT NULL DEFAULT 0;"
         "CREATE INDEX IF NOT EXISTS devices_grants_version ON devices(grants_version);"},
        /* 11 (issue 18): every check-in's reads by this terminal, not by
         * status: the live approvals and commands of the whole fleet were
         * read at each check-in (store_sql_checkin_reads, CMD_DUE; with
         * 20,000 live commands and 5,000 approvals of other terminals, 70
         * check-ins a second instead of 9,900). requests_live served only
         * that read, and SQLite without statistics kept taking it */
        {"DROP INDEX IF EXISTS commands_terminal;"
         "CREATE INDEX IF NOT EXISTS commands_terminal ON commands(terminal_id, status, not_after);"
         "CREATE INDEX IF NOT EXISTS requests_terminal ON requests(terminal_id, status, not_after);"
         "CREATE INDEX IF NOT EXISTS requests_dept ON requests(grp, scope, status, not_after);"
         "DROP INDEX IF EXISTS requests_live;",
         "DROP INDEX IF EXISTS commands_terminal;"
         "CREATE INDEX IF NOT EXISTS commands_terminal ON commands(terminal_id, status, not_after);"
         "CREATE INDEX IF NOT EXISTS requests_terminal ON requests(terminal_id, status, not_after);"
         "CREATE INDEX IF NOT EXISTS requests_dept ON requests(grp, scope, status, not_after);"
         "DROP INDEX IF EXISTS requests_live;"},
};
#define SCHEMA_VERSION (1 + (int)ELEMENTSOF(migrations))

static int schema_version(struct sq_store *s, int *ret)
{
	char buf[16];
	int64_t v;
	int r = sq_meta_get(&s->base, "schema", buf, sizeof(buf));

	if (r == -ENOENT)
		return *ret = 1, 0;
	if (r < 0)
		return r;
	if (parse_int64(buf, 1, INT32_MAX, &v) < 0)
		return -EPROTO;
	*ret = (int)v;
	return 0;
}

/* One step at a time, each under the schema lock (Q_LOCK: several servers
 * on one PostgreSQL database may start at once; the version is read again
 * inside the transaction). */
static int migrate(struct sq_store *s)
{
	char num[16];
	int v, r;

	for (;;) {
		if ((r = txn_begin(s, true)) < 0)
			return r;
		if ((r = run(s, Q_LOCK)) < 0 || (r = schema_version(s, &v)) < 0)
			return txn_end(s, r);
		if (v > SCHEMA_VERSION) {
			log_error("store: schema version %d is newer than this mamori-server knows (%d); refusing it",
			          v, SCHEMA_VERSION);
			return txn_end(s, -EPROTO);
		}
		if (v == SCHEMA_VERSION)
			return txn_end(s, 0);
		r = sqldb_exec(s->db, migrations[v - 1][is_pg(s) ? 1 : 0]);
		if (r < 0)
			log_error("store: schema change to version %d: %s", v + 1, sqldb_errmsg(s->db));
		if (r == 0 && xsnprintf(num, sizeof(num), "%d", v + 1) < 0)
			r = -EINVAL;
		if (r == 0)
			r = sq_meta_set(&s->base, "schema", num);
		if ((r = txn_end(s, r)) < 0)
			return r;
	}
}

/* The SQLite file's schema of version 1, as stores were made before the
 * versions were counted. */
static int sqlite_base_schema(struct sq_store *s)
{
	/* stores made before the chain-restart columns (issue 17): added
	 * once; "duplicate column" means they are there */
	static const char *const add[] = {
	        "ALTER TABLE devices ADD COLUMN prev_chain TEXT NOT NULL DEFAULT ''",
	        "ALTER TABLE devices ADD COLUMN prev_head_seq INTEGER NOT NULL DEFAULT 0",
	        "ALTER TABLE devices ADD COLUMN prev_head_hash TEXT NOT NULL DEFAULT ''",
	        "ALTER TABLE devices ADD COLUMN restart_seq INTEGER NOT NULL DEFAULT 0",
	        "ALTER TABLE accounts ADD COLUMN staff_no TEXT",
	        "ALTER TABLE accounts ADD COLUMN display_name TEXT",
	        "ALTER TABLE accounts ADD COLUMN name_key TEXT",
	        "ALTER TABLE accounts ADD COLUMN staff_key TEXT",
	        "ALTER TABLE accounts ADD COLUMN created_by TEXT",
	        "ALTER TABLE accounts ADD COLUMN pending INTEGER NOT NULL DEFAULT 0",
	        "ALTER TABLE accounts ADD COLUMN approved_by TEXT",
	        "ALTER TABLE audit ADD COLUMN hash TEXT",
	        "ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0",
	};
	int r = sqldb_exec(s->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
	                          "PRAGMA secure_delete = ON;");

	if (r < 0 || (r = sqldb_exec(s->db, schema_sql)) < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(add); i++) {
		r = sqldb_exec(s->db, add[i]);
		if (r < 0 && !strstr(sqldb_errmsg(s->db), "duplicate column"))
			return r;
	}
	/* user names were ASCII before: their key is lower case; one
	 * person (staff number) and one folded name per account */
	return sqldb_exec(s->db, "UPDATE accounts SET name_key = lower(username) WHERE name_key IS NULL;"
	                         "CREATE UNIQUE INDEX IF NOT EXISTS accounts_name_key ON accounts(name_key);"
	                         "CREATE UNIQUE INDEX IF NOT EXISTS accounts_staff_key ON accounts(staff_key);");
}

/* PostgreSQL's schema of version 1, made under the schema lock. */
static int pg_base_schema(struct sq_store *s)
{
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	if ((r = run(s, Q_LOCK)) < 0 || (r = sqldb_exec(s->db, schema_pg)) < 0)
		log_error("store: postgresql schema: %s", sqldb_errmsg(s->db));
	return txn_end(s, r);
}

static int store_sql_open(struct sqldb *db, const struct store_ops *ops, struct store **ret)
{
	struct sq_store *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s) {
		sqldb_close(db);
		return -ENOMEM;
	}
	s->base.ops = ops;
	s->db = db;
	r = is_pg(s) ? pg_base_schema(s) : sqlite_base_schema(s);
	if (r < 0 || (r = migrate(s)) < 0 || (r = media_schema(s)) < 0) {
		sq_close(&s->base);
		return r;
	}
	*ret = &s->base;
	return 0;
}

static int sq_open(const char *where, struct store **ret)
{
	struct sqldb *db = NULL;
	int r = sqldb_open_sqlite(where, &db);

	return r < 0 ? r : store_sql_open(db, &store_sqlite_ops, ret);
}

/* "postgresql:" + where: the libpq URI. */
static int pg_uri(const char *where, char **ret)
{
	size_t n = strlen(where) + sizeof("postgresql:");
	char *uri = malloc(n);

	if (!uri || xsnprintf(uri, n, "postgresql:%s", where) < 0) {
		free(uri);
		return -ENOMEM;
	}
	*ret = uri;
	return 0;
}

/* where: the URI after "postgresql:" (store_open cut the scheme off). */
static int pg_open(const char *where, struct store **ret)
{
	_cleanup_free_ char *uri = NULL;
	struct sqldb *db = NULL;
	int r;

	if ((r = pg_uri(where, &uri)) < 0)
		return r;
	r = sqldb_open_pg(uri, &db);
	return r < 0 ? r : store_sql_open(db, &store_pg_ops, ret);
}

/* ---- meta ---------------------------------------------------------------- */

static int sq_meta_get(struct store *base, const char *key, char *buf, size_t bufsz)
{
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_META_GET, &st)) < 0 || (r = bind_text(st, 1, key)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	r = strscpy(buf, bufsz, sqldb_col_text(st, 0));
	sqldb_reset(st);
	return r < 0 ? -ENOBUFS : 0;
}

static int sq_meta_set(struct store *base, const char *key, const char *value)
{
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_META_SET, &st)) < 0 || (r = bind_text(st, 1, key)) < 0 ||
	    (r = bind_text(st, 2, value)) < 0)
		return r;
	return step_done(st);
}

static int sq_meta_delete(struct store *base, const char *key)
{
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_META_DEL, &st)) < 0 || (r = bind_text(st, 1, key)) < 0)
		return r;
	return step_done(st);
}

/* ---- tokens and enrollment ------------------------------------------------ */

static int sq_token_add(struct store *base, const char *hash, const char *group, const char *department,
                        int64_t expires_us, const char *created_by)
{
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_TOKEN_ADD, &st)) < 0 || (r = bind_text(st, 1, hash)) < 0 ||
	    (r = bind_text(st, 2, group)) < 0 || (r = bind_int(st, 3, expires_us)) < 0 ||
	    (r = bind_text(st, 4, created_by)) < 0 || (r = bind_text(st, 5, department ?: "")) < 0)
		return r;
	return step_done(st);
}

/* The group and department ("" = none) of a usable token. */
static int token_peek(struct store *base, const char *hash, int64_t now_us, char ret_group[STORE_ID_MAX],
                      char ret_dept[STORE_ID_MAX])
{
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_TOKEN_GET, &st)) < 0 || (r = bind_text(st, 1, hash)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	if (!sqldb_col_null(st, 2))
		r = -EALREADY;
	else if (sqldb_col_int64(st, 1) <= now_us)
		r = -ETIMEDOUT;
	else
		col_copy(st, 0, ret_group, STORE_ID_MAX), col_copy(st, 3, ret_dept, STORE_ID_MAX), r = 0;
	sqldb_reset(st);
	return r;
}

static int sq_token_peek(struct store *base, const char *hash, int64_t now_us, char ret_group[STORE_ID_MAX])
{
	char dept[STORE_ID_MAX];

	return token_peek(base, hash, now_us, ret_group, dept);
}

static int cert_insert(struct sq_store *s, const struct store_cert *c, int64_t now_us)
{
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(s, Q_CERT_ADD, &st)) < 0 || (r = bind_text(st, 1, c->serial)) < 0 ||
	    (r = bind_text(st, 2, c->terminal_id)) < 0 || (r = bind_int(st, 3, c->not_after_us)) < 0 ||
	    (r = bind_int(st, 4, now_us)) < 0)
		return r;
	return step_done(st);
}

static int device_row(struct sqldb_stmt *st, struct store_device *d)
{
	memset(d, 0, sizeof(*d));
	col_copy(st, 0, d->terminal_id, sizeof(d->terminal_id));
	col_copy(st, 1, d->group, sizeof(d->group));
	col_copy(st, 2, d->hostname, sizeof(d->hostname));
	d->revoked = sqldb_col_int64(st, 3) != 0;
	d->retired = sqldb_col_int64(st, 3) == 2;
	d->enrolled_us = sqldb_col_int64(st, 4);
	d->last_seen_us = sqldb_col_int64(st, 5);
	col_copy(st, 6, d->agent_version, sizeof(d->agent_version));
	d->policy_version = sqldb_col_int64(st, 7);
	col_copy(st, 8, d->chain.chain, sizeof(d->chain.chain));
	d->chain.head_seq = (uint64_t)sqldb_col_int64(st, 9);
	col_copy(st, 10, d->chain.head_hash, sizeof(d->chain.head_hash));
	d->events = (uint64_t)sqldb_col_int64(st, 11);
	d->findings = (uint64_t)sqldb_col_int64(st, 12);
	col_copy(st, 14, d->chain.prev_chain, sizeof(d->chain.prev_chain));
	d->chain.prev_head_seq = (uint64_t)sqldb_col_int64(st, 15);
	col_copy(st, 16, d->chain.prev_head_hash, sizeof(d->chain.prev_head_hash));
	d->chain.restart_seq = (uint64_t)sqldb_col_int64(st, 17);
	col_copy(st, 18, d->department, sizeof(d->department));
	return 0;
}

static int sq_device_get(struct store *base, const char *terminal_id, struct store_device *ret)
{
	struct store_device d;
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_DEVICE_GET, &st)) < 0 || (r = bind_text(st, 1, terminal_id)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	device_row(st, &d);
	sqldb_reset(st);
	*ret = d;
	return 0;
}

static int sq_enroll(struct store *base, const char *token_hash, int64_t now_us, const struct store_device *d,
                     const struct store_cert *c)
{
	struct sq_store *s = SQ(base);
	struct store_device old;
	char group[STORE_ID_MAX], dept[STORE_ID_MAX];
	struct sqldb_stmt *st = NULL;
	int r;

	r = txn_begin(s, true);
	if (r < 0)
		return r;
	r = token_peek(base, token_hash, now_us, group, dept);
	if (r < 0)
		goto out;
	if ((r = stmt(s, Q_TOKEN_USE, &st)) < 0 || (r = bind_text(st, 1, token_hash)) < 0 ||
	    (r = bind_int(st, 2, now_us)) < 0 || (r = bind_text(st, 3, d->terminal_id)) < 0 || (r = step_done(st)) < 0)
		goto out;
	if (sqldb_changes(s->db) != 1) {
		r = -EALREADY;
		goto out;
	}
	r = sq_device_get(base, d->terminal_id, &old);
	if (r == 0 && !old.revoked) {
		r = -EEXIST;
		goto out;
	}
	if (r < 0 && r != -ENOENT)
		goto out;
	/* a re-enrollment may change the department: GRANTS_NEXT, locked */
	if ((r == 0 && (r = run(s, Q_LOCK)) < 0) ||
	    (r = stmt(s, r == 0 ? Q_DEVICE_REENROLL : Q_DEVICE_INSERT, &st)) < 0 ||
	    (r = bind_text(st, 1, d->terminal_id)) < 0 || (r = bind_text(st, 2, group)) < 0 ||
	    (r = bind_text(st, 3, d->hostname[0] ? d->hostname : NULL)) < 0 || (r = bind_int(st, 4, now_us)) < 0 ||
	    (r = bind_text(st, 5, dept)) < 0 || (r = step_done(st)) < 0)
		goto out;
	r = cert_insert(s, c, now_us);
out:
	return txn_end(s, r);
}

static int sq_cert_add(struct store *base, const struct store_cert *c)
{
	struct sq_store *s = SQ(base);
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	return txn_end(s, cert_insert(s, c, 0));
}

static int sq_cert_renew(struct store *base, const struct store_cert *c, int64_t now_us, int64_t since_us, unsigned max,
                         unsigned *ret_revoked)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	unsigned revoked = 0;
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	if ((r = stmt(s, Q_CERT_COUNT_SINCE, &st)) < 0 || (r = bind_text(st, 1, c->terminal_id)) < 0 ||
	    (r = bind_int(st, 2, since_us)) < 0)
		goto out;
	r = step_row(st);
	if (r == 1) {
		int64_t n = sqldb_col_int64(st, 0);

		sqldb_reset(st);
		r = n >= (int64_t)max ? -EDQUOT : 0;
	} else if (r == 0) {
		r = -EIO;
	}
	if (r < 0)
		goto out;
	if ((r = cert_insert(s, c, now_us)) < 0)
		goto out;
	if ((r = stmt(s, Q_CERT_REVOKE_OTHERS, &st)) < 0 || (r = bind_text(st, 1, c->terminal_id)) < 0 ||
	    (r = bind_text(st, 2, c->serial)) < 0 || (r = step_done(st)) < 0)
		goto out;
	revoked = (unsigned)sqldb_changes(s->db);
out:
	r = txn_end(s, r);
	if (r == 0)
		*ret_revoked = revoked;
	return r;
}

static int sq_cert_get(struct store *base, const char *serial, struct store_cert *ret)
{
	struct store_cert c = {0};
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_CERT_GET, &st)) < 0 || (r = bind_text(st, 1, serial)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	(void)strscpy(c.serial, sizeof(c.serial), serial);
	col_copy(st, 0, c.terminal_id, sizeof(c.terminal_id));
	c.not_after_us = sqldb_col_int64(st, 1);
	c.revoked = sqldb_col_int64(st, 2) != 0;
	sqldb_reset(st);
	*ret = c;
	return 0;
}

static int device_revoke_as(struct store *base, int q, const char *terminal_id, int64_t now_us, unsigned *ret_n)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	unsigned n = 0;
	int r;

	r = txn_begin(s, true);
	if (r < 0)
		return r;
	if ((r = stmt(s, q, &st)) < 0 || (r = bind_text(st, 1, terminal_id)) < 0 || (r = bind_int(st, 2, now_us)) < 0 ||
	    (r = step_done(st)) < 0)
		goto out;
	if (sqldb_changes(s->db) != 1) {
		r = -ENOENT;
		goto out;
	}
	if ((r = stmt(s, Q_CERT_REVOKE_ALL, &st)) < 0 || (r = bind_text(st, 1, terminal_id)) < 0 ||
	    (r = step_done(st)) < 0)
		goto out;
	n = (unsigned)sqldb_changes(s->db);
out:
	r = txn_end(s, r);
	if (r == 0)
		*ret_n = n;
	return r;
}

static int sq_device_set_department(struct store *base, const char *terminal_id, const char *department)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	if ((r = run(s, Q_LOCK)) < 0 || (r = stmt(s, Q_DEVICE_SET_DEPT, &st)) < 0 ||
	    (r = bind_text(st, 1, terminal_id)) < 0 || (r = bind_text(st, 2, department)) < 0 ||
	    (r = step_done(st)) < 0)
		return txn_end(s, r);
	return txn_end(s, sqldb_changes(s->db) == 1 ? 0 : -ENOENT);
}

static int sq_device_revoke(struct store *base, const char *terminal_id, int64_t now_us, unsigned *ret_n)
{
	return device_revoke_as(base, Q_DEVICE_REVOKE, terminal_id, now_us, ret_n);
}

static int sq_device_retire(struct store *base, const char *terminal_id, int64_t now_us, unsigned *ret_n)
{
	return device_revoke_as(base, Q_DEVICE_RETIRE, terminal_id, now_us, ret_n);
}

static int sq_device_list(struct store *base, const char *group, store_device_cb cb, void *userdata)
{
	struct store_device d;
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), group ? Q_DEVICE_LIST_GROUP : Q_DEVICE_LIST, &st)) < 0 ||
	    (group && (r = bind_text(st, 1, group)) < 0))
		return r;
	while ((r = step_row(st)) == 1) {
		device_row(st, &d);
		r = cb(&d, sqldb_col_text(st, 13), userdata);
		if (r < 0)
			break;
	}
	sqldb_reset(st);
	return r < 0 ? r : 0;
}

/* ---- the terminal list, filtered, sorted and paged in SQL (issue 15) ---- */

static void finalizep(struct sqldb_stmt **st);
static int oneshot(struct store *base, const char *sql, struct sqldb_stmt **ret);

/* A terminal's failing count as the admin API reports it: a chain finding
 * is a LOG-1 failure (nf: its findings). */
#define SQ_HAS(a, v)   "EXISTS (SELECT 1 FROM json_each(" a ") WHERE value = " v ")"
#define PG_HAS(a, v)   "EXISTS (SELECT 1 FROM json_array_elements_text(" a "::json) AS j(value) WHERE j.value = " v ")"
#define SQ_INSTR(a, b) "instr(" a ", " b ")"
#define PG_INSTR(a, b) "strpos(" a ", " b ")"
#define PAGE_FROM(HAS, INSTR)                                                                                          \
	" FROM (SELECT terminal_id, grp, hostname, dept, revoked, enrolled_us, last_seen_us, agent_version,"           \
	" policy_version, failing_ids, failing + (CASE WHEN nf > 0 AND NOT " HAS(                                      \
	        "failing_ids",                                                                                         \
	        "'LOG-1'") " THEN 1 ELSE 0 END) AS eff, nf FROM (SELECT *, (SELECT count(*) FROM findings f"           \
	                   " WHERE f.terminal_id = devices.terminal_id) AS nf FROM devices) AS d1) AS d2"              \
	                   " WHERE (?1 IS NULL OR " INSTR(                                                             \
	                           "lower(terminal_id)",                                                               \
	                           "lower(?1)") " > 0"                                                                 \
	                                        " OR " INSTR(                                                          \
	                                                "lower(coalesce(hostname, ''))",                               \
	                                                "lower(?1)") " > 0)"                                           \
	                                                             " AND (?2 IS NULL OR grp = ?2) AND (?3 IS NULL "  \
	                                                             "OR dept = ?3)"                                   \
	                                                             " AND (?4 IS NULL OR (revoked = 0 AND (" HAS(     \
	                                                                     "failing_ids",                            \
	                                                                     "?4") " OR (?4 = 'LOG-1' AND nf > 0))))"  \
	                                                                           " AND (?5 = 0 OR (?5 = 1 AND "      \
	                                                                           "revoked = 0) OR (?5 = 2 AND "      \
	                                                                           "revoked <> 0)"                     \
	                                                                           " OR (?5 = 3 AND revoked = 0 AND "  \
	                                                                           "(CASE last_seen_us WHEN 0 THEN "   \
	                                                                           "enrolled_us ELSE last_seen_us "    \
	                                                                           "END) < ?6)"                        \
	                                                                           " OR (?5 = 4 AND revoked = 0 AND "  \
	                                                                           "eff > 0) OR (?5 = 5 AND revoked "  \
	                                                                           "= 0 AND eff = 0))"

static const char *const page_order[_STORE_SORT_MAX] = {
        [STORE_SORT_ID] = "terminal_id",
        [STORE_SORT_HOST] = "coalesce(hostname, '')",
        [STORE_SORT_GROUP] = "grp",
        [STORE_SORT_DEPT] = "dept",
        [STORE_SORT_SEEN] = "last_seen_us",
        [STORE_SORT_VERSION] = "coalesce(agent_version, '')",
        [STORE_SORT_POLICY] = "policy_version",
        [STORE_SORT_FAILING] = "eff",
};

static int page_bind(struct sqldb_stmt *st, const struct store_device_query *q)
{
	int r;

	if ((r = bind_text(st, 1, q->q)) < 0 || (r = bind_text(st, 2, q->group)) < 0 ||
	    (r = bind_text(st, 3, q->department)) < 0 || (r = bind_text(st, 4, q->requirement)) < 0 ||
	    (r = bind_int(st, 5, q->status)) < 0 || (r = bind_int(st, 6, q->stale_before_us)) < 0)
		return r;
	return 0;
}

static int sq_device_page(struct store *base, const struct store_device_query *q, uint64_t *ret_total,
                          store_device_page_cb cb, void *userdata)
{
	_cleanup_(finalizep) struct sqldb_stmt *cnt = NULL, *page = NULL;
	const char *from = is_pg(SQ(base)) ? PAGE_FROM(PG_HAS, PG_INSTR) : PAGE_FROM(SQ_HAS, SQ_INSTR);
	char sql[4096];
	uint64_t total;
	int r;

	if (q->sort < 0 || q->sort >= _STORE_SORT_MAX || q->status < 0 || q->status >= _STORE_STATUS_MAX ||
	    q->limit < 1 || q->offset < 0)
		return -EINVAL;
	if (xsnprintf(sql, sizeof(sql), "SELECT count(*)%s", from) < 0)
		return -ENOBUFS;
	if ((r = oneshot(base, sql, &cnt)) < 0 || (r = page_bind(cnt, q)) < 0)
		return r;
	if ((r = step_row(cnt)) <= 0)
		return r < 0 ? r : -EIO;
	total = (uint64_t)sqldb_col_int64(cnt, 0);
	/* the sort key from the table above, never from the request; the
	 * terminal ID after it makes the order total (stable pages) */
	if (xsnprintf(sql, sizeof(sql),
	              "SELECT terminal_id, eff, failing_ids%s ORDER BY %s %s, terminal_id %s LIMIT ?7 OFFSET ?8", from,
	              page_order[q->sort], q->desc ? "DESC" : "ASC", q->desc ? "DESC" : "ASC") < 0)
		return -ENOBUFS;
	if ((r = oneshot(base, sql, &page)) < 0 || (r = page_bind(page, q)) < 0 ||
	    (r = bind_int(page, 7, q->limit)) < 0 || (r = bind_int(page, 8, q->offset)) < 0)
		return r;
	while ((r = step_row(page)) == 1) {
		struct store_device d;
		_cleanup_free_ char *ids = strdup(sqldb_col_text(page, 2) ?: "[]");
		unsigned failing = (unsigned)sqldb_col_int64(page, 1);

		if (!ids)
			return -ENOMEM;
		/* the page's rows in full: a few lookups by primary key */
		if ((r = sq_device_get(base, sqldb_col_text(page, 0), &d)) < 0 ||
		    (r = cb(&d, failing, ids, userdata)) < 0)
			return r;
	}
	if (r < 0)
		return r;
	*ret_total = total;
	return 0;
}

/* ---- daily compliance figures (issue 15) ---- */

static int sq_daily_put(struct store *base, const struct store_daily *d)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	int r;

	if ((r = oneshot(
	             base,
	             "INSERT INTO daily(day, terminals, compliant, updated_us) VALUES (?1, ?2, ?3, ?4) "
	             "ON CONFLICT(day) DO UPDATE SET terminals = excluded.terminals, compliant = excluded.compliant, "
	             "updated_us = excluded.updated_us WHERE excluded.updated_us >= daily.updated_us",
	             &st)) < 0 ||
	    (r = bind_text(st, 1, d->day)) < 0 || (r = bind_int(st, 2, (int64_t)d->terminals)) < 0 ||
	    (r = bind_int(st, 3, (int64_t)d->compliant)) < 0 || (r = bind_int(st, 4, d->updated_us)) < 0)
		return r;
	return step_done(st);
}

static int sq_daily_list(struct store *base, const char *since_day, store_daily_cb cb, void *userdata)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	struct store_daily d;
	int r;

	if ((r = oneshot(base, "SELECT day, terminals, compliant, updated_us FROM daily WHERE day >= ?1 ORDER BY day",
	                 &st)) < 0 ||
	    (r = bind_text(st, 1, since_day)) < 0)
		return r;
	while ((r = step_row(st)) == 1) {
		memset(&d, 0, sizeof(d));
		col_copy(st, 0, d.day, sizeof(d.day));
		d.terminals = (uint64_t)sqldb_col_int64(st, 1);
		d.compliant = (uint64_t)sqldb_col_int64(st, 2);
		d.updated_us = sqldb_col_int64(st, 3);
		if ((r = cb(&d, userdata)) < 0)
			return r;
	}
	return r;
}

static int sq_cert_list(struct store *base, const char *terminal_id, store_cert_cb cb, void *userdata)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	struct store_cert c;
	int r;

	if ((r = oneshot(
	             base,
	             "SELECT serial, not_after_us, revoked, coalesce(issued_us, 0) FROM certs WHERE terminal_id = ?1 "
	             "ORDER BY coalesce(issued_us, 0) DESC, not_after_us DESC, serial",
	             &st)) < 0 ||
	    (r = bind_text(st, 1, terminal_id)) < 0)
		return r;
	while ((r = step_row(st)) == 1) {
		memset(&c, 0, sizeof(c));
		col_copy(st, 0, c.serial, sizeof(c.serial));
		(void)strscpy(c.terminal_id, sizeof(c.terminal_id), terminal_id);
		c.not_after_us = sqldb_col_int64(st, 1);
		c.revoked = sqldb_col_int64(st, 2) != 0;
		c.issued_us = sqldb_col_int64(st, 3);
		if ((r = cb(&c, userdata)) < 0)
			return r;
	}
	return r;
}

static int sq_command_counts(struct store *base, int (*cb)(const char *status, uint64_t n, void *userdata),
                             void *userdata)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	int r;

	if ((r = oneshot(base, "SELECT status, count(*) FROM commands GROUP BY status ORDER BY status", &st)) < 0)
		return r;
	while ((r = step_row(st)) == 1)
		if ((r = cb(sqldb_col_text(st, 0), (uint64_t)sqldb_col_int64(st, 1), userdata)) < 0)
			return r;
	return r;
}

static int sq_device_report(struct store *base, const char *terminal_id, char **ret)
{
	struct sqldb_stmt *st = NULL;
	const char *t;
	char *copy = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_DEVICE_REPORT, &st)) < 0 || (r = bind_text(st, 1, terminal_id)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	t = sqldb_col_text(st, 0);
	if (t && !(copy = strdup((const char *)t)))
		r = -ENOMEM;
	sqldb_reset(st);
	if (r < 0)
		return r;
	*ret = copy;
	return 0;
}

static int sq_checkin_many(struct store *base, const struct store_checkin *cs, size_t n, size_t *ret_n)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	size_t written = 0;
	int r;

	r = txn_begin(s, false);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		const struct store_checkin *c = &cs[i];

		if ((r = stmt(s, Q_CHECKIN, &st)) < 0 || (r = bind_text(st, 1, c->terminal_id)) < 0 ||
		    (r = bind_int(st, 2, c->time_us)) < 0 || (r = bind_text(st, 3, c->agent_version)) < 0 ||
		    (r = bind_text(st, 4, c->hostname)) < 0 || (r = bind_int(st, 5, c->policy_version)) < 0 ||
		    (r = bind_text(st, 6, c->report_json)) < 0 || (r = bind_text(st, 7, c->compliance_json)) < 0 ||
		    (r = bind_text(st, 8, c->inventory_json)) < 0)
			break;
		r = c->head ? bind_int(st, 9, (int64_t)c->head->head_seq) : sqldb_bind_null_int(st, 9);
		if (r < 0 || (r = step_done(st)) < 0)
			break;
		written += (size_t)sqldb_changes(s->db);
	}
	r = txn_end(s, r);
	(void)run(s, Q_SYNC_FULL);
	if (r == 0)
		*ret_n = written;
	return r;
}

/* ---- event chains --------------------------------------------------------- */

static int sq_chain_get(struct store *base, const char *terminal_id, struct store_chain *ret)
{
	struct store_chain c;
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_CHAIN_GET, &st)) < 0 || (r = bind_text(st, 1, terminal_id)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	col_copy(st, 0, c.chain, sizeof(c.chain));
	c.head_seq = (uint64_t)sqldb_col_int64(st, 1);
	col_copy(st, 2, c.head_hash, sizeof(c.head_hash));
	col_copy(st, 3, c.prev_chain, sizeof(c.prev_chain));
	c.prev_head_seq = (uint64_t)sqldb_col_int64(st, 4);
	col_copy(st, 5, c.prev_head_hash, sizeof(c.prev_head_hash));
	c.restart_seq = (uint64_t)sqldb_col_int64(st, 6);
	sqldb_reset(st);
	*ret = c;
	return 0;
}

static int sq_event_hash(struct store *base, const char *terminal_id, uint64_t seq, char ret[STORE_HASH_HEX])
{
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_EVENT_HASH, &st)) < 0 || (r = bind_text(st, 1, terminal_id)) < 0 ||
	    (r = bind_int(st, 2, (int64_t)seq)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	col_copy(st, 0, ret, STORE_HASH_HEX);
	sqldb_reset(st);
	return 0;
}

static int sq_chain_restart_ack(struct store *base, const char *terminal_id, uint64_t restart_seq)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	if ((r = stmt(s, Q_RESTART_ACK, &st)) < 0 || (r = bind_text(st, 1, terminal_id)) < 0 ||
	    (r = bind_int(st, 2, (int64_t)restart_seq)) < 0 || (r = step_done(st)) < 0)
		goto out;
	if (sqldb_changes(s->db) != 1)
		r = -ENOENT;
out:
	return txn_end(s, r);
}

static int sq_event_same(struct store *base, const char *terminal_id, uint64_t seq, const char *hash, const void *canon,
                         size_t canon_len)
{
	struct sqldb_stmt *st = NULL;
	const char *h;
	int r;

	if ((r = stmt(SQ(base), Q_EVENT_SAME, &st)) < 0 || (r = bind_text(st, 1, terminal_id)) < 0 ||
	    (r = bind_int(st, 2, (int64_t)seq)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	h = sqldb_col_text(st, 0);
	r = h && strcmp((const char *)h, hash) == 0 && (size_t)sqldb_col_bytes(st, 1) == canon_len &&
	    memcmp(sqldb_col_blob(st, 1), canon, canon_len) == 0;
	sqldb_reset(st);
	return r;
}

static int sq_events_append(struct store *base, const char *terminal_id, const struct store_chain *expect,
                            const struct store_event *ev, size_t n, const struct store_chain *head, int64_t now_us)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r;

	r = txn_begin(s, true);
	if (r < 0)
		return r;
	if ((r = stmt(s, Q_CHAIN_MOVE, &st)) < 0 || (r = bind_text(st, 1, terminal_id)) < 0 ||
	    (r = bind_text(st, 2, expect->chain)) < 0 || (r = bind_int(st, 3, (int64_t)expect->head_seq)) < 0 ||
	    (r = bind_text(st, 4, expect->head_hash)) < 0 || (r = bind_text(st, 5, head->chain)) < 0 ||
	    (r = bind_int(st, 6, (int64_t)head->head_seq)) < 0 || (r = bind_text(st, 7, head->head_hash)) < 0 ||
	    (r = bind_int(st, 8, (int64_t)n)) < 0 || (r = bind_text(st, 9, head->prev_chain)) < 0 ||
	    (r = bind_int(st, 10, (int64_t)head->prev_head_seq)) < 0 ||
	    (r = bind_text(st, 11, head->prev_head_hash)) < 0 ||
	    (r = bind_int(st, 12, (int64_t)head->restart_seq)) < 0 || (r = step_done(st)) < 0)
		goto out;
	if (sqldb_changes(s->db) != 1) {
		r = -EAGAIN;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = stmt(s, Q_EVENT_INSERT, &st)) < 0 || (r = bind_text(st, 1, terminal_id)) < 0 ||
		    (r = bind_int(st, 2, (int64_t)ev[i].seq)) < 0 || (r = bind_int(st, 3, ev[i].time_us)) < 0 ||
		    (r = bind_text(st, 4, ev[i].type)) < 0 || (r = bind_text(st, 5, ev[i].hash)) < 0 ||
		    (r = bind_int(st, 6, now_us)) < 0 ||
		    (r = sqldb_bind_blob(st, 7, ev[i].canon, ev[i].canon_len)) < 0 || (r = step_done(st)) < 0)
			goto out;
	}
out:
	return txn_end(s, r);
}

static int sq_events_list(struct store *base, const struct store_event_filter *f, store_event_cb cb, void *userdata)
{
	struct store_event_row e;
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_EVENTS_LIST, &st)) < 0 || (r = bind_int(st, 1, f->after_id)) < 0 ||
	    (r = bind_text(st, 2, f->terminal_id)) < 0 || (r = bind_text(st, 3, f->type_prefix)) < 0 ||
	    (r = bind_int(st, 4, f->limit)) < 0)
		return r;
	while ((r = step_row(st)) == 1) {
		e = (struct store_event_row){
		        .id = sqldb_col_int64(st, 0),
		        .terminal_id = sqldb_col_text(st, 1),
		        .seq = (uint64_t)sqldb_col_int64(st, 2),
		        .hash = sqldb_col_text(st, 3),
		        .received_us = sqldb_col_int64(st, 4),
		        .canon = sqldb_col_blob(st, 5),
		        .canon_len = (size_t)sqldb_col_bytes(st, 5),
		};
		r = cb(&e, userdata);
		if (r < 0)
			break;
	}
	sqldb_reset(st);
	return r < 0 ? r : 0;
}

static int sq_finding_add(struct store *base, const struct store_finding *f)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r;

	r = txn_begin(s, true);
	if (r < 0)
		return r;
	if ((r = stmt(s, Q_FINDING_ADD, &st)) < 0 || (r = bind_text(st, 1, f->terminal_id)) < 0 ||
	    (r = bind_text(st, 2, store_finding_to_string(f->kind))) < 0 ||
	    (r = bind_int(st, 3, (int64_t)f->seq)) < 0 || (r = bind_int(st, 4, (int64_t)f->expected_seq)) < 0 ||
	    (r = bind_int(st, 5, f->time_us)) < 0 || (r = bind_text(st, 6, f->detail)) < 0 || (r = step_done(st)) < 0)
		goto out;
	r = sqldb_changes(s->db) == 1 ? 0 : 1;
out:
	return txn_end(s, r);
}

static int sq_findings_list(struct store *base, const char *terminal_id, unsigned limit, store_finding_cb cb,
                            void *userdata)
{
	struct store_finding f;
	struct sqldb_stmt *st = NULL;
	int r;

	if (terminal_id)
		r = stmt(SQ(base), Q_FINDINGS_LIST, &st);
	else
		r = stmt(SQ(base), Q_FINDINGS_LIST_ALL, &st);
	if (r < 0 || (terminal_id && (r = bind_text(st, 1, terminal_id)) < 0) ||
	    (r = bind_int(st, terminal_id ? 2 : 1, limit)) < 0)
		return r;
	while ((r = step_row(st)) == 1) {
		char kind[64];

		memset(&f, 0, sizeof(f));
		col_copy(st, 0, f.terminal_id, sizeof(f.terminal_id));
		col_copy(st, 1, kind, sizeof(kind));
		f.kind = _FINDING_INVALID;
		for (int k = 0; k < _FINDING_MAX; k++)
			if (strcmp(kind, store_finding_to_string(k)) == 0)
				f.kind = k;
		f.seq = (uint64_t)sqldb_col_int64(st, 2);
		f.expected_seq = (uint64_t)sqldb_col_int64(st, 3);
		f.time_us = sqldb_col_int64(st, 4);
		col_copy(st, 5, f.detail, sizeof(f.detail));
		r = cb(&f, userdata);
		if (r < 0)
			break;
	}
	sqldb_reset(st);
	return r < 0 ? r : 0;
}

/* ---- accounts and credentials ---------------------------------------------- */

static int sq_account_add(struct store *base, const struct store_account *a)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r;

	r = txn_begin(s, true);
	if (r < 0)
		return r;
	if ((r = stmt(s, Q_ACCOUNT_ADD, &st)) == 0 && (r = bind_text(st, 1, a->username)) == 0 &&
	    (r = bind_text(st, 2, store_role_to_string(a->role))) == 0 && (r = bind_text(st, 3, a->pwhash)) == 0 &&
	    (r = bind_int(st, 4, a->created_us)) == 0 &&
	    (r = bind_text(st, 5, a->staff_no[0] ? a->staff_no : NULL)) == 0 &&
	    (r = bind_text(st, 6, a->display_name[0] ? a->display_name : NULL)) == 0 &&
	    (r = bind_text(st, 7, a->name_key)) == 0 &&
	    (r = bind_text(st, 8, a->staff_key[0] ? a->staff_key : NULL)) == 0 &&
	    (r = bind_text(st, 9, a->created_by[0] ? a->created_by : NULL)) == 0 &&
	    (r = bind_int(st, 10, a->pending ? 1 : 0)) == 0 && (r = bind_text(st, 11, a->department)) == 0)
		r = step_done(st);
	return txn_end(s, r);
}

static int account_row(struct sqldb_stmt *st, struct store_account *a)
{
	char role[32];

	memset(a, 0, sizeof(*a));
	col_copy(st, 0, a->username, sizeof(a->username));
	col_copy(st, 1, role, sizeof(role));
	a->role = store_role_from_string(role);
	col_copy(st, 2, a->pwhash, sizeof(a->pwhash));
	a->created_us = sqldb_col_int64(st, 3);
	col_copy(st, 4, a->staff_no, sizeof(a->staff_no));
	col_copy(st, 5, a->display_name, sizeof(a->display_name));
	col_copy(st, 6, a->name_key, sizeof(a->name_key));
	col_copy(st, 7, a->staff_key, sizeof(a->staff_key));
	col_copy(st, 8, a->created_by, sizeof(a->created_by));
	a->pending = sqldb_col_int64(st, 9) != 0;
	col_copy(st, 10, a->approved_by, sizeof(a->approved_by));
	a->disabled = sqldb_col_int64(st, 11) != 0;
	col_copy(st, 12, a->department, sizeof(a->department));
	return a->role == _ROLE_INVALID ? -EBADMSG : 0;
}

static int sq_account_get(struct store *base, const char *name_key, struct store_account *ret)
{
	struct store_account a;
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_ACCOUNT_GET, &st)) < 0 || (r = bind_text(st, 1, name_key)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	r = account_row(st, &a);
	sqldb_reset(st);
	if (r < 0)
		return r;
	*ret = a;
	return 0;
}

static int sq_account_activate(struct store *base, const char *name_key, const char *approved_by)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	if ((r = stmt(s, Q_ACCOUNT_ACTIVATE, &st)) < 0 || (r = bind_text(st, 1, name_key)) < 0 ||
	    (r = bind_text(st, 2, approved_by)) < 0 || (r = step_done(st)) < 0)
		goto out;
	if (sqldb_changes(s->db) != 1)
		r = -ENOENT;
out:
	return txn_end(s, r);
}

static int sq_account_count(struct store *base, uint64_t *ret)
{
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_ACCOUNT_COUNT, &st)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -EIO;
	*ret = (uint64_t)sqldb_col_int64(st, 0);
	sqldb_reset(st);
	return 0;
}

static int sq_account_list(struct store *base, store_account_cb cb, void *userdata)
{
	struct store_account a;
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_ACCOUNT_LIST, &st)) < 0)
		return r;
	while ((r = step_row(st)) == 1) {
		(void)account_row(st, &a); /* an invalid role is listed as such */
		a.pwhash[0] = 0;
		r = cb(&a, userdata);
		if (r < 0)
			break;
	}
	sqldb_reset(st);
	return r < 0 ? r : 0;
}

static int sq_cred_add(struct store *base, const char *hash, const struct store_cred *c, const char *created_by,
                       int64_t now_us)
{
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_CRED_ADD, &st)) < 0 || (r = bind_text(st, 1, hash)) < 0 ||
	    (r = bind_text(st, 2, c->kind == CRED_SESSION ? "session" : "api")) < 0 ||
	    (r = bind_text(st, 3, c->principal)) < 0 || (r = bind_text(st, 4, store_role_to_string(c->role))) < 0 ||
	    (r = bind_int(st, 5, c->expires_us)) < 0 || (r = bind_text(st, 6, created_by)) < 0 ||
	    (r = bind_int(st, 7, now_us)) < 0)
		return r;
	return step_done(st);
}

static int sq_cred_get(struct store *base, const char *hash, int64_t now_us, struct store_cred *ret)
{
	struct store_cred c = {0};
	char kind[16], role[32];
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_CRED_GET, &st)) < 0 || (r = bind_text(st, 1, hash)) < 0 ||
	    (r = bind_int(st, 2, now_us)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	col_copy(st, 0, kind, sizeof(kind));
	c.kind = strcmp(kind, "session") == 0 ? CRED_SESSION : CRED_API_TOKEN;
	col_copy(st, 1, c.principal, sizeof(c.principal));
	col_copy(st, 2, role, sizeof(role));
	c.role = store_role_from_string(role);
	c.expires_us = sqldb_col_int64(st, 3);
	sqldb_reset(st);
	if (c.role == _ROLE_INVALID)
		return -EBADMSG;
	*ret = c;
	return 0;
}

static int sq_cred_delete(struct store *base, const char *hash)
{
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_CRED_DEL, &st)) < 0 || (r = bind_text(st, 1, hash)) < 0)
		return r;
	return step_done(st);
}

static int sq_cred_purge(struct store *base, int64_t now_us, unsigned *ret_n)
{
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_CRED_PURGE, &st)) < 0 || (r = bind_int(st, 1, now_us)) < 0 || (r = step_done(st)) < 0)
		return r;
	*ret_n = (unsigned)sqldb_changes(SQ(base)->db);
	return 0;
}

static int sq_account_disable(struct store *base, const char *username, unsigned *ret_sessions)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	unsigned n = 0;
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	if ((r = stmt(s, Q_ACCOUNT_DISABLE, &st)) < 0 || (r = bind_text(st, 1, username)) < 0 ||
	    (r = step_done(st)) < 0)
		goto out;
	if (sqldb_changes(s->db) != 1) {
		r = -ENOENT;
		goto out;
	}
	if ((r = stmt(s, Q_CRED_DEL_SESSIONS, &st)) < 0 || (r = bind_text(st, 1, username)) < 0 ||
	    (r = step_done(st)) < 0)
		goto out;
	n = (unsigned)sqldb_changes(s->db);
out:
	r = txn_end(s, r);
	if (r == 0)
		*ret_sessions = n;
	return r;
}

static int sq_account_set_password(struct store *base, const char *username, const char *pwhash)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	if ((r = stmt(s, Q_ACCOUNT_PASSWORD, &st)) < 0 || (r = bind_text(st, 1, username)) < 0 ||
	    (r = bind_text(st, 2, pwhash)) < 0 || (r = step_done(st)) < 0)
		goto out;
	if (sqldb_changes(s->db) != 1)
		r = -ENOENT;
out:
	return txn_end(s, r);
}

/* ---- policies ------------------------------------------------------------ */

static int sq_policy_put_pending(struct store *base, const struct store_policy *p, int64_t now_us)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r;

	r = txn_begin(s, true);
	if (r < 0)
		return r;
	if ((r = stmt(s, Q_POLICY_MAX, &st)) < 0 || (r = bind_text(st, 1, p->group)) < 0 || (r = step_row(st)) < 0)
		goto out;
	if (r == 1 && sqldb_col_int64(st, 0) >= p->version) {
		sqldb_reset(st);
		r = -ESTALE;
		goto out;
	}
	sqldb_reset(st);
	if ((r = stmt(s, Q_POLICY_PUT, &st)) < 0 || (r = bind_text(st, 1, p->group)) < 0 ||
	    (r = bind_int(st, 2, p->version)) < 0 || (r = sqldb_bind_blob(st, 3, p->document, p->document_len)) < 0 ||
	    (r = bind_text(st, 4, p->sha256)) < 0 || (r = bind_text(st, 5, p->uploaded_by)) < 0 ||
	    (r = bind_int(st, 6, now_us)) < 0)
		goto out;
	r = step_done(st);
out:
	return txn_end(s, r);
}

static int policy_row(struct sqldb_stmt *st, const char *group, struct store_policy *ret)
{
	struct store_policy p = {0};
	const void *doc = sqldb_col_blob(st, 1);
	size_t n = (size_t)sqldb_col_bytes(st, 1);

	(void)strscpy(p.group, sizeof(p.group), group);
	p.version = sqldb_col_int64(st, 0);
	p.document = malloc(n + 1);
	if (!p.document)
		return -ENOMEM;
	if (n)
		memcpy(p.document, doc, n);
	p.document[n] = 0;
	p.document_len = n;
	col_copy(st, 2, p.sha256, sizeof(p.sha256));
	col_copy(st, 3, p.signature, sizeof(p.signature));
	p.published = p.signature[0] != 0;
	col_copy(st, 4, p.uploaded_by, sizeof(p.uploaded_by));
	col_copy(st, 5, p.approved_by, sizeof(p.approved_by));
	*ret = p;
	return 0;
}

static int sq_policy_get(struct store *base, const char *group, int64_t version, struct store_policy *ret)
{
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_POLICY_GET, &st)) < 0 || (r = bind_text(st, 1, group)) < 0 ||
	    (r = bind_int(st, 2, version)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	r = policy_row(st, group, ret);
	sqldb_reset(st);
	return r;
}

static int sq_policy_publish(struct store *base, const char *group, int64_t version, const char *sig,
                             const char *approved_by, int64_t now_us)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r;

	r = txn_begin(s, true);
	if (r < 0)
		return r;
	if ((r = stmt(s, Q_POLICY_PUBLISH, &st)) == 0 && (r = bind_text(st, 1, group)) == 0 &&
	    (r = bind_int(st, 2, version)) == 0 && (r = bind_text(st, 3, sig)) == 0 &&
	    (r = bind_text(st, 4, approved_by)) == 0 && (r = bind_int(st, 5, now_us)) == 0 &&
	    (r = step_done(st)) == 0 && sqldb_changes(s->db) != 1)
		r = -ENOENT;
	return txn_end(s, r);
}

static int sq_policy_current(struct store *base, const char *group, struct store_policy *ret)
{
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_POLICY_CURRENT, &st)) < 0 || (r = bind_text(st, 1, group)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	r = policy_row(st, group, ret);
	sqldb_reset(st);
	return r;
}

static int sq_group_list(struct store *base, store_group_cb cb, void *userdata)
{
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_GROUP_LIST, &st)) < 0)
		return r;
	while ((r = step_row(st)) == 1) {
		struct store_group g = {
		        .name = sqldb_col_text(st, 0),
		        .terminals = (uint64_t)sqldb_col_int64(st, 1),
		        .policy_version = sqldb_col_int64(st, 2),
		        .pending_version = sqldb_col_int64(st, 3),
		};
		r = cb(&g, userdata);
		if (r < 0)
			break;
	}
	sqldb_reset(st);
	return r < 0 ? r : 0;
}

/* ---- audit ------------------------------------------------------------------ */

/* hash = SHA-256(prev hash hex ‖ the row): every field with its length, so
 * that no two rows serialise alike. Rows written before the chain existed
 * (hash NULL) chain from "". */
static int audit_hash(const char *prev, int64_t time_us, const char *const f[5], char ret[STORE_HASH_HEX])
{
	_cleanup_free_ char *buf = NULL;
	size_t n = 64;
	int off;
	uint8_t h[32];
	int r;

	for (size_t i = 0; i < 5; i++)
		n += strlen(f[i] ?: "") + 24;
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	off = snprintf(buf, n, "%" PRId64 "\n", time_us);
	for (size_t i = 0; i < 5 && off > 0 && (size_t)off < n; i++)
		off += snprintf(buf + off, n - (size_t)off, "%zu:%s\n", strlen(f[i] ?: ""), f[i] ?: "");
	if (off < 0 || (size_t)off >= n)
		return -ENOBUFS;
	r = crypto_sha256_2(prev, strlen(prev), buf, (size_t)off, h);
	if (r < 0)
		return r;
	hex_encode(h, 32, ret);
	return 0;
}

static int sq_audit_add(struct store *base, const struct store_audit *a)
{
	struct sq_store *s = SQ(base);
	const char *const f[5] = {a->actor, a->action, a->target, a->result, a->detail};
	char prev[STORE_HASH_HEX] = "", hash[STORE_HASH_HEX];
	struct sqldb_stmt *st = NULL;
	int r;

	r = txn_begin(s, true);
	if (r < 0)
		return r;
	if ((r = run(s, Q_LOCK)) < 0 || (r = stmt(s, Q_AUDIT_LAST, &st)) < 0)
		goto out;
	r = step_row(st);
	if (r == 1)
		col_copy(st, 0, prev, sizeof(prev));
	sqldb_reset(st);
	if (r < 0 || (r = audit_hash(prev, a->time_us, f, hash)) < 0)
		goto out;
	if ((r = stmt(s, Q_AUDIT_ADD, &st)) == 0 && (r = bind_int(st, 1, a->time_us)) == 0 &&
	    (r = bind_text(st, 2, a->actor)) == 0 && (r = bind_text(st, 3, a->action)) == 0 &&
	    (r = bind_text(st, 4, a->target)) == 0 && (r = bind_text(st, 5, a->result)) == 0 &&
	    (r = bind_text(st, 6, a->detail)) == 0 && (r = bind_text(st, 7, hash)) == 0)
		r = step_done(st);
out:
	return txn_end(s, r);
}

static void audit_row(struct sqldb_stmt *st, struct store_audit *a)
{
	*a = (struct store_audit){
	        .time_us = sqldb_col_int64(st, 0),
	        .actor = sqldb_col_text(st, 1),
	        .action = sqldb_col_text(st, 2),
	        .target = sqldb_col_text(st, 3),
	        .result = sqldb_col_text(st, 4),
	        .detail = sqldb_col_text(st, 5),
	        .id = sqldb_col_int64(st, 6),
	        .hash = sqldb_col_text(st, 7),
	};
}

static int bind_opt_int(struct sqldb_stmt *st, int i, int64_t v)
{
	return v ? bind_int(st, i, v) : sqldb_bind_null_int(st, i);
}

static int sq_audit_list(struct store *base, const struct store_audit_filter *f, store_audit_cb cb, void *userdata)
{
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = stmt(SQ(base), Q_AUDIT_LIST, &st)) < 0 || (r = bind_text(st, 1, f->actor)) < 0 ||
	    (r = bind_text(st, 2, f->action)) < 0 || (r = bind_text(st, 3, f->target)) < 0 ||
	    (r = bind_opt_int(st, 4, f->since_us)) < 0 || (r = bind_opt_int(st, 5, f->until_us)) < 0 ||
	    (r = bind_opt_int(st, 6, f->before_id)) < 0 || (r = bind_int(st, 7, f->limit)) < 0)
		return r;
	while ((r = step_row(st)) == 1) {
		struct store_audit a;

		audit_row(st, &a);
		r = cb(&a, userdata);
		if (r < 0)
			break;
	}
	sqldb_reset(st);
	return r < 0 ? r : 0;
}

static int sq_audit_verify(struct store *base, uint64_t *ret_rows, int64_t *ret_bad_id)
{
	char prev[STORE_HASH_HEX] = "", h[STORE_HASH_HEX];
	struct sqldb_stmt *st = NULL;
	uint64_t n = 0;
	int64_t bad = 0;
	int r;

	if ((r = stmt(SQ(base), Q_AUDIT_ALL, &st)) < 0)
		return r;
	while ((r = step_row(st)) == 1) {
		struct store_audit a;

		audit_row(st, &a);
		n++;
		if (!a.hash || !a.hash[0])
			continue; /* written before the chain existed */
		{
			const char *const f[5] = {a.actor, a.action, a.target[0] ? a.target : NULL, a.result,
			                          a.detail[0] ? a.detail : NULL};

			r = audit_hash(prev, a.time_us, f, h);
		}
		if (r < 0)
			break;
		if (strcmp(h, a.hash) != 0) {
			bad = a.id;
			break;
		}
		(void)strscpy(prev, sizeof(prev), a.hash);
	}
	sqldb_reset(st);
	if (r < 0)
		return r;
	*ret_rows = n;
	*ret_bad_id = bad;
	return 0;
}

/* ---- remote commands (docs/COMMANDS.md): plain SQL, statements prepared per
 * call (not in the hot path) so that a PostgreSQL backend can take the same text */

#define CMD_COLS                                                                                                       \
	"id, terminal_id, type, params, issued_at, not_after, nonce, requested_by, approved_by, status, envelope, "    \
	"signature, result, created_us, updated_us"

static int cmd_prepare(struct sq_store *s, const char *sql, struct sqldb_stmt **ret)
{
	return sqldb_prepare(s->db, sql, false, ret);
}

/* A command command_deliver hands out: the terminal's (bind 1), queued,
 * or delivered before the re-delivery time (bind 2, µs) without a result,
 * and unexpired (bind 3, seconds). One text for every statement that asks;
 * each side of the OR is a search in commands_terminal(terminal_id, status,
 * not_after) (schema 11). Before it, SQLite without statistics read them
 * in commands_live(status, not_after): every live command of every
 * terminal at every check-in. (Written as status IN (…), each execution
 * built the list anew: 7 µs more a check-in.) */
#define CMD_DUE "terminal_id = ? AND (status = 'queued' OR (status = 'delivered' AND updated_us < ?)) AND not_after > ?"

static void cmd_row(struct sqldb_stmt *st, struct store_command *c)
{
	memset(c, 0, sizeof(*c));
	col_copy(st, 0, c->id, sizeof(c->id));
	col_copy(st, 1, c->terminal_id, sizeof(c->terminal_id));
	col_copy(st, 2, c->type, sizeof(c->type));
	col_copy(st, 3, c->params, sizeof(c->params));
	c->issued_at = sqldb_col_int64(st, 4);
	c->not_after = sqldb_col_int64(st, 5);
	col_copy(st, 6, c->nonce, sizeof(c->nonce));
	col_copy(st, 7, c->requested_by, sizeof(c->requested_by));
	col_copy(st, 8, c->approved_by, sizeof(c->approved_by));
	col_copy(st, 9, c->status, sizeof(c->status));
	col_copy(st, 10, c->envelope, sizeof(c->envelope));
	col_copy(st, 11, c->signature, sizeof(c->signature));
	col_copy(st, 12, c->result, sizeof(c->result));
	c->created_us = sqldb_col_int64(st, 13);
	c->updated_us = sqldb_col_int64(st, 14);
}

static int sq_command_add(struct store *base, const struct store_command *c)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	if ((r = cmd_prepare(s, "INSERT INTO commands(" CMD_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &st)) ==
	            0 &&
	    (r = bind_text(st, 1, c->id)) == 0 && (r = bind_text(st, 2, c->terminal_id)) == 0 &&
	    (r = bind_text(st, 3, c->type)) == 0 && (r = bind_text(st, 4, c->params)) == 0 &&
	    (r = bind_int(st, 5, c->issued_at)) == 0 && (r = bind_int(st, 6, c->not_after)) == 0 &&
	    (r = bind_text(st, 7, c->nonce)) == 0 && (r = bind_text(st, 8, c->requested_by)) == 0 &&
	    (r = bind_text(st, 9, c->approved_by)) == 0 && (r = bind_text(st, 10, c->status)) == 0 &&
	    (r = bind_text(st, 11, c->envelope)) == 0 && (r = bind_text(st, 12, c->signature)) == 0 &&
	    (r = bind_text(st, 13, c->result)) == 0 && (r = bind_int(st, 14, c->created_us)) == 0 &&
	    (r = bind_int(st, 15, c->updated_us)) == 0) {
		int rc = sqldb_step(st);

		r = rc == 0 ? 0 : rc;
	}
	sqldb_finalize(st);
	return txn_end(s, r);
}

static int sq_command_get(struct store *base, const char *id, struct store_command *ret)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = cmd_prepare(s, "SELECT " CMD_COLS " FROM commands WHERE id = ?", &st)) < 0)
		return r;
	if ((r = bind_text(st, 1, id)) == 0) {
		int rc = sqldb_step(st);

		if (rc == 1)
			cmd_row(st, ret);
		r = rc == 1 ? 0 : rc == 0 ? -ENOENT : rc;
	}
	sqldb_finalize(st);
	return r;
}

static int sq_command_set(struct store *base, const struct store_command *c, const char *from_status)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	if ((r = cmd_prepare(s,
	                     "UPDATE commands SET status = ?, approved_by = ?, envelope = ?, signature = ?, result = ?,"
	                     " updated_us = ? WHERE id = ? AND status = ?",
	                     &st)) == 0 &&
	    (r = bind_text(st, 1, c->status)) == 0 && (r = bind_text(st, 2, c->approved_by)) == 0 &&
	    (r = bind_text(st, 3, c->envelope)) == 0 && (r = bind_text(st, 4, c->signature)) == 0 &&
	    (r = bind_text(st, 5, c->result)) == 0 && (r = bind_int(st, 6, c->updated_us)) == 0 &&
	    (r = bind_text(st, 7, c->id)) == 0 && (r = bind_text(st, 8, from_status)) == 0) {
		int rc = sqldb_step(st);

		r = rc == 0 ? (sqldb_changes(s->db) == 1 ? 0 : -ESTALE) : rc;
	}
	sqldb_finalize(st);
	return txn_end(s, r);
}

static int cmd_each(struct sqldb_stmt *st, store_command_cb cb, void *userdata)
{
	struct store_command c;
	int rc, r = 0;

	while ((rc = sqldb_step(st)) == 1) {
		cmd_row(st, &c);
		if (cb && (r = cb(&c, userdata)) < 0)
			return r;
	}
	return rc == 0 ? 0 : rc;
}

static int sq_command_list(struct store *base, const char *terminal_id, unsigned limit, store_command_cb cb,
                           void *userdata)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = cmd_prepare(s,
	                     "SELECT " CMD_COLS " FROM commands WHERE (? IS NULL OR terminal_id = ?)"
	                     " ORDER BY created_us DESC, id LIMIT ?",
	                     &st)) < 0)
		return r;
	if ((r = bind_text(st, 1, terminal_id)) == 0 && (r = bind_text(st, 2, terminal_id)) == 0 &&
	    (r = bind_int(st, 3, limit ? limit : 100)) == 0)
		r = cmd_each(st, cb, userdata);
	sqldb_finalize(st);
	return r;
}

struct deliver_ctx {
	struct store_command *c;
	size_t n, cap;
};

static int deliver_collect(const struct store_command *c, void *userdata)
{
	struct deliver_ctx *d = userdata;

	if (d->n == d->cap)
		return 0; /* the rest go with the next check-in */
	d->c[d->n++] = *c;
	return 0;
}

static int sq_command_deliver(struct store *base, const char *terminal_id, int64_t now_s, int64_t now_us,
                              int64_t redeliver_before_us, store_command_cb cb, void *userdata)
{
	struct sq_store *s = SQ(base);
	struct deliver_ctx d = {.cap = 16};
	struct sqldb_stmt *st = NULL;
	int r;

	/* nothing due, the common case of a check-in: one read and no write
	 * transaction (its locks are four fcntl calls on SQLite, BEGIN and
	 * COMMIT two round trips on PostgreSQL; issue 23.5). Something
	 * delivered by another server after this read is seen below. */
	if ((r = cmd_prepare(s, "SELECT 1 FROM commands WHERE " CMD_DUE " LIMIT 1", &st)) == 0 &&
	    (r = bind_text(st, 1, terminal_id)) == 0 && (r = bind_int(st, 2, redeliver_before_us)) == 0 &&
	    (r = bind_int(st, 3, now_s)) == 0)
		r = sqldb_step(st);
	sqldb_finalize(st);
	st = NULL;
	if (r <= 0)
		return r < 0 ? r : 0;
	d.c = calloc(d.cap, sizeof(*d.c));
	if (!d.c)
		return -ENOMEM;
	r = txn_begin(s, true);
	if (r < 0)
		goto out;
	if ((r = cmd_prepare(s,
	                     "SELECT " CMD_COLS " FROM commands"
	                     " WHERE " CMD_DUE " ORDER BY created_us, id",
	                     &st)) == 0 &&
	    (r = bind_text(st, 1, terminal_id)) == 0 && (r = bind_int(st, 2, redeliver_before_us)) == 0 &&
	    (r = bind_int(st, 3, now_s)) == 0)
		r = cmd_each(st, deliver_collect, &d);
	sqldb_finalize(st);
	st = NULL;
	for (size_t i = 0; r == 0 && i < d.n; i++) {
		/* only if still due (queued, or delivered long enough ago to be sent again): another
		 * server may have delivered it in the meantime */
		if ((r = cmd_prepare(s,
		                     "UPDATE commands SET status = 'delivered', updated_us = ? WHERE id = ?"
		                     " AND (status = 'queued' OR (status = 'delivered' AND updated_us < ?))",
		                     &st)) == 0 &&
		    (r = bind_int(st, 1, now_us)) == 0 && (r = bind_text(st, 2, d.c[i].id)) == 0 &&
		    (r = bind_int(st, 3, redeliver_before_us)) == 0)
			r = sqldb_step(st) == 0 ? 0 : -EIO;
		if (r == 0 && sqldb_changes(s->db) != 1)
			d.c[i].id[0] = 0; /* not this server's to deliver */
		sqldb_finalize(st);
		st = NULL;
		/* c.status stays the one before: "delivered" tells a re-delivery */
	}
	r = txn_end(s, r);
	for (size_t i = 0; r == 0 && i < d.n; i++)
		if (cb && d.c[i].id[0] && (r = cb(&d.c[i], userdata)) < 0)
			break;
out:
	free(d.c);
	return r;
}

/* ---- requests to the approver (issue 16): plain SQL like the commands ---- */

#define REQ_COLS                                                                                                       \
	"id, terminal_id, grp, request_id, kind, person, body, seq, status, scope, decision, decided_by, version, "    \
	"not_after, created_us, decided_us"

/* The request of the row's columns from `base` on (REQ_COLS' order). */
static void req_row_at(struct sqldb_stmt *st, int base, struct store_request *q)
{
	memset(q, 0, sizeof(*q));
	col_copy(st, base + 0, q->id, sizeof(q->id));
	col_copy(st, base + 1, q->terminal_id, sizeof(q->terminal_id));
	col_copy(st, base + 2, q->department, sizeof(q->department));
	col_copy(st, base + 3, q->request_id, sizeof(q->request_id));
	col_copy(st, base + 4, q->kind, sizeof(q->kind));
	col_copy(st, base + 5, q->person, sizeof(q->person));
	col_copy(st, base + 6, q->body, sizeof(q->body));
	q->seq = (uint64_t)sqldb_col_int64(st, base + 7);
	col_copy(st, base + 8, q->status, sizeof(q->status));
	col_copy(st, base + 9, q->scope, sizeof(q->scope));
	col_copy(st, base + 10, q->decision, sizeof(q->decision));
	col_copy(st, base + 11, q->decided_by, sizeof(q->decided_by));
	q->version = sqldb_col_int64(st, base + 12);
	q->not_after = sqldb_col_int64(st, base + 13);
	q->created_us = sqldb_col_int64(st, base + 14);
	q->decided_us = sqldb_col_int64(st, base + 15);
}

static void req_row(struct sqldb_stmt *st, struct store_request *q)
{
	req_row_at(st, 0, q);
}

static int sq_request_add(struct store *base, const struct store_request *q)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	if ((r = cmd_prepare(s, "INSERT INTO requests(" REQ_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &st)) ==
	            0 &&
	    (r = bind_text(st, 1, q->id)) == 0 && (r = bind_text(st, 2, q->terminal_id)) == 0 &&
	    (r = bind_text(st, 3, q->department)) == 0 && (r = bind_text(st, 4, q->request_id)) == 0 &&
	    (r = bind_text(st, 5, q->kind)) == 0 && (r = bind_text(st, 6, q->person)) == 0 &&
	    (r = bind_text(st, 7, q->body)) == 0 && (r = bind_int(st, 8, (int64_t)q->seq)) == 0 &&
	    (r = bind_text(st, 9, q->status)) == 0 && (r = bind_text(st, 10, q->scope)) == 0 &&
	    (r = bind_text(st, 11, q->decision)) == 0 && (r = bind_text(st, 12, q->decided_by)) == 0 &&
	    (r = bind_int(st, 13, q->version)) == 0 && (r = bind_int(st, 14, q->not_after)) == 0 &&
	    (r = bind_int(st, 15, q->created_us)) == 0 && (r = bind_int(st, 16, q->decided_us)) == 0) {
		int rc = sqldb_step(st);

		r = rc == 0 ? 0 : rc;
	}
	sqldb_finalize(st);
	return txn_end(s, r);
}

static int sq_request_get(struct store *base, const char *id, struct store_request *ret)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = cmd_prepare(s, "SELECT " REQ_COLS " FROM requests WHERE id = ?", &st)) < 0)
		return r;
	if ((r = bind_text(st, 1, id)) == 0) {
		int rc = sqldb_step(st);

		if (rc == 1)
			req_row(st, ret);
		r = rc == 1 ? 0 : rc == 0 ? -ENOENT : rc;
	}
	sqldb_finalize(st);
	return r;
}

/* The next approval data version (GRANTS_NEXT); the caller holds Q_LOCK. */
static int grants_next(struct sq_store *s, int64_t *ret)
{
	struct sqldb_stmt *st = NULL;
	int r = cmd_prepare(s, "SELECT " GRANTS_NEXT, &st);

	if (r == 0) {
		int rc = sqldb_step(st);

		if (rc == 1)
			*ret = sqldb_col_int64(st, 0);
		r = rc == 1 ? 0 : rc == 0 ? -EIO : rc;
	}
	sqldb_finalize(st);
	return r;
}

static int sq_request_decide(struct store *base, const struct store_request *q, const char *from_status,
                             int64_t *ret_version)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int64_t version = 0;
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	/* an approval, and its revocation: both change what the terminals
	 * hold, so both take the next version (the agent installs only a
	 * higher one) */
	if (strcmp(q->status, "approved") == 0 || strcmp(q->status, "revoked") == 0) {
		if ((r = run(s, Q_LOCK)) == 0)
			r = grants_next(s, &version);
	}
	if (r == 0 &&
	    (r = cmd_prepare(s,
	                     "UPDATE requests SET status = ?, scope = ?, decision = ?, decided_by = ?, version = ?,"
	                     " not_after = ?, decided_us = ?, grp = ? WHERE id = ? AND status = ?",
	                     &st)) == 0 &&
	    (r = bind_text(st, 1, q->status)) == 0 && (r = bind_text(st, 2, q->scope)) == 0 &&
	    (r = bind_text(st, 3, q->decision)) == 0 && (r = bind_text(st, 4, q->decided_by)) == 0 &&
	    (r = bind_int(st, 5, version)) == 0 && (r = bind_int(st, 6, q->not_after)) == 0 &&
	    (r = bind_int(st, 7, q->decided_us)) == 0 && (r = bind_text(st, 8, q->department)) == 0 &&
	    (r = bind_text(st, 9, q->id)) == 0 && (r = bind_text(st, 10, from_status)) == 0) {
		int rc = sqldb_step(st);

		r = rc == 0 ? (sqldb_changes(s->db) == 1 ? 0 : -ESTALE) : rc;
	}
	sqldb_finalize(st);
	r = txn_end(s, r);
	if (r == 0 && ret_version)
		*ret_version = version;
	return r;
}

static int req_each(struct sqldb_stmt *st, store_request_cb cb, void *userdata)
{
	_cleanup_free_ struct store_request *q = malloc(sizeof(*q));
	int rc, r = 0;

	if (!q)
		return -ENOMEM;
	while (r == 0 && (rc = sqldb_step(st)) == 1) {
		req_row(st, q);
		r = cb(q, userdata);
	}
	if (r == 0 && rc != 0)
		r = rc;
	return r;
}

static int sq_request_list(struct store *base, const char *status, unsigned limit, store_request_cb cb, void *userdata)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r;

	if ((r = cmd_prepare(s,
	                     "SELECT " REQ_COLS " FROM requests WHERE (? IS NULL OR status = ?)"
	                     " ORDER BY created_us DESC, id LIMIT ?",
	                     &st)) == 0 &&
	    (r = bind_text(st, 1, status)) == 0 && (r = bind_text(st, 2, status)) == 0 &&
	    (r = bind_int(st, 3, (int64_t)limit)) == 0)
		r = req_each(st, cb, userdata);
	sqldb_finalize(st);
	return r;
}

/* One statement (issue 23.5): one read lock on SQLite, one round trip on
 * PostgreSQL. Its first row always comes (the LEFT JOIN from a one-row
 * table), with the approval columns NULL when none is in force. Every part
 * is a search by this terminal (or its department) in an index made for it
 * (schema 11: each side of the OR of the approvals in its own,
 * requests_terminal and requests_dept): what it reads does not grow with
 * the other terminals' approvals and commands. Binds:
 * STORE_CHECKIN_READS_BINDS. */
const char store_sql_checkin_reads[] = "SELECT (SELECT COALESCE(MAX(v), 0) FROM (SELECT MAX(version) AS v FROM requests"
                                       " UNION ALL SELECT grants_version FROM devices WHERE terminal_id = ?) gv),"
                                       " CASE WHEN EXISTS (SELECT 1 FROM commands WHERE " CMD_DUE ") THEN 1 ELSE 0 END,"
                                       " g.* FROM (SELECT 1 AS one) o LEFT JOIN (SELECT " REQ_COLS " FROM requests"
                                       " WHERE status = 'approved' AND kind IN ('device', 'carry-out', 'exception')"
                                       " AND not_after > ? AND (terminal_id = ? OR (scope = 'department' AND grp <> ''"
                                       " AND grp = (SELECT dept FROM devices WHERE terminal_id = ?)))) g ON 1 = 1"
                                       " ORDER BY g.version";

static int sq_checkin_reads(struct store *base, struct store_checkin_reads *q, store_request_cb cb, void *userdata)
{
	struct sq_store *s = SQ(base);
	_cleanup_free_ struct store_request *rq = malloc(sizeof(*rq));
	struct sqldb_stmt *st = NULL;
	int rc = 0, r;

	if (!rq)
		return -ENOMEM;
	q->commands_due = false;
	q->max_version = 0;
	if ((r = cmd_prepare(s, store_sql_checkin_reads, &st)) == 0 && (r = bind_text(st, 1, q->terminal_id)) == 0 &&
	    (r = bind_text(st, 2, q->terminal_id)) == 0 && (r = bind_int(st, 3, q->redeliver_before_us)) == 0 &&
	    (r = bind_int(st, 4, q->now_s)) == 0 && (r = bind_int(st, 5, q->now_s)) == 0 &&
	    (r = bind_text(st, 6, q->terminal_id)) == 0 && (r = bind_text(st, 7, q->terminal_id)) == 0) {
		while (r == 0 && (rc = sqldb_step(st)) == 1) {
			q->max_version = sqldb_col_int64(st, 0);
			q->commands_due = sqldb_col_int64(st, 1) != 0;
			if (sqldb_col_null(st, 2))
				continue; /* no approval in force */
			req_row_at(st, 2, rq);
			r = cb ? cb(rq, userdata) : 0;
		}
		if (r == 0 && rc < 0)
			r = rc;
	}
	sqldb_finalize(st);
	return r;
}

static int sq_grants_raise(struct store *base, const char *terminal_id, int64_t above, int64_t *ret_version)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int64_t v = 0;
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	if ((r = run(s, Q_LOCK)) == 0 && (r = grants_next(s, &v)) == 0 &&
	    (r = cmd_prepare(s, "UPDATE devices SET grants_version = ? WHERE terminal_id = ?", &st)) == 0 &&
	    (r = bind_int(st, 1, v > above ? v : above + 1)) == 0 && (r = bind_text(st, 2, terminal_id)) == 0) {
		int rc = sqldb_step(st);

		r = rc == 0 ? (sqldb_changes(s->db) == 1 ? 0 : -ENOENT) : rc;
	}
	sqldb_finalize(st);
	if (r == 0)
		*ret_version = v > above ? v : above + 1;
	return txn_end(s, r);
}

static int sq_command_expire(struct store *base, int64_t now_s, int64_t now_us, unsigned *ret_n)
{
	struct sq_store *s = SQ(base);
	struct sqldb_stmt *st = NULL;
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	if ((r = cmd_prepare(s,
	                     "UPDATE commands SET status = 'expired', updated_us = ?, result = CASE status"
	                     " WHEN 'delivered' THEN 'delivered, no result before not_after'"
	                     " ELSE 'not delivered before not_after' END"
	                     " WHERE status IN ('pending_approval', 'queued', 'delivered') AND not_after <= ?",
	                     &st)) == 0 &&
	    (r = bind_int(st, 1, now_us)) == 0 && (r = bind_int(st, 2, now_s)) == 0) {
		r = sqldb_step(st) == 0 ? 0 : -EIO;
		if (r == 0 && ret_n)
			*ret_n = (unsigned)sqldb_changes(s->db);
	}
	sqldb_finalize(st);
	return txn_end(s, r);
}

/* ---- listing and revoking sessions and API tokens, groups (issue 17) ------------------ */

/* Statements used seldom (admin actions): prepared each time. */
static void finalizep(struct sqldb_stmt **st)
{
	sqldb_finalize(*st);
}

static int oneshot(struct store *base, const char *sql, struct sqldb_stmt **ret)
{
	int r = sqldb_prepare(SQ(base)->db, sql, false, ret);

	if (r < 0)
		log_error("store: %s", sqldb_errmsg(SQ(base)->db));
	return r;
}

/* A statement on the creds table: ?1 the kind, ?3 the principal (NULL: any
 * principal); the caller binds ?2. */
static int cred_stmt(struct store *base, const char *sql, enum store_cred_kind kind, const char *principal,
                     struct sqldb_stmt **ret)
{
	int r = oneshot(base, sql, ret);

	if (r < 0 || (r = bind_text(*ret, 1, kind == CRED_SESSION ? "session" : "api")) < 0 ||
	    (r = bind_text(*ret, 3, principal)) < 0)
		return r;
	return 0;
}

static int sq_cred_list(struct store *base, enum store_cred_kind kind, const char *principal, int64_t now_us,
                        store_cred_cb cb, void *userdata)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	char role[32];
	int r;

	if ((r = cred_stmt(base,
	                   "SELECT substr(hash, 1, 16), principal, role, expires_us, "
	                   "coalesce(created_by,''), coalesce(created_us,0) FROM creds WHERE kind = ?1 "
	                   "AND expires_us > ?2 AND (?3 IS NULL OR principal = ?3) ORDER BY created_us, hash",
	                   kind, principal, &st)) < 0 ||
	    (r = bind_int(st, 2, now_us)) < 0)
		return r;
	while ((r = step_row(st)) == 1) {
		struct store_cred_row c = {.cred.kind = kind};

		col_copy(st, 0, c.id, sizeof(c.id));
		col_copy(st, 1, c.cred.principal, sizeof(c.cred.principal));
		col_copy(st, 2, role, sizeof(role));
		c.cred.role = store_role_from_string(role);
		c.cred.expires_us = sqldb_col_int64(st, 3);
		c.created_by = sqldb_col_text(st, 4);
		c.created_us = sqldb_col_int64(st, 5);
		r = cb(&c, userdata);
		if (r < 0)
			return r;
	}
	return r < 0 ? r : 0;
}

static int sq_cred_revoke(struct store *base, enum store_cred_kind kind, const char *id, const char *principal,
                          char ret_principal[STORE_ID_MAX])
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	int r;

	if (strlen(id) != STORE_CRED_ID_LEN || strspn(id, "0123456789abcdef") != STORE_CRED_ID_LEN)
		return -ENOENT;
	if ((r = cred_stmt(base,
	                   "DELETE FROM creds WHERE kind = ?1 AND substr(hash, 1, 16) = ?2 "
	                   "AND (?3 IS NULL OR principal = ?3) RETURNING principal",
	                   kind, principal, &st)) < 0 ||
	    (r = bind_text(st, 2, id)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	col_copy(st, 0, ret_principal, STORE_ID_MAX);
	while ((r = step_row(st)) == 1) /* a 64-bit id prefix shared by two: both go */
		;
	return r < 0 ? r : 0;
}

_Static_assert(STORE_CRED_ID_LEN == 16, "the SQL above says 16");

static int sq_group_exists(struct store *base, const char *name)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	int r;

	if ((r = oneshot(
	             base,
	             "SELECT 1 WHERE EXISTS (SELECT 1 FROM groups WHERE name = ?1) OR "
	             "EXISTS (SELECT 1 FROM policies WHERE grp = ?1) OR EXISTS (SELECT 1 FROM devices WHERE grp = ?1)",
	             &st)) < 0 ||
	    (r = bind_text(st, 1, name)) < 0)
		return r;
	r = step_row(st);
	return r < 0 ? r : r == 1 ? 0 : -ENOENT;
}

static int sq_group_add(struct store *base, const char *name, const char *created_by, int64_t now_us)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	int r;

	if ((r = sq_group_exists(base, name)) != -ENOENT)
		return r < 0 ? r : -EEXIST;
	if ((r = oneshot(base, "INSERT INTO groups(name, created_by, created_us) VALUES (?1, ?2, ?3)", &st)) < 0 ||
	    (r = bind_text(st, 1, name)) < 0 || (r = bind_text(st, 2, created_by)) < 0 ||
	    (r = bind_int(st, 3, now_us)) < 0)
		return r;
	r = step_done(st);
	return r == -EEXIST ? -EEXIST : r;
}

/* ---- the media register (MEDIA-6, issue 16.5) ------------------------------------------------ */

/* The media table is versioned apart (meta media_format): a store written by
 * a newer server with another register format is refused, not guessed at. */
#define MEDIA_FORMAT "1"
static const char media_schema_sql[] =
        "CREATE TABLE IF NOT EXISTS media(mgmt_no TEXT PRIMARY KEY, department TEXT NOT NULL, owner TEXT NOT NULL,"
        " vendor TEXT NOT NULL, product TEXT NOT NULL, serial TEXT NOT NULL, registered TEXT NOT NULL,"
        " retired TEXT, created_by TEXT NOT NULL, created_us INTEGER NOT NULL, retired_by TEXT,"
        " retired_us INTEGER) WITHOUT ROWID;"
        "CREATE INDEX IF NOT EXISTS media_identity ON media(vendor, product, serial);"
        "CREATE INDEX IF NOT EXISTS events_type ON events(type, time_us);"
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('media_format', '" MEDIA_FORMAT "');";

static const char media_schema_pg[] =
        "CREATE TABLE IF NOT EXISTS media(mgmt_no " PG_TEXT " PRIMARY KEY, department TEXT NOT NULL,"
        " owner TEXT NOT NULL, vendor TEXT NOT NULL, product TEXT NOT NULL, serial TEXT NOT NULL,"
        " registered TEXT NOT NULL, retired TEXT, created_by TEXT NOT NULL, created_us BIGINT NOT NULL,"
        " retired_by TEXT, retired_us BIGINT);"
        "CREATE INDEX IF NOT EXISTS media_identity ON media(vendor, product, serial);"
        "CREATE INDEX IF NOT EXISTS events_type ON events(type, time_us);"
        "INSERT INTO meta(key, value) VALUES ('media_format', '" MEDIA_FORMAT "') ON CONFLICT DO NOTHING;";

static int media_schema(struct sq_store *s)
{
	char buf[16];
	int r = sqldb_exec(s->db, is_pg(s) ? media_schema_pg : media_schema_sql);

	if (r < 0)
		return r;
	r = sq_meta_get(&s->base, "media_format", buf, sizeof(buf));
	if (r < 0 && r != -ENOENT)
		return r;
	return r == 0 && strcmp(buf, MEDIA_FORMAT) == 0 ? 0 : -EPROTO;
}

/* The last verified media.sanitized record of the medium's identity, read
 * from the chain-verified events (canon: the record's canonical JSON). */
#define SQ_J(t, sp, pp) "json_extract(CAST(" t ".canon AS TEXT), '$." sp "')"
#define PG_J(t, sp, pp) "(convert_from(" t ".canon, 'UTF8')::json #>> '{" pp "}')"
#define MEDIA_SANITIZED_EVENT(J, TRUE)                                                                                             \
	"(SELECT id FROM events x WHERE x.type = 'media.sanitized' "                                                               \
	"AND " J(                                                                                                                  \
	        "x", "payload.verified",                                                                                           \
	        "payload,verified") " = " TRUE " "                                                                                 \
	                            "AND " J(                                                                                      \
	                                    "x", "payload.device.vendor",                                                          \
	                                    "payload,device,vendor") " = m.vendor "                                                \
	                                                             "AND " J(                                                     \
	                                                                     "x", "payload.device.product",                        \
	                                                                     "payload,device,product") " = m.product "             \
	                                                                                               "AND " J(                   \
	                                                                                                       "x",                \
	                                                                                                       "paylo"             \
	                                                                                                       "ad."               \
	                                                                                                       "devic"             \
	                                                                                                       "e."                \
	                                                                                                       "seria"             \
	                                                                                                       "l",                \
	                                                                                                       "paylo"             \
	                                                                                                       "ad,"               \
	                                                                                                       "devic"             \
	                                                                                                       "e,"                \
	                                                                                                       "seria"             \
	                                                                                                       "l") " = m.serial " \
	                                                                                                            "ORDER BY x.time_us DESC, x.id DESC LIMIT 1)"
#define MEDIA_LIST(J, TRUE)                                                                                            \
	"SELECT m.mgmt_no, m.department, m.owner, m.vendor, m.product, m.serial, m.registered,"                        \
	" coalesce(m.retired, ''), m.created_by, coalesce(e.time_us, 0), coalesce(e.terminal_id, ''),"                 \
	" coalesce(e.seq, 0), coalesce(" J(                                                                            \
	        "e", "payload.method",                                                                                 \
	        "payload,method") ", ''),"                                                                             \
	                          " coalesce(" J("e", "payload.user",                                                  \
	                                         "payload,user") ", '')"                                               \
	                                                         " FROM media m LEFT JOIN events e ON e.id "           \
	                                                         "= " MEDIA_SANITIZED_EVENT(                           \
	                                                                 J, TRUE) " ORDER BY m.mgmt_no"

static int sq_media_list(struct store *base, store_media_cb cb, void *userdata)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	int r;

	if ((r = oneshot(base, is_pg(SQ(base)) ? MEDIA_LIST(PG_J, "'true'") : MEDIA_LIST(SQ_J, "1"), &st)) < 0)
		return r;
	for (;;) {
		struct store_media m = {0};
		int rc = sqldb_step(st);

		if (rc <= 0)
			return rc;
		col_copy(st, 0, m.mgmt_no, sizeof(m.mgmt_no));
		col_copy(st, 1, m.department, sizeof(m.department));
		col_copy(st, 2, m.owner, sizeof(m.owner));
		col_copy(st, 3, m.vendor, sizeof(m.vendor));
		col_copy(st, 4, m.product, sizeof(m.product));
		col_copy(st, 5, m.serial, sizeof(m.serial));
		col_copy(st, 6, m.registered, sizeof(m.registered));
		col_copy(st, 7, m.retired, sizeof(m.retired));
		col_copy(st, 8, m.created_by, sizeof(m.created_by));
		m.sanitized_us = sqldb_col_int64(st, 9);
		col_copy(st, 10, m.sanitized_terminal, sizeof(m.sanitized_terminal));
		m.sanitized_seq = sqldb_col_int64(st, 11);
		col_copy(st, 12, m.sanitized_method, sizeof(m.sanitized_method));
		col_copy(st, 13, m.sanitized_by, sizeof(m.sanitized_by));
		r = cb(&m, userdata);
		if (r < 0)
			return r;
	}
}

/* The carry-out register (CARRY-2, issue 16.4): carry.out records with the
 * approved carry-out request their `approval` names — of the same terminal,
 * or department-wide for the terminal's department, never another terminal's
 * request of the same id — and the register's medium of their identity (a
 * medium in use before a retired one). ?1 terminal ("" = any), ?2 after
 * (event id), ?3 limit. */

/* A member of an event's canonical JSON, "payload.device.serial", as text
 * (SQ_J / PG_J above, the path given once) */
static int co_json(char *buf, size_t n, bool pg, const char *path)
{
	char pp[64];

	if (strscpy(pp, sizeof(pp), path) < 0)
		return -ENAMETOOLONG;
	for (char *c = pp; *c; c++)
		if (*c == '.')
			*c = ',';
	return pg ? xsnprintf(buf, n, "(convert_from(e.canon, 'UTF8')::json #>> '{%s}')", pp)
	          : xsnprintf(buf, n, "json_extract(CAST(e.canon AS TEXT), '$.%s')", path);
}

static int carry_out_sql(bool pg, char *sql, size_t n)
{
	static const char *const paths[] = {"payload.user",          "payload.path",          "payload.size",
	                                    "payload.sha256",        "payload.device.vendor", "payload.device.product",
	                                    "payload.device.serial", "payload.approval"};
	char j[ELEMENTSOF(paths)][96];

	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		if (co_json(j[i], sizeof(j[i]), pg, paths[i]) < 0)
			return -ENAMETOOLONG;
	return xsnprintf(
	        sql, n,
	        "SELECT e.id, e.terminal_id, e.seq, e.time_us, coalesce(%s, ''), coalesce(%s, ''),"
	        " coalesce(CAST(%s AS BIGINT), -1), coalesce(%s, ''), coalesce(%s, ''), coalesce(%s, ''),"
	        " coalesce(%s, ''), coalesce(%s, ''),"
	        " coalesce((SELECT m.mgmt_no FROM media m WHERE m.vendor = %s AND m.product = %s AND m.serial = %s"
	        " ORDER BY m.retired IS NULL DESC, m.created_us DESC LIMIT 1), ''),"
	        " coalesce(r.id, ''), coalesce(r.request_id, ''), coalesce(r.person, ''), coalesce(r.decided_by, ''),"
	        " coalesce(r.decided_us, 0), coalesce(r.not_after, 0), coalesce(%s, '')"
	        " FROM events e LEFT JOIN devices d ON d.terminal_id = e.terminal_id"
	        " LEFT JOIN requests r ON r.kind = 'carry-out' AND r.status IN ('approved', 'revoked')"
	        " AND 'request-' || r.request_id = %s"
	        " AND (r.terminal_id = e.terminal_id OR (r.scope = 'department' AND r.grp <> '' AND r.grp = d.dept))"
	        " WHERE e.type = 'carry.out' AND (?1 = '' OR e.terminal_id = ?1) AND e.id > ?2 ORDER BY e.id LIMIT ?3",
	        j[0], j[1], j[2], j[3], j[4], j[5], j[6], j[7], j[4], j[5], j[6],
	        pg ? "(r.body::json #>> '{purpose}')" : "json_extract(r.body, '$.purpose')", j[7]);
}

static int sq_carry_out_list(struct store *base, const char *terminal_id, int64_t after, unsigned limit,
                             store_carry_out_cb cb, void *userdata)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	char sql[4096];
	int r;

	if ((r = carry_out_sql(is_pg(SQ(base)), sql, sizeof(sql))) < 0 || (r = oneshot(base, sql, &st)) < 0 ||
	    (r = bind_text(st, 1, terminal_id ?: "")) < 0 || (r = bind_int(st, 2, after)) < 0 ||
	    (r = bind_int(st, 3, limit)) < 0)
		return r;
	for (;;) {
		struct store_carry_out c = {0};
		int rc = sqldb_step(st);

		if (rc <= 0)
			return rc;
		c.event_id = sqldb_col_int64(st, 0);
		col_copy(st, 1, c.terminal_id, sizeof(c.terminal_id));
		c.seq = (uint64_t)sqldb_col_int64(st, 2);
		c.time_us = sqldb_col_int64(st, 3);
		col_copy(st, 4, c.user, sizeof(c.user));
		col_copy(st, 5, c.path, sizeof(c.path));
		c.size = sqldb_col_int64(st, 6);
		col_copy(st, 7, c.sha256, sizeof(c.sha256));
		col_copy(st, 8, c.vendor, sizeof(c.vendor));
		col_copy(st, 9, c.product, sizeof(c.product));
		col_copy(st, 10, c.serial, sizeof(c.serial));
		col_copy(st, 11, c.approval, sizeof(c.approval));
		col_copy(st, 12, c.mgmt_no, sizeof(c.mgmt_no));
		col_copy(st, 13, c.request_sid, sizeof(c.request_sid));
		col_copy(st, 14, c.request_id, sizeof(c.request_id));
		col_copy(st, 15, c.requester, sizeof(c.requester));
		col_copy(st, 16, c.approved_by, sizeof(c.approved_by));
		c.approved_us = sqldb_col_int64(st, 17);
		c.not_after = sqldb_col_int64(st, 18);
		col_copy(st, 19, c.purpose, sizeof(c.purpose));
		r = cb(&c, userdata);
		if (r < 0)
			return r;
	}
}

static int media_add_one(struct store *base, const struct store_media *m, const char *by, int64_t now_us)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	int r;

	if ((r = oneshot(base,
	                 "SELECT 1 FROM media WHERE mgmt_no = ?1 OR (vendor = ?2 AND product = ?3 AND serial = ?4 "
	                 "AND retired IS NULL)",
	                 &st)) < 0 ||
	    (r = bind_text(st, 1, m->mgmt_no)) < 0 || (r = bind_text(st, 2, m->vendor)) < 0 ||
	    (r = bind_text(st, 3, m->product)) < 0 || (r = bind_text(st, 4, m->serial)) < 0)
		return r;
	r = step_row(st);
	if (r != 0)
		return r < 0 ? r : -EEXIST;
	sqldb_finalize(TAKE_PTR(st));
	if ((r = oneshot(base,
	                 "INSERT INTO media(mgmt_no, department, owner, vendor, product, serial, registered, retired,"
	                 " created_by, created_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	                 &st)) < 0 ||
	    (r = bind_text(st, 1, m->mgmt_no)) < 0 || (r = bind_text(st, 2, m->department)) < 0 ||
	    (r = bind_text(st, 3, m->owner)) < 0 || (r = bind_text(st, 4, m->vendor)) < 0 ||
	    (r = bind_text(st, 5, m->product)) < 0 || (r = bind_text(st, 6, m->serial)) < 0 ||
	    (r = bind_text(st, 7, m->registered)) < 0 ||
	    (r = bind_text(st, 8, m->retired[0] ? m->retired : NULL)) < 0 || (r = bind_text(st, 9, by)) < 0 ||
	    (r = bind_int(st, 10, now_us)) < 0)
		return r;
	return step_done(st);
}

static int sq_media_add(struct store *base, const struct store_media *rows, size_t n, const char *by, int64_t now_us,
                        size_t *ret_bad)
{
	struct sq_store *s = SQ(base);
	int r = txn_begin(s, true);

	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = media_add_one(base, &rows[i], by, now_us);
		if (r < 0 && ret_bad)
			*ret_bad = i;
	}
	return txn_end(s, r);
}

static int sq_media_retire(struct store *base, const char *mgmt_no, const char *date, const char *by, int64_t now_us)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	int r;

	if ((r = oneshot(base, "SELECT retired IS NOT NULL FROM media WHERE mgmt_no = ?1", &st)) < 0 ||
	    (r = bind_text(st, 1, mgmt_no)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	if (sqldb_col_int64(st, 0))
		return -EALREADY;
	sqldb_finalize(TAKE_PTR(st));
	if ((r = oneshot(base,
	                 "UPDATE media SET retired = ?2, retired_by = ?3, retired_us = ?4 WHERE mgmt_no = ?1 "
	                 "AND retired IS NULL",
	                 &st)) < 0 ||
	    (r = bind_text(st, 1, mgmt_no)) < 0 || (r = bind_text(st, 2, date)) < 0 || (r = bind_text(st, 3, by)) < 0 ||
	    (r = bind_int(st, 4, now_us)) < 0)
		return r;
	return step_done(st);
}

/* ---- backups (issue 18.5) ---- */

static int sq_backup(struct store *base, const char *file)
{
	int r = sqldb_backup(SQ(base)->db, file);

	if (r < 0 && r != -EEXIST)
		log_error("store: backup to %s: %s", file, sqldb_errmsg(SQ(base)->db));
	return r;
}

static int restore_into(struct sqldb *db, const char *file)
{
	int r = sqldb_restore(db, file);

	if (r < 0 && r != -EEXIST && r != -EPROTO)
		log_error("store: restore from %s: %s", file, sqldb_errmsg(db));
	sqldb_close(db);
	return r;
}

static int sq_restore(const char *where, const char *file)
{
	struct sqldb *db = NULL;
	int r = sqldb_open_sqlite(where, &db);

	return r < 0 ? r : restore_into(db, file);
}

static int pg_restore_op(const char *where, const char *file)
{
	_cleanup_free_ char *uri = NULL;
	struct sqldb *db = NULL;
	int r;

	if ((r = pg_uri(where, &uri)) < 0 || (r = sqldb_open_pg(uri, &db)) < 0)
		return r;
	return restore_into(db, file);
}

/* ---- dashboard sessions and login throttles, shared by instances (issue 18.3) ---- */

static int sq_web_session_add(struct store *base, const char *hash, int64_t now_us)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	int r;

	if ((r = oneshot(base,
	                 "INSERT INTO web_sessions(hash, last_us) VALUES (?1, ?2) "
	                 "ON CONFLICT(hash) DO UPDATE SET last_us = excluded.last_us",
	                 &st)) < 0 ||
	    (r = bind_text(st, 1, hash)) < 0 || (r = bind_int(st, 2, now_us)) < 0)
		return r;
	return step_done(st);
}

/* Delete a dashboard session and its credential (in the caller's transaction). */
static int web_session_del(struct store *base, const char *hash)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	int r;

	if ((r = oneshot(base, "DELETE FROM web_sessions WHERE hash = ?1", &st)) < 0 ||
	    (r = bind_text(st, 1, hash)) < 0 || (r = step_done(st)) < 0)
		return r;
	return sq_cred_delete(base, hash);
}

static int sq_web_session_end(struct store *base, const char *hash)
{
	struct sq_store *s = SQ(base);
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	return txn_end(s, web_session_del(base, hash));
}

static int sq_web_session_touch(struct store *base, const char *hash, int64_t now_us, int64_t idle_us)
{
	_cleanup_(finalizep) struct sqldb_stmt *up = NULL, *sel = NULL;
	struct sq_store *s = SQ(base);
	int r;

	if (idle_us <= 0)
		return -EINVAL;
	/* a last use is state, not evidence: no fsync for it (SQLite) */
	if ((r = txn_begin(s, false)) < 0)
		return r;
	/* used within idle_us: its last use moves forward (never back: another
	 * instance's clock may be a little behind) */
	if ((r = oneshot(base,
	                 "UPDATE web_sessions SET last_us = CASE WHEN last_us > ?2 THEN last_us ELSE ?2 END "
	                 "WHERE hash = ?1 AND last_us >= ?3",
	                 &up)) < 0 ||
	    (r = bind_text(up, 1, hash)) < 0 || (r = bind_int(up, 2, now_us)) < 0 ||
	    (r = bind_int(up, 3, now_us - idle_us)) < 0 || (r = step_done(up)) < 0)
		return txn_end(s, r);
	if (sqldb_changes(s->db) == 1)
		return txn_end(s, 0);
	if ((r = oneshot(base, "SELECT 1 FROM web_sessions WHERE hash = ?1", &sel)) < 0 ||
	    (r = bind_text(sel, 1, hash)) < 0 || (r = step_row(sel)) < 0)
		return txn_end(s, r);
	sqldb_finalize(TAKE_PTR(sel));
	if (r == 0)
		return txn_end(s, -ENOENT);
	/* there, and unused for longer than idle_us: it ends now */
	if ((r = txn_end(s, web_session_del(base, hash))) < 0)
		return r;
	return -ETIMEDOUT;
}

static int sq_web_session_purge(struct store *base, int64_t now_us, int64_t idle_us, unsigned *ret_n)
{
	_cleanup_(finalizep) struct sqldb_stmt *c = NULL, *w = NULL;
	struct sq_store *s = SQ(base);
	unsigned n = 0;
	int r = txn_begin(s, true);

	if (r < 0)
		return r;
	if ((r = oneshot(base, "DELETE FROM creds WHERE hash IN (SELECT hash FROM web_sessions WHERE last_us < ?1)",
	                 &c)) < 0 ||
	    (r = bind_int(c, 1, now_us - idle_us)) < 0 || (r = step_done(c)) < 0)
		goto out;
	n = (unsigned)sqldb_changes(s->db);
	if ((r = oneshot(base,
	                 "DELETE FROM web_sessions WHERE last_us < ?1 OR NOT EXISTS "
	                 "(SELECT 1 FROM creds WHERE creds.hash = web_sessions.hash)",
	                 &w)) < 0 ||
	    (r = bind_int(w, 1, now_us - idle_us)) < 0 || (r = step_done(w)) < 0)
		goto out;
out:
	r = txn_end(s, r);
	if (r == 0 && ret_n)
		*ret_n = n;
	return r;
}

static bool throttle_kind_valid(const char *kind)
{
	return kind && (strcmp(kind, "src") == 0 || strcmp(kind, "acct") == 0);
}

static int throttle_read(struct store *base, const char *kind, const char *key, bool for_update,
                         struct throttle_state *ret)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	int r;

	if ((r = oneshot(base,
	                 for_update && is_pg(SQ(base))
	                         ? "SELECT level_us, updated_us, locked_until_us, lock_count FROM throttles "
	                           "WHERE kind = ?1 AND key = ?2 FOR UPDATE"
	                         : "SELECT level_us, updated_us, locked_until_us, lock_count FROM throttles "
	                           "WHERE kind = ?1 AND key = ?2",
	                 &st)) < 0 ||
	    (r = bind_text(st, 1, kind)) < 0 || (r = bind_text(st, 2, key)) < 0)
		return r;
	r = step_row(st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	*ret = (struct throttle_state){.level_us = sqldb_col_int64(st, 0),
	                               .updated_us = sqldb_col_int64(st, 1),
	                               .locked_until_us = sqldb_col_int64(st, 2),
	                               .over = (unsigned)sqldb_col_int64(st, 3)};
	return 0;
}

static int sq_throttle_check(struct store *base, const char *kind, const char *key, int64_t now_us,
                             int64_t *ret_wait_us)
{
	struct throttle_state t;
	int r;

	if (!throttle_kind_valid(kind) || !key)
		return -EINVAL;
	r = throttle_read(base, kind, key, false, &t);
	if (r < 0 && r != -ENOENT)
		return r;
	*ret_wait_us = r == -ENOENT ? 0 : throttle_state_wait(&t, now_us);
	return 0;
}

/* Read, count and write back under the row's lock: two instances counting
 * one key at once both count (SQLite: BEGIN IMMEDIATE holds the writer
 * lock; PostgreSQL: the row is made first, then locked FOR UPDATE). */
static int sq_throttle_fail(struct store *base, const char *kind, const char *key, const struct throttle_policy *p,
                            int64_t now_us)
{
	_cleanup_(finalizep) struct sqldb_stmt *ins = NULL, *up = NULL;
	struct sq_store *s = SQ(base);
	struct throttle_state t;
	int r;

	if (!throttle_kind_valid(kind) || !key || !p)
		return -EINVAL;
	if ((r = txn_begin(s, false)) < 0)
		return r;
	if ((r = oneshot(base,
	                 "INSERT INTO throttles(kind, key, level_us, updated_us, locked_until_us, lock_count) "
	                 "VALUES (?1, ?2, 0, ?3, 0, 0) ON CONFLICT DO NOTHING",
	                 &ins)) < 0 ||
	    (r = bind_text(ins, 1, kind)) < 0 || (r = bind_text(ins, 2, key)) < 0 ||
	    (r = bind_int(ins, 3, now_us)) < 0 || (r = step_done(ins)) < 0 ||
	    (r = throttle_read(base, kind, key, true, &t)) < 0)
		return txn_end(s, r);
	throttle_state_fail(p, &t, now_us);
	if ((r = oneshot(base,
	                 "UPDATE throttles SET level_us = ?3, updated_us = ?4, locked_until_us = ?5, lock_count = ?6 "
	                 "WHERE kind = ?1 AND key = ?2",
	                 &up)) < 0 ||
	    (r = bind_text(up, 1, kind)) < 0 || (r = bind_text(up, 2, key)) < 0 ||
	    (r = bind_int(up, 3, t.level_us)) < 0 || (r = bind_int(up, 4, t.updated_us)) < 0 ||
	    (r = bind_int(up, 5, t.locked_until_us)) < 0 || (r = bind_int(up, 6, (int64_t)t.over)) < 0)
		return txn_end(s, r);
	return txn_end(s, step_done(up));
}

static int sq_throttle_clear(struct store *base, const char *kind, const char *key)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	int r;

	if (!throttle_kind_valid(kind) || !key)
		return -EINVAL;
	if ((r = oneshot(base, "DELETE FROM throttles WHERE kind = ?1 AND key = ?2", &st)) < 0 ||
	    (r = bind_text(st, 1, kind)) < 0 || (r = bind_text(st, 2, key)) < 0)
		return r;
	return step_done(st);
}

/* throttle_state_idle() in SQL: unlocked and the bucket drained */
static int sq_throttle_purge(struct store *base, int64_t now_us, unsigned *ret_n)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	int r;

	if ((r = oneshot(base, "DELETE FROM throttles WHERE locked_until_us <= ?1 AND ?1 - updated_us >= level_us",
	                 &st)) < 0 ||
	    (r = bind_int(st, 1, now_us)) < 0 || (r = step_done(st)) < 0)
		return r;
	if (ret_n)
		*ret_n = (unsigned)sqldb_changes(SQ(base)->db);
	return 0;
}

#define STORE_SQL_SHARED_OPS                                                                                           \
	.web_session_add = sq_web_session_add, .web_session_touch = sq_web_session_touch,                              \
	.web_session_end = sq_web_session_end, .web_session_purge = sq_web_session_purge,                              \
	.throttle_check = sq_throttle_check, .throttle_fail = sq_throttle_fail, .throttle_clear = sq_throttle_clear,   \
	.throttle_purge = sq_throttle_purge,

/* ---- retention: archived records (issue 18.5, LOG-1; archive.h) ---- */

static int sq_events_oldest(struct store *base, const char *terminal_id, unsigned limit, store_event_cb cb,
                            void *userdata)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	struct store_event_row e;
	int r;

	r = oneshot(base,
	            "SELECT id, terminal_id, seq, hash, received_us, canon, time_us, type FROM events"
	            " WHERE terminal_id = ?1 AND seq < (SELECT head_seq FROM devices WHERE terminal_id = ?1)"
	            " ORDER BY seq LIMIT ?2",
	            &st);
	if (r < 0 || (r = bind_text(st, 1, terminal_id)) < 0 || (r = bind_int(st, 2, limit)) < 0)
		return r;
	while ((r = sqldb_step(st)) == 1) {
		e = (struct store_event_row){
		        .id = sqldb_col_int64(st, 0),
		        .terminal_id = sqldb_col_text(st, 1),
		        .seq = (uint64_t)sqldb_col_int64(st, 2),
		        .hash = sqldb_col_text(st, 3),
		        .received_us = sqldb_col_int64(st, 4),
		        .canon = sqldb_col_blob(st, 5),
		        .canon_len = (size_t)sqldb_col_bytes(st, 5),
		        .time_us = sqldb_col_int64(st, 6),
		        .type = sqldb_col_text(st, 7),
		};
		if ((r = cb(&e, userdata)) < 0)
			break;
	}
	return r < 0 ? r : 0;
}

#define ARCHIVE_COLS                                                                                                   \
	"terminal_id, first_seq, last_seq, n_records, first_received_us, last_received_us, prev_hash, last_hash, "     \
	"file, sha256, bytes, created_us"

static void archive_row(struct sqldb_stmt *st, struct store_archive *a)
{
	*a = (struct store_archive){
	        .first_seq = (uint64_t)sqldb_col_int64(st, 1),
	        .last_seq = (uint64_t)sqldb_col_int64(st, 2),
	        .n_records = (uint64_t)sqldb_col_int64(st, 3),
	        .first_received_us = sqldb_col_int64(st, 4),
	        .last_received_us = sqldb_col_int64(st, 5),
	        .bytes = (uint64_t)sqldb_col_int64(st, 10),
	        .created_us = sqldb_col_int64(st, 11),
	};
	col_copy(st, 0, a->terminal_id, sizeof(a->terminal_id));
	col_copy(st, 6, a->prev_hash, sizeof(a->prev_hash));
	col_copy(st, 7, a->last_hash, sizeof(a->last_hash));
	col_copy(st, 8, a->file, sizeof(a->file));
	col_copy(st, 9, a->sha256, sizeof(a->sha256));
}

/* One row of integers (or a text in column 0 when ret_text): the checks of
 * archive_add. */
static int archive_query(struct store *base, const char *sql, const struct store_archive *a, int64_t ret[3],
                         char *ret_text, size_t textsz)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	int r = oneshot(base, sql, &st);

	if (r < 0 || (r = bind_text(st, 1, a->terminal_id)) < 0 || (r = bind_int(st, 2, (int64_t)a->first_seq)) < 0 ||
	    (r = bind_int(st, 3, (int64_t)a->last_seq)) < 0)
		return r;
	if ((r = sqldb_step(st)) <= 0)
		return r < 0 ? r : -ENOENT;
	if (ret_text)
		col_copy(st, 0, ret_text, textsz);
	else
		for (int i = 0; i < 3; i++)
			ret[i] = sqldb_col_int64(st, i);
	return 0;
}

static int sq_archive_add(struct store *base, const struct store_archive *a)
{
	struct sq_store *s = SQ(base);
	_cleanup_(finalizep) struct sqldb_stmt *ins = NULL;
	char last_hash[STORE_HASH_HEX] = "", prev[STORE_HASH_HEX] = "";
	int64_t n[3];
	int r;

	if (a->first_seq == 0 || a->last_seq < a->first_seq || a->n_records == 0 || strchr(a->file, '/'))
		return -EINVAL;
	if ((r = txn_begin(s, true)) < 0)
		return r;
	/* one archiver at a time per database (several servers may run) */
	if ((r = run(s, Q_LOCK)) < 0)
		goto out;
	/* the records to move are still exactly those written to the file, and
	 * none is held before them (the archive takes the oldest) */
	r = archive_query(base,
	                  "SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM events"
	                  " WHERE terminal_id = ?1 AND seq <= ?3 AND ?2 > 0",
	                  a, n, NULL, 0);
	if (r < 0)
		goto out;
	if ((uint64_t)n[0] != a->n_records || (uint64_t)n[1] != a->first_seq || (uint64_t)n[2] != a->last_seq) {
		r = -ESTALE;
		goto out;
	}
	r = archive_query(base, "SELECT hash FROM events WHERE terminal_id = ?1 AND seq = ?3 AND ?2 > 0", a, NULL,
	                  last_hash, sizeof(last_hash));
	if (r < 0 || strcmp(last_hash, a->last_hash) != 0) {
		r = r < 0 && r != -ENOENT ? r : -ESTALE;
		goto out;
	}
	/* and it follows the terminal's last archive */
	r = archive_query(base,
	                  "SELECT last_hash FROM archives WHERE terminal_id = ?1 AND ?2 > 0 AND ?3 > 0"
	                  " ORDER BY first_seq DESC LIMIT 1",
	                  a, NULL, prev, sizeof(prev));
	if (r < 0 && r != -ENOENT)
		goto out;
	if (strcmp(prev, a->prev_hash) != 0) {
		r = -ESTALE;
		goto out;
	}
	r = oneshot(base,
	            "INSERT INTO archives(" ARCHIVE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	            &ins);
	if (r < 0 || (r = bind_text(ins, 1, a->terminal_id)) < 0 || (r = bind_int(ins, 2, (int64_t)a->first_seq)) < 0 ||
	    (r = bind_int(ins, 3, (int64_t)a->last_seq)) < 0 || (r = bind_int(ins, 4, (int64_t)a->n_records)) < 0 ||
	    (r = bind_int(ins, 5, a->first_received_us)) < 0 || (r = bind_int(ins, 6, a->last_received_us)) < 0 ||
	    (r = bind_text(ins, 7, a->prev_hash)) < 0 || (r = bind_text(ins, 8, a->last_hash)) < 0 ||
	    (r = bind_text(ins, 9, a->file)) < 0 || (r = bind_text(ins, 10, a->sha256)) < 0 ||
	    (r = bind_int(ins, 11, (int64_t)a->bytes)) < 0 || (r = bind_int(ins, 12, a->created_us)) < 0 ||
	    (r = step_done(ins)) < 0)
		goto out;
	{
		_cleanup_(finalizep) struct sqldb_stmt *del = NULL;

		r = oneshot(base, "DELETE FROM events WHERE terminal_id = ?1 AND seq >= ?2 AND seq <= ?3", &del);
		if (r < 0 || (r = bind_text(del, 1, a->terminal_id)) < 0 ||
		    (r = bind_int(del, 2, (int64_t)a->first_seq)) < 0 ||
		    (r = bind_int(del, 3, (int64_t)a->last_seq)) < 0 || (r = step_done(del)) < 0)
			goto out;
		if ((uint64_t)sqldb_changes(s->db) != a->n_records)
			r = -ESTALE;
	}
out:
	return txn_end(s, r);
}

static int sq_archive_list(struct store *base, const char *terminal_id, store_archive_cb cb, void *userdata)
{
	_cleanup_(finalizep) struct sqldb_stmt *st = NULL;
	struct store_archive a;
	int r = oneshot(base,
	                "SELECT " ARCHIVE_COLS " FROM archives WHERE ?1 IS NULL OR terminal_id = ?1"
	                " ORDER BY terminal_id, first_seq",
	                &st);

	if (r < 0 || (r = bind_text(st, 1, terminal_id)) < 0)
		return r;
	while ((r = sqldb_step(st)) == 1) {
		archive_row(st, &a);
		if ((r = cb(&a, userdata)) < 0)
			break;
	}
	return r < 0 ? r : 0;
}

/* Every operation but open and restore is the same on both engines. */
#define STORE_SQL_OPS                                                                                                  \
	.group_begin = sq_group_begin, .group_end = sq_group_end, .backup = sq_backup, .close = sq_close,              \
	.meta_get = sq_meta_get, .meta_set = sq_meta_set, .meta_delete = sq_meta_delete, .token_add = sq_token_add,    \
	.token_peek = sq_token_peek, .enroll = sq_enroll, .cert_add = sq_cert_add, .cert_renew = sq_cert_renew,        \
	.cred_purge = sq_cred_purge, .account_disable = sq_account_disable,                                            \
	.account_set_password = sq_account_set_password, .audit_verify = sq_audit_verify,                              \
	.account_activate = sq_account_activate, .event_hash = sq_event_hash,                                          \
	.chain_restart_ack = sq_chain_restart_ack, .cert_get = sq_cert_get, .device_revoke = sq_device_revoke,         \
	.device_retire = sq_device_retire, .device_get = sq_device_get, .device_list = sq_device_list,                 \
	.device_report = sq_device_report, .checkin_many = sq_checkin_many, .chain_get = sq_chain_get,                 \
	.event_same = sq_event_same, .events_append = sq_events_append, .events_list = sq_events_list,                 \
	.finding_add = sq_finding_add, .findings_list = sq_findings_list, .account_add = sq_account_add,               \
	.account_get = sq_account_get, .account_count = sq_account_count, .account_list = sq_account_list,             \
	.cred_add = sq_cred_add, .cred_get = sq_cred_get, .cred_delete = sq_cred_delete,                               \
	.policy_put_pending = sq_policy_put_pending, .policy_get = sq_policy_get, .policy_publish = sq_policy_publish, \
	.policy_current = sq_policy_current, .group_list = sq_group_list, .audit_add = sq_audit_add,                   \
	.audit_list = sq_audit_list, .command_add = sq_command_add, .command_get = sq_command_get,                     \
	.command_set = sq_command_set, .command_list = sq_command_list, .command_deliver = sq_command_deliver,         \
	.command_expire = sq_command_expire, .request_add = sq_request_add, .request_get = sq_request_get,             \
	.request_decide = sq_request_decide, .request_list = sq_request_list, .checkin_reads = sq_checkin_reads,       \
	.grants_raise = sq_grants_raise, .cred_list = sq_cred_list, .cred_revoke = sq_cred_revoke,                     \
	.group_add = sq_group_add, .group_exists = sq_group_exists, .media_list = sq_media_list,                       \
	.media_add = sq_media_add, .media_retire = sq_media_retire, .carry_out_list = sq_carry_out_list,               \
	.device_set_department = sq_device_set_department, .device_page = sq_device_page, .daily_put = sq_daily_put,   \
	.daily_list = sq_daily_list, .cert_list = sq_cert_list, .command_counts = sq_command_counts,                   \
	.events_oldest = sq_events_oldest, .archive_add = sq_archive_add, .archive_list = sq_archive_list,             \
	STORE_SQL_SHARED_OPS

const struct store_ops store_sqlite_ops = {
        .name = "sqlite", .scheme = "sqlite:", .open = sq_open, .restore = sq_restore, STORE_SQL_OPS};

const struct store_ops store_pg_ops = {
        .name = "postgresql", .scheme = "postgresql:", .open = pg_open, .restore = pg_restore_op, STORE_SQL_OPS};
