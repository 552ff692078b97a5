/* tests/lib/pgtest.h — a real PostgreSQL 15 cluster for a test (issue 18):
 * made by initdb as the `postgres` user (initdb refuses root) in a temporary
 * directory, listening on a unix socket in that directory only (no TCP
 * port), stopped and removed by pgt_stop(). Failures end the test (cmocka). */
#ifndef MAMORI_PGTEST_H
#define MAMORI_PGTEST_H

#include <stddef.h>

struct pgt {
	char *dir; /* the cluster (data/), its log and its socket */
	unsigned dbs;
};

void pgt_start(struct pgt *p);
void pgt_stop(struct pgt *p);
/* Stop the cluster (fast: connections are cut) and start it again. */
void pgt_restart(struct pgt *p);
/* A new empty database; its store URL ("postgresql:///NAME?host=…") in url. */
void pgt_newdb(struct pgt *p, char *url, size_t urlsz);
/* Run SQL on the database of a store URL from pgt_newdb (psql, stops at the first error). */
void pgt_sql(const struct pgt *p, const char *url, const char *sql);

#endif
