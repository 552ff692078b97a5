/* policy/policy_schema.h — the policy document's schema as a C table, the
 * validator that walks a parsed document against it, and the JSON Schema
 * (policy/schema.json) generated from the same table (mamori-worker, mamorictl).
 *
 * The table is the one definition of the format: docs/POLICY.md describes it,
 * policy/schema.json is `mamorictl policy schema` output, and
 * tests/unit/test_policy_schema.c fails when schema.json drifts from it. */
#ifndef MAMORI_POLICY_SCHEMA_H
#define MAMORI_POLICY_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "policy_errors.h"

/* Largest integer a JSON number keeps exactly (2^53 - 1). */
#define POLICY_INT_MAX INT64_C(9007199254740991)

enum policy_schema_type {
	POLICY_TYPE_OBJECT,
	POLICY_TYPE_ARRAY,
	POLICY_TYPE_STRING,
	POLICY_TYPE_STRING_OR_NULL,
	POLICY_TYPE_INT,
	POLICY_TYPE_BOOL,
	POLICY_TYPE_MAP, /* object with free keys (key_format) and one value schema (items) */
	_POLICY_TYPE_MAX,
	_POLICY_TYPE_INVALID = -1,
};

enum policy_format {
	POLICY_FORMAT_NONE,
	POLICY_FORMAT_TEXT,          /* UTF-8 without control characters */
	POLICY_FORMAT_ID,            /* [A-Za-z0-9][A-Za-z0-9._:-]* */
	POLICY_FORMAT_USB_ID,        /* 4 lower-case hex digits */
	POLICY_FORMAT_USB_CLASS,     /* 2 lower-case hex digits */
	POLICY_FORMAT_USB_IFACE,     /* "cc:ss:pp", each 2 lower-case hex digits or "*" */
	POLICY_FORMAT_USB_PORT,      /* "1-1", "2-1.4.3", "usb1" */
	POLICY_FORMAT_USB_DEVICE_ID, /* "abcd:1234", "abcd:*", "*:*" */
	POLICY_FORMAT_TIME,          /* RFC 3339 UTC "2026-11-23T09:00:00Z" */
	POLICY_FORMAT_DATE,          /* "2028-06-30" */
	POLICY_FORMAT_REQUIREMENT,   /* a known ID of REQUIREMENTS.md */
	POLICY_FORMAT_SHA256,        /* 64 lower-case hex digits */
	POLICY_FORMAT_BASE64,        /* USBGuard's descriptor hash */
	POLICY_FORMAT_ABS_PATH,      /* absolute, no ".." component, no control characters */
	POLICY_FORMAT_CIDR,          /* IPv4 or IPv6 address with optional /prefix */
	POLICY_FORMAT_CHECK_ID,      /* "screenlock.idle", "usb.*" */
	POLICY_FORMAT_OS_ID,         /* "debian:12" */
	POLICY_FORMAT_PACKAGE,       /* Debian package name */
	_POLICY_FORMAT_MAX,
	_POLICY_FORMAT_INVALID = -1,
};

enum {
	POLICY_SCHEMA_NONEMPTY = 1u << 0,  /* object: at least one member */
	POLICY_SCHEMA_UNIQUE_ID = 1u << 1, /* array of objects: their "id" members are unique */
};

struct policy_schema_node {
	const char *key; /* member name; NULL ends a member list */
	enum policy_schema_type type;
	bool required;
	unsigned flags;
	/* INT: value range. STRING: length in bytes. ARRAY/MAP: number of items. */
	int64_t min, max;
	enum policy_format format;                /* STRING (and MAP keys: key_format) */
	enum policy_format key_format;            /* MAP */
	const char *const *enums;                 /* STRING: NULL-terminated allowed values */
	const struct policy_schema_node *members; /* OBJECT */
	const struct policy_schema_node *items;   /* ARRAY item, MAP value */
	const char *desc;                         /* English, for schema.json */
};

/* The root of the document. */
extern const struct policy_schema_node policy_schema_root;

/* Validate doc against the schema; every problem is added to errs. Returns 0
 * if none was found, -EINVAL otherwise. Never allocates. */
int policy_schema_validate(const cJSON *doc, struct policy_errors *errs);

/* One item of the array member `key` of the top-level section `section`
 * ("usb", "rules"), validated exactly as policy_schema_validate() validates
 * it inside a document; errors are named "usb.rules[i]...". Returns 0,
 * -EINVAL (errors added) or -ENOENT (no such array in the schema). The
 * array's own rules (count, unique ids) are the caller's:
 * policy_schema_max_items() gives the count limit. */
int policy_schema_validate_item(const char *section, const char *key, size_t i, const cJSON *item,
                                struct policy_errors *errs);
int64_t policy_schema_max_items(const char *section, const char *key);

/* Build the JSON Schema (draft 2020-12) of the table. Returns 0 or -ENOMEM;
 * *ret is the caller's (cJSON_Delete). */
int policy_schema_to_json(cJSON **ret);

/* true if s is in the format. */
bool policy_format_valid(enum policy_format f, const char *s);

/* English name of a format ("usb-id"), as used in error messages. */
const char *policy_format_to_string(enum policy_format f);

/* Parse an RFC 3339 UTC time "YYYY-MM-DDTHH:MM:SSZ" into seconds since the
 * epoch. 0 or -EINVAL. */
int policy_time_parse(const char *s, time_t *ret);

/* Format t as RFC 3339 UTC into buf (at least 21 bytes). */
int policy_time_format(time_t t, char *buf, size_t bufsz);

#endif
