/* agent/sdk/notify.c — desktop notifications through a spawned `gdbus` as the
 * active session's user (mamorid and mamori-worker, root; the child runs as that user).
 *
 * Why a child process: there is no D-Bus library in our dependency list and
 * a notification must never delay a USB decision. posix_spawn returns as
 * soon as the child exists; the child's exit is collected later with
 * waitpid(WNOHANG). The daemon blocks signals for its signalfd, so the
 * child gets an empty signal mask and default dispositions. A blocked
 * device's notification is `mamorictl notify-request` instead of gdbus: it
 * carries the "申請する / Request" action and files the request as the
 * session's user (issue 16.1; agent/ctl/ctl_notify.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fileio.h"
#include "notify.h"
#include "proc-util.h"
#include "rootpath.h"
#include "strutil.h"

extern char **environ;

#define MAX_INFLIGHT_CAP 64

struct notify {
	unsigned max;
	size_t n;
	pid_t pids[MAX_INFLIGHT_CAP];
	size_t dropped;
};

int notify_new(unsigned max_inflight, struct notify **ret)
{
	struct notify *n;

	if (max_inflight < 1 || max_inflight > MAX_INFLIGHT_CAP)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->max = max_inflight;
	*ret = n;
	return 0;
}

size_t notify_reap(struct notify *n)
{
	size_t i = 0;

	if (!n)
		return 0;
	while (i < n->n) {
		int st;
		pid_t p = waitpid(n->pids[i], &st, WNOHANG);

		if (p == n->pids[i] || (p < 0 && errno == ECHILD))
			n->pids[i] = n->pids[--n->n];
		else
			i++;
	}
	return n->n;
}

struct notify *notify_free(struct notify *n)
{
	if (!n)
		return NULL;
	notify_reap(n);
	free(n);
	return NULL;
}

size_t notify_dropped(const struct notify *n)
{
	return n ? n->dropped : 0;
}

/* Parse one logind session file: active user session → 0 and uid. */
static int session_uid(const char *path, uid_t *ret, int *ret_graphical)
{
	_cleanup_free_ char *buf = NULL;
	bool active = false, user = true;
	int graphical = 0;
	int64_t uid = -1;
	char *line, *save = NULL;

	if (read_file_capped(path, 64 * 1024, &buf, NULL) < 0)
		return -ENOENT;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "ACTIVE=1") == 0)
			active = true;
		else if (startswith(line, "CLASS="))
			user = strcmp(line + 6, "user") == 0;
		else if (startswith(line, "TYPE="))
			graphical = strcmp(line + 5, "x11") == 0 || strcmp(line + 5, "wayland") == 0 ||
			            strcmp(line + 5, "mir") == 0;
		else if (startswith(line, "UID=")) {
			if (parse_int64(line + 4, 0, UINT32_MAX - 1, &uid) < 0)
				return -EINVAL;
		}
	}
	if (!active || !user || uid < 0)
		return -ENOENT;
	*ret = (uid_t)uid;
	*ret_graphical = graphical;
	return 0;
}

int notify_find_session(uid_t *ret_uid, char *bus, size_t bussz)
{
	char dir[PATH_MAX], bp[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int best = -1, n = 0;
	uid_t best_uid = 0;

	if (root_path(dir, sizeof(dir), "/run/systemd/sessions") < 0)
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return -ENXIO;
	while ((de = readdir(d)) && n < NOTIFY_SESSION_MAX) {
		char p[PATH_MAX];
		uid_t uid;
		int g;
		struct stat st;

		if (de->d_name[0] == '.' || strchr(de->d_name, '.'))
			continue; /* *.ref are FIFOs, not session files */
		n++;
		if (xsnprintf(p, sizeof(p), "%s/%s", dir, de->d_name) < 0)
			continue;
		if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (session_uid(p, &uid, &g) < 0 || g <= best)
			continue;
		if (root_pathf(bp, sizeof(bp), "/run/user/%u/bus", (unsigned)uid) < 0 || access(bp, F_OK) < 0)
			continue;
		best = g;
		best_uid = uid;
	}
	closedir(d);
	if (best < 0)
		return -ENXIO;
	if (root_pathf(bp, sizeof(bp), "/run/user/%u/bus", (unsigned)best_uid) < 0 ||
	    xsnprintf(bus, bussz, "unix:path=%s", bp) < 0)
		return -ENAMETOOLONG;
	*ret_uid = best_uid;
	return 0;
}

/* A GVariant text string literal of s: "..." with \\ \" escaped and control
 * bytes dropped, cut at NOTIFY_TEXT_MAX input bytes on a UTF-8 boundary. */
static char *gvariant_string(const char *s)
{
	size_t n = strnlen(s, NOTIFY_TEXT_MAX), o = 0;
	char *out = malloc(n * 2 + 3);

	if (!out)
		return NULL;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80 && s[n] != '\0')
		n--; /* do not cut inside a UTF-8 sequence */
	out[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			continue;
		if (c == '\\' || c == '"')
			out[o++] = '\\';
		out[o++] = (char)c;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* mamorictl for the notification's "申請する / Request" action (issue 16.1):
 * next to this program (a build tree, a test), else where the package puts it.
 * 0 and the path, or -ENOENT: the notification is then shown without it. */
static int find_ctl(char *buf, size_t sz)
{
	static const char *const fixed[] = {"/usr/bin/mamorictl", "/usr/local/bin/mamorictl"};

	if (self_sibling_path("mamorictl", buf, sz) == 0 && access(buf, X_OK) == 0)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
		if (access(fixed[i], X_OK) == 0)
			return strscpy(buf, sz, fixed[i]) < 0 ? -ENAMETOOLONG : 0;
	return -ENOENT;
}

int notify_send(struct notify *n, const char *summary, const char *body)
{
	return notify_send_request(n, summary, body, NULL);
}

int notify_send_request(struct notify *n, const char *summary, const char *body, const char *device)
{
	_cleanup_free_ char *gs = NULL, *gb = NULL;
	char bus[PATH_MAX + 16], envbus[PATH_MAX + 48], envpath[PATH_MAX + 8], ruid[32], rgid[32], ctl[PATH_MAX];
	char to[32];
	const char *path = getenv("PATH");
	char *envp[4];
	const char *argv[32];
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	sigset_t none;
	uid_t uid;
	pid_t pid;
	size_t a = 0;
	int r;

	if (!n || !summary || !body)
		return -EINVAL;
	if (device && (!device[0] || strlen(device) > 64 || device[0] == '-'))
		return -EINVAL;
	if (notify_reap(n) >= n->max) {
		n->dropped++;
		return -EBUSY;
	}
	r = notify_find_session(&uid, bus, sizeof(bus));
	if (r < 0)
		return r;
	if (device && find_ctl(ctl, sizeof(ctl)) < 0)
		device = NULL; /* no helper: the text alone (it names the command) */
	gs = gvariant_string(summary);
	gb = gvariant_string(body);
	if (!gs || !gb)
		return -ENOMEM;
	if (xsnprintf(envbus, sizeof(envbus), "DBUS_SESSION_BUS_ADDRESS=%s", bus) < 0 ||
	    xsnprintf(envpath, sizeof(envpath), "PATH=%s", path ? path : "/usr/local/bin:/usr/bin:/bin") < 0)
		return -ENAMETOOLONG;
	envp[0] = envbus;
	envp[1] = envpath;
	envp[2] = (char *)"LANG=C.UTF-8";
	envp[3] = NULL;

	if (uid != geteuid()) {
		struct passwd pw, *res = NULL;
		char pwbuf[4096];

		if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) != 0 || !res)
			return -ESRCH;
		xsnprintf(ruid, sizeof(ruid), "--reuid=%u", (unsigned)uid);
		xsnprintf(rgid, sizeof(rgid), "--regid=%u", (unsigned)pw.pw_gid);
		argv[a++] = "setpriv";
		argv[a++] = ruid;
		argv[a++] = rgid;
		argv[a++] = "--clear-groups";
		argv[a++] = "--";
	}
	if (device) {
		/* the helper runs as the session's user: it shows the
		 * notification with the action, waits for it (bounded) and files
		 * the request through the control socket, which takes the person
		 * from the peer credentials (agent/ctl/ctl_notify.c) */
		const char *root = root_get();

		xsnprintf(to, sizeof(to), "%d", NOTIFY_ACTION_TIMEOUT_MS);
		argv[a++] = ctl;
		if (root && root[0]) {
			argv[a++] = "--root";
			argv[a++] = root;
		}
		argv[a++] = "notify-request";
		argv[a++] = "--device";
		argv[a++] = device;
		argv[a++] = "--timeout-ms";
		argv[a++] = to;
		argv[a++] = "--summary";
		argv[a++] = summary;
		argv[a++] = "--body";
		argv[a++] = body;
	} else {
		argv[a++] = "gdbus";
		argv[a++] = "call";
		argv[a++] = "--session";
		argv[a++] = "--dest=org.freedesktop.Notifications";
		argv[a++] = "--object-path=/org/freedesktop/Notifications";
		argv[a++] = "--method=org.freedesktop.Notifications.Notify";
		argv[a++] = "\"mamori\"";
		argv[a++] = "uint32 0";
		argv[a++] = "\"dialog-warning\"";
		argv[a++] = gs;
		argv[a++] = gb;
		argv[a++] = "@as []";
		argv[a++] = "@a{sv} {}";
		argv[a++] = "int32 10000";
	}
	argv[a] = NULL;

	sigemptyset(&none);
	if (posix_spawnattr_init(&attr) != 0)
		return -ENOMEM;
	if (posix_spawn_file_actions_init(&fa) != 0) {
		posix_spawnattr_destroy(&attr);
		return -ENOMEM;
	}
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setsigmask(&attr, &none);
	/* the child's output is of no use to the daemon: the real /dev/null,
	 * not a device under the root prefix */
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	r = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0)
		return -r;
	n->pids[n->n++] = pid;
	return 0;
}
