/* tests/integration/server_slow.c — a deliberately slow client for
 * server_refusals.sh (test process): connects to 127.0.0.1:PORT, optionally
 * completes the TLS handshake with a client certificate, sends part of a
 * request and then nothing, and prints how many seconds passed until the
 * server closed the connection ("open" if it did not within LIMIT seconds).
 *
 *   server_slow PORT CA CLIENT_PEM MODE LIMIT
 *   MODE: tcp (no handshake) | tls (handshake only) | header | body */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "strutil.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	const char *mode;
	int64_t port, limit;
	double t0;
	int fd, rc = 2;

	if (argc != 6 || parse_int64(argv[1], 1, 65535, &port) < 0 || parse_int64(argv[5], 1, 60, &limit) < 0) {
		fprintf(stderr, "usage: server_slow PORT CA CLIENT_PEM tcp|tls|header|body LIMIT\n");
		return 2;
	}
	mode = argv[4];
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		return 2;
	}
	t0 = now();
	if (strcmp(mode, "tcp") != 0) {
		const char *req =
		        strcmp(mode, "header") == 0 ? "POST /api/v1/checkin HTTP/1.1\r\nHost: x\r\nConte"
		        : strcmp(mode, "body") == 0
		                ? "POST /api/v1/checkin HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a"
		                : "";

		ctx = SSL_CTX_new(TLS_client_method());
		if (!ctx || SSL_CTX_load_verify_locations(ctx, argv[2], NULL) != 1 ||
		    SSL_CTX_use_certificate_chain_file(ctx, argv[3]) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM) != 1)
			goto tls_fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		ssl = SSL_new(ctx);
		if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1)
			goto tls_fail;
		if (*req && SSL_write(ssl, req, (int)strlen(req)) <= 0)
			goto tls_fail;
		t0 = now();
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char buf[256];
		int left = (int)((t0 + (double)limit - now()) * 1000);

		if (left <= 0) {
			puts("open");
			rc = 1;
			break;
		}
		if (poll(&p, 1, left) <= 0)
			continue;
		if (ssl) {
			int n = SSL_read(ssl, buf, sizeof(buf));

			if (n > 0)
				continue; /* an error reply is fine; the close is what counts */
			if (SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ)
				continue; /* a TLS 1.3 session ticket, not data */
		} else if (read(fd, buf, sizeof(buf)) > 0) {
			continue;
		}
		printf("%.0f\n", now() - t0 + 0.49);
		rc = 0;
		break;
	}
	goto out;
tls_fail:
	fprintf(stderr, "server_slow: TLS: %s\n", ERR_reason_error_string(ERR_peek_last_error()) ?: "failed");
	rc = 2;
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return rc;
}
