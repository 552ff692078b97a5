/* policy/exception_code.c — emergency exception codes: Crockford base32,
 * CRC-5 check symbol, HMAC-SHA256 over scope and window; the per-terminal
 * secret (mamorictl). HMAC-SHA256 is common/sha256.h's (no libcrypto here). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exception_code.h"
#include "fileio.h"
#include "policy_schema.h"
#include "random-util.h"
#include "sha256.h"
#include "strutil.h"

static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* ---- scopes ------------------------------------------------------------------ */

int exception_scope_parse(const char *s, struct exception_scope *ret)
{
	struct exception_scope sc = {{0}};
	char buf[EXCEPTION_SCOPE_MAX + 1], *part, *next;
	int stage = 0; /* 0 check, 1 device, 2 person: each at most once, in order */

	if (!s || strscpy(buf, sizeof(buf), s) < 0 || !utf8_valid(s, strlen(s)))
		return -EINVAL;
	for (part = buf; part; part = next) {
		next = strchr(part, ',');
		if (next)
			*next++ = '\0';
		if (stage == 0 && startswith(part, "check:")) {
			if (!policy_format_valid(POLICY_FORMAT_CHECK_ID, part + 6) ||
			    strscpy(sc.check, sizeof(sc.check), part + 6) < 0)
				return -EINVAL;
			stage = 1;
		} else if (stage == 1 && startswith(part, "device:")) {
			char *v = part + 7, *p = strchr(v, ':'), *serial;

			if (!p)
				return -EINVAL;
			*p++ = '\0';
			serial = strchr(p, ':');
			if (serial)
				*serial++ = '\0';
			if (!policy_format_valid(POLICY_FORMAT_USB_ID, v) ||
			    !policy_format_valid(POLICY_FORMAT_USB_ID, p))
				return -EINVAL;
			memcpy(sc.vendor, v, 5);
			memcpy(sc.product, p, 5);
			if (serial && (!*serial || !policy_format_valid(POLICY_FORMAT_TEXT, serial) ||
			               strscpy(sc.serial, sizeof(sc.serial), serial) < 0))
				return -EINVAL;
			stage = 2;
		} else if (stage >= 1 && stage <= 2 && startswith(part, "person:")) {
			if (!part[7] || !policy_format_valid(POLICY_FORMAT_TEXT, part + 7) ||
			    strscpy(sc.person, sizeof(sc.person), part + 7) < 0)
				return -EINVAL;
			stage = 3;
		} else
			return -EINVAL;
	}
	if (stage == 0)
		return -EINVAL;
	*ret = sc;
	return 0;
}

bool exception_scope_matches(const struct exception_scope *sc, const char *check_id, const struct policy_device_id *dev,
                             const char *person)
{
	if (!policy_check_id_matches(sc->check, check_id))
		return false;
	if (sc->vendor[0]) {
		if (!dev || !dev->vendor || !dev->product || strcmp(dev->vendor, sc->vendor) != 0 ||
		    strcmp(dev->product, sc->product) != 0)
			return false;
		if (sc->serial[0] && (!dev->serial || strcmp(dev->serial, sc->serial) != 0))
			return false;
	}
	if (sc->person[0] && (!person || strcmp(person, sc->person) != 0))
		return false;
	return true;
}

/* ---- secret ------------------------------------------------------------------- */

int exception_secret_init(const char *path, bool force)
{
	uint8_t key[EXCEPTION_SECRET_LEN];
	char hex[EXCEPTION_SECRET_LEN * 2 + 2];
	int r;

	if (!force && access(path, F_OK) == 0)
		return -EEXIST;
	r = random_bytes(key, sizeof(key), false);
	if (r < 0)
		return r;
	hex_encode(key, sizeof(key), hex);
	hex[EXCEPTION_SECRET_LEN * 2] = '\n';
	hex[EXCEPTION_SECRET_LEN * 2 + 1] = '\0';
	r = write_file_atomic(path, hex, EXCEPTION_SECRET_LEN * 2 + 1, 0600);
	explicit_bzero(key, sizeof(key));
	explicit_bzero(hex, sizeof(hex));
	return r;
}

int exception_secret_load(const char *path, uint8_t ret[EXCEPTION_SECRET_LEN])
{
	_cleanup_close_ int fd = -1;
	char buf[EXCEPTION_SECRET_LEN * 2 + 4];
	uint8_t key[EXCEPTION_SECRET_LEN];
	struct stat st;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	if (st.st_mode & 077)
		return -EACCES;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n != EXCEPTION_SECRET_LEN * 2)
		return -EBADMSG;
	for (size_t i = 0; i < EXCEPTION_SECRET_LEN; i++) {
		int hi = hex_digit(buf[2 * i]), lo = hex_digit(buf[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EBADMSG;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(ret, key, sizeof(key));
	explicit_bzero(key, sizeof(key));
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* ---- codes ---------------------------------------------------------------------- */

/* CRC-5 (x^5 + x^2 + 1, init 0x1f) over 55 bits, most significant first. A
 * single changed symbol is a burst of at most 5 bits: always detected. */
static unsigned crc5(uint64_t v)
{
	unsigned crc = 0x1f;

	for (int i = 54; i >= 0; i--) {
		unsigned bit = (unsigned)(v >> i) & 1u;
		unsigned top = (crc >> 4) & 1u;

		crc = (crc << 1) & 0x1f;
		if (bit ^ top)
			crc ^= 0x05;
	}
	return crc;
}

static int mac42(const uint8_t secret[EXCEPTION_SECRET_LEN], const char *scope, int64_t start_hour, unsigned hours,
                 uint64_t *ret)
{
	static const char label[] = "mamori-emergency-v1";
	uint8_t msg[sizeof(label) + EXCEPTION_SCOPE_MAX + 1 + 8 + 1], md[SHA256_DIGEST_SIZE];
	size_t slen = strlen(scope), o = 0;
	uint64_t v = 0;

	if (slen > EXCEPTION_SCOPE_MAX)
		return -EINVAL;
	memcpy(msg, label, sizeof(label)); /* includes the 0x00 separator */
	o = sizeof(label);
	memcpy(msg + o, scope, slen);
	o += slen;
	msg[o++] = 0;
	for (int i = 7; i >= 0; i--)
		msg[o++] = (uint8_t)((uint64_t)start_hour >> (8 * i));
	msg[o++] = (uint8_t)hours;
	hmac_sha256(secret, EXCEPTION_SECRET_LEN, msg, o, md);
	for (int i = 0; i < 6; i++)
		v = v << 8 | md[i];
	*ret = v >> 6; /* 48 → 42 bits */
	explicit_bzero(md, sizeof(md));
	return 0;
}

static void encode(uint64_t v55, char out[EXCEPTION_CODE_LEN + 1])
{
	unsigned sym[12];
	size_t o = 0;

	for (int i = 0; i < 11; i++)
		sym[i] = (unsigned)(v55 >> (5 * (10 - i))) & 31u;
	sym[11] = crc5(v55);
	for (int i = 0; i < 12; i++) {
		if (i == 4 || i == 8)
			out[o++] = '-';
		out[o++] = b32[sym[i]];
	}
	out[o] = '\0';
}

static int symbol(char c)
{
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	if (c == 'O')
		c = '0';
	if (c == 'I' || c == 'L')
		c = '1';
	for (int i = 0; i < 32; i++)
		if (b32[i] == c)
			return i;
	return -1;
}

/* Parse typed text into 12 symbols. */
static int decode(const char *in, unsigned sym[12])
{
	size_t n = 0;

	if (!in)
		return EXCEPTION_E_TYPO;
	for (const char *p = in; *p; p++) {
		int s;

		if (*p == '-' || *p == ' ')
			continue;
		s = symbol(*p);
		if (s < 0 || n >= 12)
			return EXCEPTION_E_TYPO;
		sym[n++] = (unsigned)s;
	}
	return n == 12 ? 0 : EXCEPTION_E_TYPO;
}

int exception_code_normalize(const char *in, char ret[EXCEPTION_CODE_LEN + 1])
{
	unsigned sym[12];
	size_t o = 0;
	int r = decode(in, sym);

	if (r < 0)
		return r;
	for (int i = 0; i < 12; i++) {
		if (i == 4 || i == 8)
			ret[o++] = '-';
		ret[o++] = b32[sym[i]];
	}
	ret[o] = '\0';
	return 0;
}

int exception_code_make(const uint8_t secret[EXCEPTION_SECRET_LEN], const char *scope, time_t start, unsigned hours,
                        char ret_code[EXCEPTION_CODE_LEN + 1])
{
	struct exception_scope sc;
	int64_t start_hour;
	uint64_t mac, v;
	int r;

	if (hours < 1 || hours > EXCEPTION_CODE_MAX_HOURS || start < 0 || exception_scope_parse(scope, &sc) < 0)
		return -EINVAL;
	start_hour = (int64_t)start / 3600;
	r = mac42(secret, scope, start_hour, hours, &mac);
	if (r < 0)
		return r;
	v = ((uint64_t)(start_hour & 0xff) << 47) | ((uint64_t)(hours - 1) << 42) | mac;
	encode(v, ret_code);
	return 0;
}

int exception_code_verify(const uint8_t secret[EXCEPTION_SECRET_LEN], const char *scope, const char *code, time_t now,
                          unsigned max_hours, time_t *ret_not_before, time_t *ret_not_after)
{
	struct exception_scope sc;
	unsigned sym[12], hours;
	uint64_t v = 0, mac, want;
	int64_t now_h, lo, start_hour;
	int r;

	r = decode(code, sym);
	if (r < 0)
		return r;
	for (int i = 0; i < 11; i++)
		v = v << 5 | sym[i];
	if (crc5(v) != sym[11])
		return EXCEPTION_E_TYPO;
	if (exception_scope_parse(scope, &sc) < 0 || now < 0)
		return -EINVAL;
	hours = (unsigned)((v >> 42) & 31u) + 1;
	now_h = (int64_t)now / 3600;
	lo = now_h - 223;
	start_hour = lo + ((((int64_t)(v >> 47) & 0xff) - lo) % 256 + 256) % 256;
	r = mac42(secret, scope, start_hour, hours, &mac);
	if (r < 0)
		return r;
	want = v & ((UINT64_C(1) << 42) - 1);
	if ((mac ^ want) != 0) /* one word compared at once: no early exit on a prefix */
		return EXCEPTION_E_INVALID;
	if (max_hours > 0 && hours > max_hours)
		return EXCEPTION_E_TOOLONG;
	if (now < (time_t)(start_hour * 3600))
		return EXCEPTION_E_NOTYET;
	if (now >= (time_t)((start_hour + hours) * 3600))
		return EXCEPTION_E_EXPIRED;
	*ret_not_before = (time_t)(start_hour * 3600);
	*ret_not_after = (time_t)((start_hour + hours) * 3600);
	return 0;
}
