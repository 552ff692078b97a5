/* agent/ctl/mamorictl.c — main of the local CLI (mamorictl, run by
 * administrators and staff).
 *
 * Global options come before the command; each command group lives in its
 * own ctl_<group>.c (agent/ctl/ctl.h). Messages for staff are in Japanese by
 * default (agent.conf `language`), English with --lang en. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "rootpath.h"
#include "strutil.h"
#include "version.h"

struct command {
	const char *name;
	int (*run)(struct ctl_env *env, int argc, char **argv);
	bool needs_config;
	const char *help_ja, *help_en;
};

static const struct command commands[] = {
        {"check", ctl_check, true, "この端末の準拠状況を今すぐ点検する", "check this terminal's compliance now"},
        {"status", ctl_status, true, "mamorid の状態", "state of the running mamorid"},
        {"report", ctl_status, true, "mamorid の最新の点検結果", "mamorid's latest check results"},
        {"check-now", ctl_status, true, "mamorid に今すぐ点検させ、その結果を記録・表示する",
         "make mamorid run its checks now (journaled, reported) and show the results"},
        {"reload", ctl_status, true, "設定とポリシーを再読み込みさせる",
         "make mamorid reload configuration and policy"},
        {"policy", ctl_policy, true, "ポリシーの検査・署名・鍵 (check, sign, keygen, verify, import-usbguard)",
         "policy check, sign, keygen, verify, import-usbguard"},
        {"exception", ctl_exception, true, "例外措置と緊急コード", "exceptions and emergency codes"},
        {"journal", ctl_journal, true, "イベント記録の検証・出力 (verify, export, show)",
         "event journal verify, export, show"},
        {"commands", ctl_commands, true, "受信したリモートコマンドと結果 (ジャーナルから)",
         "remote commands received and their outcome (from the journal)"},
        {"request", ctl_request, true, "承認者への申請 (device, exception, carry-out)",
         "requests to the approver (device, exception, carry-out)"},
        {"notify-request", ctl_notify_request, true,
         "(mamorid が使用) 止めた機器の通知に「申請する」を付け、押されたら申請する",
         "(used by mamorid) a blocked device's notification with \"Request\"; files the request when pressed"},
        {"media", ctl_media, true, "媒体の消去と検証 (sanitize; MEDIA-6)",
         "sanitise a medium and verify it (sanitize; MEDIA-6)"},
        {"carry", ctl_carry, true, "持ち出し・持ち込み台帳 (log)", "carry-out / carry-in register (log)"},
        {"enroll", ctl_enroll, true, "この端末を管理サーバーに登録する", "enroll this terminal with mamori-server"},
        {"server", ctl_server, true, "管理サーバーとの同期 (sync, status)", "sync with mamori-server (sync, status)"},
        {"usb", ctl_usb, true,
         "USB 機器の判定・ルール生成・端末での例外・監視 (list, generate-policy, allow, block, exceptions, revoke, "
         "watch)",
         "USB devices, decisions, rules, local exceptions, live decisions (list, generate-policy, allow, block, "
         "exceptions, revoke, watch)"},
};

static void usage(FILE *f, const char *lang)
{
	bool ja = !lang || lang[0] != 'e';

	fprintf(f, "%s: mamorictl [--root DIR] [--config FILE] [--lang ja|en] [--json] COMMAND ...\n",
	        ja ? "使い方" : "usage");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, ja ? commands[i].help_ja : commands[i].help_en);
}

int main(int argc, char **argv)
{
	struct ctl_env env = {.root = "", .config_path = CONFIG_DEFAULT_PATH};
	const char *lang_opt = NULL;
	char cfgpath[PATH_MAX], err[4096];
	int i;

	log_open("mamorictl", true, LOG_WARNING);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--root") == 0 && i + 1 < argc)
			env.root = argv[++i];
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			env.config_path = argv[++i];
		else if (strcmp(argv[i], "--lang") == 0 && i + 1 < argc)
			lang_opt = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			env.json = true;
		else if (strcmp(argv[i], "--version") == 0) {
			printf("mamorictl %s\n", MAMORI_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout, lang_opt);
			return 0;
		} else {
			usage(stderr, lang_opt);
			return 2;
		}
	}
	if (lang_opt && strcmp(lang_opt, "ja") != 0 && strcmp(lang_opt, "en") != 0) {
		fprintf(stderr, "mamorictl: --lang: ja | en\n");
		return 2;
	}
	if (i >= argc) {
		usage(stderr, lang_opt);
		return 2;
	}
	if (root_set(strcmp(env.root, "/") == 0 ? "" : env.root) < 0 ||
	    root_path(cfgpath, sizeof(cfgpath), env.config_path) < 0) {
		fprintf(stderr, "mamorictl: --root/--config: invalid path\n");
		return 2;
	}
	env.root = root_get();
	config_defaults(&env.config);
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(commands[c].name, argv[i]) != 0)
			continue;
		if (commands[c].needs_config && config_load(&env.config, cfgpath, true, err, sizeof(err)) < 0) {
			fprintf(stderr, "mamorictl: %s\n", err);
			return 1;
		}
		env.lang = lang_opt ? lang_opt : env.config.lang;
		return commands[c].run(&env, argc - i, argv + i);
	}
	fprintf(stderr, "mamorictl: unknown command '%s'\n", argv[i]);
	usage(stderr, lang_opt);
	return 2;
}
