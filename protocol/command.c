/* protocol/command.c — the remote command table, the envelope's exact
 * parser and its canonical bytes (protocol/command.h). Runs in mamori-server
 * and in the agent's root processes (sync root part, mamori-worker). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "json-util.h"
#include "strutil.h"

static const struct command_param no_params[] = {{NULL, false, 0}};
static const struct command_param collect_params[] = {
        {"since_seq", false, 9007199254740991LL},
        {NULL, false, 0},
};

const struct command_type_info command_types[_CMD_MAX] = {
        [CMD_SYNC] = {"sync", "OPS-5", false, true, no_params},
        [CMD_ISOLATE] = {"isolate", "MDM-2,AV-5", false, true, no_params},
        [CMD_RELEASE] = {"release", "MDM-2,AV-5,OPS-4", true, true, no_params},
        [CMD_WIPE] = {"wipe", "MDM-1,OPS-4", true, true, no_params},
        [CMD_RETIRE] = {"retire", "MDM-3,OPS-4", true, true, no_params},
        [CMD_LOCK] = {"lock", "MDM-1", false, true, no_params},
        [CMD_UNLOCK] = {"unlock", "MDM-1", false, true, no_params},
        [CMD_SCAN] = {"scan", "AV-3", false, true, no_params},
        [CMD_COLLECT] = {"collect", "OPS-5,OPS-6", false, true, collect_params},
};

/* The names alone, in the same order, NULL-terminated: the policy schema's
 * allowed values of commands.accept (policy/policy_schema.c) — what the
 * agent enforces (agent/worker/daemon_command.c) is what the validator
 * knows. tests/unit/test_command.c checks both lists agree. MDM-1, MDM-2. */
const char *const command_type_names[_CMD_MAX + 1] = {
        [CMD_SYNC] = "sync",       [CMD_ISOLATE] = "isolate", [CMD_RELEASE] = "release", [CMD_WIPE] = "wipe",
        [CMD_RETIRE] = "retire",   [CMD_LOCK] = "lock",       [CMD_UNLOCK] = "unlock",   [CMD_SCAN] = "scan",
        [CMD_COLLECT] = "collect", [_CMD_MAX] = NULL,
};

const char *command_type_to_string(enum command_type t)
{
	return t >= 0 && t < _CMD_MAX ? command_types[t].name : NULL;
}

enum command_type command_type_from_string(const char *s)
{
	for (int i = 0; s && i < _CMD_MAX; i++)
		if (strcmp(s, command_types[i].name) == 0)
			return (enum command_type)i;
	return _CMD_INVALID;
}

static bool is_hex(const char *s, size_t len)
{
	return strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

/* A string the canonical form writes without escapes. */
static bool plain_string(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max)
		return false;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f || *c == '"' || *c == '\\')
			return false;
	return true;
}

#define WHY(...) (why ? (void)snprintf(why, whysz, __VA_ARGS__) : (void)0)

int command_check_fields(const struct command_envelope *e, char *why, size_t whysz)
{
	const struct command_type_info *ti;

	if (!is_hex(e->id, COMMAND_ID_LEN))
		return WHY("id is not %d lowercase hex digits", COMMAND_ID_LEN), -EBADMSG;
	if (!terminal_id_valid(e->terminal_id))
		return WHY("terminal_id is not a valid terminal ID"), -EBADMSG;
	if (e->type < 0 || e->type >= _CMD_MAX)
		return WHY("unknown command type"), -EBADMSG;
	ti = &command_types[e->type];
	if (!is_hex(e->nonce, COMMAND_NONCE_LEN))
		return WHY("nonce is not %d lowercase hex digits", COMMAND_NONCE_LEN), -EBADMSG;
	if (!plain_string(e->requested_by, COMMAND_ACCOUNT_MAX))
		return WHY("requested_by is empty, too long or holds a quote, backslash or control character"),
		       -EBADMSG;
	if (e->issued_at <= 0 || e->not_after <= e->issued_at || e->not_after - e->issued_at > COMMAND_VALIDITY_MAX_S)
		return WHY("the validity window is empty, negative or longer than 30 days"), -EBADMSG;
	if (e->n_approved > COMMAND_APPROVERS)
		return WHY("more than %d approvers", COMMAND_APPROVERS), -EBADMSG;
	for (unsigned i = 0; i < e->n_approved; i++) {
		if (!plain_string(e->approved_by[i], COMMAND_ACCOUNT_MAX))
			return WHY("approved_by[%u] is not a valid account name", i), -EBADMSG;
		if (strcmp(e->approved_by[i], e->requested_by) == 0)
			return WHY("OPS-4: the requester %s is also an approver", e->requested_by), -EBADMSG;
		for (unsigned k = 0; k < i; k++)
			if (strcmp(e->approved_by[i], e->approved_by[k]) == 0)
				return WHY("approved_by names %s twice", e->approved_by[i]), -EBADMSG;
	}
	if (ti->two_person && e->n_approved < 1)
		return WHY("OPS-4: %s needs an approver other than the requester", ti->name), -EBADMSG;
	for (unsigned i = 0; i < COMMAND_PARAMS_MAX; i++) {
		const struct command_param *p = &ti->params[i];

		if (!p->name) {
			for (unsigned k = i; k < COMMAND_PARAMS_MAX; k++)
				if (e->has_param[k])
					return WHY("a parameter %s does not have", ti->name), -EBADMSG;
			break;
		}
		if (!e->has_param[i] && p->required)
			return WHY("params.%s is required", p->name), -EBADMSG;
		if (e->has_param[i] && (e->param[i] < 0 || e->param[i] > p->max))
			return WHY("params.%s is out of range", p->name), -EBADMSG;
	}
	return 0;
}

struct out {
	char *p;
	size_t n, sz;
	bool over;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (o->over)
		return;
	va_start(ap, fmt);
	k = vsnprintf(o->p + o->n, o->sz - o->n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= o->sz - o->n) {
		o->over = true;
		return;
	}
	o->n += (size_t)k;
}

int command_canonical(const struct command_envelope *e, char *buf, size_t bufsz)
{
	const struct command_type_info *ti;
	struct out o = {buf, 0, bufsz, bufsz == 0};
	bool first = true;
	int r;

	if ((r = command_check_fields(e, NULL, 0)) < 0)
		return -EINVAL;
	ti = &command_types[e->type];
	put(&o, "{\"id\":\"%s\",\"terminal_id\":\"%s\",\"type\":\"%s\",\"params\":{", e->id, e->terminal_id, ti->name);
	for (unsigned i = 0; i < COMMAND_PARAMS_MAX && ti->params[i].name; i++) {
		if (!e->has_param[i])
			continue;
		put(&o, "%s\"%s\":%" PRId64, first ? "" : ",", ti->params[i].name, e->param[i]);
		first = false;
	}
	put(&o,
	    "},\"issued_at\":%" PRId64 ",\"not_after\":%" PRId64
	    ",\"nonce\":\"%s\",\"requested_by\":\"%s\",\"approved_by\":[",
	    e->issued_at, e->not_after, e->nonce, e->requested_by);
	for (unsigned i = 0; i < e->n_approved; i++)
		put(&o, "%s\"%s\"", i ? "," : "", e->approved_by[i]);
	put(&o, "]}");
	if (o.over)
		return -ENOBUFS;
	return (int)o.n;
}

static const char *const envelope_fields[] = {
        "id", "terminal_id", "type", "params", "issued_at", "not_after", "nonce", "requested_by", "approved_by",
};

static int get_int(const cJSON *v, int64_t *ret)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < 0 || v->valuedouble > 9007199254740991.0)
		return -EBADMSG;
	*ret = (int64_t)v->valuedouble;
	return 0;
}

static int get_str(const cJSON *v, char *dst, size_t dstsz)
{
	if (!cJSON_IsString(v) || !v->valuestring || strscpy(dst, dstsz, v->valuestring) < 0)
		return -EBADMSG;
	return 0;
}

int command_parse(const char *buf, size_t len, struct command_envelope *ret, char *why, size_t whysz)
{
	_cleanup_json_ cJSON *j = NULL;
	struct command_envelope e = {0};
	const char *end = NULL;
	const cJSON *it, *params, *appr;
	char canon[COMMAND_CANON_MAX];
	int n, r;

	if (len == 0 || len >= COMMAND_CANON_MAX || memchr(buf, '\0', len))
		return WHY("the envelope is empty, too long or holds a NUL byte"), -EBADMSG;
	j = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (!j || !cJSON_IsObject(j) || end != buf + len)
		return WHY("the envelope is not one JSON object"), -EBADMSG;
	/* exactly the known fields, each once */
	for (it = j->child; it; it = it->next) {
		bool known = false;

		for (size_t i = 0; i < sizeof(envelope_fields) / sizeof(envelope_fields[0]); i++)
			known |= it->string && strcmp(it->string, envelope_fields[i]) == 0;
		if (!known)
			return WHY("unknown field %s", it->string ? it->string : "?"), -EBADMSG;
	}
	for (size_t i = 0; i < sizeof(envelope_fields) / sizeof(envelope_fields[0]); i++)
		if (!cJSON_GetObjectItemCaseSensitive(j, envelope_fields[i]))
			return WHY("missing field %s", envelope_fields[i]), -EBADMSG;
	if (get_str(cJSON_GetObjectItemCaseSensitive(j, "id"), e.id, sizeof(e.id)) < 0 ||
	    get_str(cJSON_GetObjectItemCaseSensitive(j, "terminal_id"), e.terminal_id, sizeof(e.terminal_id)) < 0 ||
	    get_str(cJSON_GetObjectItemCaseSensitive(j, "nonce"), e.nonce, sizeof(e.nonce)) < 0 ||
	    get_str(cJSON_GetObjectItemCaseSensitive(j, "requested_by"), e.requested_by, sizeof(e.requested_by)) < 0)
		return WHY("id, terminal_id, nonce and requested_by must be strings of their length"), -EBADMSG;
	it = cJSON_GetObjectItemCaseSensitive(j, "type");
	if (!cJSON_IsString(it) || (e.type = command_type_from_string(it->valuestring)) == _CMD_INVALID)
		return WHY("unknown command type"), -EBADMSG;
	if (get_int(cJSON_GetObjectItemCaseSensitive(j, "issued_at"), &e.issued_at) < 0 ||
	    get_int(cJSON_GetObjectItemCaseSensitive(j, "not_after"), &e.not_after) < 0)
		return WHY("issued_at and not_after must be integers (seconds since 1970, UTC)"), -EBADMSG;
	params = cJSON_GetObjectItemCaseSensitive(j, "params");
	if (!cJSON_IsObject(params))
		return WHY("params must be an object"), -EBADMSG;
	for (it = params->child; it; it = it->next) {
		const struct command_param *p = command_types[e.type].params;
		unsigned i;

		for (i = 0; p[i].name && strcmp(p[i].name, it->string ? it->string : ""); i++)
			;
		if (!p[i].name)
			return WHY("params.%s is not a parameter of %s", it->string ? it->string : "?",
			           command_types[e.type].name),
			       -EBADMSG;
		if (e.has_param[i] || get_int(it, &e.param[i]) < 0)
			return WHY("params.%s must be one integer", p[i].name), -EBADMSG;
		e.has_param[i] = true;
	}
	appr = cJSON_GetObjectItemCaseSensitive(j, "approved_by");
	if (!cJSON_IsArray(appr) || cJSON_GetArraySize(appr) > COMMAND_APPROVERS)
		return WHY("approved_by must be an array of at most %d names", COMMAND_APPROVERS), -EBADMSG;
	cJSON_ArrayForEach(it, appr)
	{
		if (get_str(it, e.approved_by[e.n_approved], sizeof(e.approved_by[0])) < 0)
			return WHY("approved_by holds something other than names"), -EBADMSG;
		e.n_approved++;
	}
	if ((r = command_check_fields(&e, why, whysz)) < 0)
		return r;
	n = command_canonical(&e, canon, sizeof(canon));
	if (n < 0 || (size_t)n != len || memcmp(canon, buf, len) != 0)
		return WHY("the envelope is not in canonical form"), -EBADMSG;
	*ret = e;
	return 0;
}

int command_param_get(const struct command_envelope *e, const char *name, int64_t *ret)
{
	const struct command_param *p;

	if (e->type < 0 || e->type >= _CMD_MAX)
		return -EINVAL;
	p = command_types[e->type].params;
	for (unsigned i = 0; i < COMMAND_PARAMS_MAX && p[i].name; i++)
		if (strcmp(p[i].name, name) == 0) {
			if (!e->has_param[i])
				return -ENOENT;
			*ret = e->param[i];
			return 0;
		}
	return -ENOENT;
}
