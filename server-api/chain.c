/* server-api/chain.c — re-verifies uploaded journal records and stores the
 * ones that continue the terminal's chain (mamori-server). Rules: chain.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "chain.h"
#include "crypto.h"
#include "event.h"
#include "journal_canon.h"
#include "strutil.h"

static bool is_hex(const char *s, size_t n)
{
	if (!s || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (hex_digit_lower(s[i]) < 0)
			return false;
	return true;
}

static int hex_decode32(const char *s, uint8_t out[32])
{
	if (!s || strlen(s) != 64 || hex_decode(s, 64, out, 32) < 0)
		return -EBADMSG;
	return 0;
}

static int get_int(const cJSON *o, const char *key, int64_t min, int64_t *ret)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	double d;

	if (!cJSON_IsNumber(v))
		return -EINVAL;
	d = v->valuedouble;
	if (!(d >= (double)min && d <= (double)JOURNAL_INT_MAX) || (double)(int64_t)d != d)
		return -EINVAL;
	*ret = (int64_t)d;
	return 0;
}

int chain_record_canon(const cJSON *rec, struct buf *out, uint64_t *ret_seq, int64_t *ret_time_us,
                       const char **ret_type, const char **ret_chain)
{
	struct buf payload = {0};
	const cJSON *chain, *type, *sev, *synced, *reqs, *pl, *c;
	char reqbuf[JOURNAL_REQS_MAX * (JOURNAL_REQ_LEN_MAX + 1) + 1];
	size_t used = 0, nkeys = 0;
	int64_t seq, time_us;
	struct journal_canon_head h;
	int r;

	if (!cJSON_IsObject(rec))
		return -EINVAL;
	for (c = rec->child; c; c = c->next)
		nkeys++;
	chain = cJSON_GetObjectItemCaseSensitive(rec, "chain");
	type = cJSON_GetObjectItemCaseSensitive(rec, "type");
	sev = cJSON_GetObjectItemCaseSensitive(rec, "severity");
	synced = cJSON_GetObjectItemCaseSensitive(rec, "synced");
	reqs = cJSON_GetObjectItemCaseSensitive(rec, "reqs");
	pl = cJSON_GetObjectItemCaseSensitive(rec, "payload");
	/* exactly the eight keys of a record: anything else would not be hashed */
	if (nkeys != 8 || !cJSON_IsString(chain) || !is_hex(chain->valuestring, 32) || !cJSON_IsString(type) ||
	    !cJSON_IsString(sev) || !cJSON_IsBool(synced) || !cJSON_IsArray(reqs) || !cJSON_IsObject(pl) ||
	    get_int(rec, "seq", 1, &seq) < 0 || get_int(rec, "time_us", -JOURNAL_INT_MAX, &time_us) < 0)
		return -EINVAL;
	reqbuf[0] = 0;
	cJSON_ArrayForEach(c, reqs)
	{
		size_t n;

		if (!cJSON_IsString(c) || !c->valuestring)
			return -EINVAL;
		n = strlen(c->valuestring);
		if (n == 0 || n > JOURNAL_REQ_LEN_MAX || strchr(c->valuestring, ',') || used + n + 2 > sizeof(reqbuf))
			return -EINVAL;
		if (used)
			reqbuf[used++] = ',';
		memcpy(reqbuf + used, c->valuestring, n + 1);
		used += n;
	}
	h = (struct journal_canon_head){
	        .chain = chain->valuestring,
	        .seq = (uint64_t)seq,
	        .time_us = time_us,
	        .synced = cJSON_IsTrue(synced),
	        .type = type->valuestring,
	        .severity = event_severity_from_string(sev->valuestring),
	        .reqs = used ? reqbuf : NULL,
	};
	if (h.severity == _SEV_INVALID)
		return -EINVAL;
	r = journal_canon_payload(pl, &payload);
	if (r == 0)
		r = journal_canon_record(&h, payload.data, payload.len, out);
	buf_free(&payload);
	if (r < 0)
		return r == -ENOMEM ? r : -EINVAL;
	*ret_seq = (uint64_t)seq;
	*ret_time_us = time_us;
	*ret_type = type->valuestring;
	*ret_chain = chain->valuestring;
	return 0;
}

struct pending {
	struct store_event *ev;
	struct buf *bufs;
	size_t n;
};

static void pending_free(struct pending *p)
{
	for (size_t i = 0; p->bufs && i < p->n; i++)
		buf_free(&p->bufs[i]);
	free(p->bufs);
	free(p->ev);
}

static int finding(struct store *st, const char *terminal_id, enum store_finding_kind kind, uint64_t seq,
                   uint64_t expected, int64_t now_us, struct chain_result *res, const char *fmt, ...)
        __attribute__((format(printf, 8, 9)));
static int finding(struct store *st, const char *terminal_id, enum store_finding_kind kind, uint64_t seq,
                   uint64_t expected, int64_t now_us, struct chain_result *res, const char *fmt, ...)
{
	struct store_finding f = {.kind = kind, .seq = seq, .expected_seq = expected, .time_us = now_us};
	va_list ap;
	int r;

	(void)strscpy(f.terminal_id, sizeof(f.terminal_id), terminal_id);
	va_start(ap, fmt);
	vsnprintf(f.detail, sizeof(f.detail), fmt, ap);
	va_end(ap);
	if (res && kind != FINDING_CHAIN_RESTART && kind != FINDING_CHAIN_START_UNVERIFIED &&
	    kind != FINDING_EVENTS_LOST && kind != FINDING_FUTURE_TIME) {
		res->broken = kind;
		res->bad_seq = seq;
		(void)strscpy(res->detail, sizeof(res->detail), f.detail);
	}
	r = STORE_CALL(st, finding_add, &f);
	return r < 0 ? r : 0;
}

uint64_t chain_acked_for(const struct store_chain *held, const char *agent_chain)
{
	if (!agent_chain || !agent_chain[0] || strcmp(agent_chain, held->chain) == 0)
		return held->head_seq;
	if (held->restart_seq && strcmp(agent_chain, held->prev_chain) == 0)
		return held->prev_head_seq; /* what the server stored from that chain, never more */
	return 0;                           /* a chain the server holds nothing of */
}

/* Whether rec (the first record of a new chain) is the journal's recovery
 * record for the chain the server holds (agent/journal.c append_tamper):
 * tamper.detected, what = journal, naming the held chain and a last good
 * record that agrees with what the server stored. 0 yes (detail says what it
 * claims), -EPERM no (detail says why), or the store's error. */
static int recovery_record(struct store *st, const char *terminal_id, const struct store_chain *held, const cJSON *rec,
                           uint64_t seq, char *detail, size_t detailsz)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(rec, "type");
	const cJSON *pl = cJSON_GetObjectItemCaseSensitive(rec, "payload");
	const cJSON *what = cJSON_GetObjectItemCaseSensitive(pl, "what");
	const cJSON *old = cJSON_GetObjectItemCaseSensitive(pl, "old_chain");
	const cJSON *lgs = cJSON_GetObjectItemCaseSensitive(pl, "last_good_seq");
	const cJSON *lgh = cJSON_GetObjectItemCaseSensitive(pl, "last_good_hash");
	const cJSON *oms = cJSON_GetObjectItemCaseSensitive(pl, "old_max_seq");
	char stored[STORE_HASH_HEX];
	uint64_t good, maxs;
	int r;

	if (!cJSON_IsString(type) || strcmp(type->valuestring, "tamper.detected") != 0 || !cJSON_IsString(what) ||
	    strcmp(what->valuestring, "journal") != 0 || !cJSON_IsString(old) || !cJSON_IsNumber(lgs) ||
	    !cJSON_IsString(lgh) || !cJSON_IsNumber(oms) || lgs->valuedouble < 0 || oms->valuedouble < 0) {
		snprintf(detail, detailsz, "a new chain that does not start with the journal's recovery record");
		return -EPERM;
	}
	if (strcmp(old->valuestring, held->chain) != 0) {
		snprintf(detail, detailsz, "the recovery record names chain %.32s, not %s", old->valuestring,
		         held->chain);
		return -EPERM;
	}
	good = (uint64_t)lgs->valuedouble;
	maxs = (uint64_t)oms->valuedouble;
	if (seq != (maxs > good ? maxs : good) + 1) {
		snprintf(detail, detailsz, "the new chain starts at seq %" PRIu64 ", not after the old one's end", seq);
		return -EPERM;
	}
	if (good <= held->head_seq && good > 0) {
		if (good == held->head_seq)
			r = strscpy(stored, sizeof(stored), held->head_hash) < 0 ? -EINVAL : 0;
		else
			r = STORE_CALL(st, event_hash, terminal_id, good, stored);
		if (r == 0 && strcmp(stored, lgh->valuestring) != 0) {
			snprintf(detail, detailsz,
			         "the recovery record's last good record (seq %" PRIu64
			         ") is not the one the server holds",
			         good);
			return -EPERM;
		}
		if (r < 0 && r != -ENOENT)
			return r;
		if (r == -ENOENT) { /* moved to an archive file (retention, LOG-1): say so */
			snprintf(detail, detailsz,
			         "the old chain's last good record is seq %" PRIu64
			         ", archived: its hash was not compared (mamori-server verify reads the archive)",
			         good);
			return 0;
		}
	}
	snprintf(detail, detailsz,
	         "the old chain's last good record is seq %" PRIu64 " (the server holds up to %" PRIu64 ")", good,
	         held->head_seq);
	return 0;
}

int chain_ingest(struct store *st, const char *terminal_id, const cJSON *records, int64_t now_us,
                 struct chain_result *ret)
{
	static const uint8_t zero[32];
	struct chain_result res = {.broken = _FINDING_INVALID};
	struct pending p = {0};
	struct store_chain held, cur;
	uint8_t cur_hash[32], h[32];
	uint64_t prev_seq = 0;
	const char *batch_chain = NULL; /* the first record's */
	size_t n;
	int r;

	if (!cJSON_IsArray(records) || (n = (size_t)cJSON_GetArraySize(records)) == 0 || n > CHAIN_BATCH_MAX) {
		(void)strscpy(ret->detail, sizeof(ret->detail), "records: 1 to 10000 records expected");
		return -EINVAL;
	}
	r = STORE_CALL(st, chain_get, terminal_id, &held);
	if (r < 0)
		return r;
	cur = held;
	if (cur.chain[0] && hex_decode32(cur.head_hash, cur_hash) < 0)
		return -EBADMSG;
	p.ev = calloc(n, sizeof(*p.ev));
	p.bufs = calloc(n, sizeof(*p.bufs));
	p.n = n;
	if (!p.ev || !p.bufs) {
		pending_free(&p);
		return -ENOMEM;
	}

	/* first pass: every record must be well-formed and in ascending order,
	 * otherwise the request is bad and nothing is stored */
	{
		size_t i = 0;
		const cJSON *item;

		cJSON_ArrayForEach(item, records)
		{
			const cJSON *hash = cJSON_GetObjectItemCaseSensitive(item, "hash");
			const char *type, *chain;
			uint64_t seq;
			int64_t t;

			r = chain_record_canon(cJSON_GetObjectItemCaseSensitive(item, "record"), &p.bufs[i], &seq, &t,
			                       &type, &chain);
			if (r == -ENOMEM)
				goto out;
			if (r < 0 || !cJSON_IsString(hash) || !is_hex(hash->valuestring, 64)) {
				snprintf(ret->detail, sizeof(ret->detail),
				         "records[%zu]: not a well-formed journal record", i);
				r = -EINVAL;
				goto out;
			}
			if (seq <= prev_seq) {
				snprintf(ret->detail, sizeof(ret->detail),
				         "records[%zu]: seq %" PRIu64 " not ascending", i, seq);
				r = -EINVAL;
				goto out;
			}
			prev_seq = seq;
			if (!batch_chain)
				batch_chain = chain;
			p.ev[i] = (struct store_event){.seq = seq,
			                               .time_us = t,
			                               .type = type,
			                               .canon = p.bufs[i].data,
			                               .canon_len = p.bufs[i].len};
			memcpy(p.ev[i].hash, hash->valuestring, 65);
			i++;
		}
	}

	/* second pass: the chain */
	size_t accepted = 0, first = 0;
	unsigned future_seen = 0; /* one future_time finding per upload, not one per record */
	const cJSON *item = records->child;
	for (size_t i = 0; i < n; i++, item = item->next) {
		struct store_event *e = &p.ev[i];
		const char *chain =
		        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(item, "record"), "chain")
		                ->valuestring;
		char hex[65];

		if (cur.restart_seq && strcmp(chain, cur.prev_chain) == 0 && e->seq == cur.prev_head_seq + 1) {
			/* the chain that a restart declared ended goes on: the
			 * restart was not this terminal's journal (a forged record,
			 * or a second writer). Its records count, from where the
			 * server stopped; the new chain is dropped as the head. */
			uint8_t prev[32];

			if ((r = hex_decode32(cur.prev_head_hash, prev)) < 0 ||
			    (r = crypto_sha256_2(prev, 32, e->canon, e->canon_len, h)) < 0)
				goto out;
			hex_encode(h, 32, hex);
			if (strcmp(hex, e->hash) == 0) {
				r = finding(st, terminal_id, FINDING_CHAIN_FORK, e->seq, cur.restart_seq, now_us, NULL,
				            "chain %s continues at seq %" PRIu64
				            " after chain %s was declared to start "
				            "at seq %" PRIu64 ": that restart was not this terminal's journal "
				            "(forged record?); the original chain is followed again",
				            chain, e->seq, cur.chain, cur.restart_seq);
				if (r < 0)
					goto out;
				(void)strscpy(cur.chain, sizeof(cur.chain), cur.prev_chain);
				cur.prev_chain[0] = 0;
				cur.prev_head_seq = cur.restart_seq = 0;
				cur.prev_head_hash[0] = 0;
				goto take;
			}
		}
		if (cur.chain[0] && e->seq <= cur.head_seq) {
			if (accepted) { /* cannot happen with ascending seqs; defensive */
				r = -EINVAL;
				goto out;
			}
			r = STORE_CALL(st, event_same, terminal_id, e->seq, e->hash, e->canon, e->canon_len);
			if (r == -ENOENT || r == 1) {
				/* held already (an upload whose answer was lost), or before
				 * the first record this server holds */
				res.duplicates++;
				first = i + 1;
				r = 0; /* -ENOENT is an answer here, not an error (issue 17 finding 9) */
				continue;
			}
			if (r < 0)
				goto out;
			r = finding(st, terminal_id, FINDING_CHAIN_FORK, e->seq, e->seq, now_us, &res,
			            "seq %" PRIu64 " (hash %.16s…) was sent again with other contents than the record "
			            "the server holds",
			            e->seq, e->hash);
			break;
		}
		if (cur.chain[0] && strcmp(chain, cur.chain) == 0) {
			if (e->seq != cur.head_seq + 1) {
				r = finding(st, terminal_id, FINDING_CHAIN_GAP, e->seq, cur.head_seq + 1, now_us, &res,
				            "records %" PRIu64 "…%" PRIu64 " are missing", cur.head_seq + 1,
				            e->seq - 1);
				break;
			}
			if ((r = crypto_sha256_2(cur_hash, 32, e->canon, e->canon_len, h)) < 0)
				goto out;
			hex_encode(h, 32, hex);
			if (strcmp(hex, e->hash) != 0) {
				r = finding(st, terminal_id, FINDING_HASH_MISMATCH, e->seq, e->seq, now_us, &res,
				            "seq %" PRIu64 ": the record or its predecessor was changed "
				            "(computed %.16s…, terminal's %.16s…)",
				            e->seq, hex, e->hash);
				break;
			}
		} else {
			/* no chain held yet, or another chain: a chain start? */
			if ((r = crypto_sha256_2(zero, 32, e->canon, e->canon_len, h)) < 0)
				goto out;
			hex_encode(h, 32, hex);
			if (strcmp(hex, e->hash) == 0) {
				if (cur.chain[0]) {
					char why[200];

					if (e->seq <= cur.head_seq) {
						r = finding(st, terminal_id, FINDING_CHAIN_FORK, e->seq,
						            cur.head_seq + 1, now_us, &res,
						            "new chain reuses seq %" PRIu64, e->seq);
						break;
					}
					r = recovery_record(st, terminal_id, &cur,
					                    cJSON_GetObjectItemCaseSensitive(item, "record"), e->seq,
					                    why, sizeof(why));
					if (r == -EPERM) {
						r = finding(st, terminal_id, FINDING_HASH_MISMATCH, e->seq,
						            cur.head_seq + 1, now_us, &res,
						            "new chain %s at seq %" PRIu64 " refused: %s", chain,
						            e->seq, why);
						break;
					}
					if (r < 0)
						goto out;
					r = finding(st, terminal_id, FINDING_CHAIN_RESTART, e->seq, cur.head_seq + 1,
					            now_us, NULL,
					            "UNACKNOWLEDGED: new chain %s starts at seq %" PRIu64
					            " with the journal's recovery record for %s (%s); until an "
					            "administrator acknowledges it, chain %s may still continue "
					            "after seq %" PRIu64,
					            chain, e->seq, cur.chain, why,
					            cur.restart_seq ? cur.prev_chain : cur.chain,
					            cur.restart_seq ? cur.prev_head_seq : cur.head_seq);
					if (r < 0)
						goto out;
					if (!cur.restart_seq) {
						/* keep what the server stored from the chain before it */
						(void)strscpy(cur.prev_chain, sizeof(cur.prev_chain), cur.chain);
						cur.prev_head_seq = cur.head_seq;
						memcpy(cur.prev_head_hash, cur.head_hash, sizeof(cur.prev_head_hash));
					}
					cur.restart_seq = e->seq;
				}
			} else if (!cur.chain[0]) {
				r = finding(st, terminal_id, FINDING_CHAIN_START_UNVERIFIED, e->seq, 1, now_us, NULL,
				            "the first record received is seq %" PRIu64
				            "; earlier records cannot be verified",
				            e->seq);
				if (r < 0)
					goto out;
			} else {
				r = finding(st, terminal_id, FINDING_HASH_MISMATCH, e->seq, cur.head_seq + 1, now_us,
				            &res, "seq %" PRIu64 " belongs to chain %s, which does not continue %s",
				            e->seq, chain, cur.chain);
				break;
			}
			if (cur.chain[0] && e->seq <= cur.head_seq) {
				r = finding(st, terminal_id, FINDING_CHAIN_FORK, e->seq, cur.head_seq + 1, now_us, &res,
				            "new chain reuses seq %" PRIu64, e->seq);
				break;
			}
			(void)strscpy(cur.chain, sizeof(cur.chain), chain);
			/* a start from zero has h == its hash; an unverified start
			 * takes the terminal's hash as given */
			if ((r = hex_decode32(e->hash, h)) < 0)
				goto out;
		}
	take:
		/* accepted; what it says may itself be a finding (issue 13, LOG-1, LOG-2) */
		if (strcmp(e->type, "journal.overflow") == 0 &&
		    (r = finding(st, terminal_id, FINDING_EVENTS_LOST, e->seq, e->seq, now_us, NULL,
		                 "seq %" PRIu64 ": the terminal could not store some events and counted them "
		                 "(journal.overflow)",
		                 e->seq)) < 0)
			goto out;
		if (e->time_us > now_us + CHAIN_FUTURE_TOLERANCE_US && !future_seen++ &&
		    (r = finding(st, terminal_id, FINDING_FUTURE_TIME, e->seq, e->seq, now_us, NULL,
		                 "seq %" PRIu64 " is dated %" PRId64 " s ahead of the server's clock (the "
		                 "terminal's clock is wrong, LOG-2)",
		                 e->seq, (e->time_us - now_us) / 1000000)) < 0)
			goto out;
		memcpy(cur_hash, h, 32);
		cur.head_seq = e->seq;
		memcpy(cur.head_hash, e->hash, 65);
		if (!accepted)
			first = i;
		accepted++;
	}
	if (r < 0)
		goto out;
	if (accepted) {
		r = STORE_CALL(st, events_append, terminal_id, &held, p.ev + first, accepted, &cur, now_us);
		if (r < 0)
			goto out;
	}
	res.stored = (unsigned)accepted;
	/* acknowledged for the chain the batch is on, never beyond what the
	 * server stored from it */
	res.acked_seq = chain_acked_for(&cur, batch_chain);
	*ret = res;
	r = 0;
out:
	pending_free(&p);
	return r;
}
