/* tests/fuzz/fuzz_policy.c — libFuzzer harness for the policy parser and
 * validator (policy/policy.c, policy_schema.c): any input gives a policy or
 * a list of errors, never a crash, and every error formats in ja and en. */
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy.h"
#include "policy_exception.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mamori_policy *p = NULL;
	struct policy_errors errs;
	char line[1024];

	policy_errors_init(&errs);
	if (policy_parse((const char *)data, size, &p, &errs) == 0) {
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
