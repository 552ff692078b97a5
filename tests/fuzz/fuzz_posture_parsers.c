/* tests/fuzz/fuzz_posture_parsers.c — libFuzzer harness for the posture
 * parsers of files an attacker on the terminal may shape: deb822 (dpkg
 * status, apt lists, InRelease), /proc/net tables, dnf output, ClamAV
 * database headers, mdatp health JSON (fuzz program). The first byte picks
 * the parser. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "av/av_clamd.h"
#include "av/av_mdatp.h"
#include "patch/patch_dnf.h"
#include "patch/patch_dpkg.h"
#include "posture/ports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_cb(void *userdata, const char *key, const char *value)
{
	(void)key;
	if (value && strlen(value) > 1024 * 1024)
		__builtin_trap();
	(*(size_t *)userdata)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;

	if (size < 1)
		return 0;
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0'; /* NUL-terminated copy of the rest */
	switch (data[0] % 6) {
	case 0:
	case 1: {
		FILE *f = fmemopen((void *)(data + 1), size - 1, "r");
		struct patch_parse_error err;
		size_t n = 0;

		if (f) {
			patch_deb822_parse(f, 1 << 20, data[0] % 6 == 1, count_cb, &n, &err);
			fclose(f);
		}
		break;
	}
	case 2: {
		static struct ports_facts pf;

		memset(&pf, 0, sizeof(pf));
		ports_parse_table(buf, (data[0] & 0x80) ? "tcp6" : "udp", &pf);
		if (pf.n > PORTS_MAX_LISTENERS)
			__builtin_trap();
		break;
	}
	case 3: {
		struct patch_dnf_result r;

		memset(&r, 0, sizeof(r));
		patch_dnf_parse(buf, size - 1, &r);
		if (strnlen(r.first, sizeof(r.first)) >= sizeof(r.first))
			__builtin_trap();
		break;
	}
	case 4: {
		struct av_cvd_header h;

		av_clamd_parse_cvd_header(buf, size - 1, &h);
		break;
	}
	case 5: {
		struct av_status st;

		memset(&st, 0, sizeof(st));
		av_mdatp_parse_health(buf, size - 1, 1800000000, &st);
		break;
	}
	}
	free(buf);
	return 0;
}
