/* agent/ctl/ctl_policy.c — `mamorictl policy …` and `mamorictl exception …`
 * (mamorictl; the signing and code-making subcommands run on the
 * administrator's machine, the others on the terminal).
 *
 *   policy check FILE              validate, print every error (exit 1 if any)
 *   policy schema                  print the JSON Schema (policy/schema.json)
 *   policy keygen --out PREFIX     PREFIX.key (0600) + PREFIX.pub
 *   policy sign --key K FILE [--out SIG]
 *   policy verify --pub P FILE [--sig SIG] [--min-version N]
 *   policy import-usbguard FILE    usb.rules JSON on stdout, unconverted lines on stderr
 *   exception init-secret [--force]
 *   exception make-code --secret FILE --scope S --hours N [--start TIME]
 *   exception enter CODE --scope S [--person NAME]
 *   exception list [--json]
 *
 * FILE arguments are the administrator's files, used as given; the
 * terminal's own files (secret, exceptions.json, cached policy) are system
 * paths under state_dir, resolved under the root prefix. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "exception_code.h"
#include "exception_store.h"
#include "fileio.h"
#include "policy.h"
#include "policy_schema.h"
#include "policy_sign.h"
#include "rootpath.h"
#include "strutil.h"
#include "usbguard.h"
#include "json-util.h"

#define OPTS_MAX 8

/* "--name VALUE" / "--name=VALUE" / "--flag" options and positional args. */
struct args {
	const char *opt_name[OPTS_MAX];
	const char *opt_val[OPTS_MAX];
	size_t n_opts;
	const char *pos[4];
	size_t n_pos;
};

static int parse_args(struct ctl_env *env, int argc, char **argv, const char *const *valued, const char *const *flags,
                      struct args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i], *eq;
		char name[32];
		bool known = false, takes_value = false;

		if (!startswith(s, "--") || strcmp(s, "--") == 0) {
			if (a->n_pos >= ELEMENTSOF(a->pos))
				goto usage;
			a->pos[a->n_pos++] = s;
			continue;
		}
		eq = strchr(s, '=');
		if (xsnprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - s - 2) : (int)strlen(s + 2), s + 2) < 0)
			goto usage;
		for (const char *const *v = valued; v && *v; v++)
			if (strcmp(*v, name) == 0)
				known = takes_value = true;
		for (const char *const *f = flags; f && *f; f++)
			if (strcmp(*f, name) == 0)
				known = true;
		if (!known || a->n_opts >= OPTS_MAX)
			goto usage;
		a->opt_name[a->n_opts] = s + 2;
		if (takes_value) {
			if (eq)
				a->opt_val[a->n_opts] = eq + 1;
			else if (i + 1 < argc)
				a->opt_val[a->n_opts] = argv[++i];
			else
				goto usage;
		} else if (eq)
			goto usage;
		else
			a->opt_val[a->n_opts] = "";
		a->opt_name[a->n_opts] = s + 2;
		a->n_opts++;
		if (strcmp(name, "lang") == 0) {
			const char *v = a->opt_val[a->n_opts - 1];
			if (strcmp(v, "ja") != 0 && strcmp(v, "en") != 0)
				goto usage;
			env->lang = v;
		}
	}
	return 0;
usage:
	fprintf(stderr, "%s: %s\n", L(env, "引数が正しくありません", "invalid arguments"), argc > 0 ? argv[0] : "");
	return -EINVAL;
}

static const char *opt(const struct args *a, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < a->n_opts; i++)
		if (strncmp(a->opt_name[i], name, n) == 0 && (a->opt_name[i][n] == '\0' || a->opt_name[i][n] == '='))
			return a->opt_val[i];
	return NULL;
}

/* ---- policy ---------------------------------------------------------------------- */

static int cmd_check(struct ctl_env *env, const struct args *a)
{
	_cleanup_policy_free_ struct mamori_policy *p = NULL;
	struct policy_errors errs;
	int r;

	if (a->n_pos != 1)
		return 2;
	policy_errors_init(&errs);
	r = policy_load_unsigned(a->pos[0], &p, &errs);
	if (r == 0) {
		printf(L(env, "%s: 有効なポリシーです（version %" PRId64 "、segment %s）\n",
		         "%s: valid policy (version %" PRId64 ", segment %s)\n"),
		       a->pos[0], policy_version(p), policy_segment(p));
		return 0;
	}
	if (errs.n > 0) {
		fprintf(stderr, L(env, "%s: %zu 件のエラー\n", "%s: %zu errors\n"), a->pos[0], errs.n + errs.dropped);
		policy_errors_print(&errs, stderr, env->lang);
	} else
		fprintf(stderr, L(env, "%s: 読み込めません: %s\n", "%s: cannot read: %s\n"), a->pos[0], strerror(-r));
	return 1;
}

static int cmd_schema(struct ctl_env *env)
{
	_cleanup_(cJSON_Deletep) cJSON *s = NULL;
	_cleanup_free_ char *text = NULL;

	if (policy_schema_to_json(&s) < 0 || !(text = cJSON_Print(s))) {
		fprintf(stderr, "%s\n", L(env, "メモリ不足", "out of memory"));
		return 1;
	}
	printf("%s\n", text);
	return 0;
}

static int cmd_keygen(struct ctl_env *env, const struct args *a)
{
	const char *prefix = opt(a, "out");
	int r;

	if (!prefix || a->n_pos != 0)
		return 2;
	r = policy_keygen(prefix);
	if (r == -EEXIST) {
		fprintf(stderr,
		        L(env, "%s.key または %s.pub が既にあります。上書きしません\n",
		          "%s.key or %s.pub exists already; not overwriting\n"),
		        prefix, prefix);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, L(env, "鍵を生成できません: %s\n", "cannot generate the key: %s\n"), strerror(-r));
		return 1;
	}
	printf(L(env, "秘密鍵 %s.key（厳重に保管）と公開鍵 %s.pub を作成しました\n",
	         "wrote private key %s.key (keep it safe) and public key %s.pub\n"),
	       prefix, prefix);
	return 0;
}

static int cmd_sign(struct ctl_env *env, const struct args *a)
{
	_cleanup_policy_free_ struct mamori_policy *p = NULL;
	struct policy_errors errs;
	const char *key = opt(a, "key");
	int r;

	if (!key || a->n_pos != 1)
		return 2;
	/* never sign a document the agents would refuse */
	policy_errors_init(&errs);
	r = policy_load_unsigned(a->pos[0], &p, &errs);
	if (r < 0) {
		fprintf(stderr, L(env, "%s: 無効なポリシーには署名しません\n", "%s: not signing an invalid policy\n"),
		        a->pos[0]);
		policy_errors_print(&errs, stderr, env->lang);
		return 1;
	}
	r = policy_sign_file(key, a->pos[0], opt(a, "out"));
	if (r < 0) {
		fprintf(stderr, L(env, "署名できません: %s\n", "cannot sign: %s\n"),
		        r == -ENOKEY  ? L(env, "Ed25519 秘密鍵ではありません", "not an Ed25519 private key")
		        : r == -ELOOP ? L(env, "出力先がシンボリックリンクです（たどりません）",
		                          "the output is a symbolic link (not followed)")
		                      : strerror(-r));
		return 1;
	}
	printf(L(env, "%s に署名しました（version %" PRId64 "）\n", "signed %s (version %" PRId64 ")\n"), a->pos[0],
	       policy_version(p));
	return 0;
}

static int cmd_verify(struct ctl_env *env, const struct args *a)
{
	_cleanup_policy_free_ struct mamori_policy *p = NULL;
	struct policy_errors errs;
	const char *pub = opt(a, "pub"), *minv = opt(a, "min-version");
	int64_t min = 0;
	char err[1024];
	int r;

	if (!pub || a->n_pos != 1 || (minv && parse_int64(minv, 0, POLICY_INT_MAX, &min) < 0))
		return 2;
	policy_errors_init(&errs);
	r = policy_load_verified_errs(a->pos[0], opt(a, "sig"), pub, min, &p, err, sizeof(err), &errs);
	switch (r) {
	case 0:
		printf(L(env, "%s: 署名は正しく、ポリシーは有効です（version %" PRId64 "）\n",
		         "%s: signature good, policy valid (version %" PRId64 ")\n"),
		       a->pos[0], policy_version(p));
		return 0;
	case POLICY_E_SIGNATURE:
		fprintf(stderr,
		        L(env, "%s: 署名がない、または正しくありません（改ざんの可能性）\n",
		          "%s: signature missing or not valid (possible tampering)\n"),
		        a->pos[0]);
		break;
	case POLICY_E_ROLLBACK:
		fprintf(stderr,
		        L(env, "%s: version %" PRId64 " より古いポリシーです\n",
		          "%s: older than version %" PRId64 "\n"),
		        a->pos[0], min);
		break;
	case POLICY_E_INVALID:
		fprintf(stderr,
		        L(env, "%s: 署名は正しいがポリシーが無効です\n", "%s: signature good but policy invalid\n"),
		        a->pos[0]);
		policy_errors_print(&errs, stderr, env->lang);
		break;
	case POLICY_E_KEY:
		fprintf(stderr, L(env, "%s: Ed25519 公開鍵を読めません\n", "%s: cannot read an Ed25519 public key\n"),
		        pub);
		break;
	default:
		fprintf(stderr, "%s\n", err);
	}
	return 1;
}

static int cmd_import_usbguard(struct ctl_env *env, const struct args *a)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ struct usbguard_issues *issues = NULL;
	_cleanup_(cJSON_Deletep) cJSON *rules = NULL;
	size_t len;
	bool partial, failed;
	int r;

	if (a->n_pos != 1)
		return 2;
	r = read_file_capped(a->pos[0], USBGUARD_FILE_MAX, &buf, &len);
	if (r < 0) {
		fprintf(stderr, L(env, "%s: 読み込めません: %s\n", "%s: cannot read: %s\n"), a->pos[0], strerror(-r));
		return 1;
	}
	partial = opt(a, "partial") != NULL;
	issues = calloc(1, sizeof(*issues));
	if (!issues || usbguard_import(buf, len, partial, &rules, issues) < 0 || !(text = cJSON_Print(rules))) {
		fprintf(stderr, "%s\n", L(env, "変換できません", "conversion failed"));
		return 1;
	}
	failed = issues->lines_refused > 0 || issues->n + issues->dropped > 0;
	/* the whole import fails on any line that cannot be represented, unless
	 * --partial: then refused allow rules are left out and block rules only
	 * ever match more (never wider than USBGuard) */
	if (!failed || partial)
		printf("%s\n", text);
	usbguard_issues_print(issues, a->pos[0], stderr, env->lang);
	fprintf(stderr,
	        L(env, "%u 行中 %u 行を変換、%u 行は変換できません（うち block ルール %u 件を広げて残しました）%s\n",
	          "%u of %u lines converted, %u refused (%u block rules kept broadened)%s\n"),
	        issues->lines_converted, issues->lines_total, issues->lines_refused, issues->rules_broadened,
	        failed && !partial ? L(env, "。何も出力していません（--partial で一部を出力）",
	                               ": nothing written (--partial writes the rest)")
	                           : "");
	return failed && !partial ? 1 : 0;
}

static void policy_usage(struct ctl_env *env)
{
	fprintf(stderr, "%s",
	        L(env,
	          "使い方: mamorictl policy check FILE | schema | keygen --out PREFIX | sign --key K FILE [--out SIG] "
	          "|\n"
	          "        verify --pub P FILE [--sig SIG] [--min-version N] | import-usbguard rules.conf [--partial] "
	          "[--lang ja|en]\n",
	          "usage: mamorictl policy check FILE | schema | keygen --out PREFIX | sign --key K FILE [--out SIG] "
	          "|\n"
	          "       verify --pub P FILE [--sig SIG] [--min-version N] | import-usbguard rules.conf [--partial] "
	          "[--lang ja|en]\n"));
}

int ctl_policy(struct ctl_env *env, int argc, char **argv)
{
	static const char *const valued[] = {"lang", "out", "key", "pub", "sig", "min-version", NULL};
	struct args a;
	const char *cmd;
	int r;

	if (argc < 2) {
		policy_usage(env);
		return 2;
	}
	cmd = argv[1];
	static const char *const flags[] = {"partial", NULL};

	if (parse_args(env, argc - 2, argv + 2, valued, flags, &a) < 0) {
		policy_usage(env);
		return 2;
	}
	if (strcmp(cmd, "check") == 0)
		r = cmd_check(env, &a);
	else if (strcmp(cmd, "schema") == 0)
		r = a.n_pos == 0 ? cmd_schema(env) : 2;
	else if (strcmp(cmd, "keygen") == 0)
		r = cmd_keygen(env, &a);
	else if (strcmp(cmd, "sign") == 0)
		r = cmd_sign(env, &a);
	else if (strcmp(cmd, "verify") == 0)
		r = cmd_verify(env, &a);
	else if (strcmp(cmd, "import-usbguard") == 0)
		r = cmd_import_usbguard(env, &a);
	else
		r = 2;
	if (r == 2)
		policy_usage(env);
	return r;
}

/* ---- exception ------------------------------------------------------------------ */

static int state_path(struct ctl_env *env, const char *name, char *buf, size_t bufsz)
{
	if (env->root && root_set(env->root) < 0)
		return -ENAMETOOLONG;
	return root_pathf(buf, bufsz, "%s/%s", env->config.state_dir, name);
}

static int parse_time_arg(const char *s, time_t *ret)
{
	int64_t v;

	if (policy_time_parse(s, ret) == 0)
		return 0;
	if (parse_int64(s, 0, INT64_C(253402300799), &v) < 0)
		return -EINVAL;
	*ret = (time_t)v;
	return 0;
}

static void print_window(time_t nb, time_t na)
{
	char a[32], b[32];

	if (policy_time_format(nb, a, sizeof(a)) == 0 && policy_time_format(na, b, sizeof(b)) == 0)
		printf("  %s — %s (UTC)\n", a, b);
}

static int cmd_init_secret(struct ctl_env *env, const struct args *a)
{
	char path[4096], dir[4096];
	int r;

	if (a->n_pos != 0 || state_path(env, "terminal.secret", path, sizeof(path)) < 0 ||
	    state_path(env, "", dir, sizeof(dir)) < 0)
		return 2;
	r = mkdir_p(dir, 0700);
	if (r >= 0)
		r = exception_secret_init(path, opt(a, "force") != NULL);
	if (r == -EEXIST) {
		fprintf(stderr,
		        L(env, "%s は既にあります（作り直すと発行済みのコードは使えなくなります: --force）\n",
		          "%s exists (re-creating invalidates issued codes: --force)\n"),
		        path);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, L(env, "%s を作成できません: %s\n", "cannot create %s: %s\n"), path, strerror(-r));
		return 1;
	}
	printf(L(env, "端末シークレット %s を作成しました（0600）。管理側に安全に登録してください\n",
	         "created terminal secret %s (0600); register it on the administrator's side over a safe channel\n"),
	       path);
	return 0;
}

static int load_secret(struct ctl_env *env, const char *path, uint8_t secret[EXCEPTION_SECRET_LEN])
{
	int r = exception_secret_load(path, secret);

	if (r == -EACCES)
		fprintf(stderr,
		        L(env, "%s が他のユーザから読めます。chmod 600 してください\n",
		          "%s is readable by others; chmod 600 it\n"),
		        path);
	else if (r < 0)
		fprintf(stderr, L(env, "シークレット %s を読めません: %s\n", "cannot read secret %s: %s\n"), path,
		        strerror(-r));
	return r;
}

static int cmd_make_code(struct ctl_env *env, const struct args *a)
{
	const char *secret_path = opt(a, "secret"), *scope = opt(a, "scope"), *hours_s = opt(a, "hours");
	const char *start_s = opt(a, "start");
	uint8_t secret[EXCEPTION_SECRET_LEN];
	char code[EXCEPTION_CODE_LEN + 1];
	time_t start = time(NULL);
	int64_t hours;
	struct exception_scope sc;

	if (!secret_path || !scope || !hours_s || a->n_pos != 0 ||
	    parse_int64(hours_s, 1, EXCEPTION_CODE_MAX_HOURS, &hours) < 0 ||
	    (start_s && parse_time_arg(start_s, &start) < 0))
		return 2;
	if (exception_scope_parse(scope, &sc) < 0) {
		fprintf(stderr, L(env, "スコープが正しくありません: %s\n", "invalid scope: %s\n"), scope);
		return 2;
	}
	if (load_secret(env, secret_path, secret) < 0)
		return 1;
	if (exception_code_make(secret, scope, start, (unsigned)hours, code) < 0)
		return 1;
	printf(L(env, "緊急例外コード: %s\n  スコープ: %s\n", "emergency exception code: %s\n  scope: %s\n"), code,
	       scope);
	print_window(start / 3600 * 3600, (start / 3600 + hours) * 3600);
	return 0;
}

/* The policy's emergency section, if a verified policy is available. */
static void emergency_settings(struct ctl_env *env, bool *ret_allowed, unsigned *ret_max_hours)
{
	_cleanup_policy_free_ struct mamori_policy *p = NULL;
	char pol[4096], key[4096], err[512];
	const cJSON *em, *v;

	*ret_allowed = true;
	*ret_max_hours = 0;
	if (root_path(pol, sizeof(pol), env->config.policy_file) < 0 ||
	    root_path(key, sizeof(key), env->config.policy_key) < 0 ||
	    policy_load_verified(pol, NULL, key, 0, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, L(env, "注意: 署名済みポリシーを読めないため、コード形式の上限（32時間）で検証します\n",
		                  "note: no verified policy; verifying with the code format's limit (32 hours)\n"));
		return;
	}
	em = policy_section(p, "emergency");
	if (!em)
		return;
	*ret_allowed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(em, "allowed"));
	v = cJSON_GetObjectItemCaseSensitive(em, "max_hours");
	if (cJSON_IsNumber(v))
		*ret_max_hours = (unsigned)v->valuedouble;
}

static int cmd_enter(struct ctl_env *env, const struct args *a)
{
	const char *scope = opt(a, "scope"), *person = opt(a, "person");
	char secret_path[4096], store[4096];
	uint8_t secret[EXCEPTION_SECRET_LEN];
	struct exception_entry e;
	time_t now = time(NULL), nb, na;
	unsigned max_hours;
	bool allowed;
	int r;

	if (!scope || a->n_pos != 1 || state_path(env, "terminal.secret", secret_path, sizeof(secret_path)) < 0 ||
	    state_path(env, "exceptions.json", store, sizeof(store)) < 0)
		return 2;
	if (!person)
		person = getenv("SUDO_USER") ? getenv("SUDO_USER") : getenv("USER");
	emergency_settings(env, &allowed, &max_hours);
	if (!allowed) {
		fprintf(stderr, "%s\n",
		        L(env, "この端末のポリシーは緊急例外を認めていません",
		          "this terminal's policy allows no emergency exceptions"));
		return 1;
	}
	if (load_secret(env, secret_path, secret) < 0)
		return 1;
	r = exception_code_verify(secret, scope, a->pos[0], now, max_hours, &nb, &na);
	switch (r) {
	case 0:
		break;
	case EXCEPTION_E_TYPO:
		fprintf(stderr, "%s\n",
		        L(env, "コードの読み間違いがあります。もう一度読み上げてもらってください",
		          "the code has a typo; ask for it to be read out again"));
		return 1;
	case EXCEPTION_E_INVALID:
		fprintf(stderr, "%s\n",
		        L(env,
		          "コードが正しくありません（別の端末・別のスコープ用、または期限から時間が経ちすぎています）",
		          "the code is not valid (for another terminal or scope, or far outside its window)"));
		return 1;
	case EXCEPTION_E_EXPIRED:
		fprintf(stderr, "%s\n", L(env, "コードの有効期間は終了しています", "the code's window has ended"));
		return 1;
	case EXCEPTION_E_NOTYET:
		fprintf(stderr, "%s\n",
		        L(env, "コードの有効期間はまだ始まっていません", "the code's window has not started yet"));
		return 1;
	case EXCEPTION_E_TOOLONG:
		fprintf(stderr,
		        L(env, "コードの期間がポリシーの上限（%u 時間）を超えています\n",
		          "the code's window is longer than the policy allows (%u hours)\n"),
		        max_hours);
		return 1;
	default:
		fprintf(stderr, "%s: %s\n", L(env, "検証できません", "cannot verify"), strerror(-r));
		return 1;
	}
	r = exception_entry_init(&e, a->pos[0], scope, nb, na, now, person);
	if (r >= 0)
		r = exception_store_add(store, &e, now);
	if (r == -EALREADY) {
		fprintf(stderr, "%s\n", L(env, "このコードは既に使用されています", "this code has been used already"));
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, L(env, "%s に記録できません: %s\n", "cannot record in %s: %s\n"), store, strerror(-r));
		return 1;
	}
	printf(L(env, "緊急例外 %s を適用しました（%s）。事後に報告されます（OPS-3）\n",
	         "emergency exception %s applied (%s); it will be reported (OPS-3)\n"),
	       e.id, scope);
	print_window(nb, na);
	return 0;
}

static int cmd_list(struct ctl_env *env, const struct args *a)
{
	_cleanup_free_ struct exception_store *s = NULL;
	char store[4096];
	time_t now = time(NULL);
	int r;

	if (a->n_pos != 0 || state_path(env, "exceptions.json", store, sizeof(store)) < 0)
		return 2;
	r = exception_store_load(store, &s);
	if (r < 0) {
		fprintf(stderr, L(env, "%s を読めません: %s\n", "cannot read %s: %s\n"), store, strerror(-r));
		return 1;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct exception_entry *e = &s->e[i];
		bool active = now >= e->not_before && now < e->not_after;
		char nb[32] = "", na[32] = "";

		(void)policy_time_format(e->not_before, nb, sizeof(nb));
		(void)policy_time_format(e->not_after, na, sizeof(na));
		printf("%s  %s  %s — %s  %s  %s\n", e->id, e->scope, nb, na,
		       active ? L(env, "有効", "active") : L(env, "期間外", "inactive"),
		       e->reported ? L(env, "報告済み", "reported") : L(env, "未報告", "not reported"));
	}
	if (s->n == 0)
		printf("%s\n", L(env, "緊急例外はありません", "no emergency exceptions"));
	return 0;
}

static void exception_usage(struct ctl_env *env)
{
	fprintf(stderr, "%s",
	        L(env,
	          "使い方: mamorictl exception init-secret [--force] | list |\n"
	          "        make-code --secret FILE --scope check:ID[,device:VVVV:PPPP[:SERIAL]][,person:NAME] --hours "
	          "N "
	          "[--start TIME] |\n"
	          "        enter CODE --scope SCOPE [--person NAME]  [--lang ja|en]\n",
	          "usage: mamorictl exception init-secret [--force] | list |\n"
	          "       make-code --secret FILE --scope check:ID[,device:VVVV:PPPP[:SERIAL]][,person:NAME] --hours N "
	          "[--start TIME] |\n"
	          "       enter CODE --scope SCOPE [--person NAME]  [--lang ja|en]\n"));
}

int ctl_exception(struct ctl_env *env, int argc, char **argv)
{
	static const char *const valued[] = {"lang", "secret", "scope", "hours", "start", "person", NULL};
	static const char *const flags[] = {"force", NULL};
	struct args a;
	const char *cmd;
	int r;

	if (argc < 2) {
		exception_usage(env);
		return 2;
	}
	cmd = argv[1];
	if (parse_args(env, argc - 2, argv + 2, valued, flags, &a) < 0) {
		exception_usage(env);
		return 2;
	}
	if (strcmp(cmd, "init-secret") == 0)
		r = cmd_init_secret(env, &a);
	else if (strcmp(cmd, "make-code") == 0)
		r = cmd_make_code(env, &a);
	else if (strcmp(cmd, "enter") == 0)
		r = cmd_enter(env, &a);
	else if (strcmp(cmd, "list") == 0)
		r = cmd_list(env, &a);
	else
		r = 2;
	if (r == 2)
		exception_usage(env);
	return r;
}
