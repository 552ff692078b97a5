/* agent/ctl/ctl_media.c — `mamorictl media sanitize` (MEDIA-6, issue 16.5;
 * mamorictl, any user). The CLI holds no privilege: it names the medium and
 * the method; the worker checks the peer (SO_PEERCRED, root only), the device
 * and its identity, does the work and journals it (agent/worker/sanitize.c). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "control.h"
#include "ctl.h"
#include "json-util.h"
#include "rootpath.h"
#include "strutil.h"

/* A whole-medium overwrite of a large stick takes long: the worker answers
 * when it is done. */
#define SANITIZE_TIMEOUT_MS (12 * 3600 * 1000)

static int usage(struct ctl_env *env)
{
	fprintf(stderr, "%s",
	        L(env,
	          "使い方: mamorictl media sanitize DEVICE --method zero|discard|overwrite --identity "
	          "VENDOR:PRODUCT:SERIAL\n"
	          "  媒体全体を消去し、読み戻して検証します (root のみ)。IDENTITY は媒体の USB 識別子です。\n",
	          "usage: mamorictl media sanitize DEVICE --method zero|discard|overwrite --identity "
	          "VENDOR:PRODUCT:SERIAL\n"
	          "  erases the whole medium and verifies it by reading back (root only); IDENTITY is the "
	          "medium's USB identity.\n"));
	return 2;
}

static int sanitize(struct ctl_env *env, int argc, char **argv)
{
	_cleanup_json_ cJSON *req = cJSON_CreateObject(), *ans = NULL;
	_cleanup_free_ char *text = NULL, *resp = NULL, *idcopy = NULL;
	const char *dev = NULL, *method = NULL, *ident = NULL;
	char sock[PATH_MAX];
	cJSON *args, *id;
	char *p1, *p2;
	int r;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--method") == 0 && i + 1 < argc)
			method = argv[++i];
		else if (strcmp(argv[i], "--identity") == 0 && i + 1 < argc)
			ident = argv[++i];
		else if (argv[i][0] != '-' && !dev)
			dev = argv[i];
		else
			return usage(env);
	}
	if (!dev || !method || !ident)
		return usage(env);
	/* VENDOR:PRODUCT:SERIAL — the serial may hold ':' itself */
	idcopy = strdup(ident);
	if (!idcopy || !req)
		return 1;
	p1 = strchr(idcopy, ':');
	p2 = p1 ? strchr(p1 + 1, ':') : NULL;
	if (!p2)
		return usage(env);
	*p1++ = 0;
	*p2++ = 0;
	if (!cJSON_AddStringToObject(req, "cmd", "media_sanitize") || !(args = cJSON_AddObjectToObject(req, "args")) ||
	    !cJSON_AddStringToObject(args, "device", dev) || !cJSON_AddStringToObject(args, "method", method) ||
	    !(id = cJSON_AddObjectToObject(args, "identity")) || !cJSON_AddStringToObject(id, "vendor", idcopy) ||
	    !cJSON_AddStringToObject(id, "product", p1) || !cJSON_AddStringToObject(id, "serial", p2))
		return 1;
	text = cJSON_PrintUnformatted(req);
	if (!text || root_pathf(sock, sizeof(sock), "%s/mamorid.sock", env->config.run_dir) < 0)
		return 1;
	r = control_call(sock, text, SANITIZE_TIMEOUT_MS, &resp);
	if (r < 0) {
		fprintf(stderr, L(env, "mamorid に接続できません (%s): %s\n", "cannot reach mamorid (%s): %s\n"), sock,
		        strerror(-r));
		return 2;
	}
	ans = cJSON_Parse(resp);
	if (!ans) {
		fprintf(stderr, "%s", L(env, "mamorid の応答を読めません\n", "mamorid's answer does not parse\n"));
		return 2;
	}
	if (env->json) {
		_cleanup_free_ char *t = cJSON_Print(ans);
		printf("%s\n", t ? t : "{}");
	}
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "ok"))) {
		const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "error"));
		const char *rs = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "reason"));
		fprintf(stderr, L(env, "消去できませんでした (%s): %s\n", "not sanitised (%s): %s\n"),
		        rs ? rs : "error", e ? e : "?");
		return 1;
	}
	if (!env->json) {
		const cJSON *sz = cJSON_GetObjectItemCaseSensitive(ans, "size");
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(ans, "samples");

		printf(L(env, "%s を %s で消去し、%d か所の読み戻しで検証しました (%.0f バイト)\n",
		         "%s sanitised with %s, verified by reading back %d samples (%.0f bytes)\n"),
		       dev, method, cJSON_IsNumber(n) ? n->valueint : 0, cJSON_IsNumber(sz) ? sz->valuedouble : 0);
	}
	return 0;
}

int ctl_media(struct ctl_env *env, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "sanitize") == 0)
		return sanitize(env, argc, argv);
	return usage(env);
}
