/* modules/patch/patch_version.c — Debian version comparison, the algorithm
 * of dpkg's lib/dpkg/version.c (verrevcmp) re-implemented without locale
 * dependence (mamori-worker, mamorictl check). */
#include <stdint.h>
#include <string.h>

#include "patch_version.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int order(char c)
{
	if (is_digit(c))
		return 0;
	if (is_alpha(c))
		return (unsigned char)c;
	if (c == '~')
		return -1;
	if (c)
		return (unsigned char)c + 256;
	return 0;
}

/* Compare [a, a_end) with [b, b_end). */
static int verrevcmp(const char *a, const char *ae, const char *b, const char *be)
{
	while (a < ae || b < be) {
		int first_diff = 0;

		while ((a < ae && !is_digit(*a)) || (b < be && !is_digit(*b))) {
			int ac = order(a < ae ? *a : '\0');
			int bc = order(b < be ? *b : '\0');

			if (ac != bc)
				return ac - bc;
			a++;
			b++;
		}
		while (a < ae && *a == '0')
			a++;
		while (b < be && *b == '0')
			b++;
		while (a < ae && b < be && is_digit(*a) && is_digit(*b)) {
			if (!first_diff)
				first_diff = *a - *b;
			a++;
			b++;
		}
		if (a < ae && is_digit(*a))
			return 1;
		if (b < be && is_digit(*b))
			return -1;
		if (first_diff)
			return first_diff;
	}
	return 0;
}

struct parts {
	uint64_t epoch;
	const char *up, *up_end, *rev, *rev_end;
};

static void split(const char *v, struct parts *p)
{
	const char *colon = strchr(v, ':'), *dash;
	const char *end = v + strlen(v);

	p->epoch = 0;
	if (colon) {
		for (const char *c = v; c < colon; c++) {
			if (!is_digit(*c) || p->epoch > UINT32_MAX)
				break;
			p->epoch = p->epoch * 10 + (uint64_t)(*c - '0');
		}
		v = colon + 1;
	}
	dash = strrchr(v, '-');
	p->up = v;
	if (dash) {
		p->up_end = dash;
		p->rev = dash + 1;
	} else {
		p->up_end = end;
		p->rev = end; /* no revision compares like "0" (both empty of digits) */
	}
	p->rev_end = end;
}

int patch_version_compare(const char *a, const char *b)
{
	struct parts pa, pb;
	int r;

	split(a, &pa);
	split(b, &pb);
	if (pa.epoch != pb.epoch)
		return pa.epoch < pb.epoch ? -1 : 1;
	r = verrevcmp(pa.up, pa.up_end, pb.up, pb.up_end);
	if (r)
		return r;
	return verrevcmp(pa.rev, pa.rev_end, pb.rev, pb.rev_end);
}

bool patch_version_valid(const char *v)
{
	const char *colon, *dash, *up;
	size_t l;

	if (!v || !*v || (l = strlen(v)) > PATCH_VERSION_MAX)
		return false;
	colon = strchr(v, ':');
	up = v;
	if (colon) {
		if (colon == v || colon - v > 9)
			return false;
		for (const char *c = v; c < colon; c++)
			if (!is_digit(*c))
				return false;
		up = colon + 1;
	}
	dash = strrchr(up, '-');
	if (!is_digit(*up))
		return false;
	for (const char *c = up; *c && c != dash; c++)
		if (!(is_digit(*c) || is_alpha(*c) || strchr(".+~-:", *c)))
			return false;
	if (dash) {
		if (!dash[1])
			return false;
		for (const char *c = dash + 1; *c; c++)
			if (!(is_digit(*c) || is_alpha(*c) || strchr(".+~", *c)))
				return false;
	}
	/* a ':' in upstream is allowed only with an epoch */
	if (!colon && strchr(up, ':'))
		return false;
	return true;
}
