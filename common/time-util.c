/* common/time-util.c — RFC 3339 UTC times, parsed strictly and formatted
 * (any process). One parser for the policy, the USB approvals, mamorictl's
 * and the server's time filters: they had four, each accepting a different
 * set of strings (issue 19). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "strutil.h"
#include "time-util.h"

static bool digits(const char *s, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

int rfc3339_parse_us(const char *s, unsigned flags, int64_t *ret_us)
{
	struct tm tm = {0}, back;
	int y, mo, d, h = 0, mi = 0, se = 0;
	int64_t us = 0;
	const char *p;
	time_t t;

	if (!s || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d))
		return -EINVAL;
	p = s + 10;
	if (*p == '\0' && (flags & RFC3339_DATE))
		goto date;
	if (p[0] != 'T' || !digits(p + 1, 2, &h) || p[3] != ':' || !digits(p + 4, 2, &mi) || p[6] != ':' ||
	    !digits(p + 7, 2, &se))
		return -EINVAL;
	p += 9;
	if (*p == '.' && (flags & RFC3339_FRACTION)) {
		int64_t scale = 100000;

		if (*++p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
			us += (*p - '0') * scale;
	}
	if (strcmp(p, "Z") != 0)
		return -EINVAL;
date:
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
		return -EINVAL;
	tm = (struct tm){.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = se};
	t = timegm(&tm);
	/* timegm normalises 02-30 to 03-02: a round trip catches it */
	if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_year != y - 1900 || back.tm_mon != mo - 1 ||
	    back.tm_mday != d)
		return -EINVAL;
	*ret_us = (int64_t)t * 1000000 + us;
	return 0;
}

int rfc3339_parse(const char *s, unsigned flags, time_t *ret)
{
	int64_t us;
	int r = rfc3339_parse_us(s, flags, &us);

	if (r < 0)
		return r;
	*ret = (time_t)(us / 1000000);
	return 0;
}

int rfc3339_format(time_t t, char *buf, size_t bufsz)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return -EINVAL;
	return xsnprintf(buf, bufsz, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	                 tm.tm_hour, tm.tm_min, tm.tm_sec);
}
