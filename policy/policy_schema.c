/* policy/policy_schema.c — the policy schema table, its validator and the
 * JSON Schema generated from it (mamori-worker, mamorictl). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "command.h"
#include "policy_reqs.h"
#include "policy_schema.h"
#include "strutil.h"
#include "time-util.h"
#include "usb_lang.h"

/* ---- the table ------------------------------------------------------------ */

#define STR(k, req, fmt, lo, hi, d)                                                                                    \
	{                                                                                                              \
		.key = (k), .type = POLICY_TYPE_STRING, .required = (req), .format = (fmt), .min = (lo), .max = (hi),  \
		.desc = (d)                                                                                            \
	}
#define ENUM(k, req, values, d)                                                                                        \
	{                                                                                                              \
		.key = (k), .type = POLICY_TYPE_STRING, .required = (req), .enums = (values), .min = 1, .max = 64,     \
		.desc = (d)                                                                                            \
	}
#define INT(k, req, lo, hi, d)                                                                                         \
	{                                                                                                              \
		.key = (k), .type = POLICY_TYPE_INT, .required = (req), .min = (lo), .max = (hi), .desc = (d)          \
	}
#define BOOL(k, req, d)                                                                                                \
	{                                                                                                              \
		.key = (k), .type = POLICY_TYPE_BOOL, .required = (req), .desc = (d)                                   \
	}
#define OBJ(k, req, flg, mem, d)                                                                                       \
	{                                                                                                              \
		.key = (k), .type = POLICY_TYPE_OBJECT, .required = (req), .flags = (flg), .members = (mem),           \
		.desc = (d)                                                                                            \
	}
#define ARR(k, req, flg, lo, hi, item, d)                                                                              \
	{                                                                                                              \
		.key = (k), .type = POLICY_TYPE_ARRAY, .required = (req), .flags = (flg), .min = (lo), .max = (hi),    \
		.items = (item), .desc = (d)                                                                           \
	}
#define END                                                                                                            \
	{                                                                                                              \
		.key = NULL                                                                                            \
	}

#define TEXT_MAX  1024
#define NAME_MAX_ 128
#define ITEM(t, fmt, lo, hi)                                                                                           \
	{                                                                                                              \
		.type = (t), .format = (fmt), .min = (lo), .max = (hi)                                                 \
	}

static const struct policy_schema_node req_item = ITEM(POLICY_TYPE_STRING, POLICY_FORMAT_REQUIREMENT, 1, 16);
static const struct policy_schema_node iface_item = ITEM(POLICY_TYPE_STRING, POLICY_FORMAT_USB_IFACE, 5, 8);
static const struct policy_schema_node pkg_item = ITEM(POLICY_TYPE_STRING, POLICY_FORMAT_PACKAGE, 1, 128);
static const struct policy_schema_node port_item = ITEM(POLICY_TYPE_INT, POLICY_FORMAT_NONE, 1, 65535);
static const struct policy_schema_node date_item = ITEM(POLICY_TYPE_STRING, POLICY_FORMAT_DATE, 10, 10);
/* Where a module keeps a value in a fixed buffer, the limit here is the
 * module's (AV_PATH_MAX - 1, INTEGRITY_PATH_MAX - 1, login's 32-byte names,
 * USB_STR_MAX - 1 for serials): a document valid here loads in every module
 * (tests/unit/test_schema_extremes.c walks this table and fails when one
 * refuses a value at its limit). */
static const struct policy_schema_node av_path_item = ITEM(POLICY_TYPE_STRING, POLICY_FORMAT_ABS_PATH, 1, 1023);
static const struct policy_schema_node integrity_path_item = ITEM(POLICY_TYPE_STRING, POLICY_FORMAT_ABS_PATH, 1, 255);
static const struct policy_schema_node pam_module_item = ITEM(POLICY_TYPE_STRING, POLICY_FORMAT_ID, 1, 31);

/* Every rule cites the requirements it implements; sections may. */
#define REQS_REQUIRED                                                                                                  \
	ARR("requirements", true, 0, 1, 16, &req_item, "requirement IDs (REQUIREMENTS.md) this rule implements"),      \
	        STR("comment", false, POLICY_FORMAT_TEXT, 0, TEXT_MAX, "free text for people")
#define REQS_OPTIONAL                                                                                                  \
	ARR("requirements", false, 0, 1, 16, &req_item, "requirement IDs (REQUIREMENTS.md) this section implements"),  \
	        STR("comment", false, POLICY_FORMAT_TEXT, 0, TEXT_MAX, "free text for people")

static const char *const usb_actions[] = {"allow", "block", "readonly", "allow_if_encrypted", NULL};
static const char *const usb_defaults[] = {"allow", "block", "readonly", NULL};
static const char *const allow_block[] = {"allow", "block", NULL};
static const char *const present_modes[] = {"apply", "keep", NULL};
static const char *const port_modes[] = {"all", "internal_only", NULL};
static const char *const plain_actions[] = {"readonly", "block", NULL};
static const char *const infected_actions[] = {"block", "block_and_isolate", NULL};
static const char *const av_products[] = {"clamav", "mdatp", "generic", NULL};
static const char *const sw_modes[] = {"denylist", "allowlist", NULL};
static const char *const protos[] = {"tcp", "udp", NULL};
static const char *const segments[] = {"mynumber", "lgwan", "internet", NULL};

/* Generated from policy/usb_lang.h, the table the matcher is built
 * from: a key the matcher does not implement cannot be in the schema. */
#define MATCH_PLAIN_SCALAR(k, fmt, lo, hi, d) STR(k, false, POLICY_FORMAT_##fmt, lo, hi, d)
#define MATCH_PLAIN_SET(k, fmt, lo, hi, d)                                                                             \
	ARR(k, false, 0, 1, USB_MATCH_SET_MAX, &match_item_##fmt, d " (set, USBGuard equals)")
#define MATCH_ITEM(e, k, plain, fmt, lo, hi, d)                                                                        \
	static const struct policy_schema_node match_item_##e = ITEM(POLICY_TYPE_STRING, POLICY_FORMAT_##fmt, lo, hi);
USB_MATCH_ATTRS(MATCH_ITEM)
static const struct policy_schema_node match_item_USB_IFACE = ITEM(POLICY_TYPE_STRING, POLICY_FORMAT_USB_IFACE, 5, 8);
#define MATCH_OP(e, k, suffix, d) ARR(k suffix, false, 0, 1, USB_MATCH_SET_MAX, &match_item_##e, d " (set)")
#define MATCH_KEYS(e, k, plain, fmt, lo, hi, d)                                                                        \
	MATCH_PLAIN_##plain(k, fmt, lo, hi, d), MATCH_OP(e, k, "_equals", d), MATCH_OP(e, k, "_one_of", d),            \
	        MATCH_OP(e, k, "_all_of", d), MATCH_OP(e, k, "_none_of", d), MATCH_OP(e, k, "_equals_ordered", d),     \
	        MATCH_OP(e, k, "_match_all", d),

static const struct policy_schema_node usb_match_members[] = {
        USB_MATCH_ATTRS(MATCH_KEYS) END,
};

static const struct policy_schema_node usb_rule_members[] = {
        STR("id", true, POLICY_FORMAT_ID, 1, 64, "unique rule id"),
        ENUM("action", true, usb_actions, "what to do with a matching device"),
        OBJ("match", true, POLICY_SCHEMA_NONEMPTY, usb_match_members, "all given keys must match"),
        ARR("interfaces", false, 0, 1, 32, &iface_item, "authorize only these interfaces of a composite device"),
        REQS_REQUIRED,
        END,
};
static const struct policy_schema_node usb_rule = {.type = POLICY_TYPE_OBJECT, .members = usb_rule_members};

static const struct policy_schema_node usb_iface_members[] = {
        STR("class", true, POLICY_FORMAT_USB_IFACE, 5, 8, "interface class cc:ss:pp, * per field"),
        ENUM("action", true, allow_block, "allow or block interfaces of this class"),
        REQS_REQUIRED,
        END,
};
static const struct policy_schema_node usb_iface_rule = {.type = POLICY_TYPE_OBJECT, .members = usb_iface_members};

static const struct policy_schema_node device_id_members[] = {
        STR("vendor", true, POLICY_FORMAT_USB_ID, 4, 4, NULL),
        STR("product", true, POLICY_FORMAT_USB_ID, 4, 4, NULL),
        STR("serial", false, POLICY_FORMAT_TEXT, 1, 255, "absent: every device of the model"),
        STR("name", false, POLICY_FORMAT_TEXT, 1, 256, NULL),
        STR("comment", false, POLICY_FORMAT_TEXT, 0, TEXT_MAX, NULL),
        END,
};
static const struct policy_schema_node hw_model = {.type = POLICY_TYPE_OBJECT, .members = device_id_members};

static const struct policy_schema_node encryption_members[] = {
        BOOL("required", true, "mass storage must be an encrypted volume or a registered hardware-encrypted model"),
        ENUM("plain_action", false, plain_actions, "what happens to unencrypted media (default readonly)"),
        ARR("hardware_encrypted", false, 0, 0, 256, &hw_model, "registered hardware-encrypted models"),
        REQS_OPTIONAL,
        END,
};

/* `mamorictl usb allow|block` at the terminal (issue 12.6, OPS-3) */
static const struct policy_schema_node local_exc_members[] = {
        BOOL("allow", true, "root at the terminal may let a blocked device in (time-bounded, journaled)"),
        BOOL("block", false, "root at the terminal may block a device (default true: it only narrows)"),
        INT("default_hours", false, 1, 720, "window when none is asked (default 8, at most max_hours)"),
        INT("max_hours", false, 1, 720, "longest window that may be asked (default 24)"),
        BOOL("permanent", false, "--permanent (until the next policy version or a revoke) is allowed (default false)"),
        REQS_OPTIONAL,
        END,
};

static const struct policy_schema_node usb_members[] = {
        ENUM("default", true, usb_defaults, "action for devices no rule matches"),
        ENUM("present_devices", false, present_modes, "devices already present when the agent starts"),
        ENUM("ports", false, port_modes, "which root hubs are controlled"),
        ARR("rules", false, POLICY_SCHEMA_UNIQUE_ID, 0, 1024, &usb_rule, "device rules, first match wins"),
        ARR("interfaces", false, 0, 0, 64, &usb_iface_rule, "per-interface rules"),
        OBJ("encryption", false, 0, encryption_members, NULL),
        BOOL("write_requires_approval", false, "writes to removable media only with a valid carry approval (MEDIA-2)"),
        OBJ("local_exceptions", false, 0, local_exc_members,
            "local exceptions by root at the terminal; absent: allow refused, block up to 24 h"),
        REQS_OPTIONAL,
        END,
};

static const struct policy_schema_node medium_members[] = {
        STR("vendor", true, POLICY_FORMAT_USB_ID, 4, 4, NULL),
        STR("product", true, POLICY_FORMAT_USB_ID, 4, 4, NULL),
        STR("serial", true, POLICY_FORMAT_TEXT, 1, 255, "approvals name one medium (MEDIA-1: per device identity)"),
        STR("name", false, POLICY_FORMAT_TEXT, 1, 256, NULL),
        END,
};

static const struct policy_schema_node approval_members[] = {
        STR("id", true, POLICY_FORMAT_ID, 1, 64, NULL),
        STR("person", true, POLICY_FORMAT_TEXT, 1, NAME_MAX_, "login name of the person who carries data out"),
        OBJ("medium", true, 0, medium_members, NULL),
        STR("not_before", true, POLICY_FORMAT_TIME, 20, 20, NULL),
        STR("not_after", true, POLICY_FORMAT_TIME, 20, 20, NULL),
        INT("max_classification", false, 1, 3, "highest 機密性 class that may be written"),
        STR("approver", true, POLICY_FORMAT_TEXT, 1, NAME_MAX_, "情報セキュリティ管理者 who approved; not the person"),
        REQS_REQUIRED,
        END,
};
static const struct policy_schema_node approval = {.type = POLICY_TYPE_OBJECT, .members = approval_members};

static const struct policy_schema_node carry_members[] = {
        BOOL("record", false, "record connections and files carried in and out (CARRY-1)"),
        INT("hash_max_bytes", false, 0, INT64_C(1) << 40, "files up to this size are hashed"),
        BOOL("scan_on_mount", false, "scan media for malware before use (CARRY-3)"),
        INT("scan_timeout_seconds", false, 1, 86400, NULL),
        ENUM("infected_action", false, infected_actions, NULL),
        ARR("approvals", false, POLICY_SCHEMA_UNIQUE_ID, 0, 1024, &approval, "carry-out approvals (CARRY-2)"),
        REQS_OPTIONAL,
        END,
};

static const struct policy_schema_node av_generic_members[] = {
        STR("process", false, POLICY_FORMAT_TEXT, 1, 127, "process name that must be running"),
        STR("definitions", false, POLICY_FORMAT_ABS_PATH, 1, 1023,
            "file or directory whose mtime dates the definitions"),
        {.key = "version_command",
         .type = POLICY_TYPE_STRING_OR_NULL,
         .format = POLICY_FORMAT_ABS_PATH,
         .min = 1,
         .max = 4096,
         .desc = "program printing the engine version, or null"},
        END,
};

static const struct policy_schema_node av_members[] = {
        ENUM("product", true, av_products, NULL),
        STR("clamd_socket", false, POLICY_FORMAT_ABS_PATH, 1, 108, NULL),
        STR("clamd_database_dir", false, POLICY_FORMAT_ABS_PATH, 1, 1023,
            "where clamd's daily/main databases are (definitions age, AV-2)"),
        ARR("full_scan_paths", false, 0, 1, 8, &av_path_item, "what a scheduled full scan covers (AV-3)"),
        OBJ("generic", false, 0, av_generic_members, NULL),
        INT("max_definitions_age_hours", false, 1, 8760, NULL),
        INT("full_scan_interval_days", false, 1, 365, NULL),
        ARR("watch", false, 0, 0, 32, &av_path_item, "anti-malware configuration files watched for changes (AV-4)"),
        REQS_OPTIONAL,
        END,
};

static const struct policy_schema_node screenlock_members[] = {
        INT("max_idle_seconds", false, 30, 7200, "lock after at most this idle time"),
        BOOL("lock_enabled", false, NULL),
        BOOL("locked", false, "the settings must be locked against changes by staff"),
        BOOL("enforce", false, "write the settings (otherwise only check)"),
        REQS_OPTIONAL,
        END,
};

static const struct policy_schema_node login_members[] = {
        INT("faillock_deny", false, 1, 100, "failed attempts before the account is locked"),
        INT("faillock_unlock_time", false, 0, 86400, "seconds; 0 = only an administrator unlocks"),
        INT("password_minlen", false, 8, 128, NULL),
        INT("password_minclass", false, 1, 4, NULL),
        INT("session_timeout_seconds", false, 0, 86400, "idle shell sessions end after this (0 = not checked)"),
        BOOL("mfa_required", false, NULL),
        ARR("mfa_modules", false, 0, 0, 8, &pam_module_item, "PAM modules that count as a second factor"),
        REQS_OPTIONAL,
        END,
};

static const struct policy_schema_node patch_members[] = {
        INT("max_pending_security", false, 0, 10000, "at most this many security updates pending, whatever their age"),
        INT("max_security_age_days", false, 0, 365, "and none pending (first seen) for longer than this"),
        INT("max_list_age_days", false, 1, 365, "package lists must be refreshed at least this often"),
        {.key = "eol",
         .type = POLICY_TYPE_MAP,
         .key_format = POLICY_FORMAT_OS_ID,
         .min = 0,
         .max = 64,
         .items = &date_item,
         .desc = "end of support per OS release (PATCH-2)"},
        REQS_OPTIONAL,
        END,
};

static const struct policy_schema_node software_members[] = {
        ENUM("mode", true, sw_modes, NULL),
        ARR("deny", false, 0, 0, 256, &pkg_item, NULL),
        ARR("allow", false, 0, 0, 256, &pkg_item, NULL),
        REQS_OPTIONAL,
        END,
};

static const struct policy_schema_node integrity_members[] = {
        ARR("files", false, 0, 0, 64, &integrity_path_item, NULL),
        INT("recheck_interval_seconds", false, 60, 86400, NULL),
        REQS_OPTIONAL,
        END,
};

static const struct policy_schema_node listen_members[] = {
        ENUM("proto", true, protos, NULL),
        INT("port", true, 1, 65535, NULL),
        STR("comment", false, POLICY_FORMAT_TEXT, 0, TEXT_MAX, NULL),
        END,
};
static const struct policy_schema_node listen_item = {.type = POLICY_TYPE_OBJECT, .members = listen_members};
static const struct policy_schema_node dest_members[] = {
        STR("cidr", true, POLICY_FORMAT_CIDR, 2, 64, NULL),
        ARR("ports", false, 0, 1, 64, &port_item, "absent: every port"),
        STR("comment", false, POLICY_FORMAT_TEXT, 0, TEXT_MAX, NULL),
        END,
};
static const struct policy_schema_node dest_item = {.type = POLICY_TYPE_OBJECT, .members = dest_members};
static const struct policy_schema_node network_members[] = {
        ARR("listen_allowed", false, 0, 0, 64, &listen_item, "listening sockets allowed (NET-1)"),
        BOOL("wireless_encryption_required", false, NULL),
        ARR("allowed_destinations", false, 0, 0, 64, &dest_item, "absent: not restricted"),
        BOOL("isolate_on_infection", false, "cut the network at once on infection (AV-5)"),
        REQS_OPTIONAL,
        END,
};

static const struct policy_schema_node reporting_members[] = {
        INT("checkin_interval_seconds", false, 30, 86400, NULL),
        INT("event_batch", false, 1, 10000, NULL),
        INT("retention_days", false, 1, 3650, "journal kept at least this long (LOG-1)"),
        BOOL("urgent_upload", false, "security incidents are uploaded at once, not batched (OPS-5)"),
        REQS_OPTIONAL,
        END,
};

/* timesync: no keys of its own. `required` and `max_offset_ms` were
 * accepted and read by no code (issue 21): an accepted-but-ignored key is
 * refused, like any unknown one. The checks (timesync.kernel_sync,
 * timesync.daemon) always run. */
static const struct policy_schema_node timesync_members[] = {
        REQS_OPTIONAL,
        END,
};

static const struct policy_schema_node command_item = {
        .type = POLICY_TYPE_STRING, .enums = command_type_names, .min = 1, .max = 64};
static const struct policy_schema_node commands_members[] = {
        /* enforced by mamori-worker before a command runs (agent/worker/daemon_command.c) */
        ARR("accept", true, 0, 0, _CMD_MAX, &command_item,
            "signed server commands this terminal group executes; any other is refused (MDM-1, MDM-2)"),
        REQS_OPTIONAL,
        END,
};

/* The `lock` remote command and the dead-man rule (MDM-1; docs/COMMANDS.md
 * "lock / unlock"): read by agent/worker/lock.c and daemon_command.c. */
static const struct policy_schema_node terminal_lock_members[] = {
        STR("maintenance_account", false, POLICY_FORMAT_ID, 1, 32,
            "the one account that may still log in while the terminal is locked; absent: nobody"),
        INT("offline_lock_days", false, 1, 365,
            "dead-man rule: lock after this many days without contact with the server; absent: never"),
        REQS_OPTIONAL,
        END,
};

static const struct policy_schema_node emergency_members[] = {
        BOOL("allowed", true, "emergency exception codes are accepted on this terminal group"),
        INT("max_hours", false, 1, 32, "longest window a code may grant"),
        REQS_OPTIONAL,
        END,
};

static const struct policy_schema_node scope_device_members[] = {
        STR("vendor", false, POLICY_FORMAT_USB_ID, 4, 4, NULL),
        STR("product", false, POLICY_FORMAT_USB_ID, 4, 4, NULL),
        STR("serial", false, POLICY_FORMAT_TEXT, 1, 255, NULL),
        END,
};
static const struct policy_schema_node scope_members[] = {
        STR("check", true, POLICY_FORMAT_CHECK_ID, 1, 64, "check id, or prefix.* for every check of a module"),
        OBJ("device", false, POLICY_SCHEMA_NONEMPTY, scope_device_members, "only for this device"),
        STR("person", false, POLICY_FORMAT_TEXT, 1, NAME_MAX_, "only for this person"),
        END,
};
static const struct policy_schema_node exception_members[] = {
        STR("id", true, POLICY_FORMAT_ID, 1, 64, NULL),
        OBJ("scope", true, 0, scope_members, NULL),
        STR("reason", true, POLICY_FORMAT_TEXT, 1, TEXT_MAX, NULL),
        STR("requester", true, POLICY_FORMAT_TEXT, 1, NAME_MAX_, NULL),
        STR("approver", true, POLICY_FORMAT_TEXT, 1, NAME_MAX_, "must differ from requester (OPS-4)"),
        STR("not_before", false, POLICY_FORMAT_TIME, 20, 20, NULL),
        STR("not_after", true, POLICY_FORMAT_TIME, 20, 20, "exceptions are always time-bounded (OPS-3)"),
        REQS_REQUIRED,
        END,
};
static const struct policy_schema_node exception_item = {.type = POLICY_TYPE_OBJECT, .members = exception_members};

static const struct policy_schema_node root_members[] = {
        INT("schema", true, 1, 1, "format version of this document"),
        INT("version", true, 1, POLICY_INT_MAX, "policy version; the agent refuses a lower one"),
        ENUM("segment", true, segments, "network segment of the terminal group"),
        STR("name", false, POLICY_FORMAT_TEXT, 0, 256, NULL),
        OBJ("usb", false, 0, usb_members, "device control (MEDIA-*)"),
        OBJ("carry", false, 0, carry_members, "carry-out / carry-in (CARRY-*)"),
        OBJ("av", false, 0, av_members, "anti-malware (AV-*)"),
        OBJ("screenlock", false, 0, screenlock_members, "LOCK-1"),
        OBJ("login", false, 0, login_members, "LOCK-2, LOCK-3"),
        OBJ("patch", false, 0, patch_members, "PATCH-*"),
        OBJ("software", false, 0, software_members, "SOFT-1"),
        OBJ("integrity", false, 0, integrity_members, "CONF-1"),
        OBJ("network", false, 0, network_members, "NET-*"),
        OBJ("reporting", false, 0, reporting_members, "LOG-1, OPS-*"),
        OBJ("timesync", false, 0, timesync_members, "LOG-2"),
        OBJ("commands", false, 0, commands_members, "MDM-1, MDM-2"),
        OBJ("terminal_lock", false, 0, terminal_lock_members, "remote lock and the dead-man rule (MDM-1)"),
        OBJ("emergency", false, 0, emergency_members, "offline emergency exceptions (OPS-3)"),
        ARR("exceptions", false, POLICY_SCHEMA_UNIQUE_ID, 0, 1024, &exception_item, "例外措置 (OPS-3, OPS-4)"),
        REQS_OPTIONAL,
        END,
};

const struct policy_schema_node policy_schema_root = {
        .type = POLICY_TYPE_OBJECT,
        .members = root_members,
        .desc = "mamori policy for one terminal group",
};

/* ---- formats ---------------------------------------------------------------- */

static const char *const format_names[_POLICY_FORMAT_MAX] = {
        [POLICY_FORMAT_NONE] = "any",
        [POLICY_FORMAT_TEXT] = "text without control characters",
        [POLICY_FORMAT_ID] = "id ([A-Za-z0-9][A-Za-z0-9._:-]*)",
        [POLICY_FORMAT_USB_ID] = "usb-id (4 lower-case hex digits)",
        [POLICY_FORMAT_USB_CLASS] = "usb-class (2 lower-case hex digits)",
        [POLICY_FORMAT_USB_IFACE] = "usb-interface (cc:ss:pp, hex or *)",
        [POLICY_FORMAT_USB_PORT] = "usb-port (e.g. 1-1.2 or usb1)",
        [POLICY_FORMAT_USB_DEVICE_ID] = "usb-device-id (vvvv:pppp, vvvv:* or *:*)",
        [POLICY_FORMAT_TIME] = "time (YYYY-MM-DDTHH:MM:SSZ)",
        [POLICY_FORMAT_DATE] = "date (YYYY-MM-DD)",
        [POLICY_FORMAT_REQUIREMENT] = "requirement ID",
        [POLICY_FORMAT_SHA256] = "sha256 (64 lower-case hex digits)",
        [POLICY_FORMAT_BASE64] = "base64",
        [POLICY_FORMAT_ABS_PATH] = "absolute path without ..",
        [POLICY_FORMAT_CIDR] = "IP address or CIDR",
        [POLICY_FORMAT_CHECK_ID] = "check id (module.check or module.*)",
        [POLICY_FORMAT_OS_ID] = "os id (e.g. debian:12)",
        [POLICY_FORMAT_PACKAGE] = "package name",
};

/* The same formats as regular expressions for schema.json (NULL: none). */
static const char *const format_patterns[_POLICY_FORMAT_MAX] = {
        [POLICY_FORMAT_TEXT] = "^[^\\u0000-\\u001f\\u007f]*$",
        [POLICY_FORMAT_ID] = "^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        [POLICY_FORMAT_USB_ID] = "^[0-9a-f]{4}$",
        [POLICY_FORMAT_USB_CLASS] = "^[0-9a-f]{2}$",
        [POLICY_FORMAT_USB_IFACE] = "^([0-9a-f]{2}|\\*):([0-9a-f]{2}|\\*):([0-9a-f]{2}|\\*)$",
        [POLICY_FORMAT_USB_PORT] = "^([0-9]{1,3}-[0-9]{1,3}(\\.[0-9]{1,3})*|usb[0-9]{1,3})$",
        [POLICY_FORMAT_USB_DEVICE_ID] = "^([0-9a-f]{4}:([0-9a-f]{4}|\\*)|\\*:\\*)$",
        [POLICY_FORMAT_TIME] = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
        [POLICY_FORMAT_DATE] = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        [POLICY_FORMAT_SHA256] = "^[0-9a-f]{64}$",
        [POLICY_FORMAT_BASE64] = "^[A-Za-z0-9+/]+={0,2}$",
        [POLICY_FORMAT_ABS_PATH] = "^/",
        [POLICY_FORMAT_CHECK_ID] = "^[a-z0-9_]+(\\.[a-z0-9_-]+)*(\\.\\*)?$",
        [POLICY_FORMAT_OS_ID] = "^[a-z0-9_-]+:[A-Za-z0-9._-]+$",
        [POLICY_FORMAT_PACKAGE] = "^[a-z0-9][a-z0-9+.-]*$",
};

const char *policy_format_to_string(enum policy_format f)
{
	if (f < 0 || f >= _POLICY_FORMAT_MAX)
		return NULL;
	return format_names[f];
}

static bool is_lhex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool all_lhex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lhex(s[i]))
			return false;
	return true;
}

static bool all_chars(const char *s, const char *extra, bool alnum_ok)
{
	for (; *s; s++)
		if (!(alnum_ok && is_alnum(*s)) && !strchr(extra, *s))
			return false;
	return true;
}

int policy_time_parse(const char *s, time_t *ret)
{
	return rfc3339_parse(s, 0, ret);
}

int policy_time_format(time_t t, char *buf, size_t bufsz)
{
	return rfc3339_format(t, buf, bufsz);
}

static bool valid_date(const char *s)
{
	time_t t;

	return strlen(s) == 10 && rfc3339_parse(s, RFC3339_DATE, &t) == 0;
}

static bool valid_iface(const char *s)
{
	const char *p = s;

	for (int field = 0; field < 3; field++) {
		if (p[0] == '*')
			p += 1;
		else if (is_lhex(p[0]) && is_lhex(p[1]))
			p += 2;
		else
			return false;
		if (field < 2 && *p++ != ':')
			return false;
	}
	return *p == '\0';
}

static bool valid_port(const char *s)
{
	/* [0-9]{1,3}-[0-9]{1,3}(\.[0-9]{1,3})* */
	int run = 0, groups = 0;
	bool dash = false;

	for (const char *p = s;; p++) {
		if (is_digit(*p)) {
			if (++run > 3)
				return false;
			continue;
		}
		if (run == 0)
			return false;
		groups++;
		run = 0;
		if (*p == '\0')
			break;
		if (*p == '-' && !dash && groups == 1)
			dash = true;
		else if (*p != '.' || !dash)
			return false;
	}
	return dash && groups >= 2;
}

static bool valid_path(const char *s)
{
	if (s[0] != '/')
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	for (const char *p = s; (p = strstr(p, "/..")); p += 3)
		if (p[3] == '/' || p[3] == '\0')
			return false;
	return true;
}

static bool valid_cidr(const char *s)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	unsigned char buf[16];
	int maxbits;

	if (strscpy(addr, sizeof(addr), s) < 0)
		return false;
	if (slash)
		addr[slash - s] = '\0';
	if (inet_pton(AF_INET, addr, buf) == 1)
		maxbits = 32;
	else if (inet_pton(AF_INET6, addr, buf) == 1)
		maxbits = 128;
	else
		return false;
	if (slash) {
		int64_t bits;

		if (!slash[1] || !is_digit(slash[1]) || parse_int64(slash + 1, 0, maxbits, &bits) < 0)
			return false;
	}
	return true;
}

static bool valid_check_id(const char *s)
{
	/* [a-z0-9_]+(\.[a-z0-9_-]+)*(\.\*)? */
	bool first = true;
	size_t run = 0;

	for (const char *p = s;; p++) {
		char c = *p;

		if ((c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || (c == '-' && !first)) {
			run++;
			continue;
		}
		if (run == 0)
			return false;
		if (c == '\0')
			return true;
		if (c != '.')
			return false;
		if (p[1] == '*' && p[2] == '\0')
			return true;
		first = false;
		run = 0;
	}
}

static bool valid_text(const char *s)
{
	if (!utf8_valid(s, strlen(s)))
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

bool policy_format_valid(enum policy_format f, const char *s)
{
	const char *colon;

	if (!s)
		return false;
	switch (f) {
	case POLICY_FORMAT_NONE:
		return true;
	case POLICY_FORMAT_TEXT:
		return valid_text(s);
	case POLICY_FORMAT_ID:
		return is_alnum(s[0]) && all_chars(s, "._:-", true);
	case POLICY_FORMAT_USB_ID:
		return all_lhex(s, 4);
	case POLICY_FORMAT_USB_CLASS:
		return all_lhex(s, 2);
	case POLICY_FORMAT_USB_IFACE:
		return valid_iface(s);
	case POLICY_FORMAT_USB_PORT:
		if (strncmp(s, "usb", 3) == 0 && s[3])
			return strlen(s) <= 6 && all_chars(s + 3, "0123456789", false);
		return valid_port(s);
	case POLICY_FORMAT_USB_DEVICE_ID:
		return usb_match_value_valid(USB_ATTR_ID, s);
	case POLICY_FORMAT_TIME: {
		time_t t;
		return policy_time_parse(s, &t) == 0;
	}
	case POLICY_FORMAT_DATE:
		return valid_date(s);
	case POLICY_FORMAT_REQUIREMENT:
		return policy_requirement_known(s);
	case POLICY_FORMAT_SHA256:
		return all_lhex(s, 64);
	case POLICY_FORMAT_BASE64: {
		size_t n = strlen(s), pad = 0;

		while (n > 0 && s[n - 1 - pad] == '=' && pad < 2 && n - pad > 1)
			pad++;
		for (size_t i = 0; i < n - pad; i++)
			if (!is_alnum(s[i]) && s[i] != '+' && s[i] != '/')
				return false;
		return n > pad;
	}
	case POLICY_FORMAT_ABS_PATH:
		return valid_path(s);
	case POLICY_FORMAT_CIDR:
		return valid_cidr(s);
	case POLICY_FORMAT_CHECK_ID:
		return valid_check_id(s);
	case POLICY_FORMAT_OS_ID:
		colon = strchr(s, ':');
		if (!colon || colon == s || !colon[1])
			return false;
		for (const char *p = s; p < colon; p++)
			if (!((*p >= 'a' && *p <= 'z') || is_digit(*p) || *p == '_' || *p == '-'))
				return false;
		return all_chars(colon + 1, "._-", true);
	case POLICY_FORMAT_PACKAGE:
		return ((s[0] >= 'a' && s[0] <= 'z') || is_digit(s[0])) && ({
			       bool ok = true;
			       for (const char *p = s; *p; p++)
				       if (!((*p >= 'a' && *p <= 'z') || is_digit(*p) || strchr("+.-", *p)))
					       ok = false;
			       ok;
		       });
	default:
		return false;
	}
}

/* ---- validation ------------------------------------------------------------- */

/* A JSON path being built while walking: "usb.rules[3].match". */
struct jpath {
	char buf[POLICY_PATH_MAX];
	size_t len;
};

static bool plain_key(const char *k)
{
	if (!k[0])
		return false;
	for (const char *p = k; *p; p++)
		if (!is_alnum(*p) && *p != '_' && *p != '-')
			return false;
	return true;
}

/* Append to the path; returns the old length for jpath_pop. A path that does
 * not fit ends in "…" (error messages stay readable). */
static size_t jpath_push(struct jpath *jp, const char *fmt_key, size_t index, bool is_index)
{
	size_t old = jp->len;
	char part[POLICY_PATH_MAX];
	int r;

	if (is_index)
		r = xsnprintf(part, sizeof(part), "[%zu]", index);
	else if (plain_key(fmt_key))
		r = xsnprintf(part, sizeof(part), "%s%s", jp->len ? "." : "", fmt_key);
	else {
		char esc[96];
		size_t o = 0;

		/* Keys from the document: quote and keep only printable ASCII. */
		for (const unsigned char *p = (const unsigned char *)fmt_key; *p && o + 5 < sizeof(esc); p++) {
			if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
				esc[o++] = (char)*p;
			else {
				static const char hx[] = "0123456789abcdef";
				esc[o++] = '\\', esc[o++] = 'x', esc[o++] = hx[*p >> 4], esc[o++] = hx[*p & 15];
			}
		}
		esc[o] = '\0';
		r = xsnprintf(part, sizeof(part), "[\"%s\"]", esc);
	}
	(void)r;
	if (jp->len + strlen(part) + 1 > sizeof(jp->buf)) {
		static const char ell[] = "…";
		if (jp->len + sizeof(ell) <= sizeof(jp->buf) &&
		    !(jp->len >= 3 && strcmp(jp->buf + jp->len - 3, ell) == 0)) {
			memcpy(jp->buf + jp->len, ell, sizeof(ell));
			jp->len += sizeof(ell) - 1;
		}
		return old;
	}
	memcpy(jp->buf + jp->len, part, strlen(part) + 1);
	jp->len += strlen(part);
	return old;
}

static void jpath_pop(struct jpath *jp, size_t old)
{
	jp->len = old;
	jp->buf[old] = '\0';
}

#define OBJECT_MEMBERS_MAX 256

static void validate_node(const struct policy_schema_node *node, const cJSON *item, struct jpath *jp,
                          struct policy_errors *errs);

static void range_arg(char *buf, size_t bufsz, int64_t lo, int64_t hi)
{
	(void)xsnprintf(buf, bufsz, "%" PRId64 "..%" PRId64, lo, hi);
}

static size_t child_count(const cJSON *item)
{
	size_t n = 0;

	for (const cJSON *c = item->child; c; c = c->next)
		n++;
	return n;
}

static void check_duplicate_keys(const cJSON *item, size_t n, struct jpath *jp, struct policy_errors *errs)
{
	if (n > OBJECT_MEMBERS_MAX)
		return; /* reported as a count error; keep the walk linear */
	for (const cJSON *c = item->child; c; c = c->next)
		for (const cJSON *d = item->child; d != c; d = d->next)
			if (c->string && d->string && strcmp(c->string, d->string) == 0) {
				size_t old = jpath_push(jp, c->string, 0, false);
				policy_errors_add(errs, POLICY_ERROR_DUPLICATE_KEY, jp->buf, NULL);
				jpath_pop(jp, old);
				break;
			}
}

static void validate_object(const struct policy_schema_node *node, const cJSON *item, struct jpath *jp,
                            struct policy_errors *errs)
{
	size_t n = child_count(item);
	char arg[64];

	if (n > OBJECT_MEMBERS_MAX) {
		range_arg(arg, sizeof(arg), 0, OBJECT_MEMBERS_MAX);
		policy_errors_add(errs, POLICY_ERROR_COUNT, jp->buf, arg);
	}
	if (n == 0 && (node->flags & POLICY_SCHEMA_NONEMPTY))
		policy_errors_add(errs, POLICY_ERROR_EMPTY, jp->buf, NULL);
	check_duplicate_keys(item, n, jp, errs);
	for (const cJSON *c = item->child; c; c = c->next) {
		const struct policy_schema_node *m = NULL;
		size_t old;

		if (!c->string)
			continue;
		for (const struct policy_schema_node *k = node->members; k->key; k++)
			if (strcmp(k->key, c->string) == 0) {
				m = k;
				break;
			}
		old = jpath_push(jp, c->string, 0, false);
		if (!m)
			policy_errors_add(errs, POLICY_ERROR_UNKNOWN_KEY, jp->buf, NULL);
		else
			validate_node(m, c, jp, errs);
		jpath_pop(jp, old);
	}
	for (const struct policy_schema_node *k = node->members; k->key; k++)
		if (k->required && !cJSON_GetObjectItemCaseSensitive(item, k->key)) {
			size_t old = jpath_push(jp, k->key, 0, false);
			policy_errors_add(errs, POLICY_ERROR_MISSING, jp->buf, NULL);
			jpath_pop(jp, old);
		}
}

static void validate_map(const struct policy_schema_node *node, const cJSON *item, struct jpath *jp,
                         struct policy_errors *errs)
{
	size_t n = child_count(item), i = 0;
	char arg[64];

	if ((int64_t)n < node->min || (int64_t)n > node->max) {
		range_arg(arg, sizeof(arg), node->min, node->max);
		policy_errors_add(errs, POLICY_ERROR_COUNT, jp->buf, arg);
	}
	check_duplicate_keys(item, n, jp, errs);
	for (const cJSON *c = item->child; c && (int64_t)i < node->max; c = c->next, i++) {
		size_t old = jpath_push(jp, c->string ? c->string : "", 0, false);

		if (!c->string || !policy_format_valid(node->key_format, c->string))
			policy_errors_add(errs, POLICY_ERROR_FORMAT, jp->buf,
			                  policy_format_to_string(node->key_format));
		validate_node(node->items, c, jp, errs);
		jpath_pop(jp, old);
	}
}

static void validate_array(const struct policy_schema_node *node, const cJSON *item, struct jpath *jp,
                           struct policy_errors *errs)
{
	size_t n = child_count(item), i = 0;
	char arg[64];

	if ((int64_t)n < node->min || (int64_t)n > node->max) {
		range_arg(arg, sizeof(arg), node->min, node->max);
		policy_errors_add(errs, POLICY_ERROR_COUNT, jp->buf, arg);
	}
	for (const cJSON *c = item->child; c && (int64_t)i < node->max; c = c->next, i++) {
		size_t old = jpath_push(jp, NULL, i, true);

		validate_node(node->items, c, jp, errs);
		if (node->flags & POLICY_SCHEMA_UNIQUE_ID) {
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");

			if (cJSON_IsString(id))
				for (const cJSON *d = item->child; d != c; d = d->next) {
					const cJSON *did = cJSON_GetObjectItemCaseSensitive(d, "id");

					if (cJSON_IsString(did) && strcmp(did->valuestring, id->valuestring) == 0) {
						size_t o2 = jpath_push(jp, "id", 0, false);
						policy_errors_add(errs, POLICY_ERROR_DUPLICATE_ID, jp->buf,
						                  id->valuestring);
						jpath_pop(jp, o2);
						break;
					}
				}
		}
		jpath_pop(jp, old);
	}
}

static void validate_string(const struct policy_schema_node *node, const cJSON *item, struct jpath *jp,
                            struct policy_errors *errs)
{
	const char *s = item->valuestring;
	size_t len = strlen(s);
	char arg[POLICY_ARG_MAX];

	if (node->enums) {
		size_t o = 0;

		for (const char *const *e = node->enums; *e; e++)
			if (strcmp(*e, s) == 0)
				return;
		arg[0] = '\0';
		for (const char *const *e = node->enums; *e; e++) {
			if (xsnprintf(arg + o, sizeof(arg) - o, "%s%s", o ? ", " : "", *e) < 0)
				break;
			o += strlen(arg + o);
		}
		policy_errors_add(errs, POLICY_ERROR_ENUM, jp->buf, arg);
		return;
	}
	/* A wrong format says more than a wrong length ("2026-01-01 00:00"), so
	 * structured formats are checked first; free text by length first. */
	if (node->format > POLICY_FORMAT_TEXT && !policy_format_valid(node->format, s)) {
		if (node->format == POLICY_FORMAT_REQUIREMENT)
			policy_errors_add(errs, POLICY_ERROR_UNKNOWN_REQUIREMENT, jp->buf, s);
		else
			policy_errors_add(errs, POLICY_ERROR_FORMAT, jp->buf, policy_format_to_string(node->format));
		return;
	}
	if ((int64_t)len < node->min || (int64_t)len > node->max) {
		range_arg(arg, sizeof(arg), node->min, node->max);
		policy_errors_add(errs, POLICY_ERROR_LENGTH, jp->buf, arg);
		return;
	}
	if (!policy_format_valid(node->format, s))
		policy_errors_add(errs, POLICY_ERROR_FORMAT, jp->buf, policy_format_to_string(node->format));
}

static void validate_int(const struct policy_schema_node *node, const cJSON *item, struct jpath *jp,
                         struct policy_errors *errs)
{
	double v = item->valuedouble;
	char arg[64];

	if (!isfinite(v)) {
		policy_errors_add(errs, POLICY_ERROR_TYPE, jp->buf, "integer");
		return;
	}
	if (v < (double)node->min || v > (double)node->max) {
		range_arg(arg, sizeof(arg), node->min, node->max);
		policy_errors_add(errs, POLICY_ERROR_RANGE, jp->buf, arg);
		return;
	}
	/* in range, so the conversion is defined; no libm needed */
	if ((double)(int64_t)v != v)
		policy_errors_add(errs, POLICY_ERROR_TYPE, jp->buf, "integer");
}

static void validate_node(const struct policy_schema_node *node, const cJSON *item, struct jpath *jp,
                          struct policy_errors *errs)
{
	switch (node->type) {
	case POLICY_TYPE_OBJECT:
		if (!cJSON_IsObject(item))
			return policy_errors_add(errs, POLICY_ERROR_TYPE, jp->buf, "object");
		return validate_object(node, item, jp, errs);
	case POLICY_TYPE_MAP:
		if (!cJSON_IsObject(item))
			return policy_errors_add(errs, POLICY_ERROR_TYPE, jp->buf, "object");
		return validate_map(node, item, jp, errs);
	case POLICY_TYPE_ARRAY:
		if (!cJSON_IsArray(item))
			return policy_errors_add(errs, POLICY_ERROR_TYPE, jp->buf, "array");
		return validate_array(node, item, jp, errs);
	case POLICY_TYPE_STRING_OR_NULL:
		if (cJSON_IsNull(item))
			return;
		if (!cJSON_IsString(item) || !item->valuestring)
			return policy_errors_add(errs, POLICY_ERROR_TYPE, jp->buf, "string or null");
		return validate_string(node, item, jp, errs);
	case POLICY_TYPE_STRING:
		if (!cJSON_IsString(item) || !item->valuestring)
			return policy_errors_add(errs, POLICY_ERROR_TYPE, jp->buf, "string");
		return validate_string(node, item, jp, errs);
	case POLICY_TYPE_INT:
		if (!cJSON_IsNumber(item))
			return policy_errors_add(errs, POLICY_ERROR_TYPE, jp->buf, "integer");
		return validate_int(node, item, jp, errs);
	case POLICY_TYPE_BOOL:
		if (!cJSON_IsBool(item))
			return policy_errors_add(errs, POLICY_ERROR_TYPE, jp->buf, "boolean");
		return;
	default:
		return;
	}
}

int policy_schema_validate(const cJSON *doc, struct policy_errors *errs)
{
	struct jpath jp = {.len = 0};
	size_t before = errs ? errs->n + errs->dropped : 0;
	_cleanup_free_ struct policy_errors *local = NULL; /* 22 KB: not on the stack (mamorid's VmHWM) */

	if (!errs) {
		local = malloc(sizeof(*local));
		if (!local)
			return -ENOMEM;
		policy_errors_init(local);
		errs = local;
	}
	validate_node(&policy_schema_root, doc, &jp, errs);
	return errs->n + errs->dropped > before ? -EINVAL : 0;
}

/* The node of a top-level section's member ("usb", "rules"), or NULL. */
static const struct policy_schema_node *member_node(const char *section, const char *key)
{
	const struct policy_schema_node *sec = NULL;

	for (const struct policy_schema_node *k = policy_schema_root.members; k->key; k++)
		if (strcmp(k->key, section) == 0)
			sec = k;
	if (!sec || sec->type != POLICY_TYPE_OBJECT)
		return NULL;
	for (const struct policy_schema_node *k = sec->members; k->key; k++)
		if (strcmp(k->key, key) == 0)
			return k;
	return NULL;
}

int policy_schema_validate_item(const char *section, const char *key, size_t i, const cJSON *item,
                                struct policy_errors *errs)
{
	const struct policy_schema_node *arr = member_node(section, key);
	struct jpath jp = {.len = 0};
	size_t before = errs->n + errs->dropped;

	if (!arr || arr->type != POLICY_TYPE_ARRAY)
		return -ENOENT;
	(void)jpath_push(&jp, section, 0, false);
	(void)jpath_push(&jp, key, 0, false);
	(void)jpath_push(&jp, NULL, i, true);
	validate_node(arr->items, item, &jp, errs);
	return errs->n + errs->dropped > before ? -EINVAL : 0;
}

int64_t policy_schema_max_items(const char *section, const char *key)
{
	const struct policy_schema_node *arr = member_node(section, key);

	return arr && arr->type == POLICY_TYPE_ARRAY ? arr->max : -ENOENT;
}

/* ---- JSON Schema -------------------------------------------------------------- */

static cJSON *node_to_schema(const struct policy_schema_node *node);

static bool add_num(cJSON *o, const char *k, int64_t v)
{
	char raw[32];

	/* cJSON prints doubles with 15 significant digits: write big integers
	 * exactly (2^53 - 1 is the version's maximum). */
	if (v > 999999999999999 || v < -999999999999999) {
		if (xsnprintf(raw, sizeof(raw), "%" PRId64, v) < 0)
			return false;
		return cJSON_AddRawToObject(o, k, raw) != NULL;
	}
	return cJSON_AddNumberToObject(o, k, (double)v) != NULL;
}

static bool add_string_constraints(cJSON *o, const struct policy_schema_node *node)
{
	if (node->enums) {
		cJSON *e = cJSON_AddArrayToObject(o, "enum");

		if (!e)
			return false;
		for (const char *const *v = node->enums; *v; v++) {
			cJSON *s = cJSON_CreateString(*v);
			if (!s || !cJSON_AddItemToArray(e, s)) {
				cJSON_Delete(s);
				return false;
			}
		}
		return true;
	}
	if (node->format == POLICY_FORMAT_REQUIREMENT) {
		cJSON *e = cJSON_AddArrayToObject(o, "enum");
		const char *id;

		if (!e)
			return false;
		for (size_t i = 0; (id = policy_requirement_at(i)); i++) {
			cJSON *s = cJSON_CreateString(id);
			if (!s || !cJSON_AddItemToArray(e, s)) {
				cJSON_Delete(s);
				return false;
			}
		}
		return true;
	}
	if (!add_num(o, "minLength", node->min) || !add_num(o, "maxLength", node->max))
		return false;
	if (node->format == POLICY_FORMAT_TIME && !cJSON_AddStringToObject(o, "format", "date-time"))
		return false;
	if (node->format == POLICY_FORMAT_DATE && !cJSON_AddStringToObject(o, "format", "date"))
		return false;
	if (node->format > POLICY_FORMAT_NONE && node->format < _POLICY_FORMAT_MAX && format_patterns[node->format] &&
	    !cJSON_AddStringToObject(o, "pattern", format_patterns[node->format]))
		return false;
	if (node->format > POLICY_FORMAT_NONE &&
	    !cJSON_AddStringToObject(o, "x-mamori-format", policy_format_to_string(node->format)))
		return false;
	return true;
}

static bool fill_schema(cJSON *o, const struct policy_schema_node *node)
{
	cJSON *sub;

	switch (node->type) {
	case POLICY_TYPE_OBJECT: {
		cJSON *props, *req;

		if (!cJSON_AddStringToObject(o, "type", "object") || !cJSON_AddFalseToObject(o, "additionalProperties"))
			return false;
		if ((node->flags & POLICY_SCHEMA_NONEMPTY) && !add_num(o, "minProperties", 1))
			return false;
		props = cJSON_AddObjectToObject(o, "properties");
		req = cJSON_AddArrayToObject(o, "required");
		if (!props || !req)
			return false;
		for (const struct policy_schema_node *m = node->members; m->key; m++) {
			sub = node_to_schema(m);
			if (!sub || !cJSON_AddItemToObject(props, m->key, sub)) {
				cJSON_Delete(sub);
				return false;
			}
			if (m->required) {
				cJSON *s = cJSON_CreateString(m->key);
				if (!s || !cJSON_AddItemToArray(req, s)) {
					cJSON_Delete(s);
					return false;
				}
			}
		}
		return true;
	}
	case POLICY_TYPE_MAP:
		if (!cJSON_AddStringToObject(o, "type", "object") || !add_num(o, "minProperties", node->min) ||
		    !add_num(o, "maxProperties", node->max))
			return false;
		sub = cJSON_AddObjectToObject(o, "propertyNames");
		if (!sub || !cJSON_AddStringToObject(sub, "pattern", format_patterns[node->key_format]))
			return false;
		sub = node_to_schema(node->items);
		if (!sub || !cJSON_AddItemToObject(o, "additionalProperties", sub)) {
			cJSON_Delete(sub);
			return false;
		}
		return true;
	case POLICY_TYPE_ARRAY:
		if (!cJSON_AddStringToObject(o, "type", "array") || !add_num(o, "minItems", node->min) ||
		    !add_num(o, "maxItems", node->max))
			return false;
		if ((node->flags & POLICY_SCHEMA_UNIQUE_ID) && !cJSON_AddStringToObject(o, "x-mamori-unique", "id"))
			return false;
		sub = node_to_schema(node->items);
		if (!sub || !cJSON_AddItemToObject(o, "items", sub)) {
			cJSON_Delete(sub);
			return false;
		}
		return true;
	case POLICY_TYPE_STRING_OR_NULL: {
		cJSON *t = cJSON_AddArrayToObject(o, "type");
		cJSON *a = cJSON_CreateString("string"), *b = cJSON_CreateString("null");

		if (!t || !a || !b || !cJSON_AddItemToArray(t, a)) {
			cJSON_Delete(a);
			cJSON_Delete(b);
			return false;
		}
		if (!cJSON_AddItemToArray(t, b)) {
			cJSON_Delete(b);
			return false;
		}
		return add_string_constraints(o, node);
	}
	case POLICY_TYPE_STRING:
		return cJSON_AddStringToObject(o, "type", "string") && add_string_constraints(o, node);
	case POLICY_TYPE_INT:
		return cJSON_AddStringToObject(o, "type", "integer") && add_num(o, "minimum", node->min) &&
		       add_num(o, "maximum", node->max);
	case POLICY_TYPE_BOOL:
		return cJSON_AddStringToObject(o, "type", "boolean") != NULL;
	default:
		return false;
	}
}

static cJSON *node_to_schema(const struct policy_schema_node *node)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if ((node->desc && !cJSON_AddStringToObject(o, "description", node->desc)) || !fill_schema(o, node)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int policy_schema_to_json(cJSON **ret)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return -ENOMEM;
	if (!cJSON_AddStringToObject(o, "$schema", "https://json-schema.org/draft/2020-12/schema") ||
	    !cJSON_AddStringToObject(o, "$id", "urn:mamori:policy:schema:1") ||
	    !cJSON_AddStringToObject(o, "title", "mamori policy") ||
	    !cJSON_AddStringToObject(o, "description", policy_schema_root.desc) ||
	    !fill_schema(o, &policy_schema_root)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	*ret = o;
	return 0;
}
