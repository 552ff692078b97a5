/* server-api/store.c — picks the store backend for a URL, and the names of
 * the store's enums (mamori-server). Backends: store_sql.c on SQLite
 * (store_sqlite_ops) or PostgreSQL (store_pg_ops). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_pg.h"
#include "store_sqlite.h"
#include "strutil.h"

static const struct store_ops *const backends[] = {
        &store_sqlite_ops,
        &store_pg_ops,
};

/* The backend of url and where its text after the scheme starts. */
static const struct store_ops *backend_of(const char *url, const char **ret_where)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (startswith(url, backends[i]->scheme)) {
			*ret_where = url + strlen(backends[i]->scheme);
			return backends[i];
		}
	*ret_where = url;
	return url[0] == '/' || url[0] == '.' ? &store_sqlite_ops : NULL; /* a bare path: the embedded default */
}

int store_open(const char *url, struct store **ret)
{
	const struct store_ops *ops;
	const char *where;

	if (!url || !*url)
		return -EINVAL;
	ops = backend_of(url, &where);
	return ops ? ops->open(where, ret) : -EPROTONOSUPPORT;
}

int store_restore(const char *url, const char *file)
{
	const struct store_ops *ops;
	const char *where;

	if (!url || !*url || !file || !*file)
		return -EINVAL;
	ops = backend_of(url, &where);
	return ops ? ops->restore(where, file) : -EPROTONOSUPPORT;
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

static const char *const role_names[_ROLE_MAX] = {
        [ROLE_VIEWER] = "viewer",
        [ROLE_OPERATOR] = "operator",
        [ROLE_APPROVER] = "approver",
        [ROLE_CISO] = "ciso",
};

const char *store_role_to_string(enum store_role r)
{
	return r >= 0 && r < _ROLE_MAX ? role_names[r] : NULL;
}

enum store_role store_role_from_string(const char *s)
{
	for (int i = 0; s && i < _ROLE_MAX; i++)
		if (strcmp(s, role_names[i]) == 0)
			return (enum store_role)i;
	return _ROLE_INVALID;
}

static const char *const finding_names[_FINDING_MAX] = {
        [FINDING_CHAIN_GAP] = "chain_gap",
        [FINDING_CHAIN_FORK] = "chain_fork",
        [FINDING_HASH_MISMATCH] = "hash_mismatch",
        [FINDING_CHAIN_RESTART] = "chain_restart",
        [FINDING_CHAIN_START_UNVERIFIED] = "chain_start_unverified",
        [FINDING_EVENTS_LOST] = "events_lost",
        [FINDING_FUTURE_TIME] = "future_time",
};

const char *store_finding_to_string(enum store_finding_kind k)
{
	return k >= 0 && k < _FINDING_MAX ? finding_names[k] : "unknown";
}

void store_policy_clear(struct store_policy *p)
{
	if (!p)
		return;
	free(p->document);
	p->document = NULL;
	p->document_len = 0;
}
