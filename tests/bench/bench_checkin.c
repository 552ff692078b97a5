/* tests/bench/bench_checkin.c — load generator for `make bench`
 * (tests/bench/server.sh; benchmark process): N simulated terminals, each
 * one TLS connection with its own client certificate, kept alive, sending
 * POST /api/v1/checkin with a posture report back to back for D seconds.
 * Prints check-ins per second and latency percentiles. The same program
 * measures mamori-server and nginx serving the same answer, so the ratio is
 * between servers, not load generators.
 *
 *   bench_checkin HOST:PORT CA_PEM SECONDS CLIENT_PEM...   (one thread per client PEM)
 *
 * A terminal whose connection is closed (keepalive_requests, errors)
 * reconnects; only complete "HTTP/1.1 200" answers count. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
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

#define MAX_CLIENTS 256
#define LAT_SLOTS   (1 << 20)

struct client {
	pthread_t th;
	const char *pem;
	uint64_t ok, errors, reconnects;
	uint32_t *lat_us; /* per request, capped at LAT_SLOTS */
	size_t nlat;
};

static struct sockaddr_in addr;
static const char *ca_file;
static double deadline;
static char request[8192];
static size_t request_len;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void build_request(const char *host)
{
	char body[6000];
	size_t n = 0;
	static const char *const checks[][2] = {
	        {"screenlock.idle", "LOCK-1"},      {"login.faillock", "LOCK-2"},
	        {"login.password", "LOCK-3"},       {"av.running", "AV-1"},
	        {"av.definitions", "AV-2"},         {"av.fullscan", "AV-3"},
	        {"patch.security", "PATCH-1"},      {"patch.eol", "PATCH-2"},
	        {"software.inventory", "SOFT-1"},   {"integrity.files", "CONF-1"},
	        {"ports.listening", "NET-1"},       {"network.segment", "NET-2"},
	        {"timesync.synchronised", "LOG-2"}, {"usb.present", "MEDIA-1"},
	};

	n += (size_t)snprintf(body + n, sizeof(body) - n,
	                      "{\"agent_version\":\"0.1.0\",\"hostname\":\"bench\",\"policy_version\":2,"
	                      "\"journal\":{\"chain\":\"5f0c5f0c5f0c5f0c5f0c5f0c5f0c5f0c\",\"head_seq\":0},"
	                      "\"report\":{\"results\":[");
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n,
		                      "%s{\"id\":\"%s\",\"module\":\"m\",\"status\":\"%s\",\"requirements\":[\"%s\"],"
		                      "\"evidence\":{\"measured\":\"value %zu\"}}",
		                      i ? "," : "", checks[i][0], i % 4 ? "pass" : "fail", checks[i][1], i);
	n += (size_t)snprintf(body + n, sizeof(body) - n, "]},\"inventory\":{\"os\":\"Debian GNU/Linux 12\"}}");
	request_len = (size_t)snprintf(request, sizeof(request),
	                               "POST /api/v1/checkin HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
	                               "Content-Length: %zu\r\n\r\n%s",
	                               host, n, body);
}

static SSL *connect_tls(SSL_CTX *ctx)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	SSL *ssl;

	if (fd < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return NULL;
	}
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		close(fd);
		ERR_clear_error();
		return NULL;
	}
	return ssl;
}

static void drop(SSL **ssl)
{
	if (!*ssl)
		return;
	close(SSL_get_fd(*ssl));
	SSL_free(*ssl);
	*ssl = NULL;
}

/* Read one HTTP answer; 1 for a 200, 0 for another status, -1 on a broken
 * connection. *close_after: the server said Connection: close. */
static int read_answer(SSL *ssl, bool *close_after)
{
	char buf[65536];
	size_t have = 0;
	char *end = NULL;
	long clen = -1;
	int status;

	*close_after = false;
	while (!end) {
		int n = SSL_read(ssl, buf + have, (int)(sizeof(buf) - 1 - have));

		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (!end && have >= sizeof(buf) - 1)
			return -1;
	}
	if (sscanf(buf, "HTTP/1.%*c %d", &status) != 1)
		return -1;
	for (char *l = strstr(buf, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
		if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
			clen = strtol(l + 17, NULL, 10);
		else if (strncasecmp(l + 2, "Connection: close", 17) == 0)
			*close_after = true;
	}
	if (clen < 0)
		return -1;
	for (size_t body = have - (size_t)(end + 4 - buf); body < (size_t)clen;) {
		int n = SSL_read(ssl, buf, (int)sizeof(buf));

		if (n <= 0)
			return -1;
		body += (size_t)n;
	}
	return status == 200 ? 1 : 0;
}

static void *run(void *arg)
{
	struct client *c = arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;

	if (!ctx || SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, c->pem) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, c->pem, SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "bench_checkin: %s: cannot load\n", c->pem);
		c->errors++;
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	while (now() < deadline) {
		double t0;
		bool close_after;
		int r;

		if (!ssl) {
			ssl = connect_tls(ctx);
			if (!ssl) {
				c->errors++;
				usleep(10000);
				continue;
			}
			c->reconnects++;
		}
		t0 = now();
		if (SSL_write(ssl, request, (int)request_len) != (int)request_len) {
			drop(&ssl);
			c->errors++;
			continue;
		}
		r = read_answer(ssl, &close_after);
		if (r < 0) {
			drop(&ssl);
			c->errors++;
			continue;
		}
		if (r == 1) {
			c->ok++;
			if (c->nlat < LAT_SLOTS)
				c->lat_us[c->nlat++] = (uint32_t)((now() - t0) * 1e6);
		} else {
			c->errors++;
		}
		if (close_after)
			drop(&ssl);
	}
	drop(&ssl);
	SSL_CTX_free(ctx);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static struct client clients[MAX_CLIENTS];
	char host[256];
	const char *colon;
	int64_t port, secs;
	int n = argc - 4;
	uint64_t ok = 0, errors = 0, reconnects = 0;
	uint32_t *all;
	size_t nall = 0;
	double t0, el;

	if (argc < 5 || n > MAX_CLIENTS || !(colon = strrchr(argv[1], ':')) ||
	    parse_int64(colon + 1, 1, 65535, &port) < 0 || parse_int64(argv[3], 1, 600, &secs) < 0) {
		fprintf(stderr, "usage: bench_checkin HOST:PORT CA_PEM SECONDS CLIENT_PEM... (at most %d)\n",
		        MAX_CLIENTS);
		return 2;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - argv[1]), argv[1]);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
		fprintf(stderr, "bench_checkin: an IPv4 address is expected\n");
		return 2;
	}
	ca_file = argv[2];
	build_request(argv[1]);
	t0 = now();
	deadline = t0 + (double)secs;
	for (int i = 0; i < n; i++) {
		clients[i].pem = argv[4 + i];
		clients[i].lat_us = malloc(sizeof(uint32_t) * LAT_SLOTS);
		if (!clients[i].lat_us || pthread_create(&clients[i].th, NULL, run, &clients[i]) != 0) {
			fprintf(stderr, "bench_checkin: cannot start client %d\n", i);
			return 2;
		}
	}
	for (int i = 0; i < n; i++) {
		pthread_join(clients[i].th, NULL);
		ok += clients[i].ok;
		errors += clients[i].errors;
		reconnects += clients[i].reconnects;
	}
	el = now() - t0;
	all = malloc(sizeof(uint32_t) * (size_t)n * 1 + sizeof(uint32_t) * (size_t)ok);
	for (int i = 0; all && i < n; i++) {
		memcpy(all + nall, clients[i].lat_us, clients[i].nlat * sizeof(uint32_t));
		nall += clients[i].nlat;
		free(clients[i].lat_us);
	}
	if (all && nall)
		qsort(all, nall, sizeof(*all), cmp_u32);
	printf("checkins_per_s %.0f\nrequests_ok %llu\nerrors %llu\nconnections %llu\nrequest_bytes %zu\n",
	       (double)ok / el, (unsigned long long)ok, (unsigned long long)errors, (unsigned long long)reconnects,
	       request_len);
	if (all && nall)
		printf("latency_us_p50 %u\nlatency_us_p99 %u\n", all[nall / 2], all[nall * 99 / 100]);
	free(all);
	return ok > 0 ? 0 : 1;
}
