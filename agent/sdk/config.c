/* agent/sdk/config.c — parser of /etc/mamori/agent.conf (mamorid, mamori-worker, mamorictl). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "alloc-util.h"
#include "config.h"
#include "fileio.h"
#include "log.h"
#include "strutil.h"

enum key_type { KEY_PATH, KEY_STRING, KEY_INT, KEY_BOOL, KEY_LANG, KEY_LOGLEVEL, KEY_URL, KEY_MODULES, KEY_ONOFF };

struct key_def {
	const char *key;
	enum key_type type;
	size_t off;
	size_t size;      /* buffer size for strings */
	int64_t min, max; /* for KEY_INT */
};

#define STR(k, t, f)                                                                                                   \
	{                                                                                                              \
		k, t, offsetof(struct agent_config, f), sizeof(((struct agent_config *)0)->f), 0, 0                    \
	}
#define INT(k, f, lo, hi)                                                                                              \
	{                                                                                                              \
		k, KEY_INT, offsetof(struct agent_config, f), 0, lo, hi                                                \
	}

static const struct key_def keys[] = {
        STR("state_dir", KEY_PATH, state_dir),
        STR("run_dir", KEY_PATH, run_dir),
        STR("policy_file", KEY_PATH, policy_file),
        STR("policy_key", KEY_PATH, policy_key),
        {"language", KEY_LANG, offsetof(struct agent_config, lang), 0, 0, 0},
        {"log_level", KEY_LOGLEVEL, offsetof(struct agent_config, log_level), 0, 0, 0},
        INT("check_interval", check_interval, 10, 86400),
        STR("modules", KEY_MODULES, modules),
        {"usb_gate", KEY_ONOFF, offsetof(struct agent_config, usb_gate), 0, 0, 0},
        {"audit_only", KEY_BOOL, offsetof(struct agent_config, audit_only), 0, 0, 0},
        INT("journal_quota_mb", journal_quota_mb, 1, 1024 * 1024),
        STR("server_url", KEY_URL, server_url),
        STR("terminal_id", KEY_STRING, terminal_id),
        STR("wipe_volumes", KEY_STRING, wipe_volumes),
        STR("wipe_paths", KEY_STRING, wipe_paths),
        {"wipe_power_off", KEY_BOOL, offsetof(struct agent_config, wipe_power_off), 0, 0, 0},
        {"isolate_dhcp_dns", KEY_BOOL, offsetof(struct agent_config, isolate_dhcp_dns), 0, 0, 0},
};

void config_defaults(struct agent_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strscpy(cfg->state_dir, sizeof(cfg->state_dir), "/var/lib/mamori");
	strscpy(cfg->run_dir, sizeof(cfg->run_dir), "/run/mamori");
	strscpy(cfg->policy_file, sizeof(cfg->policy_file), "/var/lib/mamori/policy.json");
	strscpy(cfg->policy_key, sizeof(cfg->policy_key), "/etc/mamori/policy.pub");
	strscpy(cfg->lang, sizeof(cfg->lang), "ja");
	cfg->log_level = LOG_INFO;
	cfg->check_interval = 300;
	strscpy(cfg->modules, sizeof(cfg->modules), "all");
	cfg->audit_only = false;
	cfg->journal_quota_mb = 256;
	cfg->usb_gate = true;
	cfg->wipe_power_off = true;
	cfg->isolate_dhcp_dns = true;
}

/* Every module a `modules` list may name: the worker's (agent/worker/module.c,
 * test_config checks both lists agree) and the gate's usb. The one table the
 * validator and the processes that start modules use (MEDIA-1, OPS-1). */
const char *const config_module_names[] = {
        "usb",     "carry", "timesync", "integrity", "login",      "ports",
        "network", "patch", "software", "av",        "screenlock", NULL,
};

bool config_module_name_known(const char *name)
{
	for (size_t i = 0; config_module_names[i]; i++)
		if (strcmp(config_module_names[i], name) == 0)
			return true;
	return false;
}

/* `modules`: "all", or module names separated by commas, each known and
 * given once. The word that is wrong is the one named (a typo must never
 * switch a control off, nor be blamed on another word). */
static int check_modules(const char *v, char *word, size_t wordsz, const char **why)
{
	const char *p = v;
	bool saw_all = false;
	size_t n = 0;

	word[0] = '\0';
	if (strcmp(v, "all") == 0)
		return 0;
	for (;;) {
		const char *c = strchr(p, ',');
		const char *raw = p; /* where this token starts, before its blanks */
		size_t l = c ? (size_t)(c - p) : strlen(p);
		char tok[64];

		while (l > 0 && (*p == ' ' || *p == '\t'))
			p++, l--;
		while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
			l--;
		if (l == 0) {
			word[0] = '\0';
			*why = n == 0 && !c ? "expected 'all' or module names" : "empty module name";
			return -EINVAL;
		}
		if (l >= sizeof(tok)) {
			*why = "module name too long";
			return -EINVAL;
		}
		memcpy(tok, p, l);
		tok[l] = '\0';
		strscpy(word, wordsz, tok);
		if (strcmp(tok, "all") == 0)
			saw_all = true;
		else if (!config_module_name_known(tok)) {
			*why = "unknown module";
			return -EINVAL;
		}
		/* given twice? */
		for (const char *q = v; q < raw;) {
			const char *qc = strchr(q, ',');
			size_t ql = (size_t)(qc - q);
			while (ql > 0 && (*q == ' ' || *q == '\t'))
				q++, ql--;
			while (ql > 0 && (q[ql - 1] == ' ' || q[ql - 1] == '\t'))
				ql--;
			if (ql == l && memcmp(q, tok, l) == 0) {
				*why = "duplicate module";
				return -EINVAL;
			}
			q = qc + 1;
		}
		n++;
		if (!c)
			break;
		p = c + 1;
	}
	word[0] = '\0';
	if (saw_all) {
		*why = "'all' stands alone: it cannot be combined with module names";
		return -EINVAL;
	}
	return 0;
}

/* Append one formatted message to err (keeps what is there). */
static void err_add(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err_add(char *err, size_t errsz, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!err || errsz == 0)
		return;
	used = strnlen(err, errsz);
	if (used + 2 >= errsz)
		return;
	if (used > 0)
		err[used++] = '\n', err[used] = '\0';
	va_start(ap, fmt);
	vsnprintf(err + used, errsz - used, fmt, ap);
	va_end(ap);
}

static bool key_valid_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static int set_value(struct agent_config *cfg, const struct key_def *k, const char *v, const char **why, char *word,
                     size_t wordsz)
{
	char *field = (char *)cfg + k->off;
	int64_t n;
	int r;

	switch (k->type) {
	case KEY_PATH:
		if (v[0] != '/') {
			*why = "expected an absolute path";
			return -EINVAL;
		}
		if (strstr(v, "/../") || (strlen(v) >= 3 && strcmp(v + strlen(v) - 3, "/..") == 0)) {
			*why = "'..' is not allowed in paths";
			return -EINVAL;
		}
		/* fall through */
	case KEY_STRING:
	case KEY_URL:
	case KEY_MODULES:
		if (k->type == KEY_MODULES) {
			r = check_modules(v, word, wordsz, why);
			if (r < 0)
				return r;
		}
		if (k->type == KEY_URL && v[0] && !startswith(v, "https://")) {
			*why = "expected an https:// URL";
			return -EINVAL;
		}
		for (const char *p = v; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				*why = "control characters are not allowed";
				return -EINVAL;
			}
		if (strscpy(field, k->size, v) < 0) {
			*why = "value too long";
			return -EINVAL;
		}
		return 0;
	case KEY_INT:
		r = parse_int64(v, k->min, k->max, &n);
		if (r == -ERANGE) {
			*why = "out of range";
			return r;
		}
		if (r < 0) {
			*why = "expected an integer";
			return r;
		}
		*(int64_t *)(void *)field = n;
		return 0;
	case KEY_BOOL:
		if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
			*(bool *)(void *)field = true;
		else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
			*(bool *)(void *)field = false;
		else {
			*why = "expected yes or no";
			return -EINVAL;
		}
		return 0;
	case KEY_ONOFF:
		/* only the two words: switching the USB gate off is said in full */
		if (strcmp(v, "on") == 0)
			*(bool *)(void *)field = true;
		else if (strcmp(v, "off") == 0)
			*(bool *)(void *)field = false;
		else {
			*why = "expected on or off";
			return -EINVAL;
		}
		return 0;
	case KEY_LANG:
		if (strcmp(v, "ja") != 0 && strcmp(v, "en") != 0) {
			*why = "expected ja or en";
			return -EINVAL;
		}
		strscpy(cfg->lang, sizeof(cfg->lang), v);
		return 0;
	case KEY_LOGLEVEL:
		r = log_level_from_string(v);
		if (r < 0) {
			*why = "expected debug, info, notice, warning or err";
			return r;
		}
		cfg->log_level = r;
		return 0;
	}
	*why = "internal error";
	return -EINVAL;
}

int config_parse(struct agent_config *cfg, const char *buf, size_t len, const char *name, char *err, size_t errsz)
{
	bool seen[ELEMENTSOF(keys)] = {false};
	unsigned lineno = 0;
	const char *p = buf, *end = buf + len;
	int bad = 0;

	if (err && errsz)
		err[0] = '\0';
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[CONFIG_LINE_MAX + 1];
		char *s, *eq, *key, *val;
		const struct key_def *k = NULL;
		const char *why = NULL;
		char word[64] = "";

		lineno++;
		p += ll + (nl ? 1 : 0);
		if (ll > CONFIG_LINE_MAX) {
			err_add(err, errsz, "%s:%u: line too long (%zu bytes, at most %d)", name, lineno, ll,
			        CONFIG_LINE_MAX);
			bad++;
			continue;
		}
		if (memchr(p - ll - (nl ? 1 : 0), '\0', ll)) {
			err_add(err, errsz, "%s:%u: NUL byte in line", name, lineno);
			bad++;
			continue;
		}
		memcpy(line, p - ll - (nl ? 1 : 0), ll);
		line[ll] = '\0';
		s = strstrip(line);
		if (*s == '\0' || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			err_add(err, errsz, "%s:%u: expected 'key = value'", name, lineno);
			bad++;
			continue;
		}
		*eq = '\0';
		key = strstrip(s);
		val = strstrip(eq + 1);
		/* values may be quoted to keep leading/trailing spaces or '#' */
		if (strlen(val) >= 2 && val[0] == '"' && val[strlen(val) - 1] == '"') {
			val[strlen(val) - 1] = '\0';
			val++;
		}
		for (const char *c = key; *c; c++)
			if (!key_valid_char(*c)) {
				why = "invalid key";
				break;
			}
		if (!why)
			for (size_t i = 0; i < ELEMENTSOF(keys); i++)
				if (strcmp(keys[i].key, key) == 0) {
					k = &keys[i];
					if (seen[i])
						why = "given twice";
					seen[i] = true;
					break;
				}
		if (!why && !k)
			why = "unknown key";
		if (!why)
			set_value(cfg, k, val, &why, word, sizeof(word));
		if (why) {
			_cleanup_free_ char *ek = escape_untrusted(key, strlen(key), 64);
			_cleanup_free_ char *ew = word[0] ? escape_untrusted(word, strlen(word), 64) : NULL;

			if (ew)
				err_add(err, errsz, "%s:%u: key '%s': %s '%s'", name, lineno, ek ? ek : "?", why, ew);
			else
				err_add(err, errsz, "%s:%u: key '%s': %s", name, lineno, ek ? ek : "?", why);
			bad++;
		}
	}
	return bad ? -EINVAL : 0;
}

int config_load(struct agent_config *cfg, const char *path, bool missing_ok, char *err, size_t errsz)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = read_file_capped(path, CONFIG_FILE_MAX, &buf, &len);
	if (r == -ENOENT && missing_ok)
		return 0;
	if (r < 0) {
		if (err)
			snprintf(err, errsz, "%s: %s", path, r == -EFBIG ? "file too large" : strerror(-r));
		return r;
	}
	return config_parse(cfg, buf, len, path, err, errsz);
}

bool config_module_enabled(const struct agent_config *cfg, const char *name)
{
	size_t nl = strlen(name);
	const char *p = cfg->modules;

	/* the USB gate is on unless usb_gate = off says otherwise: leaving "usb"
	 * out of a module list never switches it off (MEDIA-1) */
	if (strcmp(name, "usb") == 0)
		return cfg->usb_gate;
	if (strcmp(cfg->modules, "all") == 0)
		return true;
	while (*p) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);

		while (l > 0 && *p == ' ')
			p++, l--;
		while (l > 0 && p[l - 1] == ' ')
			l--;
		if (l == nl && memcmp(p, name, nl) == 0)
			return true;
		if (!c)
			break;
		p = c + 1;
	}
	return false;
}
