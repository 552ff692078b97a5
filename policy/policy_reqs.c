/* policy/policy_reqs.c — the known requirement IDs and which of them the
 * endpoint enforces (mamori-worker, mamorictl). */
#include <string.h>

#include "alloc-util.h"
#include "policy_reqs.h"

static const struct {
	const char *id;
	const char *server_only; /* NULL: enforced on the endpoint through the policy */
} reqs[] = {
        {"MEDIA-1", NULL},
        {"MEDIA-2", NULL},
        {"MEDIA-3", NULL},
        {"MEDIA-4", NULL},
        {"MEDIA-5", NULL},
        {"MEDIA-6", "sanitisation before disposal happens off the terminal (the medium is wiped or destroyed by "
                    "the asset owner); the record belongs to the server's asset register"},
        {"CARRY-1", NULL},
        {"CARRY-2", NULL},
        {"CARRY-3", NULL},
        {"CARRY-4", "admission to the office network is decided by the network (NAC / quarantine VLAN) and the "
                    "server from the posture report; the agent supplies the AV-2 and PATCH-1 evidence"},
        {"AV-1", NULL},
        {"AV-2", NULL},
        {"AV-3", NULL},
        {"AV-4", NULL},
        {"AV-5", NULL},
        {"LOCK-1", NULL},
        {"LOCK-2", NULL},
        {"LOCK-3", NULL},
        {"PATCH-1", NULL},
        {"PATCH-2", NULL},
        {"SOFT-1", NULL},
        {"CONF-1", NULL},
        {"NET-1", NULL},
        {"NET-2", NULL},
        {"LOG-1", NULL},
        {"LOG-2", NULL},
        {"MDM-1", NULL},
        {"MDM-2", NULL},
        {"MDM-3", "revocation when staff leave is an account and certificate decision taken on the server "
                  "(revoke the device certificate, disable the directory account)"},
        {"OPS-1", NULL},
        {"OPS-2", NULL},
        {"OPS-3", NULL},
        {"OPS-4", NULL},
        {"OPS-5", NULL},
        {"OPS-6", "the CISO's investigation (利用状況調査) reads the uploaded journal on the server; the agent's part "
                  "is LOG-1 (collect and protect the logs)"},
};

static int find(const char *id)
{
	if (!id)
		return -1;
	for (size_t i = 0; i < ELEMENTSOF(reqs); i++)
		if (strcmp(reqs[i].id, id) == 0)
			return (int)i;
	return -1;
}

bool policy_requirement_known(const char *id)
{
	return find(id) >= 0;
}

const char *policy_requirement_at(size_t i)
{
	return i < ELEMENTSOF(reqs) ? reqs[i].id : NULL;
}

bool policy_requirement_endpoint(const char *id, const char **ret_why)
{
	int i = find(id);

	if (i < 0)
		return false;
	if (reqs[i].server_only) {
		if (ret_why)
			*ret_why = reqs[i].server_only;
		return false;
	}
	return true;
}
