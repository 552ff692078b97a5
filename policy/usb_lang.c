/* policy/usb_lang.c — the key/operator table of the USB rule language and
 * the validation of its values (mamori-worker, mamorictl, mamorid). See
 * usb_lang.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"
#include "usb_lang.h"

/* ---- the table -------------------------------------------------------------- */

#define KEYS_SCALAR(e, k) {.key = k, .attr = USB_ATTR_##e, .op = USB_OP_EQUALS, .array = false},
#define KEYS_SET(e, k)    {.key = k, .attr = USB_ATTR_##e, .op = USB_OP_EQUALS, .array = true},

/* the plain key of every attribute, then KEY_OPERATOR for every operator */
#define X_PLAIN(e, k, plain, fmt, lo, hi, d) KEYS_##plain(e, k)
#define X_OPS(e, k, plain, fmt, lo, hi, d)                                                                             \
	{.key = k "_equals", .attr = USB_ATTR_##e, .op = USB_OP_EQUALS, .array = true},                                \
	        {.key = k "_one_of", .attr = USB_ATTR_##e, .op = USB_OP_ONE_OF, .array = true},                        \
	        {.key = k "_all_of", .attr = USB_ATTR_##e, .op = USB_OP_ALL_OF, .array = true},                        \
	        {.key = k "_none_of", .attr = USB_ATTR_##e, .op = USB_OP_NONE_OF, .array = true},                      \
	        {.key = k "_equals_ordered", .attr = USB_ATTR_##e, .op = USB_OP_EQUALS_ORDERED, .array = true},        \
	        {.key = k "_match_all", .attr = USB_ATTR_##e, .op = USB_OP_MATCH_ALL, .array = true},

const struct usb_match_key usb_match_keys[] = {
        USB_MATCH_ATTRS(X_PLAIN) USB_MATCH_ATTRS(X_OPS){.key = NULL},
};
#undef X_PLAIN
#undef X_OPS

/* The suffixes above are spelled out for the static initializer; this check
 * ties them to USB_MATCH_OPS so that an operator added there without a key
 * here fails to build. */
#define X_COUNT(e, s, ug) +1
_Static_assert(0 USB_MATCH_OPS(X_COUNT) == 6, "usb_match_keys lists 6 operator keys per attribute");
#undef X_COUNT

static const char *const attr_names[_USB_ATTR_MAX] = {
#define X_(e, k, plain, fmt, lo, hi, d) [USB_ATTR_##e] = k,
        USB_MATCH_ATTRS(X_)
#undef X_
};

static const char *const op_ug[_USB_OP_MAX] = {
#define X_(e, suffix, ug) [USB_OP_##e] = ug,
        USB_MATCH_OPS(X_)
#undef X_
};

const struct usb_match_key *usb_match_key_find(const char *key)
{
	for (const struct usb_match_key *k = usb_match_keys; key && k->key; k++)
		if (strcmp(k->key, key) == 0)
			return k;
	return NULL;
}

const char *usb_attr_to_string(enum usb_attr a)
{
	return a >= 0 && a < _USB_ATTR_MAX ? attr_names[a] : NULL;
}

const char *usb_setop_to_usbguard(enum usb_setop op)
{
	return op >= 0 && op < _USB_OP_MAX ? op_ug[op] : NULL;
}

enum usb_setop usb_setop_from_usbguard(const char *s)
{
	for (int i = 0; s && i < _USB_OP_MAX; i++)
		if (strcmp(op_ug[i], s) == 0)
			return (enum usb_setop)i;
	return _USB_OP_INVALID;
}

/* ---- values ----------------------------------------------------------------- */

/* n lower-case hex digits (the policy format is lower case) ending the
 * string or a field */
static bool lhex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hex_digit_lower(s[i]) < 0)
			return false;
	return s[n] == '\0' || s[n] == ':';
}

/* n hex digits lhex() or the caller checked */
static int hexnum(const char *s, size_t n)
{
	uint32_t v = 0;

	(void)hex_u32(s, n, true, &v);
	return (int)v;
}

/* "cc:ss:pp", each two lower-case hex digits or "*" */
bool usb_lang_parse_iface(const char *s, struct usb_class_pat *ret)
{
	int16_t f[3];

	for (int i = 0; i < 3; i++) {
		if (s[0] == '*') {
			f[i] = -1;
			s++;
		} else if (hex_digit_lower(s[0]) >= 0 && hex_digit_lower(s[1]) >= 0) {
			f[i] = (int16_t)hexnum(s, 2);
			s += 2;
		} else
			return false;
		if (*s != (i < 2 ? ':' : '\0'))
			return false;
		s++;
	}
	if (ret)
		*ret = (struct usb_class_pat){f[0], f[1], f[2]};
	return true;
}

bool usb_lang_parse_devid(const char *s, int32_t *v, int32_t *p)
{
	if (strcmp(s, "*:*") == 0) {
		*v = *p = -1;
		return true;
	}
	if (strlen(s) < 6 || !lhex(s, 4) || s[4] != ':')
		return false;
	*v = hexnum(s, 4);
	if (strcmp(s + 5, "*") == 0) {
		*p = -1;
		return true;
	}
	if (strlen(s + 5) != 4 || !lhex(s + 5, 4))
		return false;
	*p = hexnum(s + 5, 4);
	return true;
}

static bool text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

bool usb_match_value_valid(enum usb_attr a, const char *s)
{
	int32_t v, p;
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	switch (a) {
	case USB_ATTR_VENDOR:
	case USB_ATTR_PRODUCT:
		return n == 4 && lhex(s, 4);
	case USB_ATTR_ID:
		return usb_lang_parse_devid(s, &v, &p);
	case USB_ATTR_SERIAL:
	case USB_ATTR_NAME:
		return text_ok(s, 255);
	case USB_ATTR_CONNECT_TYPE:
		return text_ok(s, 32);
	case USB_ATTR_HASH:
		return n == 64 && lhex(s, 64);
	case USB_ATTR_USBGUARD_HASH:
	case USB_ATTR_PARENT_HASH:
		if (n != USB_LANG_UGHASH_LEN || s[43] != '=')
			return false;
		for (size_t i = 0; i < 43; i++)
			if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
			      (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/'))
				return false;
		return true;
	case USB_ATTR_CLASS:
		return n == 2 && lhex(s, 2);
	case USB_ATTR_PORT:
		if (n < 3 || n > 64)
			return false;
		if (strncmp(s, "usb", 3) == 0) {
			if (n < 4 || n > 6)
				return false;
			for (size_t i = 3; i < n; i++)
				if (s[i] < '0' || s[i] > '9')
					return false;
			return true;
		}
		/* bus-port(.port)* */
		{
			bool digit = false, dash = false;

			for (size_t i = 0; i < n; i++) {
				if (s[i] >= '0' && s[i] <= '9')
					digit = true;
				else if ((s[i] == '-' && !dash) || (s[i] == '.' && dash)) {
					if (!digit)
						return false;
					dash = true;
					digit = false;
				} else
					return false;
			}
			return dash && digit;
		}
	case USB_ATTR_INTERFACES:
		return usb_lang_parse_iface(s, NULL);
	default:
		return false;
	}
}
