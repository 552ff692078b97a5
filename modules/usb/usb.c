/* modules/usb/usb.c — the usb module's operations and its decision path
 * (mamorid, root).
 *
 * Fail closed: at start every root hub gets authorized_default=0 (2 for
 * "internal ports only" where the kernel takes it) and
 * interface_authorized_default=0, so a new device, and every interface of an
 * authorized device, waits unauthorized until this module decides; if
 * mamorid is not running they stay that way. Then every present device is
 * decided (or kept, as the policy says), and a libudev monitor on the "udev"
 * source delivers add/change/remove of usb_device, usb_interface and block
 * devices.
 *
 * Decision path, in order: identity (descriptors + serial, more only if the
 * rules need it) → usb_decide() → write `authorized` → complete the identity
 * (hash, names) → events → notification (a child process, never waited for).
 * Storage is decided again when its block device appears: libblkid (or
 * udev's ID_FS_TYPE) classifies it, BLKROSET makes it read-only where
 * required, re-applied on every change event. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libudev.h>

#include "alloc-util.h"
#include "fileio.h"
#include "log.h"
#include "media.h"
#include "notify.h"
#include "rootpath.h"
#include "strutil.h"
#include "usb.h"
#include "usb_identity.h"
#include "usb_local.h"
#include "usb_media.h"
#include "usb_rules.h"
#include "policy_exception.h"
#include "json-util.h"
#include "journal_canon.h"

#define USB_DEVS_MAX     4096
#define USB_NOTIFY_MAX   4
#define USB_EVENTS_BATCH 256 /* per on_ready call, so other fds get their turn */

struct usb_dev {
	char devpath[PATH_MAX / 4]; /* udev devpath: the key */
	struct usb_identity id;
	struct usb_decision dec;
	bool medium_plain; /* a plain block device under an encryption rule: the whole medium is read-only */
	char local_id[65]; /* the local exception that decided (dec.rule_id points here) */
};

struct usb_state {
	struct mamori_ctx *ctx;
	struct udev *udev;
	struct udev_monitor *mon;
	int mon_fd;
	struct usb_rules *rules; /* the settings: moved in and out by the core */
	struct notify *notify;
	struct usb_dev **devs;
	size_t n_devs, alloc;
};

/* Local exceptions (`mamorictl usb allow|block`, issue 12.6): the set the
 * worker sent last (modules/usb/usb_local.h). Kept across module reloads;
 * mamorid starts with none until the worker sends its persisted set. */
static struct usb_local_set local_set;
/* Deciding present devices again because the local set changed: write
 * `authorized` also under present_devices=keep, record only what changed. */
static bool reeval;

size_t usb_module_tracked(void *state)
{
	return state ? ((struct usb_state *)state)->n_devs : 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_enumerate *, udev_enumerate_unref)

/* ---- device table ------------------------------------------------------ */

static struct usb_dev *dev_find(struct usb_state *st, const char *devpath)
{
	for (size_t i = 0; i < st->n_devs; i++)
		if (strcmp(st->devs[i]->devpath, devpath) == 0)
			return st->devs[i];
	return NULL;
}

static struct usb_dev *dev_add(struct usb_state *st, const char *devpath)
{
	struct usb_dev *d;

	if (st->n_devs >= USB_DEVS_MAX)
		return NULL;
	if (st->n_devs == st->alloc) {
		size_t na = st->alloc ? st->alloc * 2 : 16;
		struct usb_dev **nd = realloc(st->devs, na * sizeof(*nd));
		if (!nd)
			return NULL;
		st->devs = nd;
		st->alloc = na;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	if (strscpy(d->devpath, sizeof(d->devpath), devpath) < 0) {
		free(d);
		return NULL;
	}
	st->devs[st->n_devs++] = d;
	return d;
}

static void dev_forget(struct usb_state *st, const char *devpath)
{
	for (size_t i = 0; i < st->n_devs; i++)
		if (strcmp(st->devs[i]->devpath, devpath) == 0) {
			free(st->devs[i]);
			st->devs[i] = st->devs[--st->n_devs];
			return;
		}
}

/* ---- sysfs writes ---------------------------------------------------------- */

/* sysfs attributes of the decision path: one openat2 under a root prefix
 * (common/rootpath.h), not a walk of lstat calls */
static int write_attr(const char *syspath, const char *attr, const char *value)
{
	_cleanup_close_ int fd = root_openf(O_WRONLY | O_NOCTTY, "%s/%s", syspath, attr);

	return fd < 0 ? fd : write_string_fd(fd, value);
}

static int read_attr_line(const char *syspath, const char *attr, char *buf, size_t bufsz)
{
	_cleanup_close_ int fd = root_openf(O_RDONLY | O_NOCTTY, "%s/%s", syspath, attr);

	return fd < 0 ? fd : read_one_line_fd(fd, buf, bufsz);
}

static bool is_root_hub(struct udev_device *d)
{
	const char *n = udev_device_get_sysname(d);
	return n && startswith(n, "usb");
}

static void setup_hub(struct usb_state *st, struct udev_device *hub)
{
	const char *sp = udev_device_get_syspath(hub);
	int r;

	if (st->ctx->audit_only || !sp)
		return;
	if (usb_rules_ports(st->rules) == USB_PORTS_INTERNAL_ONLY) {
		r = write_attr(sp, "authorized_default", "2");
		if (r < 0) {
			log_warning_errno(r, "usb: %s: authorized_default=2 (internal only) not supported, using 0",
			                  udev_device_get_sysname(hub));
			r = write_attr(sp, "authorized_default", "0");
		}
	} else
		r = write_attr(sp, "authorized_default", "0");
	if (r < 0)
		log_error_errno(r, "usb: %s: cannot set authorized_default", udev_device_get_sysname(hub));
	r = write_attr(sp, "interface_authorized_default", "0");
	if (r < 0 && r != -ENOENT)
		log_warning_errno(r, "usb: %s: cannot set interface_authorized_default", udev_device_get_sysname(hub));
}

/* ---- events and notifications ------------------------------------------ */

static void hex4(char out[5], uint16_t v)
{
	xsnprintf(out, 5, "%04x", v);
}

/* A descriptor string as the device gave it (docs/EVENTS.md: exact bytes):
 * a JSON string when it is UTF-8 without NUL, else {"$bytes": base64};
 * an attribute of USB_STR_RAW_MAX bytes or more was not read whole: null,
 * and its name in "too_long". */
static void add_exact(cJSON *o, cJSON *too_long, const char *key, const struct usb_str *s, bool present)
{
	if (!present || !s->present) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	if (s->too_long) {
		cJSON_AddNullToObject(o, key);
		if (too_long)
			cJSON_AddItemToArray(too_long, cJSON_CreateString(key));
		return;
	}
	cJSON_AddItemToObject(o, key, journal_canon_bytes_value(s->b, s->len));
}

static cJSON *identity_json(const struct usb_identity *id)
{
	cJSON *o = cJSON_CreateObject(), *a, *tl = cJSON_CreateArray();
	char b[16];

	if (!o || !tl) {
		cJSON_Delete(o);
		cJSON_Delete(tl);
		return NULL;
	}
	hex4(b, id->vendor);
	cJSON_AddStringToObject(o, "vendor", b);
	hex4(b, id->product);
	cJSON_AddStringToObject(o, "product", b);
	add_exact(o, tl, "serial", &id->serial_raw, id->has_serial);
	add_exact(o, tl, "manufacturer", &id->manufacturer_raw, id->have & USB_ID_NAMES);
	add_exact(o, tl, "name", &id->name_raw, id->have & USB_ID_NAMES);
	xsnprintf(b, sizeof(b), "%02x", id->dev_class);
	cJSON_AddStringToObject(o, "class", b);
	a = cJSON_AddArrayToObject(o, "interfaces");
	for (size_t i = 0; a && i < id->n_ifaces; i++) {
		xsnprintf(b, sizeof(b), "%02x:%02x:%02x", id->ifaces[i].cls, id->ifaces[i].sub, id->ifaces[i].proto);
		cJSON_AddItemToArray(a, cJSON_CreateString(b));
	}
	cJSON_AddStringToObject(o, "port", id->port);
	cJSON_AddStringToObject(o, "connect_type", usb_connect_type_to_string(id->connect_type));
	if (id->have & USB_ID_HASH)
		cJSON_AddStringToObject(o, "hash", id->hash_hex);
	if (id->desc_malformed)
		cJSON_AddTrueToObject(o, "descriptors_malformed");
	if (id->ifaces_truncated)
		cJSON_AddTrueToObject(o, "interfaces_truncated");
	if (cJSON_GetArraySize(tl) > 0)
		cJSON_AddItemToObject(o, "too_long", tl);
	else
		cJSON_Delete(tl);
	return o;
}

static cJSON *decision_json(const struct usb_dev *d, const char *reason)
{
	cJSON *o = cJSON_CreateObject(), *a;
	char b[16];

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "action", usb_action_to_string(d->dec.action));
	cJSON_AddStringToObject(o, "reason", reason ? reason : d->dec.reason);
	cJSON_AddStringToObject(o, "rule", d->dec.rule_id);
	cJSON_AddItemToObject(o, "device", identity_json(&d->id));
	if (d->dec.action != USB_ACT_BLOCK) {
		a = cJSON_AddArrayToObject(o, "interfaces_allowed");
		for (size_t i = 0; a && i < d->id.n_ifaces && i < 64; i++)
			if (d->dec.iface_allowed & (1ull << i)) {
				xsnprintf(b, sizeof(b), "%02x:%02x:%02x", d->id.ifaces[i].cls, d->id.ifaces[i].sub,
				          d->id.ifaces[i].proto);
				cJSON_AddItemToArray(a, cJSON_CreateString(b));
			}
		cJSON_AddStringToObject(o, "media",
		                        d->dec.media == USB_MEDIA_RO            ? "readonly"
		                        : d->dec.media == USB_MEDIA_CHECK_CRYPT ? "check_encryption"
		                                                                : "writable");
		if (d->dec.approval_id)
			cJSON_AddStringToObject(o, "approval", d->dec.approval_id);
	}
	return o;
}

/* Requirement IDs of an event: the rule's, plus those the media outcome cites. */
static void event_reqs(char *out, size_t outsz, const char *base, const char *extra)
{
	if (!extra || (base && strstr(base, extra)))
		strscpy(out, outsz, base ? base : "");
	else if (xsnprintf(out, outsz, "%s%s%s", base && base[0] ? base : "", base && base[0] ? "," : "", extra) < 0)
		strscpy(out, outsz, base ? base : "");
}

struct reason_text {
	const char *code, *ja, *en;
};

static const struct reason_text reasons[] = {
        {"default", "許可リストにない機器です", "the device is not on the allowlist"},
        {"rule", "ポリシーの規則によります", "a policy rule says so"},
        {"interfaces", "許可された機能だけを使えます", "only permitted functions may be used"},
        {"no_interface_allowed", "許可された機能がありません", "none of its functions is permitted"},
        {"no_interfaces", "機器の情報を読めません", "the device's descriptors cannot be read"},
        {"write_requires_approval", "書き出しの承認がありません", "there is no approval for writing to it"},
        {"plain_media", "暗号化されていない媒体です", "the medium is not encrypted"},
        {"readonly_rule", "書込禁止の媒体です", "the medium is write-protected by policy"},
        {"interface_blocked", "この機能は許可されていません", "this function is not permitted"},
        {"table_full", "機器が多すぎます", "too many devices"},
};

static const char *reason_text(const char *code, bool ja)
{
	for (size_t i = 0; i < ELEMENTSOF(reasons); i++)
		if (strcmp(reasons[i].code, code) == 0)
			return ja ? reasons[i].ja : reasons[i].en;
	return code;
}

static void tell_person(struct usb_state *st, const struct usb_dev *d, const char *what, const char *reason)
{
	bool ja = !st->ctx->lang || strcmp(st->ctx->lang, "en") != 0;
	const char *name = d->id.name[0] ? d->id.name : (ja ? "USB機器" : "USB device");
	char summary[256], body[NOTIFY_TEXT_MAX];
	int r;

	if (!st->notify)
		return;
	if (strcmp(what, "blocked") == 0)
		strscpy(summary, sizeof(summary), ja ? "USB機器の使用を止めました" : "USB device blocked");
	else if (strcmp(what, "readonly") == 0)
		strscpy(summary, sizeof(summary),
		        ja ? "USBメディアを読み取り専用にしました" : "USB medium set to read-only");
	else
		strscpy(summary, sizeof(summary),
		        ja ? "USB機器の一部の機能を止めました" : "Some functions of a USB device were blocked");
	xsnprintf(body, sizeof(body),
	          /* the exact command (issue 16): the request names this device by its port */
	          ja ? "%s (%04x:%04x): %s。(規則 %s、%s) 必要な場合は端末で次のコマンドを実行して申請してください: "
	               "mamorictl request device %s"
	             : "%s (%04x:%04x): %s (rule %s, %s). To ask for it, run at this terminal: "
	               "mamorictl request device %s",
	          name, d->id.vendor, d->id.product, reason_text(reason, ja), d->dec.rule_id,
	          d->dec.reqs ? d->dec.reqs : "", d->id.port);
	/* a device blocked as a whole: the notification offers "申請する /
	 * Request", which files `mamorictl request device` for it by its
	 * descriptor hash (or port) as the session's user (issue 16.1) */
	r = notify_send_request(st->notify, summary, body,
	                        strcmp(what, "blocked") != 0 ? NULL
	                        : (d->id.have & USB_ID_HASH) ? d->id.hash_hex
	                                                     : d->id.port);
	if (r < 0 && r != -ENXIO)
		log_debug("usb: notification not shown: %s", strerror(-r));
}

static void emit(struct usb_state *st, const char *type, enum event_severity sev, const char *reqs, cJSON *payload)
{
	int r;

	if (!payload)
		return;
	if (st->ctx->audit_only)
		cJSON_AddTrueToObject(payload, "audit_only");
	r = mamori_emit(st->ctx, type, sev, reqs, payload);
	if (r < 0)
		log_error_errno(r, "usb: cannot record %s", type);
}

/* ---- devices ---------------------------------------------------------------- */

/* 例外措置 (OPS-3): an approved, time-bounded exception of the policy for
 * this device (scope.check "usb.device" or "usb.*", scope.device) lets a
 * device the rules block be used, read-only where the rules would have made
 * it so; expired exceptions stop applying by themselves. */
static void apply_exception(struct usb_state *st, struct usb_dev *d)
{
	char v[8], p[8];
	struct policy_device_id dev = {.vendor = v, .product = p, .serial = d->id.has_serial ? d->id.serial : NULL};
	const char *exid = NULL;

	if (d->dec.action != USB_ACT_BLOCK || !st->ctx->policy)
		return;
	snprintf(v, sizeof(v), "%04x", d->id.vendor);
	snprintf(p, sizeof(p), "%04x", d->id.product);
	if (!policy_exception_applies(st->ctx->policy, "usb.device", &dev, NULL, time(NULL), &exid))
		return;
	d->dec.action = USB_ACT_ALLOW;
	d->dec.reason = "exception";
	d->dec.rule_id = exid;
	d->dec.reqs = "OPS-3,MEDIA-1";
	d->dec.rule = -1;
	d->dec.iface_allowed = ~UINT64_C(0);
	d->dec.partial = false;
}

/* A local exception (issue 12.6, OPS-3): a block one blocks whatever the
 * rules say; an allow one lets a blocked device in, its storage read-only
 * (a local exception never makes a medium writable: that takes the policy). */
static void apply_local(struct usb_state *st, struct usb_dev *d)
{
	const struct usb_local *e;

	if (!local_set.n || !(d->id.have & USB_ID_HASH))
		return;
	e = usb_local_find(&local_set, d->id.hash_hex, time(NULL), policy_version(st->ctx->policy));
	if (!e || (e->action != USB_LOCAL_BLOCK && d->dec.action != USB_ACT_BLOCK))
		return;
	/* a string too long to read whole gives no descriptor hash (above: no
	 * exception can name such a device); the hash covers the exact bytes */
	strscpy(d->local_id, sizeof(d->local_id), e->id);
	d->dec.reason = "local_exception";
	d->dec.rule_id = d->local_id;
	d->dec.reqs = "OPS-3,MEDIA-1";
	d->dec.rule = -1;
	d->dec.partial = false;
	if (e->action == USB_LOCAL_BLOCK) {
		d->dec.action = USB_ACT_BLOCK;
		d->dec.iface_allowed = 0;
		return;
	}
	d->dec.action = USB_ACT_ALLOW;
	d->dec.iface_allowed = ~UINT64_C(0);
	d->dec.media = USB_MEDIA_RO;
	d->dec.write_approved = false;
	d->dec.approval_id = NULL;
	if (e->action == USB_LOCAL_ALLOW_RW) {
		/* read-write approval: storage as the policy has it for a device it allows */
		usb_rules_media_allowed(st->rules, &d->id, time(NULL), &d->dec);
	} else if (e->action == USB_LOCAL_ALLOW_RO) {
		/* read-only approval: only what can be held read-only (storage) */
		d->dec.iface_allowed = 0;
		for (size_t i = 0; i < d->id.n_ifaces && i < 64; i++)
			if (d->id.ifaces[i].cls == 0x08)
				d->dec.iface_allowed |= UINT64_C(1) << i;
			else
				d->dec.partial = true;
		if (!d->dec.iface_allowed) {
			d->dec.action = USB_ACT_BLOCK;
			d->dec.partial = false;
			d->dec.reason = "read_only_not_enforceable";
		}
	}
}

static struct usb_dev *decide_device(struct usb_state *st, struct udev_device *dev, bool present)
{
	const char *sp = udev_device_get_syspath(dev), *dp = udev_device_get_devpath(dev);
	const char *sn = udev_device_get_sysname(dev);
	struct usb_dev *d;
	bool allow, changed = true;
	char reqs[USB_REQS_MAX * 2];
	int r;

	struct usb_dev *old;
	enum usb_action old_action = USB_ACT_BLOCK;
	char old_rule[80] = "";
	bool had_old = false;

	if (!sp || !dp || !sn)
		return NULL;
	if (reeval && (old = dev_find(st, dp))) {
		had_old = true;
		old_action = old->dec.action;
		strscpy(old_rule, sizeof(old_rule), old->dec.rule_id ? old->dec.rule_id : "");
	}
	dev_forget(st, dp); /* a re-add replaces what we knew */
	d = dev_add(st, dp);
	if (!d) {
		/* no memory or too many devices: block, untracked */
		log_error("usb: %s: cannot track the device, blocking it", sn);
		if (!st->ctx->audit_only)
			write_attr(sp, "authorized", "0");
		return NULL;
	}
	r = usb_identity_read(
	        sp, sn, USB_ID_DESC | USB_ID_SERIAL | usb_rules_needs(st->rules) | (local_set.n ? USB_ID_HASH : 0),
	        &d->id);
	if (r < 0 && !(d->id.have & USB_ID_DESC)) {
		if (r == -ENOENT) { /* gone before we looked */
			dev_forget(st, dp);
			return NULL;
		}
		log_warning_errno(r, "usb: %s: identity unreadable, deciding on what is known", sn);
	}
	usb_decide(st->rules, &d->id, time(NULL), &d->dec);
	apply_exception(st, d);
	apply_local(st, d);
	allow = d->dec.action != USB_ACT_BLOCK;
	if (reeval && had_old && old_action == d->dec.action &&
	    strcmp(old_rule, d->dec.rule_id ? d->dec.rule_id : "") == 0) {
		(void)usb_identity_read(sp, sn, USB_ID_ALL, &d->id);
		return d; /* the same decision: nothing to write or record */
	}

	if (present && !reeval && !usb_rules_apply_present(st->rules)) {
		changed = false;
	} else if (!st->ctx->audit_only) {
		if (present) {
			char cur[8];
			if (read_attr_line(sp, "authorized", cur, sizeof(cur)) == 0 &&
			    strcmp(cur, allow ? "1" : "0") == 0)
				changed = false;
		}
		if (changed) {
			r = write_attr(sp, "authorized", allow ? "1" : "0");
			if (r < 0)
				log_error_errno(r, "usb: %s: cannot write authorized", sn);
		}
	}

	/* after the decision is in force: the rest of the identity, then records */
	r = usb_identity_read(sp, sn, USB_ID_ALL, &d->id);
	if (r < 0)
		log_debug("usb: %s: identity incomplete: %s", sn, strerror(-r));
	{
		cJSON *p = decision_json(d, NULL);
		_cleanup_(cJSON_Deletep) cJSON *a = cJSON_CreateObject();

		if (a) {
			cJSON_AddItemToObject(a, "device", identity_json(&d->id));
			cJSON_AddBoolToObject(a, "present", present);
			emit(st, "usb.attached", SEV_INFO, "CARRY-1,MEDIA-1", a);
		}
		if (p) {
			cJSON_AddBoolToObject(p, "present", present);
			if (present && !reeval && !usb_rules_apply_present(st->rules))
				cJSON_AddStringToObject(p, "present_policy", "keep");
			event_reqs(reqs, sizeof(reqs), d->dec.reqs,
			           d->dec.partial ? "MEDIA-5"
			           : d->dec.media == USB_MEDIA_RO &&
			                           strcmp(d->dec.reason, "write_requires_approval") == 0
			                   ? "MEDIA-2"
			           : d->dec.media == USB_MEDIA_RO ? "MEDIA-4"
			                                          : NULL);
			emit(st,
			     allow ? (d->dec.action == USB_ACT_READONLY ? "usb.readonly" : "usb.allowed")
			           : "usb.blocked",
			     allow ? SEV_NOTICE : SEV_WARNING, reqs, p);
			cJSON_Delete(p);
		}
	}
	if (!allow && changed && !present)
		tell_person(st, d, "blocked", d->dec.reason);
	else if (allow && d->dec.partial && !present)
		tell_person(st, d, "partial", "interfaces");
	return d;
}

static struct usb_dev *owner_of(struct usb_state *st, struct udev_device *dev, struct udev_device **ret_usbdev)
{
	struct udev_device *u = udev_device_get_parent_with_subsystem_devtype(dev, "usb", "usb_device");
	const char *dp;
	struct usb_dev *d;

	if (ret_usbdev)
		*ret_usbdev = u;
	if (!u || !(dp = udev_device_get_devpath(u)))
		return NULL;
	d = dev_find(st, dp);
	if (!d && !is_root_hub(u))
		d = decide_device(st, u, true); /* we started after it arrived */
	return d;
}

static int parse_iface_prop(const char *s, uint8_t *c, uint8_t *sc, uint8_t *p)
{
	unsigned a, b, x;
	int n = 0;

	if (!s || sscanf(s, "%u/%u/%u%n", &a, &b, &x, &n) != 3 || s[n] != '\0' || a > 255 || b > 255 || x > 255)
		return -EINVAL;
	*c = (uint8_t)a;
	*sc = (uint8_t)b;
	*p = (uint8_t)x;
	return 0;
}

static uint8_t read_hex_attr(const char *sp, const char *attr)
{
	char b[8];
	uint32_t v;

	if (read_attr_line(sp, attr, b, sizeof(b)) < 0 || hex_u32(b, strlen(b), true, &v) < 0 || v > 0xff)
		return 0xff;
	return (uint8_t)v;
}

static void apply_interface(struct usb_state *st, struct udev_device *dev, bool present)
{
	const char *sp = udev_device_get_syspath(dev), *sn = udev_device_get_sysname(dev);
	struct udev_device *u = NULL;
	struct usb_dev *d = owner_of(st, dev, &u);
	uint8_t c, s, p;
	bool allow;
	int r;

	if (!sp || !sn || (u && is_root_hub(u)))
		return;
	if (parse_iface_prop(udev_device_get_property_value(dev, "INTERFACE"), &c, &s, &p) < 0) {
		c = read_hex_attr(sp, "bInterfaceClass");
		s = read_hex_attr(sp, "bInterfaceSubClass");
		p = read_hex_attr(sp, "bInterfaceProtocol");
	}
	allow = d && usb_decide_interface(st->rules, &d->dec, c, s, p);
	if (present && d && !usb_rules_apply_present(st->rules))
		return;
	if (!st->ctx->audit_only) {
		r = write_attr(sp, "authorized", allow ? "1" : "0");
		if (r < 0)
			log_warning_errno(r, "usb: %s: cannot write interface authorized", sn);
		if (allow && !present) {
			char probe[PATH_MAX];
			/* authorizing an interface does not bind a driver: ask for a probe */
			if (root_path(probe, sizeof(probe), "/sys/bus/usb/drivers_probe") == 0) {
				r = write_string_file(probe, sn);
				if (r < 0)
					log_debug("usb: %s: drivers_probe: %s", sn, strerror(-r));
			}
		}
	}
	if (!allow && d) {
		_cleanup_(cJSON_Deletep) cJSON *o = decision_json(d, "interface_blocked");
		char b[16];

		if (o) {
			xsnprintf(b, sizeof(b), "%02x:%02x:%02x", c, s, p);
			cJSON_AddStringToObject(o, "interface", b);
			cJSON_AddStringToObject(o, "interface_name", sn);
			emit(st, "usb.blocked", SEV_WARNING, "MEDIA-5", o);
		}
	}
}

/* ---- block devices -------------------------------------------------------- */

static int set_ro(const char *devnode, bool *verified)
{
	int r = usb_media_set_readonly(devnode);

	*verified = r == 0;
	return r;
}

static void make_medium_ro(struct usb_state *st, struct udev_device *usbdev)
{
	_cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = udev_enumerate_new(st->udev);
	struct udev_list_entry *it;

	if (!e || udev_enumerate_add_match_parent(e, usbdev) < 0 ||
	    udev_enumerate_add_match_subsystem(e, "block") < 0 || udev_enumerate_scan_devices(e) < 0)
		return;
	udev_list_entry_foreach(it, udev_enumerate_get_list_entry(e))
	{
		struct udev_device *b = udev_device_new_from_syspath(st->udev, udev_list_entry_get_name(it));
		const char *node = b ? udev_device_get_devnode(b) : NULL;
		bool v;

		if (node && set_ro(node, &v) < 0)
			log_warning("usb: %s: BLKROSET failed", node);
		udev_device_unref(b);
	}
}

/* Tell the carry module (agent/sdk/media.h) which identity and decision a block
 * device has, so that its mounts can be followed. */
static void publish_medium(struct usb_dev *d, struct udev_device *dev, struct udev_device *usbdev, const char *decision)
{
	_cleanup_(cJSON_Deletep) cJSON *id = identity_json(&d->id);
	bool readonly = strcmp(decision, "rw") != 0;
	int r = media_publish(udev_device_get_devnum(dev), udev_device_get_devnode(dev),
	                      usbdev ? udev_device_get_syspath(usbdev) : NULL, id, decision, readonly);

	if (r < 0)
		log_warning_errno(r, "usb: %s: cannot publish the medium to the carry module",
		                  udev_device_get_devnode(dev));
}

static void apply_block(struct usb_state *st, struct udev_device *dev, const char *action, bool present)
{
	struct udev_device *u = NULL;
	struct usb_dev *d = owner_of(st, dev, &u);
	const char *node = udev_device_get_devnode(dev), *reason = NULL;
	const char *devtype = udev_device_get_devtype(dev);
	bool change = action && strcmp(action, "change") == 0, verified = false;
	enum usb_crypt crypt = USB_CRYPT_PLAIN;
	char reqs[USB_REQS_MAX * 2];
	int mode, r;

	if (!d || !node)
		return; /* not on USB, or not a device node */
	if (present && !usb_rules_apply_present(st->rules))
		return;
	r = usb_media_classify(node, udev_device_get_property_value(dev, "ID_FS_TYPE"),
	                       devtype && strcmp(devtype, "disk") == 0
	                               ? udev_device_get_property_value(dev, "ID_PART_TABLE_TYPE")
	                               : NULL,
	                       &crypt);
	if (r < 0) /* unreadable media are treated as plain: fail closed */
		log_warning_errno(r, "usb: %s: cannot classify, treating as plain", node);
	if (d->id.have & USB_ID_DESC && usb_rules_hw_encrypted(st->rules, &d->id) && crypt != USB_CRYPT_CONTAINER)
		crypt = USB_CRYPT_HARDWARE;
	if (crypt == USB_CRYPT_CONTAINER && d->dec.crypt_required) {
		/* MEDIA-3: a partition table is writable only when every byte a
		 * user could write is in an encrypted partition; otherwise the
		 * disk and its partitions are treated as plain media */
		const char *why = NULL;

		r = usb_media_layout(node, &crypt, &why);
		if (r < 0)
			log_warning_errno(r, "usb: %s: cannot read the partition table, treating as plain", node);
		if (crypt != USB_CRYPT_ENC_PARTITIONS) {
			log_info("usb: %s: partition table not all encrypted (%s): plain", node, why ? why : "?");
			crypt = USB_CRYPT_PLAIN;
		}
	}
	mode = usb_decide_media(&d->dec, crypt, &reason);
	if (mode == USB_MEDIA_RO && crypt == USB_CRYPT_PLAIN && d->dec.crypt_required && !d->medium_plain) {
		/* one plain partition makes the whole medium read-only: raw writes
		 * to the disk would otherwise reach it */
		d->medium_plain = true;
		if (!st->ctx->audit_only)
			make_medium_ro(st, u);
	}
	if (d->medium_plain && mode == USB_MEDIA_RW) {
		mode = USB_MEDIA_RO;
		reason = "plain_media";
	}
	if (mode == -EPERM) {
		struct udev_device *intf = udev_device_get_parent_with_subsystem_devtype(dev, "usb", "usb_interface");
		const char *isp = intf ? udev_device_get_syspath(intf) : NULL;
		_cleanup_(cJSON_Deletep) cJSON *o = decision_json(d, reason);

		if (!st->ctx->audit_only) {
			/* block the storage function only: a keyboard on the same device stays */
			r = isp ? write_attr(isp, "authorized", "0")
			        : write_attr(udev_device_get_syspath(u), "authorized", "0");
			if (r < 0)
				log_error_errno(r, "usb: %s: cannot deauthorize storage", node);
		}
		if (o) {
			cJSON_ReplaceItemInObject(o, "action", cJSON_CreateString("block"));
			cJSON_AddStringToObject(o, "devnode", node);
			cJSON_AddStringToObject(o, "encryption", usb_crypt_to_string(crypt));
			event_reqs(reqs, sizeof(reqs), d->dec.reqs, "MEDIA-3");
			emit(st, "usb.blocked", SEV_WARNING, reqs, o);
		}
		if (!present)
			tell_person(st, d, "blocked", reason);
		media_unpublish(udev_device_get_devnum(dev));
		return;
	}
	if (mode == USB_MEDIA_RO) {
		bool already = change && usb_media_get_readonly(node) == 1;
		const char *pub = usb_media_decision(mode, reason);
		_cleanup_(cJSON_Deletep) cJSON *o = NULL;

		publish_medium(d, dev, u, pub);
		if (already)
			return; /* re-check on change: still read-only, nothing to record */
		if (change && strcmp(pub, "approval") == 0)
			return; /* made read-only when it came; from then on the carry
			         * module's write gate owns its flag (CARRY-2, MEDIA-2) */
		if (!st->ctx->audit_only) {
			r = set_ro(node, &verified);
			if (r < 0)
				log_error_errno(r, "usb: %s: BLKROSET", node);
		}
		o = decision_json(d, reason);
		if (o) {
			cJSON_ReplaceItemInObject(o, "action", cJSON_CreateString("readonly"));
			cJSON_AddStringToObject(o, "devnode", node);
			cJSON_AddStringToObject(o, "encryption", usb_crypt_to_string(crypt));
			cJSON_AddBoolToObject(o, "readonly_verified", verified);
			if (change)
				cJSON_AddTrueToObject(o, "reapplied");
			event_reqs(reqs, sizeof(reqs), d->dec.reqs,
			           strcmp(reason, "plain_media") == 0               ? "MEDIA-3"
			           : strcmp(reason, "write_requires_approval") == 0 ? "MEDIA-2"
			                                                            : "MEDIA-4");
			emit(st, "usb.readonly", verified ? SEV_NOTICE : SEV_ERROR, reqs, o);
		}
		/* a medium a policy approval names now is the carry module's to
		 * open: no "no approval" notice for it */
		if (!change && !present && devtype && strcmp(devtype, "disk") == 0 &&
		    !(strcmp(pub, "approval") == 0 && d->dec.approval_id))
			tell_person(st, d, "readonly", reason);
		return;
	}
	publish_medium(d, dev, u, "rw");
	if (!change) {
		_cleanup_(cJSON_Deletep) cJSON *o = decision_json(d, reason);
		if (o) {
			cJSON_AddStringToObject(o, "devnode", node);
			cJSON_AddStringToObject(o, "encryption", usb_crypt_to_string(crypt));
			cJSON_AddBoolToObject(o, "writable", true);
			event_reqs(reqs, sizeof(reqs), d->dec.reqs, d->dec.crypt_required ? "MEDIA-3" : NULL);
			emit(st, "usb.allowed", SEV_NOTICE, reqs, o);
		}
	}
}

/* ---- dispatch ------------------------------------------------------------- */

static void handle(struct usb_state *st, struct udev_device *dev, const char *action, bool present)
{
	const char *ss = udev_device_get_subsystem(dev), *dt = udev_device_get_devtype(dev);

	if (!ss || !action)
		return;
	if (strcmp(ss, "usb") == 0 && dt && strcmp(dt, "usb_device") == 0) {
		if (strcmp(action, "remove") == 0) {
			const char *dp = udev_device_get_devpath(dev);
			if (dp && dev_find(st, dp)) {
				_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
				if (o) {
					cJSON_AddItemToObject(o, "device", identity_json(&dev_find(st, dp)->id));
					emit(st, "usb.detached", SEV_INFO, "CARRY-1", o);
				}
				dev_forget(st, dp);
			}
		} else if (strcmp(action, "add") == 0) {
			if (is_root_hub(dev))
				setup_hub(st, dev);
			else
				decide_device(st, dev, present);
		}
	} else if (strcmp(ss, "usb") == 0 && dt && strcmp(dt, "usb_interface") == 0) {
		if (strcmp(action, "add") == 0)
			apply_interface(st, dev, present);
	} else if (strcmp(ss, "block") == 0) {
		if (strcmp(action, "add") == 0 || strcmp(action, "change") == 0)
			apply_block(st, dev, action, present);
		else if (strcmp(action, "remove") == 0)
			media_unpublish(udev_device_get_devnum(dev));
	}
}

static int scan(struct usb_state *st, const char *subsystem)
{
	_cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = udev_enumerate_new(st->udev);
	struct udev_list_entry *it;
	int r;

	if (!e)
		return -ENOMEM;
	r = udev_enumerate_add_match_subsystem(e, subsystem);
	if (r >= 0)
		r = udev_enumerate_scan_devices(e);
	if (r < 0)
		return r;
	/* sorted by syspath: hubs before their devices, devices before interfaces */
	udev_list_entry_foreach(it, udev_enumerate_get_list_entry(e))
	{
		struct udev_device *d = udev_device_new_from_syspath(st->udev, udev_list_entry_get_name(it));

		if (!d)
			continue;
		handle(st, d, "add", true);
		udev_device_unref(d);
	}
	return 0;
}

static int enforce_present(struct usb_state *st)
{
	int r = scan(st, "usb");

	if (r < 0)
		return log_error_errno(r, "usb: cannot enumerate USB devices");
	r = scan(st, "block");
	if (r < 0)
		log_warning_errno(r, "usb: cannot enumerate block devices");
	return 0;
}

/* The settings (core-owned, agent/sdk/module.h): the rules from the "usb"
 * section and carry.approvals; both NULL give the built-in fail-closed rules
 * the gate starts on when the policy is rejected. */
static int usb_settings_load(const cJSON *const *sections, void *settings)
{
	struct usb_rules *r = NULL;
	char err[256];
	int k;

	k = usb_rules_load(sections[0], &r, err, sizeof(err));
	if (k < 0)
		return log_error_errno(k, "usb: policy section rejected: %s", err[0] ? err : "out of memory");
	k = usb_rules_load_approvals(r, sections[1], err, sizeof(err));
	if (k < 0) {
		usb_rules_free(r);
		return log_error_errno(k, "usb: carry.approvals rejected: %s", err[0] ? err : "out of memory");
	}
	*(struct usb_rules **)settings = r;
	return 0;
}

static void usb_settings_done(void *settings)
{
	usb_rules_free(*(struct usb_rules **)settings);
}

static void usb_close(void *state)
{
	struct usb_state *st = state;

	for (size_t i = 0; i < st->n_devs; i++)
		free(st->devs[i]);
	free(st->devs);
	udev_monitor_unref(st->mon);
	udev_unref(st->udev);
	notify_free(st->notify);
	media_clear();
}

static int usb_open(struct mamori_ctx *ctx, void *state)
{
	struct usb_state *st = state;
	int r;

	st->ctx = ctx;
	st->mon_fd = -1;
	if (notify_new(USB_NOTIFY_MAX, &st->notify) < 0)
		st->notify = NULL;
	st->udev = udev_new();
	if (!st->udev) {
		r = -ENOMEM;
		goto fail;
	}
	/* monitor first, enumerate second: nothing slips between the two */
	st->mon = udev_monitor_new_from_netlink(st->udev, "udev");
	if (!st->mon) {
		r = -EIO;
		goto fail;
	}
	if (udev_monitor_filter_add_match_subsystem_devtype(st->mon, "usb", NULL) < 0 ||
	    udev_monitor_filter_add_match_subsystem_devtype(st->mon, "block", NULL) < 0) {
		r = -EIO;
		goto fail;
	}
	udev_monitor_set_receive_buffer_size(st->mon, 4 * 1024 * 1024);
	r = udev_monitor_enable_receiving(st->mon);
	if (r < 0)
		goto fail;
	st->mon_fd = udev_monitor_get_fd(st->mon);
	r = enforce_present(st);
	if (r < 0)
		goto fail;
	return 0;
fail:
	return log_error_errno(r, "usb: cannot start"); /* the core calls usb_close() */
}

static int usb_fds(void *state, int *ret_fds, size_t max)
{
	struct usb_state *st = state;

	if (!st || max < 1)
		return -EINVAL;
	ret_fds[0] = st->mon_fd;
	return 1;
}

static int usb_on_ready(void *state, int fd, uint32_t events)
{
	struct usb_state *st = state;
	(void)events;

	if (!st || fd != st->mon_fd)
		return -EBADF;
	for (int i = 0; i < USB_EVENTS_BATCH; i++) {
		struct udev_device *d = udev_monitor_receive_device(st->mon);

		if (!d)
			break;
		handle(st, d, udev_device_get_action(d), false);
		udev_device_unref(d);
	}
	notify_reap(st->notify);
	return 0;
}

static int usb_enforce(void *state)
{
	struct usb_state *st = state;

	return st ? enforce_present(st) : -EINVAL;
}

/* The new rules are in force: decide the present devices by them. A failed
 * enumeration is logged and leaves them in force (the next event, or the
 * worker's next enforce pass, decides again). */
static int usb_apply(void *state)
{
	(void)enforce_present(state);
	return 0;
}

static const char *const usb_more_sections[] = {"carry", NULL};

const struct mamori_module usb_module = {
        .name = "usb",
        .caps = MAMORI_CAP_ENFORCE | MAMORI_CAP_WATCH,
        .section = "usb",
        .more_sections = usb_more_sections,
        .settings_size = sizeof(struct usb_rules *),
        .settings_load_sections = usb_settings_load,
        .settings_done = usb_settings_done,
        .defaults_on_reject = true, /* a rejected policy must not open the gate: built-in rules */
        .state_size = sizeof(struct usb_state),
        .settings_offset = offsetof(struct usb_state, rules),
        .open = usb_open,
        .apply = usb_apply,
        .close = usb_close,
        .fds = usb_fds,
        .on_ready = usb_on_ready,
        .enforce = usb_enforce,
};

/* ---- local exceptions (issue 12.6) ------------------------------------------ */

/* Decide every present device again (the set changed or one ended). */
static void reevaluate(struct usb_state *st)
{
	if (!st)
		return;
	reeval = true;
	(void)enforce_present(st);
	reeval = false;
}

/* Record the exceptions that ended (usb.exception_ended). */
static void record_ended(struct usb_state *st, const struct usb_local *ended, size_t n)
{
	for (size_t i = 0; st && i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o)
			continue;
		cJSON_AddStringToObject(o, "id", ended[i].id);
		cJSON_AddStringToObject(o, "action", usb_local_action_to_string(ended[i].action));
		cJSON_AddStringToObject(o, "hash", ended[i].hash);
		cJSON_AddStringToObject(
		        o, "reason",
		        ended[i].not_after && (int64_t)time(NULL) >= ended[i].not_after ? "expired" : "policy_changed");
		emit(st, "usb.exception_ended", SEV_NOTICE, "OPS-3,MEDIA-1", o);
		cJSON_Delete(o);
	}
}

static bool local_same(const struct usb_local_set *a, const struct usb_local_set *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->e[i].id, b->e[i].id) != 0 || strcmp(a->e[i].hash, b->e[i].hash) != 0 ||
		    a->e[i].action != b->e[i].action || a->e[i].not_after != b->e[i].not_after ||
		    a->e[i].policy_version != b->e[i].policy_version)
			return false;
	return true;
}

int usb_module_set_local(void *state, const cJSON *exceptions, const char **ret_why)
{
	struct usb_state *st = state;
	static struct usb_local_set ns;
	struct usb_local ended[16];
	size_t n = 0;
	int r = usb_local_parse(exceptions, &ns, ret_why);

	if (r < 0)
		return r; /* the previous set stays */
	/* what ended here before the worker's new set says so: recorded by us,
	 * who applied it (the worker records revokes and policy refusals) */
	if (st)
		n = usb_local_prune(&local_set, time(NULL), policy_version(st->ctx->policy), ended, ELEMENTSOF(ended));
	record_ended(st, ended, n < ELEMENTSOF(ended) ? n : ELEMENTSOF(ended));
	/* every worker start sends the set again: the same set decides nothing
	 * anew (a rescan of every present device would hold up the devices
	 * being plugged in meanwhile) */
	if (n == 0 && local_same(&local_set, &ns))
		return 0;
	local_set = ns;
	log_info("usb: %zu local exception(s) in force", local_set.n);
	reevaluate(state);
	return 0;
}

bool usb_module_wants_tick(void *state)
{
	if (!state)
		return false;
	for (size_t i = 0; i < local_set.n; i++)
		if (local_set.e[i].not_after)
			return true;
	return false;
}

void usb_module_tick(void *state)
{
	struct usb_state *st = state;
	struct usb_local ended[16];
	size_t n;

	if (!st || !local_set.n)
		return;
	n = usb_local_prune(&local_set, time(NULL), policy_version(st->ctx->policy), ended, ELEMENTSOF(ended));
	if (!n)
		return;
	record_ended(st, ended, n < ELEMENTSOF(ended) ? n : ELEMENTSOF(ended));
	reevaluate(st);
}
