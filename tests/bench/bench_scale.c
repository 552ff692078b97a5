/* tests/bench/bench_scale.c — load generator for `make bench-scale`
 * (tests/bench/scale.sh; benchmark process, issue 18): many simulated
 * terminals from one process, one epoll loop, non-blocking OpenSSL.
 *
 *   bench_scale enroll ADMIN_HOST:PORT CA_PEM GROUP PREFIX N OUT_FILE
 *       N terminals PREFIX-0 … PREFIX-(N-1) enrolled through the real API
 *       (a single-use token from POST /admin/v1/enrollment-tokens with the
 *       bearer token in $MAMORI_BENCH_TOKEN, a P-256 key made here, its CSR
 *       to POST /enroll/v1): every simulated terminal has its own
 *       certificate, as a real one does. OUT_FILE holds the keys and
 *       certificates (DER), for `run`. No server test mode is involved.
 *
 *   bench_scale request HOST:PORT CA_PEM CERT_FILE
 *       The first terminal's visit with one record: its first, a
 *       `request.created` for a device (every run's first record of that
 *       terminal is this one, the same bytes when MAMORI_BENCH_TIME_BASE_US
 *       is the same), so that scale.sh can approve a request through the
 *       admin API before `run`: the check-ins then carry approval data.
 *
 *   bench_scale run HOST:PORT CA_PEM CERT_FILE SECONDS INTERVAL EVENTS [SERVER_PID,...]
 *       Each terminal visits every INTERVAL seconds (visits spread evenly:
 *       N / INTERVAL per second): a new mTLS connection offering the
 *       terminal's last session ticket, as the agent does (it keeps the
 *       newest in its state directory between syncs; the first visit is a
 *       full handshake); BENCH_SCALE_RESUME=0 makes a full handshake at
 *       every visit instead (an agent without a kept session), POST
 *       /api/v1/checkin with a 14-check posture report and the version of
 *       the approval data it holds, taken from the last document the server
 *       sent (BENCH_SCALE_SAY_APPROVALS=0: not said, as an older agent:
 *       every answer then carries a document signed for it), then POST
 *       /api/v1/events with the EVENTS journal records (hash-chained with
 *       protocol/journal_canon.c, as the agent makes them) recorded since
 *       its last visit plus any not yet acknowledged, then it hangs up.
 *       Resuming, the steady phase comes after a first contact (every
 *       terminal at once, full handshakes: what a deployment sees once,
 *       not at every visit). After SECONDS: the reconnect burst (every terminal at once, as after
 *       a network outage, at most MAX_INFLIGHT connections open), then a
 *       drain until every terminal's records are acknowledged (the agent's
 *       spool resends what was not). CPU of the SERVER_PIDs (mamori-server,
 *       haproxy) and of their children (the server's signer process) is
 *       read from /proc around each phase.
 *
 * Prints "key value" lines: check-ins/s, latency percentiles (from the
 * scheduled time of the visit, so queueing counts, and of the check-in
 * request alone), errors, events generated/acknowledged, CPU per check-in;
 * the steady phase also minute by minute ("window_s" lines: a tail or a
 * CPU cost that grows as the database grows shows where it starts, with
 * the share of the minute in which every task waited for the disk, from
 * /proc/pressure/io when the kernel has it). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "alloc-util.h"
#include "bench_report.h"
#include "buf.h"
#include "journal_canon.h"
#include "strutil.h"
#include "tls_http.h"

#define MAX_INFLIGHT 2000 /* connections open at once (below the server's --max-connections) */
#define BATCH_MAX    500  /* records per upload, as the agent's batches */
#define ANSWER_MAX   65536
#define LAT_MAX      (4u << 20)
#define BUF_LIMIT    (8u << 20)

struct term {
	unsigned char *cert_der, *key_der;
	int cert_len, key_len;
	char id[64];
	char chain[33];
	uint64_t gen_seq, acked_seq; /* records made / acknowledged by the server */
	unsigned char acked_hash[32];
	bool busy;
	/* the newest session ticket as bytes, decoded afresh at each visit, as
	 * the agent keeps it (its state directory's tls-session): OpenSSL's
	 * client spends an in-memory TLS 1.3 session object once resumed with */
	unsigned char *sess;
	size_t sess_len;
	/* the approval data's version it holds (from the last document the
	 * server sent), said in each check-in as the agent does */
	int64_t approvals_version;
};

enum step { S_CONNECT, S_HANDSHAKE, S_SEND, S_READ };

struct conn {
	int fd;
	SSL *ssl;
	struct term *t;
	enum step step;
	bool events_phase; /* sending/reading the events upload (else the check-in) */
	uint64_t batch_to;
	struct buf req;
	size_t sent;
	char ans[ANSWER_MAX];
	size_t have;
	double t_sched, t_req;
	struct conn *next_free;
};

static struct sockaddr_in addr;
static char host[256];
static SSL_CTX *ctx;
static struct term *terms;
static size_t nterms;
static int ep;
static unsigned inflight;
static bool resume;
static bool say_approvals = true; /* BENCH_SCALE_SAY_APPROVALS=0: as an older agent, never */
static int64_t time_base_us;
static unsigned events_per_visit;

static struct {
	uint64_t visits, checkins_ok, uploads_ok, errors, late, resumed;
	uint64_t grants; /* check-in answers that carried signed approval data */
	uint32_t *lat_visit, *lat_req;
	size_t nvisit, nreq;
} st;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_hostport(const char *s, struct sockaddr_in *a, char *h, size_t hsz)
{
	const char *colon = strrchr(s, ':');
	int64_t port;

	if (!colon || parse_int64(colon + 1, 1, 65535, &port) < 0 || (size_t)(colon - s) >= hsz)
		return -EINVAL;
	snprintf(h, hsz, "%.*s", (int)(colon - s), s);
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, h, &a->sin_addr) == 1 ? 0 : -EINVAL;
}

/* ---- blocking HTTP for the enrollment ------------------------------------------ */

/* One answer with its body (NUL-terminated in *body, caller frees). */
static int read_answer_body(SSL *ssl, char **body)
{
	char *buf = malloc(ANSWER_MAX + 1), *end = NULL;
	size_t have = 0;
	long clen = -1;
	int status;

	*body = NULL;
	if (!buf)
		return -1;
	for (;;) {
		int n;

		if (end && clen >= 0 && have >= (size_t)(end + 4 - buf) + (size_t)clen)
			break;
		if (have >= ANSWER_MAX)
			goto fail;
		n = SSL_read(ssl, buf + have, (int)(ANSWER_MAX - have));
		if (n <= 0)
			goto fail;
		have += (size_t)n;
		buf[have] = 0;
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			char *cl = strcasestr(buf, "\r\nContent-Length:");

			if (!cl || cl > end)
				goto fail;
			clen = strtol(cl + 17, NULL, 10);
		}
	}
	if (sscanf(buf, "HTTP/1.%*c %d", &status) != 1)
		goto fail;
	*body = strdup(end + 4);
	free(buf);
	return *body ? status : -1;
fail:
	free(buf);
	return -1;
}

static int post(SSL *ssl, const char *path, const char *bearer, const char *json, char **body)
{
	char head[1024];
	int n = snprintf(head, sizeof(head),
	                 "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%s%s%s"
	                 "Content-Length: %zu\r\n\r\n",
	                 path, host, bearer ? "Authorization: Bearer " : "", bearer ?: "", bearer ? "\r\n" : "",
	                 strlen(json));

	if (n < 0 || (size_t)n >= sizeof(head) || SSL_write(ssl, head, n) != n ||
	    SSL_write(ssl, json, (int)strlen(json)) != (int)strlen(json))
		return -1;
	return read_answer_body(ssl, body);
}

static int write_blob(FILE *f, const unsigned char *p, int n)
{
	uint32_t len = (uint32_t)n;

	return fwrite(&len, sizeof(len), 1, f) == 1 && fwrite(p, 1, (size_t)n, f) == (size_t)n ? 0 : -EIO;
}

static int cmd_enroll(int argc, char **argv)
{
	const char *bearer = getenv("MAMORI_BENCH_TOKEN"), *group, *prefix;
	int64_t n;
	SSL *ssl = NULL;
	FILE *out;
	double t0 = now();

	if (argc != 8 || parse_hostport(argv[2], &addr, host, sizeof(host)) < 0 ||
	    parse_int64(argv[6], 1, 10000000, &n) < 0 || !bearer) {
		fprintf(stderr,
		        "usage: MAMORI_BENCH_TOKEN=… bench_scale enroll ADMIN_HOST:PORT CA GROUP PREFIX N OUT\n");
		return 2;
	}
	group = argv[4];
	prefix = argv[5];
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1)
		return 2;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	out = fopen(argv[7], "we");
	if (!out)
		return 2;
	for (int64_t i = 0; i < n; i++) {
		char tid[64], gbody[300], *ebody = NULL, *tbody = NULL, *csr_pem = NULL;
		EVP_PKEY *key = NULL;
		X509_REQ *req = NULL;
		X509 *cert = NULL;
		BIO *bio = NULL;
		cJSON *j = NULL, *e = NULL;
		unsigned char *der = NULL, *kder = NULL;
		int st_code, dlen, klen, ok = 0;

		snprintf(tid, sizeof(tid), "%s-%" PRId64, prefix, i);
		snprintf(gbody, sizeof(gbody), "{\"group\":\"%s\"}", group);
		if (!ssl && !(ssl = tls_dial(ctx, &addr, 0)))
			goto next;
		st_code = post(ssl, "/admin/v1/enrollment-tokens", bearer, gbody, &tbody);
		if (st_code != 201 && st_code != 200)
			goto next;
		j = cJSON_Parse(tbody);
		key = EVP_EC_gen("P-256");
		req = X509_REQ_new();
		bio = BIO_new(BIO_s_mem());
		if (!cJSON_IsString(cJSON_GetObjectItem(j, "token")) || !key || !req || !bio)
			goto next;
		{
			X509_NAME *nm = X509_REQ_get_subject_name(req);
			cJSON *b = cJSON_CreateObject();
			BUF_MEM *bm;

			if (X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)tid, -1, -1,
			                               0) != 1 ||
			    X509_REQ_set_pubkey(req, key) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0 ||
			    PEM_write_bio_X509_REQ(bio, req) != 1) {
				cJSON_Delete(b);
				goto next;
			}
			BIO_get_mem_ptr(bio, &bm);
			csr_pem = strndup(bm->data, bm->length);
			cJSON_AddStringToObject(b, "token", cJSON_GetObjectItem(j, "token")->valuestring);
			cJSON_AddStringToObject(b, "csr", csr_pem);
			cJSON_AddStringToObject(b, "terminal_id", tid);
			free(csr_pem);
			csr_pem = cJSON_PrintUnformatted(b);
			cJSON_Delete(b);
		}
		st_code = post(ssl, "/enroll/v1", NULL, csr_pem, &ebody);
		if (st_code != 201)
			goto next;
		e = cJSON_Parse(ebody);
		{
			cJSON *c = cJSON_GetObjectItem(e, "certificate");
			BIO *cb = cJSON_IsString(c) ? BIO_new_mem_buf(c->valuestring, -1) : NULL;

			cert = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
			BIO_free(cb);
		}
		dlen = cert ? i2d_X509(cert, &der) : -1;
		klen = i2d_PrivateKey(key, &kder);
		if (dlen > 0 && klen > 0 && write_blob(out, der, dlen) == 0 && write_blob(out, kder, klen) == 0)
			ok = 1;
	next:
		if (!ok) {
			fprintf(stderr, "bench_scale: enrolling %s failed\n", tid);
			tls_hang_up(&ssl);
			fclose(out);
			return 1;
		}
		OPENSSL_free(der);
		OPENSSL_free(kder);
		X509_free(cert);
		BIO_free(bio);
		X509_REQ_free(req);
		EVP_PKEY_free(key);
		cJSON_Delete(j);
		cJSON_Delete(e);
		free(tbody);
		free(ebody);
		free(csr_pem);
		if ((i + 1) % 1000 == 0)
			fprintf(stderr, "bench_scale: %" PRId64 " enrolled (%.0f/s)\n", i + 1,
			        (double)(i + 1) / (now() - t0));
	}
	tls_hang_up(&ssl);
	if (fclose(out) != 0)
		return 1;
	printf("enrolled %" PRId64 "\nenroll_per_s %.1f\n", n, (double)n / (now() - t0));
	return 0;
}

/* ---- the run ------------------------------------------------------------------------ */

static int read_blob(FILE *f, unsigned char **p, int *n)
{
	uint32_t len;

	if (fread(&len, sizeof(len), 1, f) != 1)
		return -ENODATA;
	if (len == 0 || len > 65536 || !(*p = malloc(len)) || fread(*p, 1, len, f) != len)
		return -EIO;
	*n = (int)len;
	return 0;
}

static int load_terms(const char *path, const char *prefix)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0;
	int r = 0;

	if (!f)
		return -errno;
	for (;;) {
		struct term t = {0};

		r = read_blob(f, &t.cert_der, &t.cert_len);
		if (r == -ENODATA) {
			r = 0;
			break;
		}
		if (r < 0 || (r = read_blob(f, &t.key_der, &t.key_len)) < 0)
			break;
		if (nterms == cap) {
			struct term *n = realloc(terms, (cap = cap ? cap * 2 : 1024) * sizeof(*terms));

			if (!n) {
				r = -ENOMEM;
				break;
			}
			terms = n;
		}
		snprintf(t.id, sizeof(t.id), "%s-%zu", prefix, nterms);
		snprintf(t.chain, sizeof(t.chain), "b5%030zx", nterms);
		terms[nterms++] = t;
	}
	fclose(f);
	return r;
}

static const char *checkin_body(void)
{
	static char body[6000];
	size_t n;

	if (body[0])
		return body;
	n = (size_t)snprintf(body, sizeof(body),
	                     "{\"agent_version\":\"0.1.0\",\"hostname\":\"bench\",\"policy_version\":0,\"report\":");
	n = bench_report_json(body, sizeof(body), n);
	(void)snprintf(body + n, sizeof(body) - n, ",\"inventory\":{\"os\":\"Debian GNU/Linux 12\"}}");
	return body;
}

static int put_request(struct buf *b, const char *path, const char *json, size_t len)
{
	char head[512];
	int n = snprintf(
	        head, sizeof(head),
	        "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", path,
	        host, len);

	b->len = 0;
	if (n < 0 || (size_t)n >= sizeof(head) || buf_put(b, head, (size_t)n, BUF_LIMIT) < 0 ||
	    buf_put(b, json, len, BUF_LIMIT) < 0)
		return -ENOMEM;
	return 0;
}

/* The check-in: the shared body, led by the approval data version this
 * terminal holds (the agent's "approvals_version"). */
static int checkin_request(struct conn *c)
{
	struct buf body = {0};
	int r = say_approvals ? buf_printf(&body, BUF_LIMIT, "{\"approvals_version\":%" PRId64 ",%s",
	                                   c->t->approvals_version, checkin_body() + 1)
	                      : buf_puts(&body, checkin_body(), BUF_LIMIT);

	if (r == 0)
		r = put_request(&c->req, "/api/v1/checkin", body.data, body.len);
	buf_free(&body);
	return r;
}

/* A check-in answer with approval data ("grants": {document, signature}):
 * the version the terminal now holds. The signature is not checked here
 * (the agent's is, in tests/integration/e2e_server.sh). */
static int take_grants(struct term *t, const char *answer)
{
	cJSON *a = cJSON_Parse(answer), *d = NULL;
	const cJSON *doc = cJSON_GetObjectItem(cJSON_GetObjectItem(a, "grants"), "document"), *v;
	int r = -EBADMSG;

	if (cJSON_IsString(doc) && (d = cJSON_Parse(doc->valuestring)) &&
	    cJSON_IsNumber(v = cJSON_GetObjectItem(d, "version")) && v->valuedouble >= 1) {
		t->approvals_version = (int64_t)v->valuedouble;
		r = 0;
	}
	cJSON_Delete(d);
	cJSON_Delete(a);
	return r;
}

/* Record `seq` of terminal t as the agent's journal makes it: canonical
 * bytes (protocol/journal_canon.c) in *rec, and *hash = SHA-256(*hash ‖
 * bytes). Deterministic in (terminal, seq): a record sent again is the same
 * record. */
static int make_record(const struct term *t, uint64_t seq, struct buf *payload, struct buf *rec, unsigned char hash[32])
{
	cJSON *p = cJSON_CreateObject();
	struct journal_canon_head hd = {
	        .chain = t->chain,
	        .seq = seq,
	        .time_us = time_base_us + (int64_t)seq * 1000,
	        .synced = true,
	        .type = seq % 3 ? "usb.blocked" : "login.success",
	        .severity = SEV_NOTICE,
	        .reqs = seq % 3 ? "MEDIA-1" : "LOCK-2",
	};
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int r;

	if (t == &terms[0] && seq == 1) {
		/* the first terminal's first record: a request for a device, as
		 * `mamorictl request device` journals it (`bench_scale request`;
		 * the server makes a request of it) */
		cJSON *d = cJSON_AddObjectToObject(p, "device"), *ifs = cJSON_AddArrayToObject(d, "interfaces");
		char dh[65];

		memset(dh, 'b', 64);
		dh[64] = 0;
		hd.type = "request.created";
		hd.reqs = "OPS-3,OPS-4";
		cJSON_AddStringToObject(p, "request_id", t->chain);
		cJSON_AddStringToObject(p, "kind", "device");
		cJSON_AddStringToObject(d, "hash", dh);
		cJSON_AddStringToObject(d, "vendor_id", "0781");
		cJSON_AddStringToObject(d, "product_id", "5567");
		cJSON_AddStringToObject(d, "serial", "BENCH-REQUEST");
		cJSON_AddItemToArray(ifs, cJSON_CreateString("08:06:50"));
		cJSON_AddNullToObject(p, "reason");
	} else {
		cJSON_AddStringToObject(p, "vendor_id", "0781");
		cJSON_AddStringToObject(p, "product_id", "5567");
	}
	cJSON_AddStringToObject(p, "user", "tanaka");
	cJSON_AddNumberToObject(p, "n", (double)seq);
	r = p && md ? journal_canon_payload(p, payload) : -ENOMEM;
	if (r == 0)
		r = journal_canon_record(&hd, payload->data, payload->len, rec);
	if (r == 0 && (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(md, hash, 32) != 1 ||
	               EVP_DigestUpdate(md, rec->data, rec->len) != 1 || EVP_DigestFinal_ex(md, hash, NULL) != 1))
		r = -EIO;
	EVP_MD_CTX_free(md);
	cJSON_Delete(p);
	return r;
}

/* The records after the acknowledged ones (at most BATCH_MAX), chained from
 * the last acknowledged hash, as the agent uploads them: {"record":
 * canonical bytes, "hash": hex}. */
static int events_request(struct conn *c)
{
	struct term *t = c->t;
	struct buf body = {0}, payload = {0}, rec = {0};
	unsigned char h[32];
	uint64_t to = t->gen_seq < t->acked_seq + BATCH_MAX ? t->gen_seq : t->acked_seq + BATCH_MAX;
	int r;

	memcpy(h, t->acked_hash, sizeof(h));
	r = buf_puts(&body, "{\"records\":[", BUF_LIMIT);
	for (uint64_t s = t->acked_seq + 1; r == 0 && s <= to; s++) {
		char hex[65];

		r = make_record(t, s, &payload, &rec, h);
		if (r == 0)
			r = buf_puts(&body, s > t->acked_seq + 1 ? ",{\"record\":" : "{\"record\":", BUF_LIMIT);
		if (r == 0)
			r = buf_put(&body, rec.data, rec.len, BUF_LIMIT);
		for (int k = 0; r == 0 && k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", h[k]);
		if (r == 0)
			r = buf_printf(&body, BUF_LIMIT, ",\"hash\":\"%s\"}", hex);
	}
	if (r == 0)
		r = buf_puts(&body, "]}", BUF_LIMIT);
	if (r == 0)
		r = put_request(&c->req, "/api/v1/events", body.data, body.len);
	c->batch_to = to;
	buf_free(&body);
	buf_free(&payload);
	buf_free(&rec);
	return r;
}

/* The server acknowledged up to `acked`: the hash the next batch chains from. */
static int advance_ack(struct term *t, uint64_t acked)
{
	struct buf payload = {0}, rec = {0};
	int r = 0;

	for (uint64_t s = t->acked_seq + 1; r == 0 && s <= acked; s++)
		r = make_record(t, s, &payload, &rec, t->acked_hash);
	if (r == 0)
		t->acked_seq = acked;
	buf_free(&payload);
	buf_free(&rec);
	return r;
}

static void lat_add(uint32_t *arr, size_t *n, double s)
{
	if (*n < LAT_MAX)
		arr[(*n)++] = s * 1e6 > 4e9 ? 4000000000u : (uint32_t)(s * 1e6);
}

/* The server's ticket (TLS 1.3: after the handshake): kept by its terminal. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct conn *c = SSL_get_app_data(ssl);

	unsigned char *der, *p;
	int n;

	if (!c || (n = i2d_SSL_SESSION(sess, NULL)) <= 0 || !(der = malloc((size_t)n)))
		return 0;
	p = der;
	if (i2d_SSL_SESSION(sess, &p) != n) {
		free(der);
		return 0;
	}
	free(c->t->sess);
	c->t->sess = der;
	c->t->sess_len = (size_t)n;
	return 0; /* the bytes are ours; the library keeps its reference */
}

static void conn_end(struct conn *c, bool ok)
{
	if (!ok)
		st.errors++;
	else
		lat_add(st.lat_visit, &st.nvisit, now() - c->t_sched);
	if (c->ssl) {
		/* hang up with close_notify, as libcurl does: OpenSSL marks the
		 * session of a connection freed without it as not resumable */
		if (ok)
			(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->req);
	c->t->busy = false;
	inflight--;
	free(c);
}

static int arm(struct conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void visit_start(struct term *t, double t_sched)
{
	struct conn *c;
	struct epoll_event ev;
	int fd, one = 1;

	st.visits++;
	if (t->busy) {
		st.late++; /* its previous visit is still going */
		return;
	}
	c = calloc(1, sizeof(*c));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!c || fd < 0) {
		free(c);
		if (fd >= 0)
			close(fd);
		st.errors++;
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->t = t;
	c->t_sched = t_sched;
	t->busy = true;
	inflight++;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS)
		return conn_end(c, false);
	c->step = S_CONNECT;
	ev = (struct epoll_event){.events = EPOLLOUT, .data.ptr = c};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return conn_end(c, false);
}

/* 0 = go on, 1 = wait for the armed event, -1 = failed */
static int ssl_wait(struct conn *c, int r)
{
	int e = SSL_get_error(c->ssl, r);

	if (e == SSL_ERROR_WANT_READ)
		return arm(c, EPOLLIN) < 0 ? -1 : 1;
	if (e == SSL_ERROR_WANT_WRITE)
		return arm(c, EPOLLOUT) < 0 ? -1 : 1;
	ERR_clear_error();
	return -1;
}

/* A whole answer in c->ans: its status, -1 broken, 0 not complete yet. */
static int answer_complete(struct conn *c, const char **body)
{
	char *end = strstr(c->ans, "\r\n\r\n"), *cl;
	int status;

	if (!end)
		return 0;
	cl = strcasestr(c->ans, "\r\nContent-Length:");
	if (!cl || cl > end)
		return -1;
	if (c->have < (size_t)(end + 4 - c->ans) + (size_t)strtol(cl + 17, NULL, 10))
		return 0;
	if (sscanf(c->ans, "HTTP/1.%*c %d", &status) != 1)
		return -1;
	*body = end + 4;
	return status;
}

static void step(struct conn *c)
{
	for (;;) {
		int r;

		switch (c->step) {
		case S_CONNECT: {
			int err = 0;
			socklen_t l = sizeof(err);

			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err)
				return conn_end(c, false);
			c->ssl = SSL_new(ctx);
			if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 ||
			    SSL_use_certificate_ASN1(c->ssl, c->t->cert_der, c->t->cert_len) != 1 ||
			    !SSL_use_PrivateKey_ASN1(EVP_PKEY_EC, c->ssl, c->t->key_der, c->t->key_len)) {
				ERR_clear_error();
				return conn_end(c, false);
			}
			SSL_set_app_data(c->ssl, c);
			if (resume && c->t->sess) {
				const unsigned char *p = c->t->sess;
				SSL_SESSION *s = d2i_SSL_SESSION(NULL, &p, (long)c->t->sess_len);

				if (!s || SSL_set_session(c->ssl, s) != 1)
					ERR_clear_error(); /* a full handshake then */
				SSL_SESSION_free(s);
			}
			SSL_set_connect_state(c->ssl);
			c->step = S_HANDSHAKE;
			break;
		}
		case S_HANDSHAKE:
			r = SSL_do_handshake(c->ssl);
			if (r != 1) {
				r = ssl_wait(c, r);
				if (r < 0)
					return conn_end(c, false);
				return;
			}
			if (SSL_session_reused(c->ssl))
				st.resumed++;
			if (checkin_request(c) < 0)
				return conn_end(c, false);
			c->sent = 0;
			c->t_req = now();
			c->step = S_SEND;
			break;
		case S_SEND:
			while (c->sent < c->req.len) {
				size_t w = 0;

				r = SSL_write_ex(c->ssl, c->req.data + c->sent, c->req.len - c->sent, &w);
				if (r != 1) {
					r = ssl_wait(c, 0);
					if (r < 0)
						return conn_end(c, false);
					return;
				}
				c->sent += w;
			}
			c->have = 0;
			c->ans[0] = 0;
			c->step = S_READ;
			if (arm(c, EPOLLIN) < 0)
				return conn_end(c, false);
			break;
		case S_READ: {
			const char *body = NULL;
			size_t got = 0;
			int status;

			r = SSL_read_ex(c->ssl, c->ans + c->have, sizeof(c->ans) - 1 - c->have, &got);
			if (r != 1) {
				r = ssl_wait(c, 0);
				if (r < 0)
					return conn_end(c, false);
				return;
			}
			c->have += got;
			c->ans[c->have] = 0;
			status = answer_complete(c, &body);
			if (status == 0) {
				if (c->have >= sizeof(c->ans) - 1)
					return conn_end(c, false);
				continue;
			}
			if (!c->events_phase) {
				if (status != 200 && getenv("MAMORI_BENCH_DEBUG"))
					fprintf(stderr, "bench_scale: %s: check-in answered %d: %.300s\n", c->t->id,
					        status, body);
				if (status != 200)
					return conn_end(c, false);
				if (strstr(body, "\"grants\":{")) {
					if (take_grants(c->t, body) < 0)
						return conn_end(c, false);
					st.grants++;
				}
				st.checkins_ok++;
				lat_add(st.lat_req, &st.nreq, now() - c->t_req);
			} else {
				cJSON *j = status == 200 ? cJSON_Parse(body) : NULL;
				cJSON *a = cJSON_GetObjectItem(j, "acked_seq");
				bool good = cJSON_IsNumber(a) && a->valuedouble >= (double)c->t->acked_seq &&
				            a->valuedouble <= (double)c->batch_to;

				if (good && advance_ack(c->t, (uint64_t)a->valuedouble) < 0)
					good = false;
				cJSON_Delete(j);
				if (!good && getenv("MAMORI_BENCH_DEBUG"))
					fprintf(stderr, "bench_scale: %s: upload answered %d: %.300s\n", c->t->id,
					        status, body);
				if (!good)
					return conn_end(c, false);
				st.uploads_ok++;
			}
			if (c->t->gen_seq > c->t->acked_seq) {
				/* the next batch on the same connection, as the agent's sync */
				if (events_request(c) < 0)
					return conn_end(c, false);
				c->events_phase = true;
				c->sent = 0;
				c->step = S_SEND;
				break;
			}
			return conn_end(c, true);
		}
		}
	}
}

static void loop_once(int timeout_ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(ep, evs, 256, timeout_ms);

	for (int i = 0; i < n; i++)
		step(evs[i].data.ptr);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void print_lat(const char *name, uint32_t *a, size_t n)
{
	if (!n) {
		printf("%s_p50_ms -\n%s_p99_ms -\n%s_max_ms -\n", name, name, name);
		return;
	}
	qsort(a, n, sizeof(*a), cmp_u32);
	printf("%s_p50_ms %.1f\n%s_p99_ms %.1f\n%s_max_ms %.1f\n", name, a[n / 2] / 1e3, name,
	       a[(size_t)((double)n * 0.99)] / 1e3, name, a[n - 1] / 1e3);
}

/* CPU seconds (user + system) of /proc/PID/stat, and its parent's pid. */
static double proc_cpu(const char *pid, long *ret_ppid)
{
	char path[300], line[2048], *rp;
	unsigned long ut = 0, stime = 0;
	double cpu = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(line, sizeof(line), f) && (rp = strrchr(line, ')')) &&
	    sscanf(rp + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", ret_ppid, &ut, &stime) == 3)
		cpu = (double)(ut + stime) / (double)sysconf(_SC_CLK_TCK);
	fclose(f);
	return cpu;
}

/* The CPU of the processes measured: each PID and its children (the
 * server's signer process holds the signing keys and signs the approval
 * data: its work is the server's; /proc/PID/stat counts the process
 * itself only). */
static double cpu_seconds(const char *pids)
{
	double total = 0, c;
	char copy[512], *save = NULL;
	long want[16], ppid;
	size_t n = 0;
	DIR *d;
	struct dirent *e;

	if (!pids)
		return 0;
	snprintf(copy, sizeof(copy), "%s", pids);
	for (char *p = strtok_r(copy, ",", &save); p && n < ELEMENTSOF(want); p = strtok_r(NULL, ",", &save)) {
		if ((c = proc_cpu(p, &ppid)) >= 0)
			total += c;
		want[n++] = strtol(p, NULL, 10);
	}
	d = opendir("/proc");
	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || (c = proc_cpu(e->d_name, &ppid)) < 0)
			continue;
		for (size_t k = 0; k < n; k++)
			if (ppid == want[k])
				total += c;
	}
	if (d)
		closedir(d);
	return total;
}

/* The "full" line of /proc/pressure/io: microseconds in which every
 * non-idle task waited for I/O; -1 without pressure stall information. */
static double io_full_us(void)
{
	char line[256];
	double total = -1;
	FILE *f = fopen("/proc/pressure/io", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "full ", 5) == 0 && strstr(line, "total="))
			total = strtod(strstr(line, "total=") + 6, NULL);
	fclose(f);
	return total;
}

/* One minute of the steady phase (WINDOW_S): its check-ins, their p99 and
 * maximum, the servers' CPU a check-in, the disk stall share. */
#define WINDOW_S 60
static struct {
	double t0, cpu0, io0;
	uint64_t ok0;
	size_t req0;
	char lines[8192];
	size_t len;
} win;

static void window_start(double t, const char *pids)
{
	win.t0 = t;
	win.cpu0 = cpu_seconds(pids);
	win.io0 = io_full_us();
	win.ok0 = st.checkins_ok;
	win.req0 = st.nreq;
}

static void window_end(double t, double t_phase, const char *pids)
{
	size_t n = st.nreq - win.req0;
	uint64_t ok = st.checkins_ok - win.ok0;
	double cpu = cpu_seconds(pids) - win.cpu0, io = io_full_us();
	uint32_t *a = n ? malloc(n * sizeof(*a)) : NULL;
	char p99[32] = "-", max[32] = "-", cpu_s[32] = "-", io_s[32] = "-";
	int k;

	if (a) {
		memcpy(a, st.lat_req + win.req0, n * sizeof(*a));
		qsort(a, n, sizeof(*a), cmp_u32);
		snprintf(p99, sizeof(p99), "%.1f", a[(size_t)((double)n * 0.99)] / 1e3);
		snprintf(max, sizeof(max), "%.1f", a[n - 1] / 1e3);
		free(a);
	}
	if (cpu > 0 && ok)
		snprintf(cpu_s, sizeof(cpu_s), "%.3f", cpu * 1e3 / (double)ok);
	if (io >= 0 && win.io0 >= 0 && t > win.t0)
		snprintf(io_s, sizeof(io_s), "%.1f", (io - win.io0) / 1e4 / (t - win.t0));
	k = snprintf(win.lines + win.len, sizeof(win.lines) - win.len,
	             "window_s %.0f-%.0f checkins %" PRIu64 " checkin_p99_ms %s checkin_max_ms %s "
	             "server_cpu_ms_per_checkin %s io_full_pct %s\n",
	             win.t0 - t_phase, t - t_phase, ok, p99, max, cpu_s, io_s);
	if (k > 0 && (size_t)k < sizeof(win.lines) - win.len)
		win.len += (size_t)k;
	window_start(t, pids);
}

static void reset_phase(void)
{
	st.visits = st.checkins_ok = st.uploads_ok = st.errors = st.late = st.resumed = st.grants = 0;
	st.nvisit = st.nreq = 0;
}

static void phase_report(const char *phase, double secs, double cpu)
{
	printf("[%s]\n", phase);
	printf("seconds %.1f\nvisits %" PRIu64 "\ncheckins_ok %" PRIu64 "\ncheckins_per_s %.1f\nuploads_ok %" PRIu64
	       "\nerrors %" PRIu64 "\nlate_visits %" PRIu64 "\n",
	       secs, st.visits, st.checkins_ok, (double)st.checkins_ok / secs, st.uploads_ok, st.errors, st.late);
	printf("tls_resumed %" PRIu64 "\ngrants_received %" PRIu64 "\n", st.resumed, st.grants);
	print_lat("visit", st.lat_visit, st.nvisit);
	print_lat("checkin", st.lat_req, st.nreq);
	if (cpu > 0 && st.checkins_ok)
		printf("server_cpu_s %.2f\nserver_cpu_ms_per_checkin %.3f\nserver_cpu_share %.2f\n", cpu,
		       cpu * 1e3 / (double)st.checkins_ok, cpu / secs);
}

/* Every terminal at once (at most MAX_INFLIGHT connections open); the
 * phase's report; its wall time. */
static double burst(const char *name, const char *pids, uint64_t *generated)
{
	double cpu0, t0, wall;

	reset_phase();
	cpu0 = cpu_seconds(pids);
	t0 = now();
	for (size_t i = 0; i < nterms;) {
		while (i < nterms && inflight < MAX_INFLIGHT) {
			terms[i].gen_seq += events_per_visit;
			*generated += events_per_visit;
			visit_start(&terms[i++], t0);
		}
		loop_once(1);
	}
	while (inflight)
		loop_once(10);
	wall = now() - t0;
	phase_report(name, wall, cpu_seconds(pids) - cpu0);
	return wall;
}

/* What `run` and `request` share: the terminals, the TLS context (each
 * offering its last ticket unless BENCH_SCALE_RESUME=0), the epoll loop and
 * the records' time base (MAMORI_BENCH_TIME_BASE_US: the same for both, so
 * that a record is the same bytes in each; else an hour ago). */
static int run_setup(const char *target, const char *ca, const char *certs)
{
	struct rlimit rl;
	int64_t base;
	int r;

	if (parse_hostport(target, &addr, host, sizeof(host)) < 0)
		return -EINVAL;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	r = load_terms(certs, getenv("MAMORI_BENCH_PREFIX") ?: "scale");
	if (r < 0 || nterms == 0) {
		fprintf(stderr, "bench_scale: cannot read %s\n", certs);
		return -EIO;
	}
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		return -EIO;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* the certificate alone, as the agent sends it (agent/net/transport.c
	 * leaf_only): not the chain OpenSSL would build from the CA file */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	/* each terminal offers its last ticket, as the agent does (it keeps
	 * it between syncs); BENCH_SCALE_RESUME=0: a full handshake every visit */
	resume = !getenv("BENCH_SCALE_RESUME") || strcmp(getenv("BENCH_SCALE_RESUME"), "0") != 0;
	say_approvals = !getenv("BENCH_SCALE_SAY_APPROVALS") || strcmp(getenv("BENCH_SCALE_SAY_APPROVALS"), "0") != 0;
	SSL_CTX_set_session_cache_mode(ctx, resume ? SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE
	                                           : SSL_SESS_CACHE_OFF);
	if (resume)
		SSL_CTX_sess_set_new_cb(ctx, on_new_session);
	st.lat_visit = malloc(sizeof(uint32_t) * LAT_MAX);
	st.lat_req = malloc(sizeof(uint32_t) * LAT_MAX);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!st.lat_visit || !st.lat_req || ep < 0)
		return -ENOMEM;
	if (getenv("MAMORI_BENCH_TIME_BASE_US")) {
		if (parse_int64(getenv("MAMORI_BENCH_TIME_BASE_US"), 1, INT64_MAX, &base) < 0)
			return -EINVAL;
		time_base_us = base;
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		time_base_us = ((int64_t)ts.tv_sec - 3600) * 1000000;
	}
	return 0;
}

/* The first terminal's visit with its first record only: the request
 * (make_record) reaches the server, which makes a pending request of it. */
static int cmd_request(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: bench_scale request HOST:PORT CA CERT_FILE\n");
		return 2;
	}
	if (run_setup(argv[2], argv[3], argv[4]) < 0)
		return 2;
	terms[0].gen_seq = 1;
	visit_start(&terms[0], now());
	while (inflight)
		loop_once(10);
	if (terms[0].acked_seq != 1) {
		fprintf(stderr, "bench_scale: the request record was not acknowledged\n");
		return 1;
	}
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	int64_t secs, interval, evs;
	const char *pids = argc > 8 ? argv[8] : NULL;
	double t0, rate, cpu0, wall;
	uint64_t generated = 0, acked = 0, v = 0;

	if (argc < 8 || parse_int64(argv[5], 1, 86400, &secs) < 0 || parse_int64(argv[6], 1, 86400, &interval) < 0 ||
	    parse_int64(argv[7], 0, 10000, &evs) < 0) {
		fprintf(stderr, "usage: bench_scale run HOST:PORT CA CERT_FILE SECONDS INTERVAL EVENTS [PID,...]\n");
		return 2;
	}
	events_per_visit = (unsigned)evs;
	if (run_setup(argv[2], argv[3], argv[4]) < 0)
		return 2;
	printf("terminals %zu\ninterval_s %" PRId64 "\nevents_per_visit %u\ntarget_checkins_per_s %.1f\n", nterms,
	       interval, events_per_visit, (double)nterms / (double)interval);

	/* first contact (resuming agents): every terminal at once with a full
	 * handshake, as on the first day or after every agent restarted with
	 * its kept session gone; the steady phase then sees what a running
	 * deployment sees, each visit offering the session of the one before */
	if (resume) {
		(void)burst("first_contact", pids, &generated);
		reset_phase();
	}
	/* steady: visit v of terminal v % N at t0 + v × interval / N */
	rate = (double)nterms / (double)interval;
	cpu0 = cpu_seconds(pids);
	t0 = now();
	window_start(t0, pids);
	for (;;) {
		double t = now();

		if (t - t0 >= (double)secs)
			break;
		if (t - win.t0 >= WINDOW_S)
			window_end(t, t0, pids);
		while (t0 + (double)v / rate <= t && inflight < MAX_INFLIGHT) {
			struct term *tm = &terms[v % nterms];

			if (!tm->busy) {
				tm->gen_seq += events_per_visit;
				generated += events_per_visit;
			}
			visit_start(tm, t0 + (double)v / rate);
			v++;
		}
		loop_once(1);
	}
	while (inflight)
		loop_once(10);
	wall = now() - t0;
	if (now() - win.t0 >= 1)
		window_end(now(), t0, pids);
	phase_report("steady", wall, cpu_seconds(pids) - cpu0);
	fputs(win.lines, stdout);

	/* the reconnect burst: every terminal at once, as after a network
	 * outage (each offers the session it kept) */
	wall = burst("burst", pids, &generated);
	printf("burst_seconds %.1f\n", wall);

	/* drain: whatever was not acknowledged is sent again */
	reset_phase();
	for (int round = 0; round < 20; round++) {
		bool all = true;

		for (size_t i = 0; i < nterms; i++) {
			if (terms[i].acked_seq == terms[i].gen_seq)
				continue;
			all = false;
			while (inflight >= MAX_INFLIGHT)
				loop_once(10);
			visit_start(&terms[i], now());
		}
		while (inflight)
			loop_once(10);
		if (all)
			break;
	}
	for (size_t i = 0; i < nterms; i++)
		acked += terms[i].acked_seq;
	printf("[total]\nevents_generated %" PRIu64 "\nevents_acked %" PRIu64 "\nevents_unacked %" PRIu64
	       "\ndrain_errors %" PRIu64 "\n",
	       generated, acked, generated - acked, st.errors);
	return acked == generated ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "enroll") == 0)
		return cmd_enroll(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return cmd_run(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "request") == 0)
		return cmd_request(argc, argv);
	fprintf(stderr, "usage: bench_scale enroll … | run … | request … (see the file's first comment)\n");
	return 2;
}
