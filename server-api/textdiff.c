/* server-api/textdiff.c — a unified diff of two texts (mamori-server, admin
 * listener): the pending policy against the one in force, for the approver
 * (issue 17.11). Longest common subsequence over lines, one hunk with the
 * whole documents. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "textdiff.h"

struct line {
	const char *p;
	size_t n; /* with its '\n', if it has one */
};

static int split(const char *s, size_t len, struct line **ret, size_t *ret_n)
{
	size_t n = 0, cap = 0;
	struct line *v = NULL;

	for (size_t i = 0; i < len;) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - (s + i)) + 1 : len - i;

		if (n == cap) {
			struct line *w = reallocarray(v, cap ? cap * 2 : 64, sizeof(*v));

			if (!w) {
				free(v);
				return -ENOMEM;
			}
			v = w, cap = cap ? cap * 2 : 64;
		}
		v[n++] = (struct line){s + i, l};
		i += l;
	}
	*ret = v, *ret_n = n;
	return 0;
}

struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->len + n + 1) * 2;
		char *b = realloc(o->buf, cap);

		if (!b) {
			o->failed = true;
			return;
		}
		o->buf = b, o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = 0;
}

static void put_line(struct out *o, char mark, const struct line *l)
{
	static const char no_nl[] = "\n\\ No newline at end of file\n";

	put(o, &mark, 1);
	put(o, l->p, l->n);
	if (l->n == 0 || l->p[l->n - 1] != '\n')
		put(o, no_nl, sizeof(no_nl) - 1);
}

static bool same(const struct line *x, const struct line *y)
{
	return x->n == y->n && memcmp(x->p, y->p, x->n) == 0;
}

int textdiff_unified(const char *a, size_t a_len, const char *b, size_t b_len, const char *a_label, const char *b_label,
                     char **ret)
{
	_cleanup_free_ struct line *la = NULL, *lb = NULL;
	_cleanup_free_ uint32_t *t = NULL;
	struct out o = {0};
	size_t na = 0, nb = 0, i = 0, j = 0;
	char hdr[160];
	int r;

	if (!ret || (!a && a_len) || (!b && b_len))
		return -EINVAL;
	if ((r = split(a ?: "", a_len, &la, &na)) < 0 || (r = split(b ?: "", b_len, &lb, &nb)) < 0)
		return r;
	/* t[i*(nb+1)+j]: LCS length of a[i..] and b[j..] */
	if (na && nb && (na + 1) * (nb + 1) <= TEXTDIFF_CELLS_MAX) {
		t = calloc((na + 1) * (nb + 1), sizeof(*t));
		if (!t)
			return -ENOMEM;
		for (size_t x = na; x-- > 0;)
			for (size_t y = nb; y-- > 0;) {
				uint32_t *c = &t[x * (nb + 1) + y];

				if (same(&la[x], &lb[y]))
					*c = t[(x + 1) * (nb + 1) + y + 1] + 1;
				else {
					uint32_t d = t[(x + 1) * (nb + 1) + y], e = t[x * (nb + 1) + y + 1];

					*c = d > e ? d : e;
				}
			}
	}
	put(&o, "--- ", 4), put(&o, a_label, strlen(a_label)), put(&o, "\n", 1);
	put(&o, "+++ ", 4), put(&o, b_label, strlen(b_label)), put(&o, "\n", 1);
	/* identical texts: no hunk, as diff -u (patch takes no hunk without a change) */
	if ((na || nb) && !(a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0))) {
		r = snprintf(hdr, sizeof(hdr), "@@ -%zu,%zu +%zu,%zu @@\n", na ? (size_t)1 : 0, na, nb ? (size_t)1 : 0,
		             nb);
		if (r < 0 || (size_t)r >= sizeof(hdr)) {
			free(o.buf);
			return -EINVAL;
		}
		put(&o, hdr, (size_t)r);
	}
	while ((i < na || j < nb) && !(a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0))) {
		if (t && i < na && j < nb && same(&la[i], &lb[j])) {
			put_line(&o, ' ', &la[i++]);
			j++;
		} else if (i < na && (j >= nb || !t || t[(i + 1) * (nb + 1) + j] >= t[i * (nb + 1) + j + 1])) {
			put_line(&o, '-', &la[i++]);
		} else {
			put_line(&o, '+', &lb[j++]);
		}
	}
	if (o.failed || !o.buf) {
		free(o.buf);
		return -ENOMEM;
	}
	*ret = o.buf;
	return 0;
}
