/* agent/ctl/ctl_journal.c — `mamorictl journal verify|show|export|status`
 * (mamorictl). Reads the journal read-only while mamori-worker may be writing it;
 * never changes it. Exit: 0 ok, 1 the journal is tampered with or damaged,
 * 2 usage error or the journal could not be read. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "journal.h"
#include "journal_export.h"
#include "rootpath.h"
#include "strutil.h"

static void usage(FILE *f)
{
	fputs("usage: mamorictl journal verify\n"
	      "       mamorictl journal status\n"
	      "       mamorictl journal show [--since SEQ|DATE] [--type PREFIX] [--limit N]\n"
	      "       mamorictl journal export --format jsonl|csv|syslog [--since SEQ|DATE] [--type PREFIX]\n"
	      "DATE: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)\n",
	      f);
}

static int journal_dir(struct ctl_env *env, char *buf, size_t bufsz)
{
	int r;

	if (env->root && *env->root && !streq_ptr(root_get(), env->root) && (r = root_set(env->root)) < 0)
		return r;
	return root_path(buf, bufsz, env->config.state_dir);
}

static int cmd_verify(struct ctl_env *env, const char *dir)
{
	uint64_t bad = 0;
	char err[512] = "";
	int r;

	r = journal_verify(dir, &bad, err, sizeof(err));
	if (r == -EBADMSG) {
		fprintf(stderr, L(env, "ジャーナルが破損しています: %s\n", "The journal is damaged: %s\n"), err);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, L(env, "ジャーナルを検証できません (%s): %s\n", "Cannot verify the journal (%s): %s\n"),
		        dir, strerror(-r));
		return 2;
	}
	if (bad) {
		printf(L(env, "改ざんを検出しました: 最初の不正な記録 seq=%" PRIu64 " (%s)\n",
		         "Tampering detected: first bad record seq=%" PRIu64 " (%s)\n"),
		       bad, err);
		return 1;
	}
	printf(L(env, "ジャーナルは正常です (ハッシュ連鎖を検証しました)\n",
	         "The journal is intact (hash chain verified)\n"));
	return 0;
}

static int cmd_status(struct ctl_env *env, const char *dir)
{
	struct journal_info i;
	int r = journal_info(dir, &i);

	if (r < 0) {
		fprintf(stderr, L(env, "ジャーナルを読めません (%s): %s\n", "Cannot read the journal (%s): %s\n"), dir,
		        strerror(-r));
		return r == -EBADMSG ? 1 : 2;
	}
	printf("chain %s\nhead %" PRIu64 " %s\nanchor %" PRIu64 "\nacked %" PRIu64 "\nrecords %" PRIu64
	       "\noverflow %" PRIu64 "\nbytes %" PRIu64 "\n",
	       i.chain, i.head_seq, i.head_hash, i.anchor_seq, i.acked_seq, i.records, i.overflow_count, i.file_bytes);
	return 0;
}

static int cmd_list(struct ctl_env *env, const char *dir, enum journal_format fmt, const char *since, const char *type,
                    int64_t limit)
{
	struct journal_iter *it = NULL;
	struct journal_record rec;
	int64_t after = 0, since_us = INT64_MIN, n = 0;
	char host[256] = "-";
	int r;

	if (since && parse_int64(since, 0, INT64_MAX, &after) < 0 && journal_parse_time(since, &since_us) < 0) {
		fprintf(stderr, L(env, "--since の値が不正です: %s\n", "bad --since value: %s\n"), since);
		return 2;
	}
	if (gethostname(host, sizeof(host) - 1) < 0)
		(void)strscpy(host, sizeof(host), "-");
	r = journal_iter_open(dir, (uint64_t)after, &it);
	if (r < 0) {
		fprintf(stderr, L(env, "ジャーナルを読めません (%s): %s\n", "Cannot read the journal (%s): %s\n"), dir,
		        strerror(-r));
		return 2;
	}
	r = journal_export_begin(stdout, fmt);
	while (r >= 0 && (limit <= 0 || n < limit) && (r = journal_iter_next(it, &rec)) > 0) {
		if (rec.time_us < since_us || (type && !startswith(rec.type, type)))
			continue;
		r = journal_export_record(stdout, fmt, &rec, host);
		n++;
	}
	journal_iter_free(it);
	if (fflush(stdout) != 0 && r >= 0)
		r = -EIO;
	if (r < 0) {
		fprintf(stderr, L(env, "出力に失敗しました: %s\n", "Output failed: %s\n"), strerror(-r));
		return r == -EBADMSG ? 1 : 2;
	}
	return 0;
}

int ctl_journal(struct ctl_env *env, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"since", required_argument, NULL, 's'},  {"type", required_argument, NULL, 't'},
	        {"format", required_argument, NULL, 'f'}, {"limit", required_argument, NULL, 'n'},
	        {"help", no_argument, NULL, 'h'},         {},
	};
	const char *since = NULL, *type = NULL, *format = NULL, *cmd;
	int64_t limit = 0;
	char dir[PATH_MAX];
	int c, r;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "s:t:f:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			since = optarg;
			break;
		case 't':
			type = optarg;
			break;
		case 'f':
			format = optarg;
			break;
		case 'n':
			if (parse_int64(optarg, 1, INT64_MAX, &limit) < 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	r = journal_dir(env, dir, sizeof(dir));
	if (r < 0) {
		fprintf(stderr, "mamorictl journal: state_dir: %s\n", strerror(-r));
		return 2;
	}
	if (streq_ptr(cmd, "verify") && !since && !type && !format)
		return cmd_verify(env, dir);
	if (streq_ptr(cmd, "status") && !since && !type && !format)
		return cmd_status(env, dir);
	if (streq_ptr(cmd, "show") && !format)
		return cmd_list(env, dir, JOURNAL_FMT_TEXT, since, type, limit);
	if (streq_ptr(cmd, "export")) {
		enum journal_format fmt = journal_format_from_string(format);

		if (fmt == _JOURNAL_FMT_INVALID || fmt == JOURNAL_FMT_TEXT) {
			fprintf(stderr, L(env, "--format は jsonl, csv, syslog のいずれかです\n",
			                  "--format must be jsonl, csv or syslog\n"));
			return 2;
		}
		return cmd_list(env, dir, fmt, since, type, limit);
	}
	usage(stderr);
	return 2;
}
