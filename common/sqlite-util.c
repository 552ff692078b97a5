/* common/sqlite-util.c — SQLite result codes as negative errno (the journal
 * in mamori-worker and mamorictl, the server's store in mamori-server). */
#include <errno.h>

#include <sqlite3.h>

#include "sqlite-util.h"

int sql_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	default:
		return -EIO;
	}
}

int sql_errno_untrusted(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FORMAT:
	case SQLITE_SCHEMA:
	case SQLITE_MISMATCH:
	case SQLITE_ERROR: /* no such table/column: not our schema */
		return -EBADMSG;
	default:
		return sql_errno(rc);
	}
}
