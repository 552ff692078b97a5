/* modules/usb/usb_generate.c — rules for present devices (mamorictl; see
 * usb_generate.h). */
#include <errno.h>
#include <stdio.h>

#include "policy_schema.h"
#include "usb_generate.h"
#include "usb_match.h"

static bool add_text(cJSON *m, const char *key, const struct usb_str *s)
{
	/* a string a policy cannot hold (control bytes, invalid UTF-8) is left
	 * to the hash, which covers it */
	if (!s->present || s->too_long || !policy_format_valid(POLICY_FORMAT_TEXT, s->b) || s->len > 255)
		return true;
	return cJSON_AddStringToObject(m, key, s->b) != NULL;
}

int usb_generate_rule(const struct usb_identity *id, const char *rule_id, bool with_port, cJSON **ret)
{
	cJSON *r = NULL, *m, *a, *reqs;
	char v[16];

	if (!(id->have & USB_ID_UGHASH) || !id->ug_hash[0] || !id->ug_parent_hash[0])
		return -ENOSYS;
	r = cJSON_CreateObject();
	if (!r || !cJSON_AddStringToObject(r, "id", rule_id) || !cJSON_AddStringToObject(r, "action", "allow") ||
	    !(m = cJSON_AddObjectToObject(r, "match")))
		goto oom;
	snprintf(v, sizeof(v), "%04x:%04x", id->vendor, id->product);
	if (!cJSON_AddStringToObject(m, "id", v) || !add_text(m, "serial", &id->serial_raw) ||
	    !add_text(m, "name", &id->name_raw) || !cJSON_AddStringToObject(m, "usbguard_hash", id->ug_hash) ||
	    !cJSON_AddStringToObject(m, "parent_hash", id->ug_parent_hash))
		goto oom;
	if (with_port && !cJSON_AddStringToObject(m, "port", id->port))
		goto oom;
	if (!id->seq_truncated && !id->desc_malformed) {
		if (!(a = cJSON_AddArrayToObject(m, "interfaces")))
			goto oom;
		for (size_t i = 0; i < id->n_seq; i++) {
			char c[16];
			cJSON *s;

			snprintf(c, sizeof(c), "%02x:%02x:%02x", id->seq[i][0], id->seq[i][1], id->seq[i][2]);
			if (!(s = cJSON_CreateString(c)) || !cJSON_AddItemToArray(a, s)) {
				cJSON_Delete(s);
				goto oom;
			}
		}
		if (id->n_seq == 0)
			cJSON_DeleteItemFromObject(m, "interfaces"); /* a set needs a value */
	}
	if (!(reqs = cJSON_AddArrayToObject(r, "requirements")) ||
	    !cJSON_AddItemToArray(reqs, cJSON_CreateString("MEDIA-1")))
		goto oom;
	*ret = r;
	return 0;
oom:
	cJSON_Delete(r);
	return -ENOMEM;
}
