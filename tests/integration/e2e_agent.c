/* tests/integration/e2e_agent.c — the agent-side helper of the end-to-end
 * tests (tests/integration/e2e_server.sh, server_refusals.sh; test process).
 *
 *   e2e_agent append STATE_DIR N          append N events to the journal (one batch)
 *   e2e_agent forge STATE_DIR KIND        POST a bad batch with the terminal's own
 *                                         certificate: gap | mismatch | fork | foreign
 *                                         prints "HTTP <status> <body>"
 *   e2e_agent post STATE_DIR FROM TO      POST records FROM..TO of the journal as they are
 *                                         (prints "HTTP <status> <body>")
 *   e2e_agent forge-restart STATE_DIR SEQ bare|recovery
 *                                         POST a new chain of two records starting at SEQ
 *                                         (from zero, as a recovered journal starts one):
 *                                         "recovery" opens it with a tamper.detected record
 *                                         naming the terminal's real chain and head, as
 *                                         agent/journal.c writes it; what someone with a
 *                                         stolen device certificate can send
 *   e2e_agent expired-cert DATA OUT ID    a key + certificate for terminal ID signed by
 *                                         the server's CA (DATA/ca.*) that has expired
 *   e2e_agent foreign-cert DIR OUT ID     a key + certificate from another CA made in DIR
 *   e2e_agent verify-policy FILE PUB      exit 0 if FILE + FILE.sig verify with PUB
 *   e2e_agent hostile STATE_DIR           append usb.blocked and carry.out records whose
 *                                         descriptor strings, user and file names are
 *                                         markup, a right-to-left override and a 4 KiB serial
 *                                         (the dashboard's browser test: tests/integration/dashboard.sh)
 *   e2e_agent record STATE_DIR TYPE JSON  append one record of TYPE whose payload is JSON (the
 *                                         dashboard's test: request.created records as
 *                                         agent/worker/request_store.c writes them)
 *
 * Everything here uses the real agent code (journal, enrollment, transport)
 * and the server's own CA code (pki.c). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-util.h"
#include "chain.h"
#include "crypto.h"
#include "enroll.h"
#include "fileio.h"
#include "journal.h"
#include "journal_batch.h"
#include "journal_canon.h"
#include "json-util.h"
#include "pki.h"
#include "policy.h"
#include "policy_sign.h"
#include "strutil.h"
#include "transport.h"

static int die(const char *what, int r)
{
	fprintf(stderr, "e2e_agent: %s: %s\n", what, strerror(r < 0 ? -r : r));
	return 2;
}

static int cmd_append(const char *dir, const char *count)
{
	struct journal_options o = {.dir = dir};
	struct journal *j = NULL;
	int64_t n;
	int r;

	if (parse_int64(count, 1, 1000000, &n) < 0)
		return die("count", -EINVAL);
	r = mkdir_p(dir, 0755);
	if (r < 0 || (r = journal_open(&o, &j)) < 0)
		return die("journal_open", r);
	r = journal_batch_begin(j);
	for (int64_t i = 0; r == 0 && i < n; i++) {
		_cleanup_json_ cJSON *p = cJSON_CreateObject();
		char path[64], serial[8] = {'S', 'E', 'R', (char)0xff, 0x1b, 0, 'x', 0};
		cJSON *dev = cJSON_AddObjectToObject(p, "device");

		(void)xsnprintf(path, sizeof(path), "/media/usb/報告書-%" PRId64 ".xlsx", i);
		cJSON_AddStringToObject(dev, "vendor_id", "0781");
		cJSON_AddStringToObject(dev, "product_id", "5567");
		/* an untrusted descriptor string that is not UTF-8 and holds a NUL */
		cJSON_AddItemToObject(dev, "serial", journal_canon_bytes_value(serial, 7));
		cJSON_AddStringToObject(p, "path", path);
		cJSON_AddNumberToObject(p, "size", (double)(48213 + i));
		cJSON_AddStringToObject(p, "user", "tanaka");
		struct mamori_event ev = {
		        .type = "carry.out", .severity = SEV_NOTICE, .reqs = "CARRY-1,CARRY-2", .payload = p};
		r = journal_append(j, &ev, NULL);
		if (r == 0 && (i + 1) % 1000 == 0) {
			r = journal_batch_commit(j);
			if (r == 0)
				r = journal_batch_begin(j);
		}
	}
	if (r == 0)
		r = journal_batch_commit(j);
	journal_close(j);
	return r < 0 ? die("append", r) : 0;
}

/* Strings a hostile USB device or user can put into records (the dashboard
 * must show them as text and run none of them). */
static int cmd_hostile(const char *dir)
{
	static const char *const texts[] = {
	        "<script>window.__pwned=1;alert('x')</script>",
	        "\"><img src=x onerror=\"window.__pwned=2;alert(1)\">",
	        "\xe2\x80\xae"
	        "fdp.exe" /* U+202E RIGHT-TO-LEFT OVERRIDE */,
	};
	struct journal_options o = {.dir = dir};
	struct journal *j = NULL;
	char serial[4097];
	int r;

	memset(serial, 'A', 4096);
	serial[4096] = 0;
	serial[0] = '<', serial[1] = 'b', serial[2] = '>';
	r = mkdir_p(dir, 0755);
	if (r < 0 || (r = journal_open(&o, &j)) < 0)
		return die("journal_open", r);
	r = journal_batch_begin(j);
	for (size_t i = 0; r == 0 && i < ELEMENTSOF(texts); i++) {
		_cleanup_json_ cJSON *u = cJSON_CreateObject(), *c = cJSON_CreateObject();
		cJSON *dev = cJSON_AddObjectToObject(u, "device");

		cJSON_AddStringToObject(dev, "vendor_id", "dead");
		cJSON_AddStringToObject(dev, "product_id", "beef");
		cJSON_AddStringToObject(dev, "manufacturer", texts[i]);
		cJSON_AddStringToObject(dev, "product", texts[(i + 1) % ELEMENTSOF(texts)]);
		cJSON_AddStringToObject(dev, "serial", serial);
		cJSON_AddStringToObject(u, "reason", texts[i]);
		struct mamori_event ub = {
		        .type = "usb.blocked", .severity = SEV_WARNING, .reqs = "MEDIA-1", .payload = u};
		r = journal_append(j, &ub, NULL);
		cJSON_AddStringToObject(c, "user", texts[i]);
		cJSON_AddStringToObject(c, "path", texts[(i + 2) % ELEMENTSOF(texts)]);
		cJSON_AddNumberToObject(c, "size", 4096);
		struct mamori_event co = {
		        .type = "carry.out", .severity = SEV_NOTICE, .reqs = "CARRY-1,CARRY-2", .payload = c};
		if (r == 0)
			r = journal_append(j, &co, NULL);
	}
	if (r == 0)
		r = journal_batch_commit(j);
	journal_close(j);
	return r < 0 ? die("append", r) : 0;
}

static int cmd_record(const char *dir, const char *type, const char *json)
{
	struct journal_options o = {.dir = dir};
	struct journal *j = NULL;
	_cleanup_json_ cJSON *pl = cJSON_Parse(json);
	int r;

	if (!cJSON_IsObject(pl))
		return die("record: the payload is not a JSON object", -EINVAL);
	r = mkdir_p(dir, 0755);
	if (r < 0 || (r = journal_open(&o, &j)) < 0)
		return die("journal_open", r);
	r = journal_append(
	        j, &(struct mamori_event){.type = type, .severity = SEV_NOTICE, .reqs = "OPS-3,OPS-4", .payload = pl},
	        NULL);
	journal_close(j);
	return r < 0 ? die("append", r) : 0;
}

/* POST {"records": recs} with the terminal's certificate; prints the answer. */
static int post_records(const char *dir, cJSON *recs)
{
	struct enroll_state es;
	struct transport_conn *c = NULL;
	struct transport_response resp = {0};
	struct transport_request rq = {.method = "POST"};
	_cleanup_json_ cJSON *batch = cJSON_CreateObject();
	_cleanup_free_ char *body = NULL;
	char pem[PATH_MAX], ca[PATH_MAX], url[700], err[512];
	int r;

	if ((r = enroll_state_load(dir, &es)) < 0) {
		cJSON_Delete(recs);
		return die("state", r);
	}
	(void)xsnprintf(pem, sizeof(pem), "%s/%s", dir, TRANSPORT_DEVICE_PEM);
	(void)xsnprintf(ca, sizeof(ca), "%s/%s", dir, TRANSPORT_SERVER_CA);
	(void)xsnprintf(url, sizeof(url), "%s/api/v1/events", es.device_url);
	cJSON_AddItemToObject(batch, "records", recs);
	body = cJSON_PrintUnformatted(batch);
	rq.url = url;
	rq.body = body;
	rq.body_len = strlen(body);
	if ((r = transport_conn_new(ca, pem, 30, &c)) < 0)
		return die("conn", r);
	r = transport_conn_request(c, &rq, &resp, err, sizeof(err));
	transport_conn_free(c);
	if (r < 0) {
		fprintf(stderr, "e2e_agent: %s\n", err);
		return 2;
	}
	printf("HTTP %ld %s\n", resp.status, resp.body);
	transport_response_clear(&resp);
	return 0;
}

/* The journal's records FROM..TO (1-based, as the command line gives them). */
static int range_records(const char *dir, const char *from, const char *to, cJSON **ret)
{
	int64_t a, b;
	int r;

	if (parse_int64(from, 1, INT64_MAX, &a) < 0 || parse_int64(to, a, a + 10000, &b) < 0)
		return die("range", -EINVAL);
	if ((r = tu_journal_batch(dir, (uint64_t)a - 1, (unsigned)(b - a + 1), ret)) < 0)
		return die("journal", r);
	return 0;
}

static int cmd_post(const char *dir, const char *from, const char *to)
{
	cJSON *recs = NULL;
	int r = range_records(dir, from, to, &recs);

	return r ? r : post_records(dir, recs);
}

/* Print {"records": [...]} of the journal's records FROM..TO: an upload's body. */
static int cmd_batch(const char *dir, const char *from, const char *to)
{
	_cleanup_json_ cJSON *batch = cJSON_CreateObject();
	_cleanup_free_ char *body = NULL;
	cJSON *recs = NULL;
	int r = range_records(dir, from, to, &recs);

	if (r)
		return r;
	if (!batch) {
		cJSON_Delete(recs);
		return die("batch", -ENOMEM);
	}
	cJSON_AddItemToObject(batch, "records", recs);
	if (!(body = cJSON_PrintUnformatted(batch)))
		return die("batch", -ENOMEM);
	puts(body);
	return 0;
}

static int cmd_forge(const char *dir, const char *kind)
{
	_cleanup_json_ cJSON *recs = NULL;
	uint64_t acked = 0;
	cJSON *first, *pl;
	int r;

	if ((r = transport_acked_read(dir, &acked)) < 0)
		return die("state", r);
	if (strcmp(kind, "fork") == 0) {
		/* an already acknowledged record, changed */
		if (acked == 0 || (r = tu_journal_batch(dir, acked - 1, 1, &recs)) < 0)
			return die("fork needs an acknowledged record", r ? r : -ENOENT);
	} else if ((r = tu_journal_batch(dir, acked, 3, &recs)) < 0) {
		return die("journal", r);
	}
	if (cJSON_GetArraySize(recs) < 2 && strcmp(kind, "fork") != 0)
		return die("need two unacknowledged records", -ENOENT);
	first = cJSON_GetArrayItem(recs, 0);
	if (strcmp(kind, "gap") == 0) {
		cJSON_DeleteItemFromArray(recs, 0); /* send head+2 without head+1 */
	} else if (strcmp(kind, "mismatch") == 0 || strcmp(kind, "fork") == 0) {
		/* change the contents, keep the hash the terminal had stored */
		pl = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(first, "record"), "payload");
		cJSON_ReplaceItemInObjectCaseSensitive(pl, "user", cJSON_CreateString("someone-else"));
	} else if (strcmp(kind, "foreign") == 0) {
		/* another chain id that is not a chain start */
		cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(first, "record"), "chain",
		                                       cJSON_CreateString("00000000000000000000000000000000"));
	} else {
		return die("kind", -EINVAL);
	}
	return post_records(dir, TAKE_PTR(recs));
}

/* One record of a forged chain: its canonical bytes and hash after prev. */
static cJSON *forged_record(const char *chain, uint64_t seq, const char *type, cJSON *payload, uint8_t prev[32])
{
	_cleanup_json_ cJSON *rec = cJSON_CreateObject();
	struct buf canon = {0};
	uint64_t s;
	int64_t t;
	const char *ty, *ch;
	uint8_t h[32];
	char hex[65];
	cJSON *o;

	cJSON_AddStringToObject(rec, "chain", chain);
	cJSON_AddNumberToObject(rec, "seq", (double)seq);
	cJSON_AddNumberToObject(rec, "time_us", 1700000000000000.0);
	cJSON_AddStringToObject(rec, "type", type);
	cJSON_AddStringToObject(rec, "severity", "critical");
	cJSON_AddBoolToObject(rec, "synced", true);
	cJSON_AddItemToObject(rec, "reqs", cJSON_CreateArray());
	cJSON_AddItemToObject(rec, "payload", payload);
	if (chain_record_canon(rec, &canon, &s, &t, &ty, &ch) < 0 ||
	    crypto_sha256_2(prev, 32, canon.data, canon.len, h) < 0) {
		buf_free(&canon);
		return NULL;
	}
	memcpy(prev, h, 32);
	hex_encode(h, 32, hex);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "hash", hex);
	cJSON_AddItemToObject(o, "record", cJSON_ParseWithLength(canon.data, canon.len));
	buf_free(&canon);
	return o;
}

static int cmd_forge_restart(const char *dir, const char *seq_s, const char *mode)
{
	static const char forged_chain[] = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";
	struct journal_info ji;
	cJSON *recs = cJSON_CreateArray(), *pl = cJSON_CreateObject(), *r1, *r2;
	uint8_t prev[32] = {0};
	int64_t seq;
	int r;

	if (parse_int64(seq_s, 2, INT64_MAX / 2, &seq) < 0 || (r = journal_info(dir, &ji)) < 0) {
		cJSON_Delete(recs);
		cJSON_Delete(pl);
		return die("forge-restart", -EINVAL);
	}
	if (strcmp(mode, "recovery") == 0) {
		cJSON_AddStringToObject(pl, "what", "journal");
		cJSON_AddStringToObject(pl, "old_file", "journal.db.corrupt-20240101T000000Z");
		cJSON_AddStringToObject(pl, "old_chain", ji.chain);
		cJSON_AddNumberToObject(pl, "first_bad_seq", (double)ji.head_seq + 1);
		cJSON_AddNumberToObject(pl, "last_good_seq", (double)ji.head_seq);
		cJSON_AddStringToObject(pl, "last_good_hash", ji.head_hash);
		cJSON_AddNumberToObject(pl, "old_max_seq", (double)(seq - 1));
		cJSON_AddStringToObject(pl, "reason", "database damaged");
		r1 = forged_record(forged_chain, (uint64_t)seq, "tamper.detected", pl, prev);
	} else {
		cJSON_AddStringToObject(pl, "path", "/media/usb/x");
		r1 = forged_record(forged_chain, (uint64_t)seq, "carry.out", pl, prev);
	}
	r2 = forged_record(forged_chain, (uint64_t)seq + 1, "carry.out", cJSON_CreateObject(), prev);
	if (!r1 || !r2) {
		cJSON_Delete(r1);
		cJSON_Delete(r2);
		cJSON_Delete(recs);
		return die("forge-restart: canon", -EINVAL);
	}
	cJSON_AddItemToArray(recs, r1);
	cJSON_AddItemToArray(recs, r2);
	return post_records(dir, recs);
}

static int write_identity(const char *out, const char *key, const char *cert)
{
	size_t kl = strlen(key), cl = strlen(cert);
	_cleanup_free_ char *both = malloc(kl + cl + 1);

	if (!both)
		return -ENOMEM;
	memcpy(both, key, kl);
	memcpy(both + kl, cert, cl + 1);
	return write_file_atomic(out, both, kl + cl, 0600);
}

static int sign_with(const char *ca_key, const char *ca_cert, const char *out, const char *id, int64_t seconds)
{
	_cleanup_free_ char *key = NULL, *csr = NULL, *cert = NULL;
	struct pki *p = NULL;
	char serial[PKI_SERIAL_MAX];
	int64_t na;
	int r;

	if ((r = pki_load(ca_key, ca_cert, &p)) < 0)
		return die("pki_load", r);
	r = enroll_make_key_csr(id, &key, &csr);
	if (r == 0)
		r = pki_sign_csr(p, csr, strlen(csr), id, seconds, &cert, serial, &na);
	pki_free(p);
	if (r == 0)
		r = write_identity(out, key, cert);
	return r < 0 ? die("sign", r) : 0;
}

int main(int argc, char **argv)
{
	char k[PATH_MAX], c[PATH_MAX];

	if (argc == 4 && strcmp(argv[1], "append") == 0)
		return cmd_append(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "hostile") == 0)
		return cmd_hostile(argv[2]);
	if (argc == 5 && strcmp(argv[1], "record") == 0)
		return cmd_record(argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "post") == 0)
		return cmd_post(argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "batch") == 0)
		return cmd_batch(argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "forge-restart") == 0)
		return cmd_forge_restart(argv[2], argv[3], argv[4]);
	if (argc == 4 && strcmp(argv[1], "forge") == 0)
		return cmd_forge(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "expired-cert") == 0) {
		(void)xsnprintf(k, sizeof(k), "%s/ca.key", argv[2]);
		(void)xsnprintf(c, sizeof(c), "%s/ca.pem", argv[2]);
		return sign_with(k, c, argv[3], argv[4], -3600); /* notAfter an hour ago */
	}
	if (argc == 5 && strcmp(argv[1], "foreign-cert") == 0) {
		int r;

		(void)xsnprintf(k, sizeof(k), "%s/foreign-ca.key", argv[2]);
		(void)xsnprintf(c, sizeof(c), "%s/foreign-ca.pem", argv[2]);
		r = pki_create_ca(k, c, "mamori device CA", 30);
		if (r < 0)
			return die("foreign CA", r);
		return sign_with(k, c, argv[3], argv[4], 86400);
	}
	if (argc == 4 && strcmp(argv[1], "verify-policy") == 0) {
		struct mamori_policy *p = NULL;
		char err[256] = "";
		int r = policy_load_verified(argv[2], NULL, argv[3], 0, &p, err, sizeof(err));

		if (r == 0)
			printf("verified version %" PRId64 "\n", policy_version(p));
		else
			fprintf(stderr, "e2e_agent: %s\n", err);
		policy_free(p);
		return r == 0 ? 0 : 1;
	}
	fprintf(stderr, "usage: see tests/integration/e2e_agent.c\n");
	return 2;
}
