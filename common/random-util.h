/* common/random-util.h — random bytes from the kernel (getrandom(2)): the
 * one source for identifiers, overwrite patterns, certificate serials,
 * tokens and jitter (every process). No rand(), no second generator. */
#ifndef MAMORI_RANDOM_UTIL_H
#define MAMORI_RANDOM_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Fill n bytes. Blocks only until the kernel's pool is initialised (early
 * boot); with nonblock, -EAGAIN instead. 0 or negative errno; on failure
 * the buffer's contents are unspecified. */
int random_bytes(void *buf, size_t n, bool nonblock);

#endif
