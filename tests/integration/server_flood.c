/* tests/integration/server_flood.c — check-in latency of one terminal while
 * FLOODERS clients hammer the admin listener with failed logins (test and
 * benchmark process; server_login.sh, tests/bench/server.sh). Issue 17: a
 * failed login used to cost half a second of scrypt on the loop that also
 * serves terminals.
 *
 *   server_flood DEV_ADDR ADM_ADDR CA_PEM CLIENT_PEM SECONDS FLOODERS [USER]
 *
 * Each flooder is one keep-alive TLS connection from its own loopback
 * address (127.0.0.2, 127.0.0.3, …: every 127/8 address is this host), so
 * that the per-address throttle does not end the flood at once and the
 * server really hashes; it logs in as USER (default: a new invented name
 * each time) with a wrong password, reconnecting when the server closes.
 * After a second of flood, one terminal (CLIENT_PEM) checks in over its own
 * keep-alive mTLS connection every 20 ms until SECONDS have passed. Prints
 * the check-in latency percentiles and what the flooders were answered:
 *   checkins N / p50_us N / p99_us N / max_us N / checkin_errors N /
 *   login_401 N / login_429 N / login_503 N / login_other N */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "strutil.h"
#include "tls_http.h"

#define FLOODERS_MAX 200
#define SAMPLES_MAX  100000

static struct sockaddr_in dev_addr, adm_addr;
static SSL_CTX *dev_ctx, *adm_ctx;
static const char *flood_user;
static atomic_bool stop;
static atomic_ulong n401, n429, n503, nother;

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_addr(const char *s, struct sockaddr_in *ret)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	int64_t port;

	if (!colon || (size_t)(colon - s) >= sizeof(host) || parse_int64(colon + 1, 1, 65535, &port) < 0)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	ret->sin_family = AF_INET;
	ret->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &ret->sin_addr) == 1 ? 0 : -1;
}

/* Send req and read the whole answer: its status, or -1 (connection gone). */
static int exchange(SSL *ssl, const char *req, size_t len)
{
	if (SSL_write(ssl, req, (int)len) != (int)len)
		return -1;
	return http_read_answer(ssl, NULL);
}

static void *flooder(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, src = 2 + id % 250;
	unsigned long n = 0;
	SSL *ssl = NULL;

	while (!atomic_load(&stop)) {
		char body[256], req[512];
		int bl, rl, st;

		if (!ssl && !(ssl = tls_dial(adm_ctx, &adm_addr, src))) {
			usleep(10000);
			continue;
		}
		if (flood_user)
			bl = snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"wrong-password-%lu\"}",
			              flood_user, n++);
		else
			bl = snprintf(body, sizeof(body),
			              "{\"username\":\"nobody-%u-%lu\",\"password\":\"wrong-password-1234\"}", id, n++);
		rl = snprintf(req, sizeof(req),
		              "POST /admin/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
		              "Content-Length: %d\r\n\r\n%s",
		              bl, body);
		st = exchange(ssl, req, (size_t)rl);
		if (st < 0) {
			tls_hang_up(&ssl);
			continue;
		}
		atomic_fetch_add(st == 401 ? &n401 : st == 429 ? &n429 : st == 503 ? &n503 : &nother, 1);
	}
	tls_hang_up(&ssl);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const char checkin_body[] = "{\"agent_version\":\"flood-test\"}";
	static uint32_t lat[SAMPLES_MAX];
	pthread_t th[FLOODERS_MAX];
	int64_t seconds, nflood;
	size_t nlat = 0;
	unsigned long errors = 0;
	char req[512];
	int rl;
	double end;
	SSL *ssl = NULL;

	if (argc < 7 || argc > 8 || parse_addr(argv[1], &dev_addr) < 0 || parse_addr(argv[2], &adm_addr) < 0 ||
	    parse_int64(argv[5], 2, 600, &seconds) < 0 || parse_int64(argv[6], 0, FLOODERS_MAX, &nflood) < 0) {
		fprintf(stderr, "usage: server_flood DEV_ADDR ADM_ADDR CA_PEM CLIENT_PEM SECONDS FLOODERS [USER]\n");
		return 2;
	}
	flood_user = argc == 8 ? argv[7] : NULL;
	dev_ctx = SSL_CTX_new(TLS_client_method());
	adm_ctx = SSL_CTX_new(TLS_client_method());
	if (!dev_ctx || !adm_ctx || SSL_CTX_load_verify_locations(dev_ctx, argv[3], NULL) != 1 ||
	    SSL_CTX_load_verify_locations(adm_ctx, argv[3], NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(dev_ctx, argv[4]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(dev_ctx, argv[4], SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "server_flood: cannot load the certificates\n");
		return 2;
	}
	SSL_CTX_set_verify(dev_ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_verify(adm_ctx, SSL_VERIFY_PEER, NULL);
	for (int64_t i = 0; i < nflood; i++)
		if (pthread_create(&th[i], NULL, flooder, (void *)(uintptr_t)i) != 0) {
			fprintf(stderr, "server_flood: cannot start flooder %lld\n", (long long)i);
			return 2;
		}
	end = mono() + (double)seconds;
	if (nflood)
		usleep(1000000);
	rl = snprintf(req, sizeof(req),
	              "POST /api/v1/checkin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	              "Content-Length: %zu\r\n\r\n%s",
	              sizeof(checkin_body) - 1, checkin_body);
	/* the connection is made before the clock starts: what is measured is
	 * the server's answer on an established terminal connection */
	while (mono() < end && nlat < SAMPLES_MAX) {
		double t0;
		int st;

		if (!ssl && !(ssl = tls_dial(dev_ctx, &dev_addr, 0))) {
			errors++;
			usleep(20000);
			continue;
		}
		t0 = mono();
		st = exchange(ssl, req, (size_t)rl);
		if (st == 200)
			lat[nlat++] = (uint32_t)((mono() - t0) * 1e6);
		else
			errors++;
		if (st < 0)
			tls_hang_up(&ssl);
		usleep(20000);
	}
	atomic_store(&stop, true);
	for (int64_t i = 0; i < nflood; i++)
		pthread_join(th[i], NULL);
	tls_hang_up(&ssl);
	qsort(lat, nlat, sizeof(lat[0]), cmp_u32);
	printf("checkins %zu\np50_us %u\np99_us %u\nmax_us %u\ncheckin_errors %lu\n", nlat, nlat ? lat[nlat / 2] : 0,
	       nlat ? lat[(nlat * 99) / 100 < nlat ? (nlat * 99) / 100 : nlat - 1] : 0, nlat ? lat[nlat - 1] : 0,
	       errors);
	printf("login_401 %lu\nlogin_429 %lu\nlogin_503 %lu\nlogin_other %lu\n", atomic_load(&n401), atomic_load(&n429),
	       atomic_load(&n503), atomic_load(&nother));
	SSL_CTX_free(dev_ctx);
	SSL_CTX_free(adm_ctx);
	return nlat ? 0 : 1;
}
