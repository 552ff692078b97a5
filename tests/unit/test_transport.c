/* tests/unit/test_transport.c — the agent's transport (agent/net/transport.c)
 * without a server: exponential backoff with jitter and its bounds, the
 * persisted acknowledgement, refusing to run unenrolled or on a non-https
 * URL, and a real libcurl connection to a closed port on 127.0.0.1 failing
 * cleanly and counting for the backoff, and what the agent's certificate
 * message holds, as a real OpenSSL server on 127.0.0.1 receives it (the
 * end-to-end tests cover the exchanges with mamori-server). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "alloc-util.h"
#include "fileio.h"
#include "transport.h"
#include "testutil.h"

static void test_backoff_bounds(void **state)
{
	(void)state;
	assert_int_equal(transport_backoff_ms(0, 0.5), 0);
	/* full jitter over [d/2, d], d = 5 s · 2^(n-1) */
	assert_int_equal(transport_backoff_ms(1, 0.0), 2500);
	assert_true(transport_backoff_ms(1, 0.999) <= 5000 && transport_backoff_ms(1, 0.999) >= 4990);
	assert_int_equal(transport_backoff_ms(2, 0.0), 5000);
	assert_int_equal(transport_backoff_ms(3, 0.0), 10000);
	/* capped at one hour, even after a very long outage */
	assert_int_equal(transport_backoff_ms(12, 0.0), 1800000);
	assert_true(transport_backoff_ms(1000, 0.999) <= 3600000);
	assert_true(transport_backoff_ms(1000, 0.999) >= 3590000);
	/* a bad random value cannot push it out of range */
	assert_int_equal(transport_backoff_ms(1, 7.0), 2500);
	assert_int_equal(transport_backoff_ms(1, -1.0), 2500);
}

/* Two terminals (here: fresh processes) that failed the same number of times
 * draw different delays: the retry jitter comes from getrandom, not from an
 * unseeded rand() that gave every process the same sequence (issue 19 item 6). */
static void test_retry_jitter_differs_per_process(void **state)
{
	uint64_t v[6];
	bool all_same = true;

	(void)state;
	for (int i = 0; i < 6; i++) {
		int fds[2];
		pid_t pid;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			uint64_t d = transport_retry_delay_ms(10);
			_exit(write(fds[1], &d, sizeof(d)) == sizeof(d) ? 0 : 1);
		}
		close(fds[1]);
		assert_int_equal(read(fds[0], &v[i], sizeof(v[i])), sizeof(v[i]));
		close(fds[0]);
		assert_int_equal(waitpid(pid, NULL, 0), pid);
		/* d = 5 s · 2^9 = 2560 s; jitter in [d/2, d] */
		assert_true(v[i] >= 1280000 && v[i] <= 2560000);
		if (i > 0 && v[i] != v[0])
			all_same = false;
	}
	assert_false(all_same);
}

static void test_acked_state(void **state)
{
	char *dir = tu_mkdtemp();
	uint64_t v = 99;

	(void)state;
	assert_int_equal(transport_acked_read(dir, &v), 0);
	assert_int_equal(v, 0);
	tu_write(dir, TRANSPORT_UPLOAD_STATE, "42\n");
	assert_int_equal(transport_acked_read(dir, &v), 0);
	assert_int_equal(v, 42);
	tu_write(dir, TRANSPORT_UPLOAD_STATE, "4x2\n");
	v = 7;
	assert_int_equal(transport_acked_read(dir, &v), -EBADMSG);
	assert_int_equal(v, 7); /* untouched on failure */
	tu_rmtree(dir);
	free(dir);
}

static void test_not_enrolled(void **state)
{
	char *dir = tu_mkdtemp();
	struct transport_options o = {.state_dir = dir};
	struct transport *t = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(transport_new(&o, &t, err, sizeof(err)), -ENOENT);
	assert_null(t);
	assert_non_null(strstr(err, "not enrolled"));
	tu_write(dir, TRANSPORT_ENROLL_STATE,
	         "{\"admin_url\":\"https://a\",\"device_url\":\"http://"
	         "plain:80\",\"terminal_id\":\"pc\",\"group\":\"g\"}");
	assert_int_equal(transport_new(&o, &t, err, sizeof(err)), -EINVAL);
	tu_write(dir, TRANSPORT_ENROLL_STATE, "{\"admin_url\":1}");
	assert_int_equal(transport_new(&o, &t, err, sizeof(err)), -EBADMSG);
	tu_rmtree(dir);
	free(dir);
}

static int closed_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd); /* nothing listens there now */
	return ntohs(sa.sin_port);
}

static void test_server_down_counts_for_backoff(void **state)
{
	char *dir = tu_mkdtemp();
	struct transport_options o = {.state_dir = dir, .timeout_s = 5};
	struct transport_result res;
	struct transport *t = NULL;
	char state_json[256], err[512] = "";
	uint64_t d1, d2;

	(void)state;
	snprintf(
	        state_json, sizeof(state_json),
	        "{\"admin_url\":\"https://127.0.0.1:1\",\"device_url\":\"https://127.0.0.1:%d\",\"terminal_id\":\"pc\","
	        "\"group\":\"g\"}",
	        closed_port());
	tu_write(dir, TRANSPORT_ENROLL_STATE, state_json);
	assert_int_equal(transport_new(&o, &t, err, sizeof(err)), 0);
	assert_int_equal(transport_next_delay_ms(t, 120), 120000);
	assert_true(transport_sync_once(t, NULL, &res, err, sizeof(err)) < 0);
	assert_true(err[0] != 0);
	assert_int_equal(transport_failures(t), 1);
	d1 = transport_next_delay_ms(t, 120);
	assert_true(d1 >= 2500 && d1 <= 5000);
	assert_true(transport_sync_once(t, NULL, &res, err, sizeof(err)) < 0);
	d2 = transport_next_delay_ms(t, 120);
	assert_true(d2 >= 5000 && d2 <= 10000);
	assert_int_equal(res.uploaded, 0);
	transport_free(t);
	tu_rmtree(dir);
	free(dir);
}

static void test_conn_refused(void **state)
{
	struct transport_conn *c = NULL;
	struct transport_response resp = {0};
	struct transport_request rq = {.method = "POST", .body = "{}", .body_len = 2, .gzip = true};
	char url[64], err[512] = "";

	(void)state;
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", closed_port());
	rq.url = url;
	/* no CA file is an error, never "verification off" (issue 19 item 6) */
	assert_int_equal(transport_conn_new(NULL, NULL, 5, &c), -EINVAL);
	assert_int_equal(transport_conn_new("", NULL, 5, &c), -EINVAL);
	assert_null(c);
	assert_int_equal(transport_conn_new_unverified(5, &c), 0);
	assert_int_equal(transport_conn_request(c, &rq, &resp, err, sizeof(err)), -ECONNREFUSED);
	assert_non_null(strstr(err, url));
	assert_null(resp.body);
	rq.url = "http://127.0.0.1:1/plain"; /* only https is spoken */
	assert_true(transport_conn_request(c, &rq, &resp, err, sizeof(err)) < 0);
	transport_conn_free(c);
}

/* issue 11.6: a NULL CA silently turned verification off. */
static void test_ca_required(void **state)
{
	struct transport_conn *c = NULL;

	(void)state;
	assert_int_equal(transport_conn_new(NULL, NULL, 5, &c), -EINVAL);
	assert_null(c);
	assert_int_equal(transport_conn_new("", NULL, 5, &c), -EINVAL);
	assert_null(c);
	assert_int_equal(transport_conn_new("/nonexistent/server-ca.pem", NULL, 5, &c), -ENOENT);
	assert_null(c);
}

/* ---- the client certificate goes alone (issue 18) ----
 * OpenSSL on the agent's side built the chain from the pinned CA and sent
 * it with the certificate at every handshake; the server decoded both. The
 * oracle is a real OpenSSL server: what it received as the peer's chain. */
struct leaf_server {
	int lfd;
	const char *dir;
	int chain; /* certificates sent besides the leaf; -1: no handshake */
	bool leaf; /* the client's certificate arrived */
};

/* A CA, a server certificate for 127.0.0.1 and two client identities
 * (client.pem: terminal-1, client2.pem: terminal-2), made by the openssl tool. */
static void make_pki(const char *dir)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd),
	         "cd '%s' && exec >openssl.log 2>&1 && "
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem "
	         "-subj /CN=test-ca -days 1 && "
	         "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr "
	         "-subj /CN=127.0.0.1 && "
	         "printf 'subjectAltName=IP:127.0.0.1\\n' >srv.ext && "
	         "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile srv.ext "
	         "-out srv.pem && "
	         "for i in 1 2; do "
	         "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cl$i.key -out cl$i.csr "
	         "-subj /CN=terminal-$i && "
	         "openssl x509 -req -in cl$i.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out cl$i.pem || "
	         "exit 1; "
	         "done && cat cl1.key cl1.pem >client.pem && cat cl2.key cl2.pem >client2.pem",
	         dir);
	assert_int_equal(system(cmd), 0);
}

/* Read the client's request (its body is "{}") and answer 200 {}. */
static void answer_ok(SSL *ssl)
{
	static const char ans[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
	                          "Connection: close\r\n\r\n{}";
	char buf[4096];
	size_t got = 0;
	int n;

	while (got < sizeof(buf) - 1 && (n = SSL_read(ssl, buf + got, (int)(sizeof(buf) - 1 - got))) > 0) {
		got += (size_t)n;
		buf[got] = 0;
		if (strstr(buf, "\r\n\r\n{}"))
			break;
	}
	(void)SSL_write(ssl, ans, (int)strlen(ans));
	(void)SSL_shutdown(ssl);
}

static void *leaf_serve(void *arg)
{
	struct leaf_server *s = arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char p[3][512];
	SSL *ssl = NULL;
	int fd = -1;

	snprintf(p[0], sizeof(p[0]), "%s/srv.pem", s->dir);
	snprintf(p[1], sizeof(p[1]), "%s/srv.key", s->dir);
	snprintf(p[2], sizeof(p[2]), "%s/ca.pem", s->dir);
	if (!ctx || SSL_CTX_use_certificate_file(ctx, p[0], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, p[1], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, p[2], NULL) != 1)
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	fd = accept(s->lfd, NULL, NULL);
	if (fd < 0 || !(ssl = SSL_new(ctx)) || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1)
		goto out;
	/* server side: the chain without the leaf (SSL_get_peer_cert_chain(3)) */
	s->chain = sk_X509_num(SSL_get_peer_cert_chain(ssl)); /* -1 for none: fails the test */
	s->leaf = SSL_get0_peer_certificate(ssl) != NULL;
	answer_ok(ssl);
out:
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	SSL_CTX_free(ctx);
	return NULL;
}

static void test_client_certificate_alone(void **state)
{
	struct leaf_server s = {.lfd = -1, .chain = -1};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct transport_request rq = {.method = "POST", .body = "{}", .body_len = 2};
	struct transport_response resp = {0};
	struct transport_conn *c = NULL;
	char *dir = tu_mkdtemp(), url[64], ca[512], pem[512], err[512] = "";
	socklen_t al = sizeof(a);
	pthread_t th;

	(void)state;
	make_pki(dir);
	s.dir = dir;
	s.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s.lfd >= 0);
	assert_int_equal(bind(s.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s.lfd, 1), 0);
	assert_int_equal(getsockname(s.lfd, (struct sockaddr *)&a, &al), 0);
	assert_int_equal(pthread_create(&th, NULL, leaf_serve, &s), 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/v1/x", ntohs(a.sin_port));
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(pem, sizeof(pem), "%s/client.pem", dir);
	rq.url = url;
	assert_int_equal(transport_conn_new(ca, pem, 10, &c), 0);
	assert_int_equal(transport_conn_request(c, &rq, &resp, err, sizeof(err)), 0);
	assert_int_equal(resp.status, 200);
	transport_response_clear(&resp);
	transport_conn_free(c);
	pthread_join(th, NULL);
	close(s.lfd);
	assert_true(s.leaf);
	assert_int_equal(s.chain, 0); /* was 1: the pinned CA, sent along */
	tu_rmtree(dir);
	free(dir);
}

/* ---- TLS session resumption (issue 18) ----
 * The oracle is a real OpenSSL server on 127.0.0.1 issuing tickets: whether
 * it resumed each connection (SSL_session_reused on its side) and whose
 * certificate the connection carried. One connection a sync, as the agent
 * makes them (each sync is a new process: the session goes through the
 * state directory). */
#define RESUME_CONNS 6

struct resume_server {
	int lfd;
	const char *dir;
	int reused[RESUME_CONNS]; /* -1: no handshake */
	char cn[RESUME_CONNS][64];
};

static void *resume_serve(void *arg)
{
	struct resume_server *s = arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char p[3][512];

	snprintf(p[0], sizeof(p[0]), "%s/srv.pem", s->dir);
	snprintf(p[1], sizeof(p[1]), "%s/srv.key", s->dir);
	snprintf(p[2], sizeof(p[2]), "%s/ca.pem", s->dir);
	if (!ctx || SSL_CTX_use_certificate_file(ctx, p[0], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, p[1], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, p[2], NULL) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"t", 1) != 1)
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	for (int i = 0; i < RESUME_CONNS; i++) {
		SSL *ssl = NULL;
		int fd = accept(s->lfd, NULL, NULL);
		X509 *peer;

		if (fd < 0)
			break;
		if ((ssl = SSL_new(ctx)) && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1) {
			s->reused[i] = SSL_session_reused(ssl);
			peer = SSL_get0_peer_certificate(ssl);
			if (peer)
				X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, s->cn[i],
				                          sizeof(s->cn[i]));
			answer_ok(ssl);
		}
		SSL_free(ssl);
		close(fd);
	}
out:
	SSL_CTX_free(ctx);
	return NULL;
}

/* One sync's connection: load the kept session, one request, save. */
static void one_sync(const char *url, const char *ca, const char *pem, const char *state)
{
	struct transport_request rq = {.method = "POST", .body = "{}", .body_len = 2, .url = url};
	struct transport_response resp = {0};
	struct transport_conn *c = NULL;
	char err[512] = "";

	assert_int_equal(transport_tls_session_load(state), 0);
	assert_int_equal(transport_conn_new(ca, pem, 10, &c), 0);
	assert_int_equal(transport_conn_request(c, &rq, &resp, err, sizeof(err)), 0);
	assert_int_equal(resp.status, 200);
	transport_response_clear(&resp);
	transport_conn_free(c);
	assert_int_equal(transport_tls_session_save(state), 0);
}

static void test_tls_session_resumed(void **state)
{
	struct resume_server s = {.lfd = -1};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char *dir = tu_mkdtemp(), url[64], ca[512], pem[512], pem2[512], st[512], empty[512], f[600];
	socklen_t al = sizeof(a);
	struct timespec old[2] = {{0}};
	_cleanup_free_ char *kept = NULL, *again = NULL;
	size_t kept_len = 0, again_len = 0;
	struct stat sb;
	pthread_t th;

	(void)state;
	make_pki(dir);
	for (int i = 0; i < RESUME_CONNS; i++)
		s.reused[i] = -1;
	s.dir = dir;
	s.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s.lfd >= 0);
	assert_int_equal(bind(s.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s.lfd, RESUME_CONNS), 0);
	assert_int_equal(getsockname(s.lfd, (struct sockaddr *)&a, &al), 0);
	assert_int_equal(pthread_create(&th, NULL, resume_serve, &s), 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/v1/x", ntohs(a.sin_port));
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(pem, sizeof(pem), "%s/client.pem", dir);
	snprintf(pem2, sizeof(pem2), "%s/client2.pem", dir);
	snprintf(st, sizeof(st), "%s/state", dir);
	snprintf(empty, sizeof(empty), "%s/empty", dir);
	assert_int_equal(mkdir(st, 0700), 0);
	assert_int_equal(mkdir(empty, 0700), 0);
	one_sync(url, ca, pem, st); /* 0: full; its ticket is kept */
	snprintf(f, sizeof(f), "%s/" TRANSPORT_TLS_SESSION, st);
	assert_int_equal(read_file_capped(f, 65536, &kept, &kept_len), 0);
	one_sync(url, ca, pem, st); /* 1: resumed from the file */
	/* a resumed connection proved nothing about the server's certificate:
	 * a ticket it brought is not kept (the file is the full handshake's) */
	assert_int_equal(read_file_capped(f, 65536, &again, &again_len), 0);
	assert_true(kept_len == again_len && memcmp(kept, again, kept_len) == 0);
	one_sync(url, ca, pem, empty); /* 2: no file, no session: full */
	one_sync(url, ca, pem2, st);   /* 3: another identity: never the first one's session */
	one_sync(url, ca, pem2, st);   /* 4: its own, kept by 3 */
	/* 5: a kept session an hour old is dropped: a full handshake verifies
	 * the server again, and its ticket is kept anew */
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 3600;
	assert_int_equal(utimensat(AT_FDCWD, f, old, 0), 0);
	one_sync(url, ca, pem2, st);
	assert_int_equal(stat(f, &sb), 0);
	assert_true(sb.st_mtime > old[1].tv_sec);
	pthread_join(th, NULL);
	close(s.lfd);
	assert_int_equal(s.reused[0], 0);
	assert_int_equal(s.reused[1], 1);
	assert_int_equal(s.reused[2], 0);
	assert_int_equal(s.reused[3], 0);
	assert_int_equal(s.reused[4], 1);
	assert_int_equal(s.reused[5], 0);
	assert_string_equal(s.cn[1], "terminal-1");
	assert_string_equal(s.cn[3], "terminal-2");
	assert_string_equal(s.cn[4], "terminal-2");
	/* the session holds a resumption secret: the root's alone */
	assert_int_equal(stat(f, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_backoff_bounds),
	        cmocka_unit_test(test_acked_state),
	        cmocka_unit_test(test_ca_required),
	        cmocka_unit_test(test_not_enrolled),
	        cmocka_unit_test(test_server_down_counts_for_backoff),
	        cmocka_unit_test(test_conn_refused),
	        cmocka_unit_test(test_retry_jitter_differs_per_process),
	        cmocka_unit_test(test_client_certificate_alone),
	        cmocka_unit_test(test_tls_session_resumed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
