/* tests/lib/journal_batch.c — a journal's records as the transport uploads
 * them (test processes; see journal_batch.h). */
#include <errno.h>

#include "journal.h"
#include "journal_batch.h"

int tu_journal_batch(const char *dir, uint64_t after, unsigned max, cJSON **ret)
{
	struct journal_iter *it = NULL;
	struct journal_record rec;
	cJSON *arr = cJSON_CreateArray();
	unsigned n = 0;
	int r;

	if (!arr)
		return -ENOMEM;
	r = journal_iter_open(dir, after, &it);
	if (r < 0) {
		cJSON_Delete(arr);
		return r;
	}
	while (n < max && (r = journal_iter_next(it, &rec)) > 0) {
		cJSON *o = cJSON_CreateObject(), *rc = cJSON_ParseWithLength(rec.canon, rec.canon_len);

		if (!o || !rc || !cJSON_AddStringToObject(o, "hash", rec.hash_hex)) {
			cJSON_Delete(o);
			cJSON_Delete(rc);
			r = rc ? -ENOMEM : -EBADMSG;
			break;
		}
		cJSON_AddItemToObject(o, "record", rc); /* o owns rc now */
		cJSON_AddItemToArray(arr, o);
		n++;
	}
	journal_iter_free(it);
	if (r < 0) {
		cJSON_Delete(arr);
		return r;
	}
	*ret = arr;
	return 0;
}
