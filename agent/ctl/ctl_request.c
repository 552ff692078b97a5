/* agent/ctl/ctl_request.c — `mamorictl request device [ID]` and `mamorictl
 * request exception --requirement ID --until TIME --reason TEXT` and
 * `mamorictl request carry-out --medium PORT|VVVV:PPPP:SERIAL --until TIME
 * --purpose TEXT` (CARRY-2, MEDIA-2)
 * (mamorictl, run by the person at the terminal — any user; issue 16,
 * OPS-3, OPS-4).
 *
 * The request goes to the running worker over the control socket, which
 * takes the person from the socket's peer credentials (nothing here names
 * a person), journals it and sends it to mamori-server with the journal's
 * next upload; the approver decides in the dashboard or the admin API. */
#include <stdio.h>
#include <string.h>

#include "alloc-util.h"
#include "ctl.h"
#include "json-util.h"

static int usage(struct ctl_env *env)
{
	fprintf(stderr, "%s",
	        L(env,
	          "使い方: mamorictl request device [ポート名|ハッシュ] [--reason 理由]\n"
	          "        mamorictl request exception --requirement ID --until 日時 --reason 理由\n"
	          "        mamorictl request carry-out --medium ポート名|VVVV:PPPP:シリアル --until 日時 --purpose "
	          "目的\n",
	          "usage: mamorictl request device [PORT|HASH] [--reason TEXT]\n"
	          "       mamorictl request exception --requirement ID --until TIME --reason TEXT\n"
	          "       mamorictl request carry-out --medium PORT|VVVV:PPPP:SERIAL --until TIME --purpose TEXT\n"));
	return 2;
}

int ctl_request(struct ctl_env *env, int argc, char **argv)
{
	_cleanup_json_ cJSON *req = cJSON_CreateObject(), *ans = NULL;
	const char *kind, *device = NULL, *reason = NULL, *requirement = NULL, *until = NULL, *medium = NULL,
	                  *purpose = NULL;
	cJSON *args;
	bool dev, out;

	if (argc < 2 || !req)
		return usage(env);
	kind = argv[1];
	dev = strcmp(kind, "device") == 0;
	out = strcmp(kind, "carry-out") == 0;
	if (!dev && !out && strcmp(kind, "exception") != 0)
		return usage(env);
	for (int i = 2; i < argc; i++) {
		if (out) {
			if (strcmp(argv[i], "--medium") == 0 && i + 1 < argc)
				medium = argv[++i];
			else if (strcmp(argv[i], "--until") == 0 && i + 1 < argc)
				until = argv[++i];
			else if (strcmp(argv[i], "--purpose") == 0 && i + 1 < argc)
				purpose = argv[++i];
			else
				return usage(env);
		} else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
			reason = argv[++i];
		else if (!dev && strcmp(argv[i], "--requirement") == 0 && i + 1 < argc)
			requirement = argv[++i];
		else if (!dev && strcmp(argv[i], "--until") == 0 && i + 1 < argc)
			until = argv[++i];
		else if (dev && !device && argv[i][0] != '-')
			device = argv[i];
		else
			return usage(env);
	}
	if (out ? !medium || !until || !purpose : !dev && (!requirement || !until || !reason))
		return usage(env);
	if (!cJSON_AddStringToObject(req, "cmd", "request") || !(args = cJSON_AddObjectToObject(req, "args")) ||
	    !cJSON_AddStringToObject(args, "kind", kind))
		return 1;
	if (device && !cJSON_AddStringToObject(args, "device", device))
		return 1;
	if (reason && !cJSON_AddStringToObject(args, "reason", reason))
		return 1;
	if (requirement && !cJSON_AddStringToObject(args, "requirement", requirement))
		return 1;
	if (medium && !cJSON_AddStringToObject(args, "medium", medium))
		return 1;
	if (purpose && !cJSON_AddStringToObject(args, "purpose", purpose))
		return 1;
	if (until) {
		int64_t t = ctl_parse_time(until);

		if (t < 0) {
			fprintf(stderr, "%s",
			        L(env, "--until: 2026-12-31T17:00:00+09:00 の形式で指定してください\n",
			          "--until: a time such as 2026-12-31T17:00:00+09:00\n"));
			return 2;
		}
		if (!cJSON_AddNumberToObject(args, "until", (double)t))
			return 1;
	}
	ans = ctl_control_call(env, req);
	if (!ans)
		return 1;
	if (env->json) {
		_cleanup_free_ char *t = cJSON_PrintUnformatted(ans);
		if (t)
			printf("%s\n", t);
	}
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "ok"))) {
		const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "error"));
		fprintf(stderr, L(env, "申請できませんでした: %s\n", "request refused: %s\n"), e ? e : "?");
		return 1;
	}
	if (!env->json)
		printf(L(env, "申請しました (申請番号 %s、申請者 %s)。承認されると自動で反映されます。\n",
		         "requested (request %s, by %s). It takes effect by itself once approved.\n"),
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "request_id")),
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "user")));
	return 0;
}
