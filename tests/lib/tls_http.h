/* tests/lib/tls_http.h — an HTTP/1.1 client over TLS for the programs that
 * load mamori-server (tests/integration/server_flood.c,
 * tests/bench/bench_checkin.c; test and benchmark processes): dial from a
 * chosen loopback address, hang up, read one whole answer. Header-only test
 * code; the two had their own copies (issue 19). */
#ifndef MAMORI_TLS_HTTP_H
#define MAMORI_TLS_HTTP_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* A TLS connection to `to` (TCP_NODELAY), from 127.0.0.(src) when src > 0;
 * NULL when the connection or the handshake fails. */
static inline SSL *tls_dial(SSL_CTX *ctx, const struct sockaddr_in *to, unsigned src)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	SSL *ssl;

	if (fd < 0)
		return NULL;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src) {
		struct sockaddr_in from = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000000u | src)};

		if (bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0) {
			close(fd);
			return NULL;
		}
	}
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0) {
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

static inline void tls_hang_up(SSL **ssl)
{
	if (!*ssl)
		return;
	close(SSL_get_fd(*ssl));
	SSL_free(*ssl);
	*ssl = NULL;
}

/* Read one whole HTTP/1.x answer (headers, then Content-Length bytes of
 * body): its status, or -1 for a broken connection or an answer without a
 * length. *close_after (may be NULL): the server said Connection: close. */
static inline int http_read_answer(SSL *ssl, bool *close_after)
{
	char buf[65536], *end = NULL;
	size_t have = 0;
	long clen = -1;
	int status;

	if (close_after)
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
		else if (close_after && strncasecmp(l + 2, "Connection: close", 17) == 0)
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
	return status;
}

#endif
