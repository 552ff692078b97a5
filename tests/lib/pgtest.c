/* tests/lib/pgtest.c — a real PostgreSQL 15 cluster for tests (pgtest.h);
 * the commands run without a shell (fork/exec). */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pgtest.h"
#include "testutil.h"

#define PGBIN "/usr/lib/postgresql/15/bin/"

static int run(char *const argv[])
{
	int status = 0;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0 && getenv("PGTEST_VERBOSE") == NULL)
			(void)dup2(null, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* argv run as the postgres user (runuser, no shell). */
static int run_as_postgres(const char *const argv[])
{
	char *a[24] = {"/usr/sbin/runuser", "-u", "postgres", "--"};
	size_t n = 4;

	for (; *argv; argv++) {
		if (n + 1 >= sizeof(a) / sizeof(a[0]))
			return -E2BIG;
		a[n++] = (char *)*argv;
	}
	a[n] = NULL;
	return run(a);
}

/* pg_ctl -D DIR/data -w [opts…] action, as postgres. */
static int pg_ctl(const struct pgt *p, const char *action, const char *const opts[])
{
	const char *argv[16] = {PGBIN "pg_ctl", "-D", NULL, "-w"};
	char data[512];
	size_t n = 4;

	snprintf(data, sizeof(data), "%s/data", p->dir);
	argv[2] = data;
	for (; opts && *opts; opts++) {
		if (n + 2 >= sizeof(argv) / sizeof(argv[0]))
			return -E2BIG;
		argv[n++] = *opts;
	}
	argv[n++] = action;
	argv[n] = NULL;
	return run_as_postgres(argv);
}

void pgt_start(struct pgt *p)
{
	struct passwd *pw = getpwnam("postgres");
	char data[512], log[512], opts[700];

	assert_non_null(pw); /* Debian's postgresql package (installer/deps.sh, check) */
	p->dir = tu_mkdtemp();
	p->dbs = 0;
	assert_int_equal(chmod(p->dir, 0755), 0);
	assert_int_equal(chown(p->dir, pw->pw_uid, pw->pw_gid), 0);
	snprintf(data, sizeof(data), "%s/data", p->dir);
	snprintf(log, sizeof(log), "%s/log", p->dir);
	snprintf(opts, sizeof(opts), "-k %s -c listen_addresses='' -c fsync=off -c max_connections=40", p->dir);
	const char *const initdb[] = {PGBIN "initdb", "-D",   data,        "-A", "trust",    "--locale=C",
	                              "-E",           "UTF8", "--no-sync", "-U", "postgres", NULL};
	assert_int_equal(run_as_postgres(initdb), 0);
	assert_int_equal(pg_ctl(p, "start", (const char *const[]){"-l", log, "-o", opts, NULL}), 0);
}

void pgt_restart(struct pgt *p)
{
	assert_int_equal(pg_ctl(p, "restart", (const char *const[]){"-m", "fast", NULL}), 0);
}

void pgt_stop(struct pgt *p)
{
	if (!p->dir)
		return;
	(void)pg_ctl(p, "stop", (const char *const[]){"-m", "fast", NULL});
	tu_rmtree(p->dir);
	free(p->dir);
	p->dir = NULL;
}

static void psql(const struct pgt *p, const char *db, const char *sql)
{
	char *argv[] = {"/usr/bin/psql", "-X", "-q",       "-v", "ON_ERROR_STOP=1", "-h", p->dir, "-U",
	                "postgres",      "-d", (char *)db, "-c", (char *)sql,       NULL};

	if (run(argv) != 0)
		fail_msg("psql %s: %s", db, sql);
}

void pgt_newdb(struct pgt *p, char *url, size_t urlsz)
{
	char name[32], sql[64];

	snprintf(name, sizeof(name), "t%u", ++p->dbs);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	psql(p, "postgres", sql);
	snprintf(url, urlsz, "postgresql:///%s?host=%s&user=postgres", name, p->dir);
}

void pgt_sql(const struct pgt *p, const char *url, const char *sql)
{
	char db[32];
	const char *n = strstr(url, ":///");

	assert_non_null(n);
	n += 4;
	snprintf(db, sizeof(db), "%.*s", (int)strcspn(n, "?"), n);
	psql(p, db, sql);
}
