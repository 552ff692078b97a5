/* agent/ctl/ctl_check.c — `mamorictl check|status|report|reload` (mamorictl).
 *
 * `check` runs every enabled module's posture check in this process (no
 * daemon needed: the installer and the demo use it); the others ask the
 * running agent over its control socket (run_dir/mamorid.sock, served by
 * mamori-worker; `status` also shows mamorid's pid the worker was told). */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "control.h"
#include "ctl.h"
#include "daemon.h"
#include "daemon_policy.h"
#include "json-util.h"
#include "log.h"
#include "module.h"
#include "rootpath.h"
#include "strutil.h"

static int ctl_emit(struct mamori_ctx *ctx, const struct mamori_event *ev, uint64_t *ret_seq)
{
	(void)ctx, (void)ev;
	/* a one-off check records nothing: only the daemon writes the journal */
	if (ret_seq)
		*ret_seq = 0;
	return 0;
}

static int print_report(struct ctl_env *env, const struct check_report *rep)
{
	int worst = 0;

	if (env->json) {
		_cleanup_json_ cJSON *j = check_report_to_json(rep);
		_cleanup_free_ char *s = j ? cJSON_Print(j) : NULL;
		if (!s)
			return -ENOMEM;
		puts(s);
	} else {
		_cleanup_free_ char *s = check_report_to_text(rep, env->lang);
		if (!s)
			return -ENOMEM;
		fputs(s, stdout);
	}
	for (size_t i = 0; i < rep->n; i++)
		if (rep->results[i]->status == CHECK_FAIL || rep->results[i]->status == CHECK_ERROR)
			worst = 1;
	return worst;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

int ctl_check(struct ctl_env *env, int argc, char **argv)
{
	char state_tmp[] = "/tmp/mamorictl-check.XXXXXX";
	struct mamori_ctx ctx = {
	        .config = &env->config,
	        .lang = env->lang,
	        .audit_only = true,
	        .emit = ctl_emit,
	};
	struct check_report rep = {0};
	struct policy_state pol = {.readonly = true};
	struct daemon_options dopts = {.root = env->root};
	struct mamori_policy *old = NULL;
	const char *only = NULL;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--module") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc)
			dopts.policy_path = argv[++i];
		else {
			fprintf(stderr, "%s\n",
			        L(env, "使い方: mamorictl check [--module 名前] [--policy ファイル]",
			          "usage: mamorictl check [--module NAME] [--policy FILE]"));
			return 2;
		}
	}
	/* the same policy the daemon runs (verified), or an explicit file: a
	 * check never changes anything, so an unsigned file is fine here */
	dopts.unsigned_policy = dopts.policy_path != NULL;
	if (daemon_policy_load(&pol, &dopts, &ctx, &old, NULL) < 0)
		return 1;
	/* --root: the modules' state (baselines, first-seen dates) goes to a
	 * private directory, removed afterwards; a check writes nothing into the
	 * root it evaluates (issue 21) */
	if (env->root && env->root[0] && (!mkdtemp(state_tmp) || root_map(env->config.state_dir, state_tmp) < 0)) {
		fprintf(stderr, "mamorictl check: %s: %m\n", state_tmp);
		daemon_policy_free(&pol);
		return 1;
	}
	ctx.policy = pol.current;
	if (only && !module_find(only)) {
		fprintf(stderr, L(env, "mamorictl: モジュール '%s' はありません\n", "mamorictl: no module '%s'\n"),
		        only);
		return 2;
	}
	for (size_t i = 0; mamori_modules[i]; i++) {
		const struct mamori_module *m = mamori_modules[i];
		void *state = NULL;

		if (!(m->caps & MAMORI_CAP_CHECK) || !m->check)
			continue;
		if (only ? strcmp(only, m->name) != 0 : !config_module_enabled(&env->config, m->name))
			continue;
		r = mamori_module_start(m, &ctx, &state);
		if (r >= 0) {
			r = m->check(state, &rep);
			mamori_module_stop(m, state);
		}
		if (r < 0)
			check_report_error(&rep, m->name, "OPS-1", r, m->name);
	}
	daemon_policy_apply_exceptions(&pol, &ctx, &rep);
	r = print_report(env, &rep);
	check_report_clear(&rep);
	daemon_policy_free(&pol);
	if (env->root && env->root[0]) {
		root_map(NULL, NULL);
		nftw(state_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	}
	return r < 0 ? 1 : r;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* `mamorictl status` for people: what runs, which policy, the journal head. */
static void print_status(struct ctl_env *env, const cJSON *j)
{
	const cJSON *pol = cJSON_GetObjectItemCaseSensitive(j, "policy");
	const cJSON *jr = cJSON_GetObjectItemCaseSensitive(j, "journal");
	const cJSON *mods = cJSON_GetObjectItemCaseSensitive(j, "modules"), *m;
	const cJSON *lock = cJSON_GetObjectItemCaseSensitive(j, "lock");
	int64_t last = (int64_t)num(j, "last_check");
	char when[64] = "-";

	if (last > 0)
		ctl_format_time(last, when, sizeof(when)); /* Japan time, with its zone */
	printf(L(env, "mamori %s  mamorid (USB ゲート) pid %.0f, mamori-worker pid %.0f%s\n",
	         "mamori %s  mamorid (USB gate) pid %.0f, mamori-worker pid %.0f%s\n"),
	       str(j, "version"), num(j, "gate_pid"), num(j, "pid"),
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "audit_only"))
	               ? L(env, "  [監査のみ: 何も変更しません]", "  [audit only: changes nothing]")
	               : "");
	if (cJSON_IsObject(pol))
		printf(L(env, "ポリシー:   版 %.0f (%s), %s, sha256 %.16s…\n",
		         "policy:     version %.0f (%s), %s, sha256 %.16s…\n"),
		       num(pol, "version"), str(pol, "segment"),
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pol, "signed"))
		               ? L(env, "署名検証済み", "signature verified")
		               : L(env, "署名なし (監査)", "UNSIGNED (audit)"),
		       str(pol, "sha256"));
	else
		printf("%s\n",
		       L(env, "ポリシー:   なし (各モジュールの既定値で動作)", "policy:     none (module defaults)"));
	if (cJSON_IsObject(jr))
		printf(L(env, "記録:       %.0f 件, 先頭ハッシュ %.16s…\n",
		         "journal:    %.0f events, head hash %.16s…\n"),
		       num(jr, "head_seq"), str(jr, "head_hash"));
	else
		printf("%s\n", L(env, "記録:       開けません (LOG-1)", "journal:    NOT OPEN (LOG-1)"));
	printf(L(env, "最終点検:   %s\nモジュール:", "last check: %s\nmodules:   "), when);
	cJSON_ArrayForEach(m, mods)
	{
		const char *st = str(m, "state");
		printf(" %s%s", str(m, "name"),
		       strcmp(st, "active") == 0  ? ""
		       : strcmp(st, "error") == 0 ? L(env, "(エラー)", "(error)")
		                                  : L(env, "(停止)", "(off)"));
	}
	printf("\n");
	/* what remote commands left in force (MDM-1, MDM-2, MDM-3) */
	printf("%s", L(env, "遠隔操作:  ", "remote:     "));
	if (cJSON_IsObject(lock)) {
		char since[64] = "-";

		if (num(lock, "since") > 0)
			ctl_format_time((int64_t)num(lock, "since"), since, sizeof(since));
		printf(L(env, "ロック中 (%s, %s から)", "LOCKED (%s, since %s)"),
		       strcmp(str(lock, "reason"), "offline") == 0
		               ? L(env, "長期未接続", "offline too long")
		               : L(env, "管理者のコマンド", "administrator's command"),
		       since);
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "isolated")))
		printf("%s%s", cJSON_IsObject(lock) ? ", " : "",
		       L(env, "ネットワーク遮断中 (管理サーバーのみ)", "NETWORK ISOLATED (management server only)"));
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "retired")))
		printf("%s%s",
		       cJSON_IsObject(lock) || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "isolated")) ? ", "
		                                                                                             : "",
		       L(env, "廃止済み (USB 機器はすべて遮断)", "RETIRED (every USB device blocked)"));
	if (!cJSON_IsObject(lock) && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "isolated")) &&
	    !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "retired")))
		printf("%s", L(env, "なし", "none"));
	printf("\n");
}

static int socket_path(struct ctl_env *env, char *buf, size_t sz)
{
	return root_pathf(buf, sz, "%s/mamorid.sock", env->config.run_dir);
}

/* status, report, reload: one request to the daemon */
int ctl_status(struct ctl_env *env, int argc, char **argv)
{
	char path[PATH_MAX], req[64];
	_cleanup_free_ char *resp = NULL;
	_cleanup_json_ cJSON *j = NULL;
	const cJSON *ok;
	int r;

	(void)argc;
	/* check-now: the control socket's "check" (a pass of the running worker,
	 * journaled like any; `mamorictl check` runs the checks in this process
	 * and records nothing) */
	if (socket_path(env, path, sizeof(path)) < 0 ||
	    xsnprintf(req, sizeof(req), "{\"cmd\":\"%s\"}", strcmp(argv[0], "check-now") == 0 ? "check" : argv[0]) < 0)
		return 2;
	r = control_call(path, req, 120000, &resp);
	if (r < 0) {
		fprintf(stderr,
		        L(env, "mamorictl: mamorid に接続できません (%s): %s\n",
		          "mamorictl: cannot reach mamorid (%s): %s\n"),
		        path, strerror(-r));
		return 1;
	}
	j = cJSON_Parse(resp);
	ok = j ? cJSON_GetObjectItemCaseSensitive(j, "ok") : NULL;
	if (!cJSON_IsTrue(ok)) {
		const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
		fprintf(stderr, "mamorictl: %s\n", cJSON_IsString(e) ? e->valuestring : "bad response");
		return 1;
	}
	if (strcmp(argv[0], "report") == 0 || strcmp(argv[0], "check-now") == 0) {
		if (!env->json) {
			/* rebuild a report from JSON to print it as text */
			struct check_report rep = {0};
			const cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "results"), *it;

			cJSON_ArrayForEach(it, res)
			{
				const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
				const cJSON *mod = cJSON_GetObjectItemCaseSensitive(it, "module");
				const cJSON *st = cJSON_GetObjectItemCaseSensitive(it, "status");
				const cJSON *sum = cJSON_GetObjectItemCaseSensitive(it, "summary");
				const cJSON *rem = cJSON_GetObjectItemCaseSensitive(it, "remedy");
				const cJSON *ev = cJSON_GetObjectItemCaseSensitive(it, "evidence"), *kv;
				const cJSON *reqs = cJSON_GetObjectItemCaseSensitive(it, "requirements"), *rq;
				struct check_result *cr;

				if (!cJSON_IsString(id) || !cJSON_IsString(mod) || !cJSON_IsString(st))
					continue;
				cr = check_report_add(&rep, mod->valuestring, id->valuestring, "");
				if (!cr)
					break;
				cJSON_ArrayForEach(rq, reqs) if (cJSON_IsString(rq))
				        check_result_add_req(cr, rq->valuestring);
				check_result_set(cr, check_status_from_string(st->valuestring),
				                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sum, "ja")),
				                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sum, "en")));
				if (rem)
					check_result_remedy(
					        cr, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rem, "ja")),
					        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rem, "en")));
				cJSON_ArrayForEach(kv, ev) if (cJSON_IsString(kv))
				        check_result_evidence(cr, kv->string, "%s", kv->valuestring);
			}
			r = print_report(env, &rep);
			check_report_clear(&rep);
			return r < 0 ? 1 : r;
		}
	}
	if (env->json || strcmp(argv[0], "status") != 0) {
		_cleanup_free_ char *s = cJSON_Print(j);
		puts(s ? s : "{}");
		return 0;
	}
	print_status(env, j);
	return 0;
}
