/* agent/worker/request_store.c — requests to the approver (mamori-worker;
 * issue 16, OPS-3, OPS-4, MEDIA-1).
 *
 * `mamorictl request device [ID]` asks for a USB device to be permitted
 * (ID: a present device's port or its descriptor hash; none: the device the
 * gate blocked last), `mamorictl request exception --requirement R --until T
 * --reason TEXT` for an exception of a requirement, `mamorictl request
 * carry-out --medium PORT|VVVV:PPPP:SERIAL --until T --purpose TEXT` for
 * writing to one medium until T (CARRY-2, MEDIA-2: the medium by its
 * identity — vendor, product, serial, as the carry module's approval
 * matcher compares it; a medium without a serial number cannot be told
 * from its siblings and is refused). Who asks is the control
 * socket's peer: no request field names a person, and an unknown field is
 * refused (a name in the body cannot speak for somebody else). The request
 * is one journal record, `request.created`, with a random request id: the
 * journal is the queue to mamori-server (agent/net/transport.h), which
 * makes the request of the record it stores. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "approval.h"
#include "control.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "module.h"
#include "policy_reqs.h"
#include "random-util.h"
#include "request_store.h"
#include "rootpath.h"
#include "strutil.h"
#include "usb/usb_identity.h"
#include "usb/usb_local.h"

#define REQUEST_REASON_MAX 1024
#define REQUEST_UNTIL_MAX  (366LL * 86400) /* at most a year ahead */

/* Per-uid bound of the requests not yet sent (issue 16): the control
 * socket is 0666, and the journal must not fill with one person's requests
 * while the terminal is offline. A request is queued from its
 * request.created until the server acknowledged the journal past its seq
 * (upload.state); one more of the same uid is refused (request.refused
 * too_many_queued, counted) and nothing queued is touched. What is
 * remembered is this run's requests: after a restart the count starts
 * again (the queued records themselves stay in the journal and are sent). */
#define REQUEST_QUEUED_PER_UID_MAX 16
#define REQUEST_QUEUED_TRACK_MAX   1024 /* all uids; full of unsent ones: refused too (fail closed) */

struct queued {
	uid_t uid;
	uint64_t seq;
};

static struct queued queued[REQUEST_QUEUED_TRACK_MAX];
static size_t n_queued;
static uint64_t queue_refused;

uint64_t request_queue_refused(void)
{
	return queue_refused;
}

/* Forget what the server holds; how many of uid are still waiting. */
static size_t queued_of(uid_t uid, uint64_t acked)
{
	size_t n = 0, i = 0;

	while (i < n_queued) {
		if (queued[i].seq <= acked) {
			queued[i] = queued[--n_queued];
			continue;
		}
		n += queued[i].uid == uid;
		i++;
	}
	return n;
}

static cJSON *last_blocked; /* the device object of the last usb.blocked */

void request_note_event(const struct mamori_event *ev)
{
	const cJSON *dev;

	if (!ev->payload || strcmp(ev->type, "usb.blocked") != 0)
		return;
	dev = cJSON_GetObjectItemCaseSensitive(ev->payload, "device");
	if (!cJSON_IsObject(dev) || cJSON_GetObjectItemCaseSensitive(ev->payload, "interface"))
		return; /* one interface blocked: the device itself was permitted */
	cJSON_Delete(last_blocked);
	last_blocked = cJSON_Duplicate(dev, 1);
}

static const char *str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static bool valid_text(const cJSON *v, size_t max)
{
	return cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) <= max &&
	       utf8_valid(v->valuestring, strlen(v->valuestring));
}

/* a known requirement ID of REQUIREMENTS.md (policy/policy_reqs.h): an
 * exception of an unknown one is refused, never forwarded (issue 16.3) */
static bool valid_requirement(const char *s)
{
	return approval_requirement_form(s) && policy_requirement_known(s);
}

/* The device object of a present device by its port name (1-3): its
 * identity read as the gate reads it (modules/usb/usb_identity.c). */
static cJSON *device_of_port(const char *port)
{
	char link[PATH_MAX], real[PATH_MAX], rootp[PATH_MAX], v[8];
	/* zeroed: usb_identity_read reads only what id does not hold yet — on
	 * the stack it held the last call's device, and a request for a newly
	 * inserted stick carried the identity of the one asked for before */
	struct usb_identity id = {0};
	const char *sys;
	size_t rl;
	cJSON *o;

	if (!port[0] || strchr(port, '/') || strchr(port, ':') || strcmp(port, ".") == 0 || strcmp(port, "..") == 0 ||
	    root_pathf(link, sizeof(link), "/sys/bus/usb/devices/%s", port) < 0 || !realpath(link, real) ||
	    root_path(rootp, sizeof(rootp), "/") < 0)
		return NULL;
	rl = strlen(rootp);
	while (rl > 0 && rootp[rl - 1] == '/')
		rl--;
	sys = strncmp(real, rootp, rl) == 0 ? real + rl : real;
	if (usb_identity_read(sys, port, USB_ID_ALL, &id) < 0 || !(id.have & USB_ID_HASH))
		return NULL;
	o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "hash", id.hash_hex);
	snprintf(v, sizeof(v), "%04x", id.vendor);
	cJSON_AddStringToObject(o, "vendor", v);
	snprintf(v, sizeof(v), "%04x", id.product);
	cJSON_AddStringToObject(o, "product", v);
	if (id.serial_raw.present && !id.serial_raw.too_long && utf8_valid(id.serial_raw.b, id.serial_raw.len) &&
	    strlen(id.serial_raw.b) == id.serial_raw.len)
		cJSON_AddStringToObject(o, "serial", id.serial_raw.b);
	else
		cJSON_AddNullToObject(o, "serial");
	if (utf8_valid(id.name_raw.b, id.name_raw.len) && strlen(id.name_raw.b) == id.name_raw.len)
		cJSON_AddStringToObject(o, "name", id.name_raw.b);
	else
		cJSON_AddNullToObject(o, "name");
	cJSON_AddStringToObject(o, "port", port);
	/* the interface classes: the server refuses a read-only approval of a
	 * device that has nothing read-only can hold (no storage, issue 16) */
	{
		cJSON *a = cJSON_AddArrayToObject(o, "interfaces");
		char b[16];

		for (size_t i = 0; a && i < id.n_ifaces; i++) {
			snprintf(b, sizeof(b), "%02x:%02x:%02x", id.ifaces[i].cls, id.ifaces[i].sub,
			         id.ifaces[i].proto);
			cJSON_AddItemToArray(a, cJSON_CreateString(b));
		}
	}
	return o;
}

/* A carry-out's medium (CARRY-2): a present device's port, or its identity
 * "vvvv:pppp:SERIAL" (4 lower-case hex digits each; the serial as the
 * device reports it). Always with a serial number. */
static cJSON *medium_for(const cJSON *arg, const char **ret_reason)
{
	const char *s = cJSON_GetStringValue(arg);
	cJSON *o;

	*ret_reason = "bad_medium";
	if (!s || !s[0] || strlen(s) > 160 || !utf8_valid(s, strlen(s)))
		return NULL;
	if (strlen(s) > 10 && s[4] == ':' && s[9] == ':') {
		char v[5], p[5];

		memcpy(v, s, 4);
		v[4] = '\0';
		memcpy(p, s + 5, 4);
		p[4] = '\0';
		if (!hex_lower_exact(v, 4) || !hex_lower_exact(p, 4) || strlen(s + 10) >= 128)
			return NULL;
		o = cJSON_CreateObject();
		if (o) {
			cJSON_AddStringToObject(o, "vendor", v);
			cJSON_AddStringToObject(o, "product", p);
			cJSON_AddStringToObject(o, "serial", s + 10);
		}
		return o;
	}
	o = device_of_port(s);
	if (!o) {
		*ret_reason = "unknown_medium";
		return NULL;
	}
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "serial")) || strlen(str(o, "serial")) >= 128) {
		cJSON_Delete(o);
		*ret_reason = "no_serial";
		return NULL;
	}
	return o;
}

/* The device object of the last blocked device, as the gate described it. */
static cJSON *copy_blocked(const char *h)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "hash", h);
	for (const char *const *k = (const char *const[]){"vendor", "product", "serial", "name", "port", NULL}; *k; k++)
		cJSON_AddItemToObject(
		        o, *k, str(last_blocked, *k) ? cJSON_CreateString(str(last_blocked, *k)) : cJSON_CreateNull());
	if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(last_blocked, "interfaces")))
		cJSON_AddItemToObject(o, "interfaces",
		                      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(last_blocked, "interfaces"), 1));
	return o;
}

/* What the request names: a port or hash given, or the last blocked device. */
static cJSON *device_for(const cJSON *arg, const char **ret_reason)
{
	const char *s = cJSON_GetStringValue(arg);
	cJSON *o;

	if (!arg) {
		const char *h, *port;

		if (!last_blocked) {
			*ret_reason = "no_blocked_device";
			return NULL;
		}
		h = str(last_blocked, "hash");
		if (h && usb_local_is_hash(h))
			return copy_blocked(h);
		port = str(last_blocked, "port");
		o = port ? device_of_port(port) : NULL;
		if (!o)
			*ret_reason = "device_gone";
		return o;
	}
	if (!s || strlen(s) > 64) {
		*ret_reason = "bad_request";
		return NULL;
	}
	if (usb_local_is_hash(s)) {
		/* the last blocked device named by its hash (the notification's
		 * "申請する / Request", issue 16.1): with what the gate saw of it */
		if (last_blocked && str(last_blocked, "hash") && strcmp(str(last_blocked, "hash"), s) == 0)
			return copy_blocked(s);
		o = cJSON_CreateObject();
		if (o)
			cJSON_AddStringToObject(o, "hash", s);
		return o;
	}
	o = device_of_port(s);
	if (!o)
		*ret_reason = "unknown_device";
	return o;
}

/* The message of a refusal of the device or medium named (device_for,
 * medium_for), by its reason code. */
static const char *why_text(const char *why)
{
	static const char *const t[][2] = {
	        {"no_blocked_device", "no device was blocked since the agent started: name one (usb list)"},
	        {"device_gone", "the last blocked device is no longer present"},
	        {"no_serial", "the medium has no serial number: it cannot be told from others (CARRY-2)"},
	        {"bad_medium", "--medium: a present device's port or VVVV:PPPP:SERIAL"},
	        {"unknown_medium", "--medium: not a present device's port"},
	};

	for (size_t i = 0; i < ELEMENTSOF(t); i++)
		if (strcmp(why, t[i][0]) == 0)
			return t[i][1];
	return "not a present device's port nor a descriptor hash";
}

static cJSON *refuse(struct mamori_ctx *ctx, const char *reason, const char *msg, const cJSON *args, uid_t uid,
                     pid_t pid)
{
	cJSON *out = cJSON_CreateObject();
	_cleanup_json_ cJSON *ev = cJSON_CreateObject();

	if (ev) {
		const cJSON *k = args ? cJSON_GetObjectItemCaseSensitive(args, "kind") : NULL;

		cJSON_AddStringToObject(ev, "reason", reason);
		cJSON_AddItemToObject(ev, "kind",
		                      cJSON_IsString(k) && strlen(k->valuestring) <= 32
		                              ? cJSON_CreateString(k->valuestring)
		                              : cJSON_CreateNull());
		control_who_json(ev, uid, pid);
		if (mamori_emit(ctx, "request.refused", SEV_WARNING, "OPS-3,OPS-4", ev) < 0)
			log_error("cannot journal request.refused");
	}
	if (out) {
		cJSON_AddBoolToObject(out, "ok", 0);
		cJSON_AddStringToObject(out, "reason", reason);
		cJSON_AddStringToObject(out, "error", msg);
	}
	return out;
}

cJSON *request_submit(struct mamori_ctx *ctx, const cJSON *args, uid_t uid, pid_t pid, uint64_t acked)
{
	static const char *const dev_keys[] = {"kind", "device", "reason", NULL};
	static const char *const exc_keys[] = {"kind", "requirement", "until", "reason", NULL};
	static const char *const out_keys[] = {"kind", "medium", "until", "purpose", NULL};
	const char *kind = args ? str(args, "kind") : NULL, *why = "bad_request";
	const cJSON *reason = args ? cJSON_GetObjectItemCaseSensitive(args, "reason") : NULL;
	_cleanup_json_ cJSON *ev = NULL;
	uint8_t rnd[16];
	char id[33];
	cJSON *out;
	int64_t now = (int64_t)time(NULL);
	uint64_t seq = 0;

	bool out_kind = kind && strcmp(kind, "carry-out") == 0;

	if (!kind || (strcmp(kind, "device") != 0 && strcmp(kind, "exception") != 0 && !out_kind))
		return refuse(ctx, "bad_request", "usage: kind device, exception or carry-out", args, uid, pid);
	if (queued_of(uid, acked) >= REQUEST_QUEUED_PER_UID_MAX || n_queued >= REQUEST_QUEUED_TRACK_MAX) {
		queue_refused++;
		return refuse(ctx, "too_many_queued",
		              "このユーザーの未送信の申請が多すぎます。サーバーに送られてからやり直してください / too "
		              "many of this user's requests wait to be sent: try again once they reached the server",
		              args, uid, pid);
	}
	/* exact: a field naming a person (or anything else) is refused */
	if (!json_only_keys(args, strcmp(kind, "device") == 0 ? dev_keys : out_kind ? out_keys : exc_keys))
		return refuse(ctx, "unknown_field",
		              "unknown field in the request (the person is who runs the command, never a field)", args,
		              uid, pid);
	if (reason && !valid_text(reason, REQUEST_REASON_MAX))
		return refuse(ctx, "bad_request", "--reason: 1 to 1024 bytes of UTF-8", args, uid, pid);
	if (random_bytes(rnd, sizeof(rnd), false) < 0)
		return refuse(ctx, "no_random", "cannot make a request id", args, uid, pid);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	ev = cJSON_CreateObject();
	if (!ev)
		return NULL;
	cJSON_AddStringToObject(ev, "request_id", id);
	cJSON_AddStringToObject(ev, "kind", kind);
	if (strcmp(kind, "device") == 0) {
		cJSON *dev = device_for(cJSON_GetObjectItemCaseSensitive(args, "device"), &why);

		if (!dev)
			return refuse(ctx, why, why_text(why), args, uid, pid);
		cJSON_AddItemToObject(ev, "device", dev);
	} else if (out_kind) {
		const cJSON *until = cJSON_GetObjectItemCaseSensitive(args, "until");
		const cJSON *purpose = cJSON_GetObjectItemCaseSensitive(args, "purpose");
		cJSON *med;

		if (!cJSON_IsNumber(until) || until->valuedouble != (double)(int64_t)until->valuedouble ||
		    !valid_text(purpose, REQUEST_REASON_MAX))
			return refuse(ctx, "bad_request",
			              "usage: --medium PORT|VVVV:PPPP:SERIAL --until TIME --purpose TEXT", args, uid,
			              pid);
		if ((int64_t)until->valuedouble <= now || (int64_t)until->valuedouble - now > REQUEST_UNTIL_MAX)
			return refuse(ctx, "bad_until", "--until: in the future, at most a year ahead", args, uid, pid);
		med = medium_for(cJSON_GetObjectItemCaseSensitive(args, "medium"), &why);
		if (!med)
			return refuse(ctx, why, why_text(why), args, uid, pid);
		cJSON_AddItemToObject(ev, "medium", med);
		cJSON_AddNumberToObject(ev, "until", until->valuedouble);
		cJSON_AddStringToObject(ev, "purpose", purpose->valuestring);
	} else {
		const cJSON *rq = cJSON_GetObjectItemCaseSensitive(args, "requirement");
		const cJSON *until = cJSON_GetObjectItemCaseSensitive(args, "until");

		if (cJSON_IsString(rq) && approval_requirement_form(rq->valuestring) &&
		    !policy_requirement_known(rq->valuestring))
			return refuse(ctx, "unknown_requirement",
			              "--requirement: not a requirement ID of REQUIREMENTS.md (OPS-1, MEDIA-2, ...)",
			              args, uid, pid);
		if (!cJSON_IsString(rq) || !valid_requirement(rq->valuestring) || !cJSON_IsNumber(until) ||
		    until->valuedouble != (double)(int64_t)until->valuedouble || !reason)
			return refuse(ctx, "bad_request", "usage: --requirement ID --until TIME --reason TEXT", args,
			              uid, pid);
		if ((int64_t)until->valuedouble <= now || (int64_t)until->valuedouble - now > REQUEST_UNTIL_MAX)
			return refuse(ctx, "bad_until", "--until: in the future, at most a year ahead", args, uid, pid);
		cJSON_AddStringToObject(ev, "requirement", rq->valuestring);
		cJSON_AddNumberToObject(ev, "until", until->valuedouble);
	}
	if (reason)
		cJSON_AddStringToObject(ev, "reason", reason->valuestring);
	else if (!out_kind)
		cJSON_AddNullToObject(ev, "reason");
	control_who_json(ev, uid, pid);
	if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(ev, "user")))
		return refuse(ctx, "unknown_person", "the caller has no account name: nobody to approve for", args, uid,
		              pid);
	if (!ctx->emit ||
	    ctx->emit(ctx,
	              &(struct mamori_event){
	                      .type = "request.created", .severity = SEV_NOTICE, .reqs = "OPS-3,OPS-4", .payload = ev},
	              &seq) < 0) {
		out = cJSON_CreateObject();
		if (out) {
			cJSON_AddBoolToObject(out, "ok", 0);
			cJSON_AddStringToObject(out, "reason", "journal");
			cJSON_AddStringToObject(out, "error", "cannot journal the request");
		}
		return out;
	}
	queued[n_queued++] = (struct queued){.uid = uid, .seq = seq};
	out = cJSON_Duplicate(ev, 1);
	if (out)
		cJSON_AddBoolToObject(out, "ok", 1);
	return out;
}
