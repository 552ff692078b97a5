/* tests/fuzz/fuzz_policy.c — libFuzzer harness for the policy parser and
 * validator (policy/policy.c, policy_schema.c): any input gives a policy or
 * a list of errors, never a crash, and every error formats in ja and en.
 * mamorid's parse of the same input (policy_parse_usb_streamed: usb.rules a
 * rule at a time) must give the same verdict and the same errors, and the
 * same number of compiled usb rules: a difference aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"
#include "policy_exception.h"
#include "usb/usb_rules.h"

static size_t rule_count(const struct mamori_policy *p)
{
	struct usb_rules *r = NULL;
	char err[256];
	size_t n;

	if (usb_rules_load(policy_section(p, "usb"), &r, err, sizeof(err)) < 0)
		return (size_t)-1;
	n = usb_rules_count(r);
	usb_rules_free(r);
	return n;
}

static void same_as_streamed(const uint8_t *data, size_t size, int r, const struct mamori_policy *p,
                             const struct policy_errors *errs)
{
	static struct policy_errors e2;
	struct mamori_policy *p2 = NULL;

	policy_errors_init(&e2);
	if (policy_parse_usb_streamed((const char *)data, size, &p2, &e2) != r || e2.n != errs->n ||
	    e2.dropped != errs->dropped)
		abort();
	for (size_t i = 0; i < e2.n; i++)
		if (e2.e[i].code != errs->e[i].code || strcmp(e2.e[i].path, errs->e[i].path) != 0 ||
		    strcmp(e2.e[i].arg, errs->e[i].arg) != 0)
			abort();
	if (r == 0 && rule_count(p) != rule_count(p2))
		abort();
	policy_free(p2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mamori_policy *p = NULL;
	struct policy_errors errs;
	char line[1024];
	int r;

	policy_errors_init(&errs);
	r = policy_parse((const char *)data, size, &p, &errs);
	same_as_streamed(data, size, r, p, &errs);
	if (r == 0) {
		struct policy_device_id dev = {"0781", "5581", "S1"};

		(void)policy_section(p, "usb");
		(void)policy_version(p);
		(void)policy_segment(p);
		(void)policy_exception_applies(p, "screenlock.idle", &dev, "yamada", (time_t)1800000000, NULL);
		(void)policy_exception_applies(p, "usb.write", NULL, NULL, (time_t)1800000000, NULL);
		policy_free(p);
	}
	for (size_t i = 0; i < errs.n; i++) {
		(void)policy_error_format(&errs, i, "ja", line, sizeof(line));
		(void)policy_error_format(&errs, i, "en", line, sizeof(line));
	}
	return 0;
}
