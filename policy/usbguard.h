/* policy/usbguard.h — converting USBGuard rules.conf into mamori usb.rules
 * (mamorictl policy import-usbguard; admin side).
 *
 * Every line is converted exactly (modules/usb/usb_match.h has USBGuard's
 * attributes and set operators: id, hash → usbguard_hash, parent-hash →
 * parent_hash, name, serial, via-port → port, with-interface → interfaces,
 * with-connect-type → connect_type; label → comment; reject → block;
 * `if true` / `if false`) or reported with its line number and the reason.
 * Without `partial` any report fails the import (the caller writes nothing).
 * With it, refused allow rules are left out and a block rule loses only what
 * cannot be checked (or blocks every device when the line cannot be read):
 * the result never allows a device that USBGuard would block. */
#ifndef MAMORI_USBGUARD_H
#define MAMORI_USBGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#define USBGUARD_FILE_MAX   (1024 * 1024)
#define USBGUARD_LINE_MAX   4096
#define USBGUARD_ISSUES_MAX 256
#define USBGUARD_EXPAND_MAX 64   /* rules one line may expand into */
#define USBGUARD_RULES_MAX  1024 /* usb.rules cap of the schema */

enum usbguard_issue_code {
	USBGUARD_ISSUE_SYNTAX,    /* unterminated string, bad set, ... */
	USBGUARD_ISSUE_TARGET,    /* not allow/block/reject */
	USBGUARD_ISSUE_ATTRIBUTE, /* attribute mamori cannot express (parent-hash, if, ...) */
	USBGUARD_ISSUE_OPERATOR,  /* operator not convertible for this attribute */
	USBGUARD_ISSUE_VALUE,     /* value outside mamori's format */
	USBGUARD_ISSUE_CATCH_ALL, /* rule without any condition: use usb.default */
	USBGUARD_ISSUE_DUPLICATE, /* the same attribute twice */
	USBGUARD_ISSUE_TOO_MANY,  /* expansion or rule count over the cap */
	USBGUARD_ISSUE_LINE_TOO_LONG,
	USBGUARD_ISSUE_CONDITION, /* `if` with a run-time condition */
	_USBGUARD_ISSUE_MAX,
	_USBGUARD_ISSUE_INVALID = -1,
};

struct usbguard_issue {
	unsigned line;
	enum usbguard_issue_code code;
	char detail[160]; /* escaped */
};

struct usbguard_issues {
	size_t n, dropped;
	unsigned lines_total, lines_converted, lines_refused, rules_broadened, rules_out;
	struct usbguard_issue e[USBGUARD_ISSUES_MAX];
};

/* Convert len bytes of rules.conf. *ret_rules gets a new JSON array of usb
 * rules (cJSON_Delete) holding every converted line (and, with partial, the
 * broadened block rules); issues lists every line (or part) that was not
 * converted exactly. Returns 0 (even with issues), -EFBIG over
 * USBGUARD_FILE_MAX, -ENOMEM. */
int usbguard_import(const char *buf, size_t len, bool partial, cJSON **ret_rules, struct usbguard_issues *issues);

/* One line per issue, "rules.conf:LINE: message: detail", in ja or en. */
void usbguard_issues_print(const struct usbguard_issues *issues, const char *name, FILE *f, const char *lang);

#endif
