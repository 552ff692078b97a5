/* agent/ctl/ctl_enroll.c — `mamorictl enroll` and `mamorictl server sync|status`
 * (mamorictl, run by administrators as root).
 *
 * enroll: makes this terminal's key pair, pins the server's CA by the
 * fingerprint the administrator was given, and enrolls with a one-time token.
 * server sync: one check-in (with the running agent's latest report, asked
 * of mamori-worker over the control socket, or --report FILE), upload of
 * every unacknowledged journal record, download of a newer signed policy
 * (then the worker is asked to reload), renewal when due — what
 * mamori-worker does on its timer, for operators and tests. Exit: 0 ok, 1 refused by the
 * server (or a broken chain recorded), 2 usage error or server unreachable. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-util.h"
#include "control.h"
#include "ctl.h"
#include "enroll.h"
#include "fileio.h"
#include "journal.h"
#include "json-util.h"
#include "rootpath.h"
#include "strutil.h"
#include "transport.h"

#define REPORT_FILE_MAX (4 * 1024 * 1024)

struct paths {
	char state[PATH_MAX], policy[PATH_MAX], key[PATH_MAX], sock[PATH_MAX];
};

static int resolve(struct ctl_env *env, struct paths *p)
{
	if (root_path(p->state, sizeof(p->state), env->config.state_dir) < 0 ||
	    root_path(p->policy, sizeof(p->policy), env->config.policy_file) < 0 ||
	    root_path(p->key, sizeof(p->key), env->config.policy_key) < 0 ||
	    root_pathf(p->sock, sizeof(p->sock), "%s/mamorid.sock", env->config.run_dir) < 0)
		return -ENAMETOOLONG;
	return 0;
}

static int parse_timeout(const char *s, int *ret)
{
	int64_t v;

	if (parse_int64(s, 1, 3600, &v) < 0)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

int ctl_enroll(struct ctl_env *env, int argc, char **argv)
{
	struct enroll_options o = {.timeout_s = 60};
	struct enroll_result res;
	struct paths p;
	char tid[ENROLL_ID_MAX], err[1024];
	const char *tid_opt = NULL;
	int r;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];

		if (strcmp(a, "--server") == 0)
			o.server_url = v;
		else if (strcmp(a, "--token") == 0)
			o.token = v;
		else if (strcmp(a, "--ca-fingerprint") == 0)
			o.ca_fingerprint = v;
		else if (strcmp(a, "--terminal-id") == 0)
			tid_opt = v;
		else if (strcmp(a, "--timeout") != 0 || parse_timeout(v, &o.timeout_s) < 0)
			goto usage;
	}
	if (argc % 2 == 0) /* an option without its value */
		goto usage;
	if (!o.server_url || !o.token || !o.ca_fingerprint)
		goto usage;
	if (resolve(env, &p) < 0) {
		fprintf(stderr, "mamorictl: path too long\n");
		return 2;
	}
	r = enroll_default_terminal_id(tid_opt ?: env->config.terminal_id, tid);
	if (r < 0) {
		fprintf(stderr, L(env, "mamorictl: 端末IDを決められません (--terminal-id で指定してください)\n",
		                  "mamorictl: cannot determine the terminal ID (give --terminal-id)\n"));
		return 2;
	}
	o.terminal_id = tid;
	o.state_dir = p.state;
	o.policy_file = p.policy;
	o.policy_key = p.key;
	r = enroll_run(&o, &res, err, sizeof(err));
	if (r < 0) {
		const char *ja = r == -EPERM ? "CA の指紋が一致しません。何も送信していません"
		                 : r == -EACCES ? "登録トークンが拒否されました (不明・使用済み・期限切れ)"
		                 : r == -EEXIST ? "この端末IDは登録済みです"
		                                : "登録できませんでした";
		fprintf(stderr, "mamorictl: %s\n  %s\n", L(env, ja, "enrollment failed"), err);
		return r == -EPERM || r == -EACCES || r == -EEXIST ? 1 : 2;
	}
	if (env->json) {
		printf("{\"terminal_id\":\"%s\",\"group\":\"%s\",\"device_url\":\"%s\",\"not_after\":\"%s\","
		       "\"policy_version\":%" PRId64 "}\n",
		       res.terminal_id, res.group, res.device_url, res.not_after, res.policy_version);
	} else {
		printf(L(env, "登録しました: 端末 %s、グループ %s、証明書の有効期限 %s\n",
		         "Enrolled: terminal %s, group %s, certificate valid until %s\n"),
		       res.terminal_id, res.group, res.not_after);
		if (res.policy_version)
			printf(L(env, "グループのポリシー (版 %" PRId64 ") を %s に保存しました\n",
			         "The group's policy (version %" PRId64 ") was saved to %s\n"),
			       res.policy_version, p.policy);
	}
	return 0;
usage:
	fprintf(stderr, "%s\n",
	        L(env,
	          "使い方: mamorictl enroll --server https://ホスト:ポート --token トークン --ca-fingerprint SHA256 "
	          "[--terminal-id ID] [--timeout 秒]",
	          "usage: mamorictl enroll --server https://HOST:PORT --token TOKEN --ca-fingerprint SHA256 "
	          "[--terminal-id ID] [--timeout SECONDS]"));
	return 2;
}

/* mamorid's latest posture report, or NULL when it does not answer. */
static cJSON *daemon_report(const char *sock)
{
	_cleanup_free_ char *resp = NULL;
	cJSON *j;

	if (control_call(sock, "{\"cmd\":\"report\"}", 10000, &resp) < 0)
		return NULL;
	j = cJSON_Parse(resp);
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok"))) {
		cJSON_Delete(j);
		return NULL;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(j, "ok");
	return j;
}

static int cmd_sync(struct ctl_env *env, const struct paths *p, const char *report_file, int timeout_s, unsigned batch)
{
	_cleanup_json_ cJSON *report = NULL;
	struct transport_options o = {.state_dir = p->state,
	                              .policy_file = p->policy,
	                              .policy_key = p->key,
	                              .timeout_s = timeout_s,
	                              .batch_max = batch,
	                              /* run as root (by mamori-worker): the server is talked to
	                               * by an unprivileged, seccomp-confined child */
	                              .sandbox_user = TRANSPORT_SANDBOX_USER};
	struct transport *t = NULL;
	struct transport_result res;
	struct journal *j = NULL;
	char err[1024];
	int r;

	if (report_file) {
		_cleanup_free_ char *buf = NULL;
		size_t n;

		r = read_file_capped(report_file, REPORT_FILE_MAX, &buf, &n);
		if (r < 0 || !(report = cJSON_ParseWithLength(buf, n)) || !cJSON_IsObject(report)) {
			fprintf(stderr,
			        L(env, "mamorictl: 報告ファイルを読めません: %s\n",
			          "mamorictl: cannot read report %s\n"),
			        report_file);
			return 2;
		}
	} else {
		report = daemon_report(p->sock);
	}
	/* acknowledge in the journal ourselves when mamorid does not hold it;
	 * otherwise mamorid applies upload.state */
	{
		struct journal_options jo = {.dir = p->state, .quiet_if_busy = true};

		if (transport_acked_read(p->state, &jo.acked_seq) < 0)
			jo.acked_seq = 0;
		char jpath[PATH_MAX];

		if (xsnprintf(jpath, sizeof(jpath), "%s/%s", p->state, JOURNAL_FILE) == 0 && access(jpath, F_OK) == 0 &&
		    journal_open(&jo, &j) < 0)
			j = NULL;
	}
	o.journal = j;
	r = transport_new(&o, &t, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "mamorictl: %s: %s\n", L(env, "サーバーと同期できません", "cannot sync"), err);
		journal_close(j);
		return 2;
	}
	r = transport_sync_once(t, report, &res, err, sizeof(err));
	transport_free(t);
	journal_close(j);
	if (res.policy_updated) {
		_cleanup_free_ char *resp = NULL;

		bool told = control_call(p->sock, "{\"cmd\":\"reload\"}", 10000, &resp) == 0;

		if (!env->json) {
			printf(L(env, "新しいポリシー (版 %" PRId64 ") を保存しました: %s\n",
			         "Saved the new policy (version %" PRId64 "): %s\n"),
			       res.policy_version, p->policy);
			if (told)
				printf(L(env, "mamorid に再読み込みさせました\n", "mamorid was told to reload\n"));
		}
	}
	if (env->json)
		printf("{\"ok\":%s,\"head_seq\":%" PRIu64 ",\"acked_seq\":%" PRIu64 ",\"uploaded\":%" PRIu64
		       ",\"batches\":%u,\"policy_version\":%" PRId64 ",\"policy_updated\":%s,\"renewed\":%s,"
		       "\"chain_refused\":%s,\"clock_wrong\":%s,\"commands\":%u,\"commands_refused\":%u,"
		       "\"results_reported\":%u,\"approvals\":%d,\"sandbox\":\"%s\"}\n",
		       r == 0 ? "true" : "false", res.head_seq, res.acked_seq, res.uploaded, res.batches,
		       res.policy_version, res.policy_updated ? "true" : "false", res.renewed ? "true" : "false",
		       res.chain_refused ? "true" : "false", r == -EKEYEXPIRED ? "true" : "false", res.commands,
		       res.commands_refused, res.results_reported, res.approvals, res.sandbox);
	else
		printf(L(env, "送信 %" PRIu64 " 件 (%u 回)、サーバー受領済み seq %" PRIu64 " / 端末 %" PRIu64 "%s\n",
		         "uploaded %" PRIu64 " records (%u batches), server holds up to seq %" PRIu64 " of %" PRIu64
		         "%s\n"),
		       res.uploaded, res.batches, res.acked_seq, res.head_seq,
		       res.renewed ? L(env, "、証明書を更新しました", ", certificate renewed") : "");
	if (r < 0) {
		fprintf(stderr, "mamorictl: %s: %s\n",
		        res.chain_refused ? L(env, "サーバーがイベントの連鎖の途切れを記録しました (改ざんの疑い)",
		                              "the server recorded a break in the event chain (suspected tampering)")
		        : r == -EACCES ? L(env, "サーバーがこの端末を拒否しました (失効?)",
		                           "the server refused this terminal (revoked?)")
		        : r == -EKEYEXPIRED ? L(env, "端末の時計が狂っているため TLS 接続できません (LOG-2)",
		                                "TLS failed because this terminal's clock is wrong (LOG-2)")
		                            : L(env, "同期に失敗しました", "sync failed"),
		        err);
		return res.chain_refused || r == -EACCES ? 1 : 2;
	}
	return 0;
}

/* `server poll`: the command long poll (docs/COMMANDS.md "Long poll"), run
 * by mamori-worker with stdout a pipe: a line "c" each time a command
 * reached the inbox. Runs until the server refuses this terminal (exit 1)
 * or it cannot start (exit 2); network failures are retried. */
static int cmd_poll(struct ctl_env *env, const struct paths *p, int timeout_s)
{
	struct transport_options o = {.state_dir = p->state,
	                              .policy_file = p->policy,
	                              .policy_key = p->key,
	                              .timeout_s = timeout_s,
	                              .sandbox_user = TRANSPORT_SANDBOX_USER};
	struct transport *t = NULL;
	char err[1024];
	int r;

	r = transport_new(&o, &t, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "mamorictl: %s: %s\n",
		        L(env, "コマンドを待ち受けできません", "cannot poll for commands"), err);
		return 2;
	}
	r = transport_poll_run(t, STDOUT_FILENO, err, sizeof(err));
	transport_free(t);
	fprintf(stderr, "mamorictl: %s: %s\n",
	        L(env, "サーバーがこの端末を拒否しました (失効?)", "the server refused this terminal (revoked?)"), err);
	return r == -EACCES ? 1 : 2;
}

static int cmd_status(struct ctl_env *env, const struct paths *p)
{
	struct enroll_state es;
	uint64_t acked = 0;
	int r = enroll_state_load(p->state, &es);

	if (r < 0) {
		printf(L(env, "未登録です (%s)\n", "not enrolled (%s)\n"), p->state);
		return 1;
	}
	(void)transport_acked_read(p->state, &acked);
	if (env->json)
		printf("{\"terminal_id\":\"%s\",\"group\":\"%s\",\"device_url\":\"%s\",\"acked_seq\":%" PRIu64 "}\n",
		       es.terminal_id, es.group, es.device_url, acked);
	else
		printf("terminal %s\ngroup %s\nserver %s\nacked %" PRIu64 "\n", es.terminal_id, es.group, es.device_url,
		       acked);
	return 0;
}

int ctl_server(struct ctl_env *env, int argc, char **argv)
{
	const char *report = NULL;
	struct paths p;
	int timeout_s = 60;
	int64_t batch = 0;

	if (argc < 2)
		goto usage;
	if (strcmp(argv[1], "poll") == 0)
		timeout_s = 90; /* longer than the server holds a poll (25 s by default) */
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--report") == 0 && i + 1 < argc)
			report = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc &&
		         parse_timeout(argv[i + 1], &timeout_s) == 0)
			i++;
		else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc &&
		         parse_int64(argv[i + 1], 1, 10000, &batch) == 0)
			i++;
		else
			goto usage;
	}
	if (resolve(env, &p) < 0) {
		fprintf(stderr, "mamorictl: path too long\n");
		return 2;
	}
	if (strcmp(argv[1], "sync") == 0)
		return cmd_sync(env, &p, report, timeout_s, (unsigned)batch);
	if (strcmp(argv[1], "status") == 0)
		return cmd_status(env, &p);
	if (strcmp(argv[1], "poll") == 0 && !report && !batch)
		return cmd_poll(env, &p, timeout_s);
usage:
	fprintf(stderr, "%s\n",
	        L(env,
	          "使い方: mamorictl server sync [--report ファイル] [--timeout 秒] [--batch 件数] | server status | "
	          "server poll [--timeout 秒]",
	          "usage: mamorictl server sync [--report FILE] [--timeout SECONDS] [--batch N] | server status | "
	          "server poll [--timeout SECONDS]"));
	return 2;
}
