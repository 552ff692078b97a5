/* common/time-util.h — RFC 3339 UTC times, parsed strictly and formatted
 * (any process: the policy's validity windows, USB approvals, the journal's
 * and the server's time filters). Utility code: never logs. */
#ifndef MAMORI_TIME_UTIL_H
#define MAMORI_TIME_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum {
	RFC3339_FRACTION = 1u << 0, /* "…:SS.digits Z" accepted (truncated to microseconds) */
	RFC3339_DATE = 1u << 1,     /* a bare "YYYY-MM-DD" accepted: midnight UTC */
};

/* "YYYY-MM-DDTHH:MM:SSZ": exactly these digits (no sign, no space, no
 * lower-case t/z, no offset), a calendar date from 1970 to 9999 (02-30 and
 * a 61st second are refused, not normalised). Microseconds since the epoch.
 * 0 or -EINVAL. */
int rfc3339_parse_us(const char *s, unsigned flags, int64_t *ret_us);
/* The same in whole seconds (a fraction is dropped). */
int rfc3339_parse(const char *s, unsigned flags, time_t *ret);

/* "YYYY-MM-DDTHH:MM:SSZ" of t into buf (at least 21 bytes). 0, -EINVAL
 * (t out of range), -ENAMETOOLONG. */
int rfc3339_format(time_t t, char *buf, size_t bufsz);

#endif
