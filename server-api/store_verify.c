/* server-api/store_verify.c — a whole store re-verified from its evidence
 * (mamori-server; store_verify.h): through the store's operations only, so
 * on either engine. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "crypto.h"
#include "store_verify.h"
#include "strutil.h"

#define PAGE 1000

#define RESTARTS_MAX 64

struct walk {
	uint64_t restarts[RESTARTS_MAX]; /* seqs of the chain restarts the server recorded */
	size_t n_restarts;
	uint8_t prev[32];
	uint64_t n, last_seq, bad_seq;
	int64_t last_id;
	char head_hash[STORE_HASH_HEX];
};

static int walk_cb(const struct store_event_row *e, void *userdata)
{
	static const uint8_t zero[32];
	struct walk *w = userdata;
	uint8_t h[32], given[32];
	char hex[STORE_HASH_HEX];
	int r;

	w->last_id = e->id;
	if (w->bad_seq)
		return 0;
	if (!e->hash || strlen(e->hash) != 64 || hex_decode(e->hash, 64, given, 32) < 0) {
		w->bad_seq = e->seq ? e->seq : 1;
		return 0;
	}
	if (w->n > 0) {
		if ((r = crypto_sha256_2(w->prev, 32, e->canon, e->canon_len, h)) < 0)
			return r;
		hex_encode(h, 32, hex);
	}
	if (w->n == 0 || strcmp(hex, e->hash) != 0) {
		/* not the next of the previous record: a chain start, or broken */
		if ((r = crypto_sha256_2(zero, 32, e->canon, e->canon_len, h)) < 0)
			return r;
		hex_encode(h, 32, hex);
		bool restart = false;

		for (size_t k = 0; k < w->n_restarts; k++)
			restart |= w->restarts[k] == e->seq;
		/* past the first record, a new start only where the server
		 * recorded a restart (chain.c: FINDING_CHAIN_RESTART) */
		if (w->n > 0 && (strcmp(hex, e->hash) != 0 || !restart)) {
			w->bad_seq = e->seq;
			return 0;
		}
	}
	/* the first record: a genesis, or an unverified start taken as given */
	memcpy(w->prev, given, 32);
	(void)strscpy(w->head_hash, sizeof(w->head_hash), e->hash);
	w->last_seq = e->seq;
	w->n++;
	return 0;
}

static int restart_cb(const struct store_finding *f, void *userdata)
{
	struct walk *w = userdata;

	if (f->kind == FINDING_CHAIN_RESTART && w->n_restarts < RESTARTS_MAX)
		w->restarts[w->n_restarts++] = f->seq;
	return 0;
}

/* an archived record: walked as a stored one, without moving the paging
 * of the records still in the store */
static int archived_cb(const struct store_event_row *e, void *userdata)
{
	struct walk *w = userdata;
	int64_t id = w->last_id;
	int r = walk_cb(e, w);

	w->last_id = id;
	return r;
}

struct arc_list {
	struct store_archive *a;
	size_t n, cap;
};

static int arc_cb(const struct store_archive *a, void *userdata)
{
	struct arc_list *l = userdata;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct store_archive *p = realloc(l->a, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->a = p, l->cap = cap;
	}
	l->a[l->n++] = *a;
	return 0;
}

/* The terminal's archive files into the walk; a file that is missing,
 * changed or not what the store recorded is a bad archive and breaks the
 * chain at its first seq. Store errors only are returned. */
static int walk_archives(struct store *s, const char *archive_dir, const char *terminal_id, struct walk *w,
                         struct store_verify *v)
{
	struct arc_list l = {0};
	int r = STORE_CALL(s, archive_list, terminal_id, arc_cb, &l);

	for (size_t i = 0; r >= 0 && i < l.n; i++) {
		const struct store_archive *a = &l.a[i];
		int e;

		v->archives++;
		v->archived_events += a->n_records;
		if (w->bad_seq)
			continue; /* counted; the chain is broken before it already */
		e = archive_dir ? archive_read(archive_dir, a, archived_cb, w) : -ENOENT;
		if (e == -ENOMEM) {
			r = e;
			break;
		}
		/* each file follows the one before it (the first: none) */
		if (e == 0 && strcmp(a->prev_hash, i > 0 ? l.a[i - 1].last_hash : "") != 0)
			e = -EPROTO;
		if (e < 0) {
			if (!v->bad_archives++) {
				(void)strscpy(v->first_bad_archive, sizeof(v->first_bad_archive), a->file);
				v->first_bad_archive_error = e;
			}
			if (!w->bad_seq)
				w->bad_seq = a->first_seq;
		}
	}
	free(l.a);
	return r < 0 ? r : 0;
}

struct dev_list {
	struct store_device *d;
	size_t n, cap;
};

static int dev_cb(const struct store_device *d, const char *compliance_json, void *userdata)
{
	struct dev_list *l = userdata;

	(void)compliance_json;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct store_device *p = realloc(l->d, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->d = p, l->cap = cap;
	}
	l->d[l->n++] = *d;
	return 0;
}

int store_verify(struct store *s, const char *archive_dir, struct store_verify *ret)
{
	struct store_verify v = {0};
	struct dev_list l = {0};
	int r;

	if ((r = STORE_CALL(s, device_list, NULL, dev_cb, &l)) < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		const struct store_device *d = &l.d[i];
		struct walk w = {0};
		struct store_event_filter f = {.terminal_id = d->terminal_id, .limit = PAGE};

		if ((r = STORE_CALL(s, findings_list, d->terminal_id, 10000, restart_cb, &w)) < 0)
			goto out;
		if ((r = walk_archives(s, archive_dir, d->terminal_id, &w, &v)) < 0)
			goto out;
		for (;;) {
			int64_t before = w.last_id;

			f.after_id = w.last_id;
			if ((r = STORE_CALL(s, events_list, &f, walk_cb, &w)) < 0)
				goto out;
			if (w.last_id == before)
				break;
		}
		v.terminals++;
		v.events += w.n;
		/* the head the server acknowledged is the last record it holds */
		if (!w.bad_seq && (w.n != d->events || (w.n && (w.last_seq != d->chain.head_seq ||
		                                                strcmp(w.head_hash, d->chain.head_hash) != 0))))
			w.bad_seq = w.last_seq + 1;
		if (w.bad_seq) {
			if (!v.bad_terminals++) {
				(void)strscpy(v.first_bad, sizeof(v.first_bad), d->terminal_id);
				v.first_bad_seq = w.bad_seq;
			}
		}
	}
	r = STORE_CALL(s, audit_verify, &v.audit_rows, &v.audit_bad_id);
out:
	free(l.d);
	if (r == 0)
		*ret = v;
	return r;
}
