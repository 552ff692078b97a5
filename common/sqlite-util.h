/* common/sqlite-util.h — SQLite result codes as negative errno (any process
 * that opens an SQLite file: mamori-worker's journal, mamorictl, the server's
 * store). Utility code: never logs. */
#ifndef MAMORI_SQLITE_UTIL_H
#define MAMORI_SQLITE_UTIL_H

/* 0 for SQLITE_OK/ROW/DONE; -ENOMEM, -EBUSY (busy, locked), -EROFS, -ENOSPC,
 * -ENOENT (cannot open), -EACCES (perm, auth), -EEXIST (constraint), -E2BIG,
 * -EBADMSG (corrupt, not a database), -EIO for anything else. Extended codes
 * map as their primary code. */
int sql_errno(int rc);

/* sql_errno for a file that may not be ours (the journal, read back after a
 * crash, copied or tampered with): a schema that is not ours (SQLITE_ERROR
 * "no such table", SCHEMA, MISMATCH, FORMAT) is bad data too, -EBADMSG. */
int sql_errno_untrusted(int rc);

#endif
