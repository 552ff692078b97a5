/* protocol/approval.h — approval data: what an approver decided for a
 * terminal's requests (issue 16, OPS-3, OPS-4, MEDIA-1), delivered apart from
 * the group policy so that one registration needs no new policy version.
 * mamori-server (server-api/api_request.c) builds and signs it with the
 * policy key; the agent verifies it with the pinned policy key in the root
 * part of `mamorictl server sync` (agent/net/transport.c) and again in
 * mamori-worker (agent/worker/approval_store.c), which applies it.
 *
 * The document (one JSON object, signed as exact bytes, Ed25519, base64):
 *   {"type":"mamori.approvals","terminal_id":T,"version":V,"issued_at":S,
 *    "approvals":[{"id","request_id","kind":"device","hash":64 hex,
 *                  "person":NAME|null,"access":"ro"|"rw","not_after":S,
 *                  "approved_by":NAME,"version":V},
 *                 {"id","request_id","kind":"carry-out",
 *                  "medium":{"vendor":4 hex,"product":4 hex,"serial":TEXT},
 *                  "person":NAME,"access":"rw","not_before":S,"not_after":S,
 *                  "approved_by":NAME,"version":V},
 *                 {"id","request_id","kind":"exception","requirement":ID,
 *                  "person":NAME|null,"not_after":S,"approved_by":NAME,
 *                  "version":V}, ...]}
 * Every field of the kind required, none other (an unknown or duplicate
 * key, a wrong kind, more than APPROVAL_MAX entries: the whole document is
 * refused). A carry-out (CARRY-2, MEDIA-2) names the person (never
 * anyone), the medium's identity and the window, and allows writing: its
 * access is always "rw"; the carry module judges it like an approval of
 * the policy's carry.approvals. An exception of one requirement
 * (`mamorictl request exception`, issue 16.3): the posture result of that
 * requirement on the terminal is reported as an approved exception until
 * not_after; ID has the form of REQUIREMENTS.md's IDs, and the worker
 * refuses one it does not know.
 * version only grows: the agent keeps the highest it installed and refuses
 * a lower one (no rollback to before an approval). Times: seconds since
 * 1970 UTC; not_after is enforced by the agent's own clock. */
#ifndef MAMORI_APPROVAL_H
#define MAMORI_APPROVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APPROVAL_MAX      256
#define APPROVAL_DOC_MAX  (256 * 1024)
#define APPROVAL_NAME_MAX 129
#define APPROVAL_TYPE     "mamori.approvals"

enum approval_access { APPROVAL_RO, APPROVAL_RW };
enum approval_kind { APPROVAL_DEVICE, APPROVAL_CARRY_OUT, APPROVAL_EXCEPTION };

#define APPROVAL_SERIAL_MAX      128
#define APPROVAL_REQUIREMENT_MAX 17 /* "MEDIA-12" (+NUL) */

struct approval {
	enum approval_kind kind;
	char id[33];         /* the server's request id */
	char request_id[33]; /* the agent's (request.created) */
	char hash[65];       /* device: the device's descriptor hash */
	/* carry-out: the medium (vendor:product, serial) and the window's start */
	uint16_t vendor, product;
	char serial[APPROVAL_SERIAL_MAX];
	int64_t not_before;
	char requirement[APPROVAL_REQUIREMENT_MAX]; /* exception: "OPS-3" */
	char person[APPROVAL_NAME_MAX];             /* "" = anyone */
	enum approval_access access;                /* device, carry-out */
	int64_t not_after;
	char approved_by[APPROVAL_NAME_MAX];
	int64_t version;
};

struct approval_doc {
	char terminal_id[APPROVAL_NAME_MAX];
	int64_t version, issued_at;
	size_t n;
	struct approval a[APPROVAL_MAX];
};

/* The form of a requirement ID ("OPS-3", "MEDIA-12"): upper-case letters,
 * '-', digits, at most 16 bytes. Whether it is known: policy_reqs.h. */
bool approval_requirement_form(const char *s);

/* Parse a document exactly: 0 and *ret, or -EBADMSG with *ret_why (static
 * English) naming the problem. Untrusted input: tests/fuzz/fuzz_approval.c. */
int approval_doc_parse(const char *buf, size_t len, struct approval_doc *ret, const char **ret_why);

#endif
