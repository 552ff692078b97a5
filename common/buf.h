/* common/buf.h — the growable byte buffer (any process): kept
 * NUL-terminated, capped by the caller. The journal's canonical records,
 * mamorictl's event batches and the posture report's text are built in it.
 * Utility code: never logs. */
#ifndef MAMORI_BUF_H
#define MAMORI_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data; /* NULL until the first append; then data[len] == 0 */
	size_t len, alloc;
};

#define BUF_NO_MAX (SIZE_MAX / 4)

void buf_free(struct buf *b);
/* Room for `more` bytes and a NUL. -E2BIG when len + more would pass max
 * (the buffer is unchanged), -ENOMEM. */
int buf_reserve(struct buf *b, size_t more, size_t max);
/* Append n bytes (n == 0 still makes data a string). Same errors. */
int buf_put(struct buf *b, const void *p, size_t n, size_t max);
int buf_puts(struct buf *b, const char *s, size_t max);
/* Append formatted text. Same errors, -EINVAL for a bad format. */
int buf_printf(struct buf *b, size_t max, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int buf_vprintf(struct buf *b, size_t max, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
/* The data, now the caller's to free; the buffer is empty again. */
char *buf_steal(struct buf *b);

#endif
