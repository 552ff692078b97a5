/* common/buf.c — the growable byte buffer (any process). One type instead of
 * the four the tree grew (issue 19): the journal's record buffer, the event
 * batch of mamorictl's sync, the posture report's text. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void buf_free(struct buf *b)
{
	if (!b)
		return;
	free(b->data);
	*b = (struct buf){0};
}

int buf_reserve(struct buf *b, size_t more, size_t max)
{
	size_t need, n;
	char *p;

	if (max > BUF_NO_MAX)
		max = BUF_NO_MAX;
	if (more > max || b->len > max - more)
		return -E2BIG;
	need = b->len + more + 1; /* room for a terminating NUL */
	if (need <= b->alloc)
		return 0;
	n = b->alloc ? b->alloc : 256;
	while (n < need)
		n *= 2;
	p = realloc(b->data, n);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->alloc = n;
	return 0;
}

int buf_put(struct buf *b, const void *p, size_t n, size_t max)
{
	int r = buf_reserve(b, n, max);

	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

int buf_puts(struct buf *b, const char *s, size_t max)
{
	return buf_put(b, s, strlen(s), max);
}

int buf_vprintf(struct buf *b, size_t max, const char *fmt, va_list ap)
{
	va_list aq;
	int n, r;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return -EINVAL;
	r = buf_reserve(b, (size_t)n, max);
	if (r < 0)
		return r;
	n = vsnprintf(b->data + b->len, b->alloc - b->len, fmt, ap);
	if (n < 0)
		return -EINVAL;
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, size_t max, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, max, fmt, ap);
	va_end(ap);
	return r;
}

char *buf_steal(struct buf *b)
{
	char *p = b->data;

	*b = (struct buf){0};
	return p;
}
