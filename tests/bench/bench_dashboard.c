/* tests/bench/bench_dashboard.c — `make bench`: the dashboard API's latency
 * with BENCH_DASH_TERMINALS (10,000) terminals and BENCH_DASH_EVENTS
 * (1,000,000) events in a real SQLite store (bench program). The store is
 * filled through the store interface (enroll, check-ins with a compliance
 * summary, event batches), then the real routing and handlers
 * (api_dashboard.c) are called in-process through http_local_request — no
 * TLS or socket, the handler's own cost — and p50/p99 are printed for the
 * terminal list (first page, sorted by last contact; a filtered page; a late
 * page) and the overview. The data directory is a temporary one under /tmp. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api_admin.h"
#include "api_dashboard.h"
#include "api_device.h"
#include "crypto.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "strutil.h"

static char datadir[] = "/tmp/mamori-bench-dash.XXXXXX";

static void cleanup(void)
{
	char cmd[128];

	if (snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", datadir) < (int)sizeof(cmd) &&
	    strncmp(datadir, "/tmp/mamori-bench-dash.", 23) == 0 && system(cmd) != 0)
		fprintf(stderr, "bench_dashboard: cannot remove %s\n", datadir);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);
	int64_t n;

	return v && parse_int64(v, 1, 100000000, &n) == 0 ? (long)n : dflt;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench_dashboard: %s: %d\n", what, r);
	exit(2);
}

static void measure(const struct http_listener_options *o, const char *auth, const char *name, const char *uri,
                    int runs)
{
	const char *h[] = {"Authorization", auth, NULL};
	int64_t *t = calloc((size_t)runs, sizeof(*t));
	size_t bytes = 0;

	if (!t)
		die("calloc", -12);
	for (int i = 0; i < runs; i++) {
		struct http_local_reply rep;
		int64_t t0 = now_ns();

		if (http_local_request(o, HTTP_GET, uri, h, NULL, 0, NULL, &rep) < 0 || rep.code != 200) {
			fprintf(stderr, "bench_dashboard: %s: HTTP %d %s\n", uri, rep.code, rep.body ?: "");
			exit(2);
		}
		t[i] = now_ns() - t0;
		bytes = rep.len;
		http_local_reply_clear(&rep);
	}
	qsort(t, (size_t)runs, sizeof(*t), cmp64);
	printf("%-34s p50 %7.2f ms  p99 %7.2f ms  (%d runs, %zu bytes)\n", name, t[runs / 2] / 1e6,
	       t[(runs * 99) / 100 < runs ? (runs * 99) / 100 : runs - 1] / 1e6, runs, bytes);
	free(t);
}

int main(void)
{
	struct server_config cfg = {.timeout_s = 30,
	                            .device_cert_seconds = 365LL * 86400,
	                            .checkin_interval_s = 300,
	                            .session_seconds = 8 * 3600,
	                            .web_idle_s = 900,
	                            .names = {"localhost", NULL}};
	static const struct http_route *const tables[] = {api_admin_routes, api_dashboard_routes, NULL};
	static size_t sizes[2];
	struct http_listener_options o = {.max_body = 65536, .tables = tables, .table_sizes = sizes};
	long nterm = env_long("BENCH_DASH_TERMINALS", 10000), nev = env_long("BENCH_DASH_EVENTS", 1000000);
	size_t nt;
	char secret[CRYPTO_TOKEN_MAX], token[CRYPTO_TOKEN_MAX], th[CRYPTO_SHA256_HEX], auth[CRYPTO_TOKEN_MAX + 8];
	static const char *const groups[] = {"soumu", "kaikei", "zeimu", "fukushi", "kyoiku", "kensetsu"};
	struct server *srv = NULL;
	int64_t now = server_now_us(), t0;
	long per, done = 0;
	int r;

	if (nterm > 100000)
		nterm = 100000;
	nt = (size_t)nterm;
	log_open("bench_dashboard", false, LOG_CRIT);
	if (!mkdtemp(datadir))
		die("mkdtemp", -1);
	atexit(cleanup);
	(void)snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", datadir);
	if ((r = server_init(&cfg, false, &srv, secret)) < 0)
		die("server_init", r);
	sizes[0] = api_admin_routes_n, sizes[1] = api_dashboard_routes_n;
	o.userdata = srv;

	t0 = now_ns();
	for (long i = 0; i < nterm; i++) {
		struct store_device d = {.enrolled_us = now};
		struct store_cert c = {.not_after_us = now + 86400000000LL};
		char tok[CRYPTO_SHA256_HEX];

		(void)snprintf(d.terminal_id, sizeof(d.terminal_id), "pc-%05ld", i);
		(void)snprintf(d.group, sizeof(d.group), "%s", groups[i % 6]);
		(void)snprintf(d.hostname, sizeof(d.hostname), "host-%05ld.city.lg.jp", i);
		(void)snprintf(c.serial, sizeof(c.serial), "%040lx", i + 1);
		(void)snprintf(c.terminal_id, sizeof(c.terminal_id), "%s", d.terminal_id);
		(void)snprintf(tok, sizeof(tok), "%064lx", i + 1);
		if ((r = STORE_CALL(srv->store, token_add, tok, d.group, "", now + 3600000000LL, "bench")) < 0 ||
		    (r = STORE_CALL(srv->store, enroll, tok, now, &d, &c)) < 0)
			die("enroll", r);
	}
	{
		struct store_checkin *ci = calloc(nt, sizeof(*ci));
		char(*ids)[24] = calloc(nt, sizeof(*ids));
		static const char *const comp[] = {
		        "{\"LOCK-1\":\"pass\",\"LOG-2\":\"pass\",\"MEDIA-1\":\"pass\",\"AV-1\":\"pass\"}",
		        "{\"LOCK-1\":\"fail\",\"LOG-2\":\"pass\",\"MEDIA-1\":\"pass\",\"AV-1\":\"pass\"}",
		        "{\"LOCK-1\":\"pass\",\"LOG-2\":\"fail\",\"MEDIA-1\":\"excepted\",\"AV-1\":\"pass\"}",
		};
		size_t n = 0;

		if (!ci || !ids)
			die("calloc", -12);
		for (long i = 0; i < nterm; i++) {
			(void)snprintf(ids[i], sizeof(ids[i]), "pc-%05ld", i);
			ci[i] = (struct store_checkin){.terminal_id = ids[i],
			                               .time_us = now - (i % 97) * 60000000LL * (i % 5 == 0 ? 30 : 1),
			                               .agent_version = i % 10 ? "0.9.0" : "0.8.2",
			                               .policy_version = 1 + i % 3,
			                               .report_json = "{\"results\":[]}",
			                               .compliance_json = comp[i % 3]};
		}
		if ((r = STORE_CALL(srv->store, checkin_many, ci, (size_t)nterm, &n)) < 0)
			die("checkin_many", r);
		free(ci);
		free(ids);
	}
	printf("store: %ld terminals enrolled and checked in (%.1f s)\n", nterm, (now_ns() - t0) / 1e9);

	/* events: batches of 1000 on the first terminals, each batch one durable append */
	t0 = now_ns();
	per = nev / (nterm < 1000 ? nterm : 1000);
	for (long ti = 0; done < nev; ti++) {
		struct store_chain expect = {0}, head = {0};
		char id[24];

		(void)snprintf(id, sizeof(id), "pc-%05ld", ti);
		for (long k = 0; k < per && done < nev; k += 1000) {
			struct store_event ev[1000];
			char canon[1000][160];
			size_t n = 0;

			for (; n < 1000 && k + (long)n < per && done < nev; n++, done++) {
				uint64_t seq = (uint64_t)(k + (long)n + 1);
				int len = snprintf(canon[n], sizeof(canon[n]),
				                   "{\"payload\":{\"device\":{\"vendor_id\":\"0781\"},\"path\":\"/"
				                   "media/usb/f-%" PRIu64 ".xlsx\"},\"seq\":%" PRIu64
				                   ",\"type\":\"carry.out\"}",
				                   seq, seq);

				ev[n] = (struct store_event){.seq = seq,
				                             .time_us = now,
				                             .type = "carry.out",
				                             .canon = canon[n],
				                             .canon_len = (size_t)len};
				(void)snprintf(ev[n].hash, sizeof(ev[n].hash), "%064" PRIx64, seq);
			}
			head = expect;
			(void)snprintf(head.chain, sizeof(head.chain), "%032lx", ti + 1);
			head.head_seq = ev[n - 1].seq;
			(void)snprintf(head.head_hash, sizeof(head.head_hash), "%s", ev[n - 1].hash);
			if ((r = STORE_CALL(srv->store, events_append, id, &expect, ev, n, &head, now)) < 0)
				die("events_append", r);
			expect = head;
		}
	}
	printf("store: %ld events appended (%.1f s)\n", done, (now_ns() - t0) / 1e9);

	{
		struct store_cred c = {.kind = CRED_SESSION, .role = ROLE_CISO, .expires_us = now + 3600000000LL};

		(void)snprintf(c.principal, sizeof(c.principal), "bench");
		if (crypto_token("ms1_", token) < 0 || crypto_sha256_hex(token, strlen(token), th) < 0 ||
		    (r = STORE_CALL(srv->store, cred_add, th, &c, "bench", now)) < 0)
			die("cred_add", r);
		(void)snprintf(auth, sizeof(auth), "Bearer %s", token);
	}
	measure(&o, auth, "terminals (page 1, by last contact)",
	        "/admin/v1/dashboard/terminals?sort=last_seen&order=desc&limit=50", 50);
	measure(&o, auth, "terminals (filtered: q + failing)",
	        "/admin/v1/dashboard/terminals?q=pc-01&status=failing&limit=50", 50);
	measure(&o, auth, "terminals (page 190, by host name)",
	        "/admin/v1/dashboard/terminals?sort=hostname&offset=9450&limit=50", 50);
	measure(&o, auth, "overview", "/admin/v1/dashboard/overview", 30);
	server_free(srv);
	return 0;
}
