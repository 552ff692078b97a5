/* tests/fuzz/fuzz_policy_usbguard.c — libFuzzer harness for the USBGuard
 * rules.conf importer (policy/usbguard.c): never a crash, and whatever it
 * converts validates as usb.rules. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "usbguard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct usbguard_issues issues;
	cJSON *rules = NULL, *doc, *usb;
	char *text;

	if (usbguard_import((const char *)data, size, size > 0 && (data[0] & 1), &rules, &issues) < 0)
		return 0;
	doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(doc, "schema", 1);
	cJSON_AddNumberToObject(doc, "version", 1);
	cJSON_AddStringToObject(doc, "segment", "lgwan");
	usb = cJSON_AddObjectToObject(doc, "usb");
	cJSON_AddStringToObject(usb, "default", "block");
	cJSON_AddItemToObject(usb, "rules", rules);
	text = cJSON_PrintUnformatted(doc);
	if (text) {
		struct mamori_policy *p = NULL;
		struct policy_errors errs;

		policy_errors_init(&errs);
		if (policy_parse(text, strlen(text), &p, &errs) < 0) {
			policy_errors_print(&errs, stderr, "en");
			abort(); /* the importer produced something the validator refuses */
		}
		policy_free(p);
		free(text);
	}
	cJSON_Delete(doc);
	return 0;
}
