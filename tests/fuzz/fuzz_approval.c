/* tests/fuzz/fuzz_approval.c — libFuzzer: bytes as approval data
 * (protocol/approval.c; what the sync's root part and mamori-worker parse
 * after the policy key's signature verified, issue 16). Properties: no
 * crash, no leak; an accepted document has at most APPROVAL_MAX approvals,
 * each with 32-hex ids, a 64-hex hash (device) or a requirement ID of the
 * right form (exception, issue 16.3), and a version not above the
 * document's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "approval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct approval_doc d;
	const char *why = NULL;

	if (approval_doc_parse((const char *)data, size, &d, &why) != 0) {
		if (!why)
			abort();
		return 0;
	}
	if (d.n > APPROVAL_MAX)
		abort();
	for (size_t i = 0; i < d.n; i++)
		if (strlen(d.a[i].id) != 32 || strlen(d.a[i].request_id) != 32 || d.a[i].version > d.version ||
		    d.a[i].version < 1 || (d.a[i].access != APPROVAL_RO && d.a[i].access != APPROVAL_RW) ||
		    (d.a[i].kind == APPROVAL_DEVICE ? strlen(d.a[i].hash) != 64 || d.a[i].requirement[0]
		     : d.a[i].kind == APPROVAL_CARRY_OUT
		             ? !d.a[i].serial[0] || !d.a[i].person[0] || d.a[i].access != APPROVAL_RW ||
		                       d.a[i].not_after < d.a[i].not_before || d.a[i].requirement[0]
		             : d.a[i].kind != APPROVAL_EXCEPTION || d.a[i].hash[0] ||
		                       !approval_requirement_form(d.a[i].requirement)))
			abort();
	return 0;
}
