/* modules/posture/login.c — PAM stacks, faillock/pwquality configuration,
 * empty passwords, session timeout: LOCK-2 and LOCK-3 (mamori-worker, as root: it
 * reads /etc/shadow, and reports only account names, never hashes). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc-util.h"
#include "fileio.h"
#include "login.h"
#include "rootpath.h"
#include "screenlock/screenlock_logind.h"
#include "strutil.h"

#define PAM_FILE_MAX    (64 * 1024)
#define CONF_FILE_MAX   (256 * 1024)
#define SHADOW_FILE_MAX (4 * 1024 * 1024)
#define PAM_LINE_MAX    1024
#define CONF_MAX_FILES  64

static const char *const auth_services[] = {"login", "gdm-password", "sshd", "lightdm", "sddm", "system-auth"};
static const char *const default_mfa[] = {"pam_u2f", "pam_oath", "pam_sss", "pam_pkcs11", "pam_google_authenticator"};

void login_settings_default(struct login_settings *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->faillock_deny = 5;
	ret->faillock_unlock_time = 900;
	ret->password_minlen = 12;
	ret->password_minclass = 3;
	ret->session_timeout_seconds = 900;
	for (size_t i = 0; i < ELEMENTSOF(default_mfa); i++)
		strscpy(ret->mfa_modules[ret->n_mfa++], sizeof(ret->mfa_modules[0]), default_mfa[i]);
}

static int json_int(const cJSON *sec, const char *key, int64_t min, int64_t max, int64_t *v)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(sec, key);

	if (!j)
		return 0;
	if (!cJSON_IsNumber(j) || j->valuedouble < (double)min || j->valuedouble > (double)max ||
	    j->valuedouble != (double)(int64_t)j->valuedouble)
		return -EINVAL;
	*v = (int64_t)j->valuedouble;
	return 0;
}

int login_settings_from_json(const cJSON *section, struct login_settings *ret)
{
	struct login_settings s;
	const cJSON *j, *m;

	login_settings_default(&s);
	if (section) {
		if (!cJSON_IsObject(section))
			return -EINVAL;
		if (json_int(section, "faillock_deny", 1, 100, &s.faillock_deny) < 0 ||
		    json_int(section, "faillock_unlock_time", 0, 604800, &s.faillock_unlock_time) < 0 ||
		    json_int(section, "password_minlen", 1, 256, &s.password_minlen) < 0 ||
		    json_int(section, "password_minclass", 0, 4, &s.password_minclass) < 0)
			return -EINVAL;
		j = cJSON_GetObjectItemCaseSensitive(section, "mfa_required");
		if (j) {
			if (!cJSON_IsBool(j))
				return -EINVAL;
			s.mfa_required = cJSON_IsTrue(j);
		}
		j = cJSON_GetObjectItemCaseSensitive(section, "mfa_modules");
		if (j) {
			if (!cJSON_IsArray(j))
				return -EINVAL;
			s.n_mfa = 0;
			cJSON_ArrayForEach(m, j)
			{
				if (!cJSON_IsString(m) || s.n_mfa >= LOGIN_MAX_MFA ||
				    strscpy(s.mfa_modules[s.n_mfa], sizeof(s.mfa_modules[0]), m->valuestring) < 0)
					return -EINVAL;
				s.n_mfa++;
			}
		}
	}
	*ret = s;
	return 0;
}

/* ---- PAM ---------------------------------------------------------------- */

static bool pam_type_ok(const char *t)
{
	return !strcmp(t, "auth") || !strcmp(t, "account") || !strcmp(t, "password") || !strcmp(t, "session");
}

static bool pam_name_ok(const char *n)
{
	return *n && *n != '.' && !strchr(n, '/') && strlen(n) < 48;
}

static int pam_fail(struct login_pam_stack *st, int err, const char *file, int line, const char *what)
{
	if (!st->err) {
		st->err = err;
		xsnprintf(st->err_what, sizeof(st->err_what), "/etc/pam.d/%s:%d: %s", file, line, what);
	}
	return err;
}

/* Next whitespace-separated token of *s; a control in [...] is one token. */
static char *next_token(char **s)
{
	char *p = *s + strspn(*s, " \t"), *e;

	if (!*p)
		return NULL;
	if (*p == '[') {
		e = strchr(p, ']');
		if (!e)
			return NULL;
		e++;
	} else
		e = p + strcspn(p, " \t");
	if (*e)
		*e++ = '\0';
	*s = e;
	return p;
}

/* libpam's return code names, in the order of their values (pam_tokens.h). */
static const char *const pam_ret_names[LOGIN_PAM_NRET] = {"success",
                                                          "open_err",
                                                          "symbol_err",
                                                          "service_err",
                                                          "system_err",
                                                          "buf_err",
                                                          "perm_denied",
                                                          "auth_err",
                                                          "cred_insufficient",
                                                          "authinfo_unavail",
                                                          "user_unknown",
                                                          "maxtries",
                                                          "new_authtok_reqd",
                                                          "acct_expired",
                                                          "session_err",
                                                          "cred_unavail",
                                                          "cred_expired",
                                                          "cred_err",
                                                          "no_module_data",
                                                          "conv_err",
                                                          "authtok_err",
                                                          "authtok_recover_err",
                                                          "authtok_lock_busy",
                                                          "authtok_disable_aging",
                                                          "try_again",
                                                          "ignore",
                                                          "abort",
                                                          "authtok_expired",
                                                          "module_unknown",
                                                          "bad_item",
                                                          "conv_again",
                                                          "incomplete"};

enum {
	RET_SUCCESS = 0,
	RET_PERM_DENIED = 6,
	RET_AUTH_ERR = 7,
	RET_CRED_INSUFFICIENT = 8,
	RET_AUTHINFO_UNAVAIL = 9,
	RET_USER_UNKNOWN = 10,
	RET_NEW_AUTHTOK_REQD = 12,
	RET_IGNORE = 25,
};

static void pam_set_default(int8_t *act, int8_t a)
{
	for (int i = 0; i < LOGIN_PAM_NRET; i++)
		if (act[i] == LOGIN_PAM_UNDEF)
			act[i] = a;
}

/* A control field into per-return-code actions, as pam_handlers.c does:
 * the keywords' tables, or "[code=action …]" with "default=" filling the
 * codes not named and, after that, bad for the rest. */
static int pam_parse_control(const char *control, int8_t *act)
{
	static const struct {
		const char *kw;
		int8_t dflt, success;
		bool ignore_ignores;
	} kws[] = {
	        {"required", LOGIN_PAM_BAD, LOGIN_PAM_OK, true},
	        {"requisite", LOGIN_PAM_DIE, LOGIN_PAM_OK, true},
	        {"optional", LOGIN_PAM_IGNORE, LOGIN_PAM_OK, false},
	        {"sufficient", LOGIN_PAM_IGNORE, LOGIN_PAM_DONE, false},
	        {"definitive", LOGIN_PAM_DIE, LOGIN_PAM_DONE, true},
	};
	char buf[96], *p, *tok, *save = NULL;

	for (int i = 0; i < LOGIN_PAM_NRET; i++)
		act[i] = LOGIN_PAM_UNDEF;
	for (size_t k = 0; k < ELEMENTSOF(kws); k++)
		if (!strcmp(control, kws[k].kw)) {
			act[RET_SUCCESS] = kws[k].success;
			act[RET_NEW_AUTHTOK_REQD] = kws[k].success;
			if (kws[k].ignore_ignores)
				act[RET_IGNORE] = LOGIN_PAM_IGNORE;
			pam_set_default(act, kws[k].dflt);
			return 0;
		}
	if (control[0] != '[' || strscpy(buf, sizeof(buf), control + 1) < 0)
		return -EINVAL;
	p = strrchr(buf, ']');
	if (!p || p[1])
		return -EINVAL;
	*p = '\0';
	for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');
		int8_t a;
		int code = -1;

		if (!eq)
			return -EINVAL;
		*eq++ = '\0';
		if (!strcmp(eq, "ignore"))
			a = LOGIN_PAM_IGNORE;
		else if (!strcmp(eq, "ok"))
			a = LOGIN_PAM_OK;
		else if (!strcmp(eq, "done"))
			a = LOGIN_PAM_DONE;
		else if (!strcmp(eq, "bad"))
			a = LOGIN_PAM_BAD;
		else if (!strcmp(eq, "die"))
			a = LOGIN_PAM_DIE;
		else if (!strcmp(eq, "reset"))
			a = LOGIN_PAM_RESET;
		else {
			int64_t n;
			if (parse_int64(eq, 1, LOGIN_PAM_MAX_JUMP, &n) < 0)
				return -EINVAL;
			a = (int8_t)n;
		}
		if (!strcmp(tok, "default")) {
			pam_set_default(act, a);
			continue;
		}
		for (int i = 0; i < LOGIN_PAM_NRET; i++)
			if (!strcmp(tok, pam_ret_names[i]))
				code = i;
		if (code < 0)
			return -EINVAL;
		act[code] = a;
	}
	pam_set_default(act, LOGIN_PAM_BAD);
	return 0;
}

static struct login_pam_entry *pam_add(struct login_pam_stack *st, const char *name, int lineno, const char *type,
                                       const char *control, int level)
{
	struct login_pam_entry *e;

	if (st->n >= LOGIN_PAM_MAX_ENTRIES) {
		pam_fail(st, -E2BIG, name, lineno, "too many entries");
		return NULL;
	}
	e = &st->e[st->n++];
	memset(e, 0, sizeof(*e));
	strscpy(e->type, sizeof(e->type), type);
	strscpy(e->control, sizeof(e->control), control);
	strscpy(e->file, sizeof(e->file), name);
	e->line = lineno;
	e->level = (uint8_t)level;
	return e;
}

static int pam_file(struct login_pam_stack *st, const char *name, const char *only_type, int depth, int level)
{
	_cleanup_free_ char *buf = NULL;
	char p[PATH_MAX];
	const char *s;
	int lineno = 0, r;

	if (depth > LOGIN_PAM_MAX_DEPTH)
		return pam_fail(st, -ELOOP, name, 0, "includes nested too deeply (a loop?)");
	if (root_pathf(p, sizeof(p), "/etc/pam.d/%s", name) < 0)
		return pam_fail(st, -ENAMETOOLONG, name, 0, "path too long");
	r = read_file_capped(p, PAM_FILE_MAX, &buf, NULL);
	if (r == -ENOENT && depth == 0)
		return 0;
	if (r < 0)
		return pam_fail(st, r, name, 0,
		                r == -EFBIG    ? "file too large"
		                : r == -ENOENT ? "included file missing"
		                               : "unreadable");
	if (depth == 0)
		st->present = true;
	s = buf;
	while (*s) {
		size_t ll = strcspn(s, "\n");
		char line[PAM_LINE_MAX], *l, *c, *type, *control, *module;
		struct login_pam_entry *e;

		lineno++;
		if (ll >= sizeof(line))
			return pam_fail(st, -EINVAL, name, lineno, "line too long");
		memcpy(line, s, ll);
		line[ll] = '\0';
		s += ll + (s[ll] == '\n');
		c = strchr(line, '#');
		if (c)
			*c = '\0';
		l = strstrip(line);
		if (!*l)
			continue;
		if (startswith(l, "@include")) {
			/* Debian: every line of the file, whatever its type */
			char *n = strstrip(l + 8);
			if (!pam_name_ok(n))
				return pam_fail(st, -EINVAL, name, lineno, "bad @include");
			r = pam_file(st, n, only_type, depth + 1, level);
			if (r < 0)
				return r;
			continue;
		}
		type = next_token(&l);
		control = type ? next_token(&l) : NULL;
		module = control ? next_token(&l) : NULL;
		if (!module)
			return pam_fail(st, -EINVAL, name, lineno, "malformed line (type control module expected)");
		if (*type == '-')
			type++; /* only "do not log a missing module" */
		if (!pam_type_ok(type))
			return pam_fail(st, -EINVAL, name, lineno, "unknown module type");
		if (only_type && strcmp(type, only_type) != 0)
			continue;
		if (!strcmp(control, "include") || !strcmp(control, "substack")) {
			bool sub = control[0] == 's';
			if (!pam_name_ok(module))
				return pam_fail(st, -EINVAL, name, lineno, "bad include target");
			if (sub) {
				if (level + 1 >= 16)
					return pam_fail(st, -ELOOP, name, lineno, "substacks nested too deeply");
				e = pam_add(st, name, lineno, type, control, level);
				if (!e)
					return st->err;
				e->substack = true;
				strscpy(e->module, sizeof(e->module), module);
			}
			r = pam_file(st, module, type, depth + 1, sub ? level + 1 : level);
			if (r < 0)
				return r;
			continue;
		}
		e = pam_add(st, name, lineno, type, control, level);
		if (!e)
			return st->err;
		if (pam_parse_control(control, e->action) < 0)
			return pam_fail(st, -EINVAL, name, lineno, "unknown control (keyword, return code or action)");
		{
			const char *base = strrchr(module, '/');
			size_t bl;

			base = base ? base + 1 : module;
			bl = strlen(base);
			if (bl > 3 && strcmp(base + bl - 3, ".so") == 0)
				bl -= 3;
			if (bl >= sizeof(e->module))
				bl = sizeof(e->module) - 1;
			memcpy(e->module, base, bl);
			strscpy(e->args, sizeof(e->args), strstrip(l));
		}
	}
	return 0;
}

int login_pam_load(const char *service, struct login_pam_stack *st)
{
	memset(st, 0, sizeof(*st));
	strscpy(st->service, sizeof(st->service), service);
	if (!pam_name_ok(service)) {
		st->err = -EINVAL;
		return 0;
	}
	pam_file(st, service, NULL, 0, 0);
	return 0;
}

/* Value of "key=N" among a PAM line's arguments. */
static bool pam_arg_int(const char *args, const char *key, int64_t *ret)
{
	size_t kl = strlen(key);

	for (const char *p = args; *p;) {
		size_t tl = strcspn(p, " \t");
		if (tl > kl + 1 && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			char v[32];
			if (tl - kl - 1 >= sizeof(v))
				return false;
			memcpy(v, p + kl + 1, tl - kl - 1);
			v[tl - kl - 1] = '\0';
			return parse_int64(v, -1000000, 100000000, ret) == 0;
		}
		p += tl;
		p += strspn(p, " \t");
	}
	return false;
}

static bool pam_arg_flag(const char *args, const char *flag)
{
	size_t fl = strlen(flag);

	for (const char *p = args; *p;) {
		size_t tl = strcspn(p, " \t");
		if (tl == fl && strncmp(p, flag, fl) == 0)
			return true;
		p += tl;
		p += strspn(p, " \t");
	}
	return false;
}

/* ---- key = value configuration files ----------------------------------- */

static void conf_parse(const char *buf, void (*cb)(void *u, const char *k, const char *v), void *u)
{
	while (*buf) {
		size_t ll = strcspn(buf, "\n");
		char line[1024], *s, *eq;

		if (ll < sizeof(line)) {
			memcpy(line, buf, ll);
			line[ll] = '\0';
			s = strstrip(line);
			if (*s && *s != '#') {
				eq = strchr(s, '=');
				if (eq) {
					*eq = '\0';
					cb(u, strstrip(s), strstrip(eq + 1));
				}
			}
		}
		buf += ll + (buf[ll] == '\n');
	}
}

static void faillock_cb(void *u, const char *k, const char *v)
{
	struct login_facts *f = u;
	int64_t n;

	if (parse_int64(v, -1, 100000000, &n) < 0)
		return;
	if (!strcmp(k, "deny"))
		f->conf_deny = n;
	else if (!strcmp(k, "unlock_time"))
		f->conf_unlock_time = n;
}

static void pwq_cb(void *u, const char *k, const char *v)
{
	static const char *const credits[4] = {"dcredit", "ucredit", "lcredit", "ocredit"};
	struct login_facts *f = u;
	int64_t n;

	if (parse_int64(v, -1000, 1000, &n) < 0)
		return;
	if (!strcmp(k, "enforcing"))
		f->conf_enforcing = n;
	if (!strcmp(k, "minlen"))
		f->conf_minlen = n;
	else if (!strcmp(k, "minclass"))
		f->conf_minclass = n;
	for (int i = 0; i < 4; i++)
		if (!strcmp(k, credits[i]))
			f->conf_credit[i] = n;
}

static int conf_file(const char *rel, void (*cb)(void *, const char *, const char *), void *u)
{
	_cleanup_free_ char *buf = NULL;
	char p[PATH_MAX];
	int r = root_path(p, sizeof(p), rel);

	if (r < 0)
		return r;
	r = read_file_capped(p, CONF_FILE_MAX, &buf, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	conf_parse(buf, cb, u);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Call fn for each regular file NAME in dir ending in suffix, in name order. */
static int conf_dir(const char *rel, const char *suffix, int (*fn)(const char *path, void *u), void *u)
{
	char dir[PATH_MAX], p[PATH_MAX];
	char *names[CONF_MAX_FILES];
	size_t n = 0, sl = strlen(suffix);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (root_path(dir, sizeof(dir), rel) < 0)
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) && n < CONF_MAX_FILES) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l <= sl || strcmp(de->d_name + l - sl, suffix) != 0)
			continue;
		names[n] = strdup(de->d_name);
		if (!names[n])
			break;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (r >= 0 && xsnprintf(p, sizeof(p), "%s/%s", dir, names[i]) == 0 && lstat(p, &st) == 0 &&
		    S_ISREG(st.st_mode))
			r = fn(p, u);
		free(names[i]);
	}
	return r;
}

static int pwq_dropin(const char *path, void *u)
{
	_cleanup_free_ char *buf = NULL;
	int r = read_file_capped(path, CONF_FILE_MAX, &buf, NULL);

	if (r < 0)
		return r;
	conf_parse(buf, pwq_cb, u);
	return 0;
}

/* One simple command of a profile script, as bash runs it for TMOUT: the
 * value and the readonly attribute in order, an assignment to a readonly
 * TMOUT failing. Forms: TMOUT=N; export [-n] NAME[=V]…; readonly NAME[=V]…;
 * declare|typeset [-r -x -xr -rx …] NAME[=V]…; unset TMOUT. "export
 * readonly TMOUT=900" exports a variable named readonly: no attribute. */
static void tmout_command(struct login_facts *f, char *cmd, const char *rel)
{
	char *tok[16], *save = NULL, *t;
	size_t n = 0, i = 0;
	bool ro = false, builtin = false, unset = false;

	for (t = strtok_r(cmd, " \t", &save); t && n < ELEMENTSOF(tok); t = strtok_r(NULL, " \t", &save))
		tok[n++] = t;
	while (i < n &&
	       (!strcmp(tok[i], "then") || !strcmp(tok[i], "else") || !strcmp(tok[i], "do") || !strcmp(tok[i], "{")))
		i++; /* a command after a keyword of a compound command */
	if (i >= n)
		return;
	memmove(tok, tok + i, (n - i) * sizeof(tok[0]));
	n -= i;
	i = 0;
	if (!strcmp(tok[0], "readonly")) {
		builtin = ro = true;
		i = 1;
	} else if (!strcmp(tok[0], "export") || !strcmp(tok[0], "declare") || !strcmp(tok[0], "typeset")) {
		bool opts = tok[0][0] != 'e';
		builtin = true;
		for (i = 1; i < n && (tok[i][0] == '-' || tok[i][0] == '+'); i++)
			if (opts && tok[i][0] == '-' && strchr(tok[i], 'r'))
				ro = true;
	} else if (!strcmp(tok[0], "unset")) {
		unset = true;
		i = 1;
	}
	for (; i < n; i++) {
		char *eq = strchr(tok[i], '=');
		size_t nl = eq ? (size_t)(eq - tok[i]) : strlen(tok[i]);

		if (nl != 5 || strncmp(tok[i], "TMOUT", 5) != 0) {
			if (!builtin && !unset && !eq)
				return; /* some other command */
			continue;
		}
		if (unset) {
			if (!f->tmout_readonly)
				f->tmout = 0;
			continue;
		}
		if (eq && !f->tmout_readonly) {
			char val[32], *v = eq + 1;
			size_t vl = strlen(v);
			int64_t x = 0;

			if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
				v++;
				vl -= 2;
			}
			if (vl < sizeof(val)) {
				memcpy(val, v, vl);
				val[vl] = '\0';
				if (parse_int64(val, 0, INT32_MAX, &x) < 0)
					x = 0; /* bash: not a number, no timeout */
			}
			f->tmout = x;
			strscpy(f->tmout_source, sizeof(f->tmout_source), rel);
		}
		if (ro)
			f->tmout_readonly = true;
		if (!builtin && !eq)
			return;
	}
}

static void tmout_scan(struct login_facts *f, const char *buf, const char *rel)
{
	while (*buf) {
		size_t ll = strcspn(buf, "\n");
		char line[512], *s, *c, *save = NULL;

		if (ll < sizeof(line)) {
			memcpy(line, buf, ll);
			line[ll] = '\0';
			c = strchr(line, '#');
			if (c)
				*c = '\0';
			for (s = strtok_r(line, ";", &save); s; s = strtok_r(NULL, ";", &save))
				tmout_command(f, strstrip(s), rel);
		}
		buf += ll + (buf[ll] == '\n');
	}
}

static int tmout_dropin(const char *path, void *u)
{
	_cleanup_free_ char *buf = NULL;
	size_t rl = strlen(root_get());
	const char *rel = strncmp(path, root_get(), rl) == 0 ? path + rl : path;

	if (read_file_capped(path, CONF_FILE_MAX, &buf, NULL) == 0)
		tmout_scan(u, buf, rel);
	return 0;
}

static bool shell_login_capable(const char *sh, size_t n)
{
	static const char *const no[] = {"/nologin", "/false", "/sync", "/halt", "/shutdown"};

	for (size_t i = 0; i < ELEMENTSOF(no); i++) {
		size_t l = strlen(no[i]);
		if (n >= l && strncmp(sh + n - l, no[i], l) == 0)
			return false;
	}
	return true;
}

static void gather_shadow(struct login_facts *f)
{
	_cleanup_free_ char *sh = NULL, *pw = NULL;
	char p[PATH_MAX];
	size_t o = 0;
	int r;

	if ((r = root_path(p, sizeof(p), "/etc/shadow")) < 0 ||
	    (r = read_file_capped(p, SHADOW_FILE_MAX, &sh, NULL)) < 0 ||
	    (r = root_path(p, sizeof(p), "/etc/passwd")) < 0 ||
	    (r = read_file_capped(p, SHADOW_FILE_MAX, &pw, NULL)) < 0) {
		f->shadow_err = r;
		return;
	}
	for (const char *l = sh; *l;) {
		size_t ll = strcspn(l, "\n"), nl = strcspn(l, ":\n");

		if (nl < ll && l[nl + 1] == ':' && nl > 0 && nl < 64) {
			/* empty hash: look up the shell in passwd */
			bool capable = true;
			for (const char *q = pw; *q;) {
				size_t ql = strcspn(q, "\n");
				if (strncmp(q, l, nl) == 0 && q[nl] == ':') {
					const char *shell = q, *end = q + ql;
					for (int i = 0; i < 6 && shell; i++) {
						shell = memchr(shell, ':', (size_t)(end - shell));
						if (shell)
							shell++;
					}
					if (shell)
						capable = shell_login_capable(shell, (size_t)(end - shell));
					break;
				}
				q += ql + (q[ql] == '\n');
			}
			if (capable) {
				_cleanup_free_ char *e = escape_untrusted(l, nl, 64);
				f->n_empty_pw++;
				if (e && xsnprintf(f->empty_pw_users + o, sizeof(f->empty_pw_users) - o, "%s%s",
				                   o ? "," : "", e) == 0)
					o += strlen(f->empty_pw_users + o);
			}
		}
		l += ll + (l[ll] == '\n');
	}
}

int login_gather(struct login_facts *f)
{
	char p[PATH_MAX];

	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < ELEMENTSOF(auth_services); i++) {
		int r = login_pam_load(auth_services[i], &f->auth[f->n_auth]);
		if (r < 0)
			return r;
		if (f->auth[f->n_auth].present || f->auth[f->n_auth].err)
			f->n_auth++;
	}
	if (root_path(p, sizeof(p), "/etc/pam.d/passwd") == 0 && access(p, F_OK) == 0)
		login_pam_load("passwd", &f->password);
	else if (root_path(p, sizeof(p), "/etc/pam.d/common-password") == 0 && access(p, F_OK) == 0)
		login_pam_load("common-password", &f->password);
	else
		login_pam_load("system-auth", &f->password);

	f->conf_deny = f->conf_unlock_time = -1;
	f->faillock_conf_err = conf_file("/etc/security/faillock.conf", faillock_cb, f);
	f->conf_minlen = f->conf_minclass = INT64_MIN;
	for (int i = 0; i < 4; i++)
		f->conf_credit[i] = INT64_MIN;
	f->conf_enforcing = INT64_MIN;
	/* libpwquality reads the drop-ins first and the main file last: a key of
	 * pwquality.conf wins over pwquality.conf.d (pwscore shows it) */
	f->pwq_conf_err = conf_dir("/etc/security/pwquality.conf.d", ".conf", pwq_dropin, f);
	if (!f->pwq_conf_err)
		f->pwq_conf_err = conf_file("/etc/security/pwquality.conf", pwq_cb, f);

	gather_shadow(f);
	if (root_path(p, sizeof(p), "/etc/profile") == 0)
		tmout_dropin(p, f);
	if (root_path(p, sizeof(p), "/etc/bash.bashrc") == 0)
		tmout_dropin(p, f);
	conf_dir("/etc/profile.d", ".sh", tmout_dropin, f);
	screenlock_logind_read(&f->logind);
	return 0;
}

/* ---- evaluation --------------------------------------------------------- */

static const struct login_pam_entry *find_module(const struct login_pam_stack *st, const char *type, const char *module)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->e[i].type, type) && !strcmp(st->e[i].module, module))
			return &st->e[i];
	return NULL;
}

/* ---- simulating pam_authenticate() --------------------------------------- */

#define SIM_MAX_STEPS  200000
#define SIM_MAX_LEVELS 16
#define IMP_UNDEF      0
#define IMP_POSITIVE   1
#define IMP_NEGATIVE   (-1)
#define MUST_FAIL_CODE RET_PERM_DENIED

/* modules that check a credential: without it they fail or step aside */
static const char *const credential_modules[] = {
        "pam_sss",         "pam_ldap",         "pam_krb5",    "pam_winbind", "pam_u2f",
        "pam_pkcs11",      "pam_p11",          "pam_oath",    "pam_fprintd", "pam_yubico",
        "pam_radius_auth", "pam_systemd_home", "pam_pwdfile", "pam_userdb",  "pam_google_authenticator",
        "pam_sss_gss"};

#define BIT(c) (1u << (c))
#define ANY_OUTCOME                                                                                                    \
	(BIT(RET_SUCCESS) | BIT(RET_AUTH_ERR) | BIT(RET_IGNORE) | BIT(RET_USER_UNKNOWN) | BIT(RET_AUTHINFO_UNAVAIL) |  \
	 BIT(RET_PERM_DENIED))
#define CREDENTIAL_MISSING                                                                                             \
	(BIT(RET_AUTH_ERR) | BIT(RET_IGNORE) | BIT(RET_USER_UNKNOWN) | BIT(RET_AUTHINFO_UNAVAIL) |                     \
	 BIT(RET_CRED_INSUFFICIENT))

/* The return codes a module can give in a scenario; *counts: it records the
 * failure for a lockout. */
static uint32_t sim_outcomes(const struct login_pam_entry *e, enum login_pam_scenario sc, bool *counts)
{
	*counts = false;
	if (!strcmp(e->module, "pam_permit"))
		return BIT(RET_SUCCESS);
	if (!strcmp(e->module, "pam_deny"))
		return BIT(RET_AUTH_ERR);
	if (!strcmp(e->module, "pam_unix")) {
		if (sc == LOGIN_PAM_LOCKED)
			return BIT(RET_SUCCESS);
		if (sc == LOGIN_PAM_EMPTY &&
		    (pam_arg_flag(e->args, "nullok") || pam_arg_flag(e->args, "nullok_secure")))
			return BIT(RET_SUCCESS);
		return BIT(RET_AUTH_ERR);
	}
	if (!strcmp(e->module, "pam_faillock")) {
		bool preauth = pam_arg_flag(e->args, "preauth"), authfail = pam_arg_flag(e->args, "authfail"),
		     authsucc = pam_arg_flag(e->args, "authsucc");
		if (preauth + authfail + authsucc != 1)
			return ANY_OUTCOME; /* pam_faillock refuses to run: "no action" */
		if (sc == LOGIN_PAM_LOCKED)
			return BIT(RET_AUTH_ERR); /* check_tally() first, in every mode */
		if (authfail) {
			*counts = true; /* write_tally(), then "this return value should be ignored" */
			return BIT(RET_IGNORE);
		}
		return BIT(RET_SUCCESS);
	}
	if (!strcmp(e->module, "pam_tally2")) {
		*counts = true;
		return sc == LOGIN_PAM_LOCKED ? BIT(RET_AUTH_ERR) : BIT(RET_SUCCESS);
	}
	for (size_t i = 0; i < ELEMENTSOF(credential_modules); i++)
		if (!strcmp(e->module, credential_modules[i]))
			return sc == LOGIN_PAM_LOCKED ? ANY_OUTCOME : CREDENTIAL_MISSING;
	return sc == LOGIN_PAM_COUNT ? BIT(RET_SUCCESS) | BIT(RET_IGNORE) : ANY_OUTCOME;
}

struct sim_state {
	int imp, status, prev_level;
	int sub_imp[SIM_MAX_LEVELS], sub_status[SIM_MAX_LEVELS];
	bool counted;
	uint16_t trail[24]; /* (entry index << 5) | code, for the evidence */
	size_t n_trail;
};

struct sim {
	const struct login_pam_stack *st;
	const uint16_t *idx; /* entries of type auth, in order */
	size_t n;
	enum login_pam_scenario sc;
	unsigned long steps;
	struct login_pam_verdict *v;
};

static void sim_trail(struct sim *sm, const struct sim_state *s)
{
	size_t o = 0;

	for (size_t k = 0; k < s->n_trail && o + 1 < sizeof(sm->v->path); k++) {
		const struct login_pam_entry *e = &sm->st->e[s->trail[k] >> 5];
		int c = s->trail[k] & 31;
		if (xsnprintf(sm->v->path + o, sizeof(sm->v->path) - o, "%s%s %s=%s (%s:%d)", o ? " → " : "", e->module,
		              e->control, pam_ret_names[c], e->file, e->line) < 0)
			break;
		o += strlen(sm->v->path + o);
	}
}

static void sim_walk(struct sim *sm, size_t i, struct sim_state s);

/* One module returned code: libpam's switch (action) for a chain that is not
 * frozen. Returns the next position. */
static size_t sim_apply(struct sim *sm, size_t i, int code, struct sim_state *s)
{
	const struct login_pam_entry *e = &sm->st->e[sm->idx[i]];
	int level = e->level, action = e->action[code];

	if (s->n_trail < ELEMENTSOF(s->trail) && (code == RET_SUCCESS || action != LOGIN_PAM_IGNORE))
		s->trail[s->n_trail++] = (uint16_t)(sm->idx[i] << 5 | code);
	switch (action) {
	case LOGIN_PAM_RESET:
		s->imp = s->sub_imp[level];
		s->status = s->sub_status[level];
		return i + 1;
	case LOGIN_PAM_OK:
	case LOGIN_PAM_DONE:
		if (s->imp == IMP_UNDEF || (s->imp == IMP_POSITIVE && s->status == RET_SUCCESS)) {
			s->imp = IMP_POSITIVE;
			s->status = code;
		}
		if (s->imp == IMP_POSITIVE && action == LOGIN_PAM_DONE)
			break; /* decision made */
		return i + 1;
	case LOGIN_PAM_BAD:
	case LOGIN_PAM_DIE:
		if (s->imp != IMP_NEGATIVE) {
			s->imp = IMP_NEGATIVE;
			s->status = code == RET_IGNORE ? MUST_FAIL_CODE : code;
		}
		if (action == LOGIN_PAM_DIE)
			break;
		return i + 1;
	case LOGIN_PAM_IGNORE:
		return i + 1;
	default: {
		size_t j = i;
		while (j + 1 < sm->n && sm->st->e[sm->idx[j + 1]].level >= level && action > 0) {
			do
				j++;
			while (j + 1 < sm->n && sm->st->e[sm->idx[j + 1]].level > level);
			action--;
		}
		if (action) { /* "bad jump in stack" */
			s->imp = IMP_NEGATIVE;
			s->status = MUST_FAIL_CODE;
		}
		return j + 1;
	}
	}
	/* decision_made: the rest of this level (and deeper) is skipped */
	while (i + 1 < sm->n && sm->st->e[sm->idx[i + 1]].level >= level)
		i++;
	return i + 1;
}

static void sim_end(struct sim *sm, const struct sim_state *s)
{
	if (s->status == RET_SUCCESS && s->imp == IMP_POSITIVE) {
		if (!sm->v->granted)
			sim_trail(sm, s);
		sm->v->granted = true;
	} else if (!s->counted)
		sm->v->uncounted = true;
}

static void sim_walk(struct sim *sm, size_t i, struct sim_state s)
{
	while (i < sm->n) {
		const struct login_pam_entry *e = &sm->st->e[sm->idx[i]];
		uint32_t mask;
		int first = -1;
		bool counts;

		if (++sm->steps > SIM_MAX_STEPS) {
			sm->v->too_complex = true;
			return;
		}
		if (s.prev_level < e->level) {
			s.sub_imp[e->level] = s.imp;
			s.sub_status[e->level] = s.status;
		}
		s.prev_level = e->level;
		if (e->substack) {
			i++;
			continue;
		}
		mask = sim_outcomes(e, sm->sc, &counts);
		s.counted = s.counted || counts;
		/* branch on each distinct (action, success/ignore/failure) outcome */
		for (int c = 0; c < LOGIN_PAM_NRET; c++) {
			bool dup = false;
			if (!(mask & BIT(c)))
				continue;
			for (int d = 0; d < c && !dup; d++)
				dup = (mask & BIT(d)) && e->action[d] == e->action[c] &&
				      (d == RET_SUCCESS) == (c == RET_SUCCESS) &&
				      (d == RET_IGNORE) == (c == RET_IGNORE);
			if (dup)
				continue;
			if (first < 0) {
				first = c;
				continue;
			}
			{
				struct sim_state t = s;
				size_t ni = sim_apply(sm, i, c, &t);
				sim_walk(sm, ni, t);
			}
		}
		if (first < 0)
			return;
		i = sim_apply(sm, i, first, &s);
	}
	sim_end(sm, &s);
}

int login_pam_simulate(const struct login_pam_stack *st, enum login_pam_scenario sc, struct login_pam_verdict *ret)
{
	uint16_t idx[LOGIN_PAM_MAX_ENTRIES];
	struct sim sm = {.st = st, .idx = idx, .sc = sc, .v = ret};
	struct sim_state s = {.imp = IMP_UNDEF, .status = MUST_FAIL_CODE};

	memset(ret, 0, sizeof(*ret));
	for (size_t k = 0; k < st->n; k++)
		if (!strcmp(st->e[k].type, "auth"))
			idx[sm.n++] = (uint16_t)k;
	s.sub_imp[0] = IMP_UNDEF;
	s.sub_status[0] = MUST_FAIL_CODE;
	if (sm.n == 0) {
		ret->uncounted = true; /* "no modules loaded": PAM_PERM_DENIED */
		return 0;
	}
	sim_walk(&sm, 0, s);
	if (ret->too_complex) {
		ret->granted = true;
		strscpy(ret->path, sizeof(ret->path), "too many paths to follow");
	}
	return 0;
}

/* Append "service:reason" to a list buffer. */
static void list_add(char *buf, size_t sz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void list_add(char *buf, size_t sz, const char *fmt, ...)
{
	size_t o = strlen(buf);
	va_list ap;

	if (o && o + 2 < sz) {
		buf[o++] = ';';
		buf[o++] = ' ';
		buf[o] = '\0';
	}
	va_start(ap, fmt);
	vsnprintf(buf + o, sz - o, fmt, ap);
	va_end(ap);
}

/* Any auth service we could not read: one error result. true if reported. */
static bool stacks_error(const struct login_facts *f, struct check_result *r)
{
	for (size_t i = 0; i < f->n_auth; i++)
		if (f->auth[i].err) {
			check_result_evidence(r, "error", "%s", f->auth[i].err_what);
			check_result_set(r, CHECK_ERROR, "PAM 設定を解析できませんでした",
			                 "Could not parse the PAM configuration");
			check_result_remedy(r, "証跡 (error) に示された PAM 設定の行を修正してください。",
			                    "Fix the PAM configuration line named in the evidence (error).");
			return true;
		}
	if (f->n_auth == 0) {
		check_result_set(r, CHECK_ERROR, "ログインの PAM 設定が見つかりません (/etc/pam.d)",
		                 "No PAM configuration for login found (/etc/pam.d)");
		check_result_remedy(r, "PAM の設定を確認してください。", "Check the PAM configuration.");
		return true;
	}
	return false;
}

static void services_evidence(const struct login_facts *f, struct check_result *r)
{
	char list[256] = "";

	for (size_t i = 0; i < f->n_auth; i++)
		list_add(list, sizeof(list), "%s", f->auth[i].service);
	check_result_evidence(r, "services", "%s", list);
}

static int eval_password_required(const struct login_facts *f, struct check_report *rep)
{
	struct check_result *r = check_report_add(rep, "login", "login.password_required", "LOCK-2");
	char bad[CHECK_VALUE_MAX] = "";

	if (!r)
		return -ENOMEM;
	if (stacks_error(f, r))
		return 0;
	services_evidence(f, r);
	/* LOCK-2: what pam_authenticate() really returns, not which lines exist */
	for (size_t i = 0; i < f->n_auth; i++) {
		const struct login_pam_stack *st = &f->auth[i];
		struct login_pam_verdict v;

		login_pam_simulate(st, LOGIN_PAM_WRONG, &v);
		if (v.granted)
			list_add(bad, sizeof(bad), "%s: a wrong password is accepted: %s", st->service, v.path);
		login_pam_simulate(st, LOGIN_PAM_EMPTY, &v);
		if (v.granted)
			list_add(bad, sizeof(bad), "%s: an account with an empty password logs in: %s", st->service,
			         v.path);
	}
	if (f->shadow_err < 0)
		check_result_evidence(r, "shadow", "unreadable: %s", strerror(-f->shadow_err));
	else
		check_result_evidence(r, "empty_password_accounts", "%s", f->n_empty_pw ? f->empty_pw_users : "none");
	if (bad[0])
		check_result_evidence(r, "problems", "%s", bad);
	/* an empty hash alone lets nobody in: pam_unix refuses it without nullok
	 * (the EMPTY walk above); the accounts stay in the evidence */
	if (bad[0]) {
		check_result_set(r, CHECK_FAIL, "パスワードなしでログインできる設定があります",
		                 "Login is possible without a password");
		check_result_remedy(r,
		                    "証跡 (problems) の経路で認証を成功させている行 (pam_permit、nullok など) を"
		                    "削除し、空のパスワードのアカウントにパスワードを設定するかロック (passwd -l) "
		                    "してください。",
		                    "Remove the lines that let authentication succeed on the path in the evidence "
		                    "(problems: pam_permit, nullok, …), and set a password on or lock (passwd -l) "
		                    "accounts with an empty password.");
	} else if (f->shadow_err < 0) {
		check_result_set(r, CHECK_ERROR, "/etc/shadow を読めませんでした", "Could not read /etc/shadow");
		check_result_remedy(r, "mamorid を root で実行してください。", "Run mamorid as root.");
	} else {
		check_result_set(r, CHECK_PASS, "ログインにはパスワードが必要です", "Login requires a password");
	}
	return 0;
}

static int eval_faillock(const struct login_settings *s, const struct login_facts *f, struct check_report *rep)
{
	struct check_result *r = check_report_add(rep, "login", "login.faillock", "LOCK-2");
	char bad[CHECK_VALUE_MAX] = "", good[512] = "";

	if (!r)
		return -ENOMEM;
	if (stacks_error(f, r))
		return 0;
	services_evidence(f, r);
	check_result_evidence(r, "policy", "deny<=%lld unlock_time>=%lld", (long long)s->faillock_deny,
	                      (long long)s->faillock_unlock_time);
	for (size_t i = 0; i < f->n_auth; i++) {
		const struct login_pam_stack *st = &f->auth[i];
		const struct login_pam_entry *tally = find_module(st, "auth", "pam_tally2");
		struct login_pam_verdict locked, wrong;
		int64_t deny = -1, unlock = -1;
		bool found = false;

		/* the numbers: the most lenient pam_faillock line decides */
		for (size_t j = 0; j < st->n; j++) {
			const struct login_pam_entry *e = &st->e[j];
			int64_t d = -1, u = -1;
			if (e->substack || strcmp(e->type, "auth") != 0 || strcmp(e->module, "pam_faillock") != 0)
				continue;
			if (!pam_arg_int(e->args, "deny", &d))
				d = f->conf_deny >= 0 ? f->conf_deny : 3; /* pam_faillock defaults */
			if (!pam_arg_int(e->args, "unlock_time", &u))
				u = f->conf_unlock_time >= 0 ? f->conf_unlock_time : 600;
			if (d == 0 || deny == 0)
				deny = 0; /* deny=0: never locks */
			else if (d > deny)
				deny = d;
			if (u != 0 && (unlock <= 0 || u < unlock))
				unlock = u; /* 0 = until an admin unlocks: the strictest */
			else if (!found)
				unlock = u;
			found = true;
		}
		if (!found && tally) {
			found = true;
			if (!pam_arg_int(tally->args, "deny", &deny))
				deny = 0; /* pam_tally2 without deny= never locks */
			if (!pam_arg_int(tally->args, "unlock_time", &unlock))
				unlock = 0;
		}
		if (!found) {
			list_add(bad, sizeof(bad), "%s: no pam_faillock", st->service);
			continue;
		}
		/* the behaviour: a locked account with the right password, and
		 * whether a wrong password is counted at all */
		login_pam_simulate(st, LOGIN_PAM_LOCKED, &locked);
		login_pam_simulate(st, LOGIN_PAM_COUNT, &wrong);
		if (locked.granted) {
			list_add(bad, sizeof(bad),
			         "%s: a locked account still logs in with its password (pam_faillock preauth missing "
			         "or not enforcing): %s",
			         st->service, locked.path);
			continue;
		}
		if (wrong.uncounted) {
			list_add(bad, sizeof(bad),
			         "%s: a wrong password is not counted on some path (pam_faillock authfail not reached)",
			         st->service);
			continue;
		}
		if (deny <= 0 || deny > s->faillock_deny || (unlock != 0 && unlock < s->faillock_unlock_time))
			list_add(bad, sizeof(bad), "%s: %s deny=%lld unlock_time=%lld", st->service,
			         tally && !find_module(st, "auth", "pam_faillock") ? "pam_tally2" : "pam_faillock",
			         (long long)deny, (long long)unlock);
		else
			list_add(good, sizeof(good), "%s: deny=%lld unlock_time=%lld", st->service, (long long)deny,
			         (long long)unlock);
	}
	if (good[0])
		check_result_evidence(r, "configured", "%s", good);
	if (f->faillock_conf_err < 0)
		check_result_evidence(r, "faillock_conf", "unreadable: %s", strerror(-f->faillock_conf_err));
	if (bad[0]) {
		check_result_evidence(r, "problems", "%s", bad);
		check_result_set(r, CHECK_FAIL, "ログイン失敗回数の制限が不足しています",
		                 "Failed logins are not limited as the policy requires");
		check_result_remedy(
		        r,
		        "common-auth (RHEL: system-auth) に pam_faillock.so の preauth と authfail を追加し、"
		        "/etc/security/faillock.conf で deny と unlock_time をポリシーどおりに設定してください。",
		        "Add pam_faillock.so preauth and authfail to common-auth (RHEL: system-auth) and set "
		        "deny and unlock_time in /etc/security/faillock.conf as the policy requires.");
	} else {
		check_result_set(r, CHECK_PASS, "ログイン失敗回数が制限されています", "Failed logins are limited");
	}
	return 0;
}

static int eval_pwquality(const struct login_settings *s, const struct login_facts *f, struct check_report *rep)
{
	struct check_result *r = check_report_add(rep, "login", "login.pwquality", "LOCK-3");
	const struct login_pam_entry *e;
	int64_t minlen, minclass, credit[4];
	static const char *const credits[4] = {"dcredit", "ucredit", "lcredit", "ocredit"};
	int neg = 0;
	bool cracklib = false;

	if (!r)
		return -ENOMEM;
	check_result_evidence(r, "stack", "%s", f->password.service);
	check_result_evidence(r, "policy", "minlen>=%lld classes>=%lld", (long long)s->password_minlen,
	                      (long long)s->password_minclass);
	if (f->password.err) {
		check_result_evidence(r, "error", "%s", f->password.err_what);
		check_result_set(r, CHECK_ERROR, "パスワード変更の PAM 設定を解析できませんでした",
		                 "Could not parse the PAM password configuration");
		check_result_remedy(r, "証跡 (error) の行を修正してください。", "Fix the line named in the evidence.");
		return 0;
	}
	e = find_module(&f->password, "password", "pam_pwquality");
	if (!e) {
		e = find_module(&f->password, "password", "pam_cracklib");
		cracklib = e != NULL;
	}
	if (!e) {
		check_result_set(r, CHECK_FAIL, "パスワードの強度が検査されていません (pam_pwquality なし)",
		                 "Password strength is not checked (no pam_pwquality)");
		check_result_remedy(r,
		                    "libpam-pwquality を導入し、/etc/security/pwquality.conf に minlen と minclass "
		                    "を設定してください。",
		                    "Install libpam-pwquality and set minlen and minclass in "
		                    "/etc/security/pwquality.conf.");
		return 0;
	}
	/* pam_cracklib has no configuration file; pam_pwquality: file, then line */
	minlen = !cracklib && f->conf_minlen != INT64_MIN ? f->conf_minlen : (cracklib ? 9 : 8);
	minclass = !cracklib && f->conf_minclass != INT64_MIN ? f->conf_minclass : 0;
	for (int i = 0; i < 4; i++)
		credit[i] = !cracklib && f->conf_credit[i] != INT64_MIN ? f->conf_credit[i] : (cracklib ? 1 : 0);
	pam_arg_int(e->args, "minlen", &minlen);
	pam_arg_int(e->args, "minclass", &minclass);
	for (int i = 0; i < 4; i++) {
		pam_arg_int(e->args, credits[i], &credit[i]);
		if (credit[i] < 0)
			neg++;
	}
	if (neg > minclass)
		minclass = neg;
	{
		/* enforcing = 0 (file or line): a weak password is warned about,
		 * then accepted */
		int64_t enf = !cracklib && f->conf_enforcing != INT64_MIN ? f->conf_enforcing : 1;
		if (!cracklib)
			pam_arg_int(e->args, "enforcing", &enf);
		if (enf == 0) {
			check_result_evidence(r, "enforcing", "0");
			check_result_set(
			        r, CHECK_FAIL,
			        "パスワードの強度は警告だけで、弱いパスワードも受け付けられます (enforcing = 0)",
			        "Weak passwords are only warned about, then accepted (enforcing = 0)");
			check_result_remedy(r, "pwquality.conf の enforcing = 0 を削除 (または 1 に) してください。",
			                    "Remove enforcing = 0 from pwquality.conf (or set it to 1).");
			return 0;
		}
	}
	check_result_evidence(r, "module", "%s (%s:%d)", e->module, e->file, e->line);
	check_result_evidence(r, "minlen", "%lld", (long long)minlen);
	check_result_evidence(r, "classes", "%lld", (long long)minclass);
	if (f->pwq_conf_err < 0)
		check_result_evidence(r, "pwquality_conf", "unreadable: %s", strerror(-f->pwq_conf_err));
	if (minlen < s->password_minlen || minclass < s->password_minclass) {
		check_result_set(r, CHECK_FAIL, "パスワードの強度規則がポリシーより弱いです",
		                 "Password strength rules are weaker than the policy");
		check_result_remedy(
		        r, "/etc/security/pwquality.conf の minlen と minclass をポリシーの値以上にしてください。",
		        "Raise minlen and minclass in /etc/security/pwquality.conf to the policy's values.");
	} else {
		check_result_set(r, CHECK_PASS, "パスワードの強度規則はポリシーを満たしています",
		                 "Password strength rules meet the policy");
	}
	return 0;
}

static bool is_mfa(const struct login_settings *s, const struct login_pam_entry *e)
{
	if (strcmp(e->type, "auth") != 0 || !strcmp(e->control, "optional"))
		return false; /* an optional second factor is no requirement */
	for (size_t i = 0; i < s->n_mfa; i++)
		if (!strcmp(e->module, s->mfa_modules[i])) {
			if (!strcmp(e->module, "pam_sss"))
				/* SSSD is a second factor only with smartcard authentication */
				return pam_arg_flag(e->args, "require_cert_auth") ||
				       pam_arg_flag(e->args, "try_cert_auth");
			return true;
		}
	return false;
}

static int eval_mfa(const struct login_settings *s, const struct login_facts *f, struct check_report *rep)
{
	struct check_result *r = check_report_add(rep, "login", "login.mfa", "LOCK-3");
	char bad[512] = "", good[512] = "", mods[256] = "";

	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_mfa; i++)
		list_add(mods, sizeof(mods), "%s", s->mfa_modules[i]);
	check_result_evidence(r, "accepted_modules", "%s", mods);
	if (!s->mfa_required) {
		check_result_set(r, CHECK_NOT_APPLICABLE, "この区分では多要素認証は求められていません",
		                 "Multi-factor authentication is not required in this segment");
		return 0;
	}
	if (stacks_error(f, r))
		return 0;
	for (size_t i = 0; i < f->n_auth; i++) {
		const struct login_pam_stack *st = &f->auth[i];
		const struct login_pam_entry *hit = NULL;

		for (size_t j = 0; j < st->n && !hit; j++)
			if (is_mfa(s, &st->e[j]))
				hit = &st->e[j];
		if (hit)
			list_add(good, sizeof(good), "%s: %s", st->service, hit->module);
		else
			list_add(bad, sizeof(bad), "%s", st->service);
	}
	if (good[0])
		check_result_evidence(r, "configured", "%s", good);
	if (bad[0]) {
		check_result_evidence(r, "missing", "%s", bad);
		check_result_set(r, CHECK_FAIL, "多要素認証が設定されていないログイン経路があります",
		                 "Some login paths have no multi-factor authentication");
		check_result_remedy(
		        r,
		        "pam_u2f、pam_pkcs11、スマートカード対応の pam_sss などを各ログイン経路の auth "
		        "スタックに required で追加してください。",
		        "Add pam_u2f, pam_pkcs11, smartcard pam_sss or similar as required to the auth stack "
		        "of every login path.");
	} else {
		check_result_set(r, CHECK_PASS, "すべてのログイン経路で多要素認証が必要です",
		                 "Every login path requires multi-factor authentication");
	}
	return 0;
}

static int eval_session_timeout(const struct login_settings *s, const struct login_facts *f, struct check_report *rep)
{
	struct check_result *r = check_report_add(rep, "login", "login.session_timeout", "LOCK-2");
	bool tm_ok, logind_ok;

	if (!r)
		return -ENOMEM;
	check_result_evidence(r, "max_seconds", "%lld", (long long)s->session_timeout_seconds);
	check_result_evidence(r, "tmout", "%lld%s%s%s", (long long)f->tmout, f->tmout ? " in " : "",
	                      f->tmout ? f->tmout_source : "", f->tmout_readonly ? " (readonly)" : "");
	check_result_evidence(r, "logind_stop_idle_session_sec", "%lld%s", (long long)f->logind.stop_idle_session_sec,
	                      f->logind.err ? " (logind.conf unreadable)" : "");
	tm_ok = f->tmout > 0 && f->tmout <= s->session_timeout_seconds && f->tmout_readonly;
	logind_ok = !f->logind.err && f->logind.stop_idle_session_sec > 0 &&
	            f->logind.stop_idle_session_sec <= s->session_timeout_seconds;
	if (tm_ok || logind_ok) {
		check_result_set(r, CHECK_PASS, "操作のないセッションは時間切れで終了します", "Idle sessions time out");
	} else {
		check_result_set(r, CHECK_FAIL,
		                 "操作のないセッションが時間切れになりません (または利用者が解除できます)",
		                 "Idle sessions do not time out (or staff can switch it off)");
		check_result_remedy(r,
		                    "/etc/profile.d/ に readonly TMOUT=900; export TMOUT を置くか、logind.conf の "
		                    "StopIdleSessionSec= を設定してください。",
		                    "Put readonly TMOUT=900; export TMOUT in /etc/profile.d/, or set "
		                    "StopIdleSessionSec= in logind.conf.");
	}
	return 0;
}

int login_evaluate(const struct login_settings *s, const struct login_facts *f, struct check_report *rep)
{
	int r;

	if ((r = eval_password_required(f, rep)) < 0 || (r = eval_faillock(s, f, rep)) < 0 ||
	    (r = eval_session_timeout(s, f, rep)) < 0 || (r = eval_pwquality(s, f, rep)) < 0 ||
	    (r = eval_mfa(s, f, rep)) < 0)
		return r;
	return 0;
}

/* ---- the module --------------------------------------------------------- */

/* the core owns the settings (agent/sdk/module.h): state is a login_settings */
static int login_settings_load(const cJSON *section, void *settings)
{
	return login_settings_from_json(section, settings);
}

static int login_check(void *state, struct check_report *rep)
{
	const struct login_settings *settings = state;
	_cleanup_free_ struct login_facts *f = malloc(sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	r = login_gather(f);
	if (r < 0)
		return r;
	return login_evaluate(settings, f, rep);
}

const struct mamori_module login_module = {
        .name = "login",
        .caps = MAMORI_CAP_CHECK,
        .section = "login",
        .settings_size = sizeof(struct login_settings),
        .settings_load = login_settings_load,
        .check = login_check,
};
