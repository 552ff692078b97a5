/* policy/policy_exception.c — matching the policy's exceptions (例外措置)
 * against a check, a device and a person at a given time (mamori-worker, mamorictl). */
#include <string.h>

#include "policy_exception.h"
#include "policy_schema.h"

bool policy_check_id_matches(const char *pattern, const char *check_id)
{
	size_t n;

	if (!pattern || !check_id)
		return false;
	n = strlen(pattern);
	if (n >= 2 && pattern[n - 2] == '.' && pattern[n - 1] == '*')
		return strncmp(pattern, check_id, n - 1) == 0 && check_id[n - 1] != '\0';
	return strcmp(pattern, check_id) == 0;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool field_matches(const char *want, const char *have)
{
	return !want || (have && strcmp(want, have) == 0);
}

bool policy_exception_applies(const struct mamori_policy *p, const char *check_id, const struct policy_device_id *dev,
                              const char *person, time_t now, const char **ret_exception_id)
{
	const cJSON *list = policy_section(p, "exceptions"), *e;

	if (!cJSON_IsArray(list) || !check_id)
		return false;
	cJSON_ArrayForEach(e, list)
	{
		const cJSON *scope = cJSON_GetObjectItemCaseSensitive(e, "scope");
		const cJSON *device = cJSON_GetObjectItemCaseSensitive(scope, "device");
		const char *nb = str(e, "not_before"), *na = str(e, "not_after"), *who = str(scope, "person");
		time_t tb = 0, ta;

		if (!policy_check_id_matches(str(scope, "check"), check_id))
			continue;
		if (device) {
			if (!dev || !field_matches(str(device, "vendor"), dev->vendor) ||
			    !field_matches(str(device, "product"), dev->product) ||
			    !field_matches(str(device, "serial"), dev->serial))
				continue;
		}
		if (who && (!person || strcmp(who, person) != 0))
			continue;
		/* the document was validated: both times parse */
		if (!na || policy_time_parse(na, &ta) < 0 || now >= ta)
			continue;
		if (nb && (policy_time_parse(nb, &tb) < 0 || now < tb))
			continue;
		if (ret_exception_id)
			*ret_exception_id = str(e, "id");
		return true;
	}
	return false;
}
