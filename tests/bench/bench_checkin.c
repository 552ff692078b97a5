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

#include "bench_report.h"
#include "strutil.h"
#include "tls_http.h"

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

	n += (size_t)snprintf(body + n, sizeof(body) - n,
	                      "{\"agent_version\":\"0.1.0\",\"hostname\":\"bench\",\"policy_version\":2,"
	                      "\"journal\":{\"chain\":\"5f0c5f0c5f0c5f0c5f0c5f0c5f0c5f0c\",\"head_seq\":0},"
	                      "\"report\":");
	n = bench_report_json(body, sizeof(body), n);
	n += (size_t)snprintf(body + n, sizeof(body) - n, ",\"inventory\":{\"os\":\"Debian GNU/Linux 12\"}}");
	request_len = (size_t)snprintf(request, sizeof(request),
	                               "POST /api/v1/checkin HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
	                               "Content-Length: %zu\r\n\r\n%s",
	                               host, n, body);
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
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN); /* the certificate alone, as the agent sends it */
	while (now() < deadline) {
		double t0;
		bool close_after;
		int r;

		if (!ssl) {
			ssl = tls_dial(ctx, &addr, 0);
			if (!ssl) {
				c->errors++;
				usleep(10000);
				continue;
			}
			c->reconnects++;
		}
		t0 = now();
		if (SSL_write(ssl, request, (int)request_len) != (int)request_len) {
			tls_hang_up(&ssl);
			c->errors++;
			continue;
		}
		r = http_read_answer(ssl, &close_after);
		if (r < 0) {
			tls_hang_up(&ssl);
			c->errors++;
			continue;
		}
		if (r == 200) {
			c->ok++;
			if (c->nlat < LAT_SLOTS)
				c->lat_us[c->nlat++] = (uint32_t)((now() - t0) * 1e6);
		} else {
			c->errors++;
		}
		if (close_after)
			tls_hang_up(&ssl);
	}
	tls_hang_up(&ssl);
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
