/* agent/worker/worker.c — main of mamori-worker, started by mamorid (root).
 *
 * The worker does everything but the USB gate: it verifies and parses the
 * policy, keeps the journal, runs the posture modules and serves the control
 * socket (agent/worker/daemon.c). mamorid starts it with --ipc-fd and restarts it;
 * run alone (without --ipc-fd) it is the whole agent minus USB control,
 * which is what `--once` and the unit tests use. Every system path is
 * resolved under --root. */
#include <errno.h>
#include <linux/capability.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "sandbox.h"
#include "version.h"

#define CAPB(c) (UINT64_C(1) << (c))
/* What the worker itself uses after start (docs/ARCHITECTURE.md "Who runs as
 * whom"): CAP_SYS_ADMIN — fanotify permission events, the carry module's
 * mount of a medium, FS_IOC_SHUTDOWN; CAP_DAC_READ_SEARCH —
 * open_by_handle_at of fanotify FID events, hashing files on media, the
 * /proc/PID/fd sweep; CAP_DAC_OVERRIDE — removing or renaming back a
 * refused name in another user's directory on a medium (CARRY-2). */
#define WORKER_CAPS_EFFECTIVE (CAPB(CAP_SYS_ADMIN) | CAPB(CAP_DAC_READ_SEARCH) | CAPB(CAP_DAC_OVERRIDE))
/* What it hands on at exec (ambient): CAP_SETUID/CAP_SETGID for `mamorictl
 * server sync` (drops its network child to user mamori) and the setpriv(1)
 * of a desktop notification; nothing else reaches an exec'd tool. The
 * posture pass child keeps CAP_DAC_READ_SEARCH only (posture_pass.c). */
#define WORKER_CAPS_AMBIENT (CAPB(CAP_SETUID) | CAPB(CAP_SETGID))
/* Held (permitted, inheritable), neither effective nor ambient: CAP_NET_ADMIN,
 * made ambient only around the exec of nft(8) for a remote isolation
 * (isolate.c; MDM-2, AV-5). */
#define WORKER_CAPS_HELD CAPB(CAP_NET_ADMIN)

#define EXIT_USAGE  2
#define EXIT_CONFIG 78 /* sysexits EX_CONFIG: systemd shows it as a configuration error */

static void usage(FILE *f)
{
	fputs("usage: mamori-worker [--root DIR] [--config FILE] [--foreground] [--audit]\n"
	      "               [--policy FILE [--unsigned]] [--log-level LEVEL] [--once]\n"
	      "  --root DIR      resolve every system path under DIR (tests, demo)\n"
	      "  --config FILE   agent configuration (default /etc/mamori/agent.conf, under --root)\n"
	      "  --foreground    log to stderr instead of syslog\n"
	      "  --audit         report only: never change the system\n"
	      "  --policy FILE   use this policy file instead of the configured one\n"
	      "  --unsigned      accept --policy FILE without a signature (audit runs only)\n"
	      "  --once          initialise, run one posture pass and exit\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"root", required_argument, NULL, 'r'},      {"config", required_argument, NULL, 'c'},
	        {"foreground", no_argument, NULL, 'f'},      {"audit", no_argument, NULL, 'a'},
	        {"policy", required_argument, NULL, 'p'},    {"unsigned", no_argument, NULL, 'u'},
	        {"log-level", required_argument, NULL, 'l'}, {"once", no_argument, NULL, 'o'},
	        {"version", no_argument, NULL, 'V'},         {"help", no_argument, NULL, 'h'},
	        {"ipc-fd", required_argument, NULL, 'i'},    {NULL, 0, NULL, 0},
	};
	struct daemon_options o = {.root = ""};
	struct daemon *d = NULL;
	char err[512] = "";
	int level = LOG_INFO, c, r;

	while ((c = getopt_long(argc, argv, "r:c:fap:ul:oVhi:", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.root = optarg;
			break;
		case 'c':
			o.config_path = optarg;
			break;
		case 'f':
			o.foreground = true;
			break;
		case 'a':
			o.audit_only = true;
			break;
		case 'p':
			o.policy_path = optarg;
			break;
		case 'u':
			o.unsigned_policy = true;
			break;
		case 'l':
			level = log_level_from_string(optarg);
			if (level < 0) {
				fprintf(stderr,
				        "mamori-worker: --log-level: expected debug, info, notice, warning or err\n");
				return EXIT_USAGE;
			}
			break;
		case 'o':
			o.once = true;
			o.foreground = true;
			break;
		case 'i':
			o.ipc_fd = (int)strtol(optarg, NULL, 10);
			if (o.ipc_fd < 3 || fcntl(o.ipc_fd, F_GETFD) < 0) {
				fprintf(stderr, "mamori-worker: --ipc-fd: not an open descriptor\n");
				return EXIT_USAGE;
			}
			fcntl(o.ipc_fd, F_SETFD, FD_CLOEXEC);
			break;
		case 'V':
			printf("mamori-worker %s\n", MAMORI_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o.unsigned_policy && !o.policy_path) {
		fprintf(stderr, "mamori-worker: --unsigned needs --policy FILE\n");
		return EXIT_USAGE;
	}
	if (o.unsigned_policy)
		o.audit_only = true; /* an unsigned policy is never enforced */
	log_open("mamori-worker", o.foreground, level);

	r = sandbox_caps_limit(WORKER_CAPS_EFFECTIVE, WORKER_CAPS_EFFECTIVE | WORKER_CAPS_AMBIENT | WORKER_CAPS_HELD,
	                       WORKER_CAPS_AMBIENT);
	if (r < 0) {
		log_error_errno(r, "mamori-worker: cannot limit its capabilities");
		return EXIT_FAILURE;
	}
	r = daemon_new(&o, &d, err, sizeof(err));
	if (r < 0) {
		log_error("mamori-worker: %s", err[0] ? err : strerror(-r));
		return r == -EINVAL ? EXIT_CONFIG : EXIT_FAILURE;
	}
	r = daemon_run(d);
	daemon_free(d);
	return r < 0 ? EXIT_FAILURE : 0;
}
