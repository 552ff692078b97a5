/* modules/posture/timesync.c — clock synchronisation check, LOG-2 (mamori-worker).
 *
 * Facts come from adjtimex(2) with modes = 0 (read only; the kernel state is
 * global and never changed here), systemd's wants/ symlinks, the daemons'
 * configuration files and /proc/PID/comm — all under the root prefix. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fileio.h"
#include "rootpath.h"
#include "strutil.h"
#include "timesync.h"

#define REQ "LOG-2"

struct daemon_def {
	const char *name;
	const char *units[3];  /* systemd unit names that mean "this daemon" */
	const char *comm[2];   /* process names (/proc/PID/comm, 15 chars max) */
	const char *conf[3];   /* configuration files, first found wins */
	const char *conf_dir;  /* drop-in directory with *.conf, or NULL */
	bool timesyncd_syntax; /* NTP= lines instead of server/pool lines */
};

static const struct daemon_def daemons[_TSD_MAX] = {
        [TSD_CHRONY] = {"chrony",
                        {"chrony.service", "chronyd.service"},
                        {"chronyd"},
                        {"/etc/chrony/chrony.conf", "/etc/chrony.conf"},
                        NULL, /* confdir, sourcedir, include: read from the file (chrony_parse) */
                        false},
        [TSD_TIMESYNCD] = {"systemd-timesyncd",
                           {"systemd-timesyncd.service"},
                           {"systemd-timesyn"},
                           {"/etc/systemd/timesyncd.conf"},
                           "/etc/systemd/timesyncd.conf.d",
                           true},
        [TSD_NTPD] = {"ntpd", {"ntp.service", "ntpd.service"}, {"ntpd"}, {"/etc/ntp.conf"}, NULL, false},
        [TSD_NTPSEC] = {"ntpsec", {"ntpsec.service"}, {"ntpd"}, {"/etc/ntpsec/ntp.conf"}, NULL, false},
        [TSD_OPENNTPD] = {"openntpd", {"openntpd.service"}, {"ntpd"}, {"/etc/openntpd/ntpd.conf"}, NULL, false},
};

static const char *const wants_dirs[] = {
        "/etc/systemd/system/multi-user.target.wants",
        "/etc/systemd/system/sysinit.target.wants",
        "/etc/systemd/system/graphical.target.wants",
};

const char *timesync_daemon_name(enum timesync_daemon d)
{
	if (d < 0 || d >= _TSD_MAX)
		return NULL;
	return daemons[d].name;
}

static bool unit_enabled(const char *unit)
{
	char p[PATH_MAX], masked[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	/* masked (symlink to /dev/null) beats any wants/ link */
	if (xsnprintf(p, sizeof(p), "/etc/systemd/system/%s", unit) == 0 &&
	    root_path_nofollow(masked, sizeof(masked), p) == 0) {
		n = readlink(masked, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			if (strcmp(target, "/dev/null") == 0)
				return false;
		}
	}
	for (size_t i = 0; i < ELEMENTSOF(wants_dirs); i++)
		if (root_pathf(p, sizeof(p), "%s/%s", wants_dirs[i], unit) == 0 && access(p, F_OK) == 0)
			return true;
	/* dangling symlinks count as enabled intent too */
	for (size_t i = 0; i < ELEMENTSOF(wants_dirs); i++) {
		struct stat st;
		char rel[PATH_MAX];
		if (xsnprintf(rel, sizeof(rel), "%s/%s", wants_dirs[i], unit) == 0 &&
		    root_path_nofollow(p, sizeof(p), rel) == 0 && lstat(p, &st) == 0)
			return true;
	}
	return false;
}

static void add_server(struct timesync_facts *f, enum timesync_daemon d, const char *s, size_t len)
{
	if (f->n_servers[d] >= TIMESYNC_MAX_SERVERS || len == 0)
		return;
	if (len >= sizeof(f->servers[d][0]))
		len = sizeof(f->servers[d][0]) - 1;
	memcpy(f->servers[d][f->n_servers[d]], s, len);
	f->servers[d][f->n_servers[d]][len] = '\0';
	f->n_servers[d]++;
}

/* Collect "server X" / "pool X" (ntp, chrony) or "NTP=X Y" (timesyncd). */
static void parse_conf(struct timesync_facts *f, enum timesync_daemon d, const char *buf)
{
	bool in_time_section = !daemons[d].timesyncd_syntax;
	const char *p = buf;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t ll = nl ? (size_t)(nl - p) : strlen(p);
		char line[512];
		char *s;

		if (ll >= sizeof(line))
			ll = sizeof(line) - 1;
		memcpy(line, p, ll);
		line[ll] = '\0';
		p = nl ? nl + 1 : p + strlen(p);
		s = strstrip(line);
		if (*s == '#' || *s == ';' || *s == '\0')
			continue;
		if (daemons[d].timesyncd_syntax) {
			if (*s == '[') {
				in_time_section = strcmp(s, "[Time]") == 0;
				continue;
			}
			if (!in_time_section || !startswith(s, "NTP="))
				continue;
			s += 4;
			while (*s) {
				size_t l = strcspn(s, " \t");
				add_server(f, d, s, l);
				s += l;
				s += strspn(s, " \t");
			}
			continue;
		}
		if (startswith(s, "server ") || startswith(s, "server\t") || startswith(s, "pool ") ||
		    startswith(s, "pool\t") || startswith(s, "servers ")) {
			s += strcspn(s, " \t");
			s += strspn(s, " \t");
			add_server(f, d, s, strcspn(s, " \t"));
		}
	}
}

/* ---- chrony: its own directives decide which files count ---------------
 * chrony.conf(5): `server`, `pool` and `peer` are sources; `confdir DIR…`
 * reads DIR/NAME.conf as configuration (a name in an earlier DIR hides the same
 * name in later ones); `sourcedir DIR` reads DIR/NAME.sources, where only
 * server/pool/peer lines are allowed; `include PATTERN` reads the files of a
 * glob. Nothing is read from a directory the configuration does not name
 * (issue 21: /etc/chrony/sources.d on Debian 12). */
#define CHRONY_DEPTH_MAX 4

static void chrony_parse_file(struct timesync_facts *f, const char *path, bool sources_only, int depth);

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the sorted names ending in suffix in the (system) directory dir */
static size_t dir_names(const char *dir, const char *suffix, char names[][NAME_MAX + 1], size_t max)
{
	char p[PATH_MAX];
	struct dirent *de;
	size_t n = 0, sl = strlen(suffix);
	char *ptrs[64];
	char tmp[64][NAME_MAX + 1];
	DIR *d;

	if (max > 64 || root_path(p, sizeof(p), dir) < 0 || !(d = opendir(p)))
		return 0;
	while ((de = readdir(d)) && n < max) {
		size_t l = strlen(de->d_name);
		if (l <= sl || strcmp(de->d_name + l - sl, suffix) != 0)
			continue;
		strscpy(tmp[n], sizeof(tmp[n]), de->d_name);
		ptrs[n] = tmp[n];
		n++;
	}
	closedir(d);
	qsort(ptrs, n, sizeof(ptrs[0]), name_cmp);
	for (size_t i = 0; i < n; i++)
		strscpy(names[i], NAME_MAX + 1, ptrs[i]);
	return n;
}

static void chrony_line(struct timesync_facts *f, char *s, bool sources_only, int depth)
{
	char *kw = s, *arg;

	arg = s + strcspn(s, " \t");
	if (*arg) {
		*arg++ = '\0';
		arg += strspn(arg, " \t");
	}
	if (!strcasecmp(kw, "server") || !strcasecmp(kw, "pool") || !strcasecmp(kw, "peer")) {
		add_server(f, TSD_CHRONY, arg, strcspn(arg, " \t"));
		return;
	}
	if (sources_only || depth >= CHRONY_DEPTH_MAX)
		return;
	if (!strcasecmp(kw, "sourcedir") && *arg == '/') {
		char names[32][NAME_MAX + 1], fp[PATH_MAX];
		size_t n;

		arg[strcspn(arg, " \t")] = '\0';
		n = dir_names(arg, ".sources", names, ELEMENTSOF(names));
		for (size_t i = 0; i < n; i++)
			if (xsnprintf(fp, sizeof(fp), "%s/%s", arg, names[i]) == 0)
				chrony_parse_file(f, fp, true, depth + 1);
	} else if (!strcasecmp(kw, "confdir")) {
		/* several directories: the first one holding a name wins */
		char seen[64][NAME_MAX + 1];
		size_t nseen = 0;

		for (char *save = NULL, *dir = strtok_r(arg, " \t", &save); dir; dir = strtok_r(NULL, " \t", &save)) {
			char names[32][NAME_MAX + 1], fp[PATH_MAX];
			size_t n;

			if (*dir != '/')
				continue;
			n = dir_names(dir, ".conf", names, ELEMENTSOF(names));
			for (size_t i = 0; i < n; i++) {
				bool dup = false;
				for (size_t j = 0; j < nseen && !dup; j++)
					dup = strcmp(seen[j], names[i]) == 0;
				if (dup)
					continue;
				if (nseen < ELEMENTSOF(seen))
					strscpy(seen[nseen++], NAME_MAX + 1, names[i]);
				if (xsnprintf(fp, sizeof(fp), "%s/%s", dir, names[i]) == 0)
					chrony_parse_file(f, fp, false, depth + 1);
			}
		}
	} else if (!strcasecmp(kw, "include") && *arg == '/') {
		/* "include /etc/chrony/conf.d/ *.conf" (no space): a directory and a suffix glob */
		char dir[PATH_MAX], *slash, *star, names[32][NAME_MAX + 1], fp[PATH_MAX];
		size_t n;

		arg[strcspn(arg, " \t")] = '\0';
		if (strscpy(dir, sizeof(dir), arg) < 0 || !(slash = strrchr(dir, '/')))
			return;
		*slash = '\0';
		star = strchr(slash + 1, '*');
		if (!star) {
			chrony_parse_file(f, arg, false, depth + 1);
			return;
		}
		if (star != slash + 1 || strpbrk(star + 1, "*?[") || strpbrk(dir, "*?["))
			return; /* a glob other than DIR/ *SUFFIX: not followed */
		n = dir_names(dir[0] ? dir : "/", star + 1, names, ELEMENTSOF(names));
		for (size_t i = 0; i < n; i++)
			if (xsnprintf(fp, sizeof(fp), "%s/%s", dir, names[i]) == 0)
				chrony_parse_file(f, fp, false, depth + 1);
	}
}

static void chrony_parse_file(struct timesync_facts *f, const char *path, bool sources_only, int depth)
{
	_cleanup_free_ char *buf = NULL;
	char p[PATH_MAX];

	if (root_path(p, sizeof(p), path) < 0 || read_file_capped(p, 1024 * 1024, &buf, NULL) < 0)
		return;
	for (char *line = buf, *nl; line && *line; line = nl) {
		char *s;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		s = strstrip(line);
		/* chrony's comment characters: ! ; # % */
		if (!*s || strchr("!;#%", *s))
			continue;
		chrony_line(f, s, sources_only, depth);
	}
}

static void gather_conf(struct timesync_facts *f, enum timesync_daemon d)
{
	char p[PATH_MAX];

	for (size_t i = 0; i < ELEMENTSOF(daemons[d].conf) && daemons[d].conf[i]; i++) {
		_cleanup_free_ char *buf = NULL;

		if (root_path(p, sizeof(p), daemons[d].conf[i]) < 0)
			continue;
		if (read_file_capped(p, 1024 * 1024, &buf, NULL) < 0)
			continue;
		f->installed[d] = true;
		if (d == TSD_CHRONY)
			chrony_parse_file(f, daemons[d].conf[i], false, 0);
		else
			parse_conf(f, d, buf);
		break;
	}
	if (daemons[d].conf_dir && root_path(p, sizeof(p), daemons[d].conf_dir) == 0) {
		DIR *dir = opendir(p);
		struct dirent *de;

		if (!dir)
			return;
		while ((de = readdir(dir))) {
			_cleanup_free_ char *buf = NULL;
			char fp[PATH_MAX];
			size_t l = strlen(de->d_name);

			if (l < 6 || strcmp(de->d_name + l - 5, ".conf") != 0)
				continue;
			if (xsnprintf(fp, sizeof(fp), "%s/%s", p, de->d_name) < 0)
				continue;
			if (read_file_capped(fp, 1024 * 1024, &buf, NULL) == 0)
				parse_conf(f, d, buf);
		}
		closedir(dir);
	}
}

static void gather_procs(struct timesync_facts *f)
{
	char p[PATH_MAX];
	DIR *dir;
	struct dirent *de;

	if (root_path(p, sizeof(p), "/proc") < 0)
		return;
	dir = opendir(p);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		char cp[PATH_MAX], comm[64];

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (xsnprintf(cp, sizeof(cp), "%s/%s/comm", p, de->d_name) < 0)
			continue;
		if (read_one_line(cp, comm, sizeof(comm)) < 0)
			continue;
		for (int d = 0; d < _TSD_MAX; d++)
			for (size_t i = 0; i < ELEMENTSOF(daemons[d].comm) && daemons[d].comm[i]; i++)
				/* "ntpd" is shared by three daemons: count it for the installed one(s) */
				if (strcmp(comm, daemons[d].comm[i]) == 0 &&
				    (strcmp(comm, "ntpd") != 0 || f->installed[d] || f->enabled[d]))
					f->running[d] = true;
	}
	closedir(dir);
}

int timesync_gather(struct timesync_facts *f)
{
	struct timex tx = {.modes = 0};

	memset(f, 0, sizeof(*f));
	f->kernel_is_host = root_get()[0] != '\0';
	f->adjtimex_state = adjtimex(&tx);
	if (f->adjtimex_state < 0)
		f->adjtimex_state = -errno;
	f->adjtimex_status = tx.status;
	f->maxerror_us = tx.maxerror;
	f->esterror_us = tx.esterror;
	for (int d = 0; d < _TSD_MAX; d++) {
		for (size_t i = 0; i < ELEMENTSOF(daemons[d].units) && daemons[d].units[i]; i++)
			if (unit_enabled(daemons[d].units[i]))
				f->enabled[d] = true;
		gather_conf(f, (enum timesync_daemon)d);
	}
	gather_procs(f);
	return 0;
}

static void list_daemons(char *buf, size_t sz, const bool *which)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int d = 0; d < _TSD_MAX; d++)
		if (which[d]) {
			int n = snprintf(buf + o, sz - o, "%s%s", o ? "," : "", daemons[d].name);
			if (n < 0 || (size_t)n >= sz - o)
				return;
			o += (size_t)n;
		}
	if (o == 0)
		snprintf(buf, sz, "none");
}

int timesync_evaluate(const struct timesync_facts *f, struct check_report *rep)
{
	struct check_result *r;
	char list[256];
	int n_enabled = 0, which = -1;

	/* 1. kernel clock state */
	r = check_report_add(rep, "timesync", "timesync.kernel_sync", REQ);
	if (!r)
		return -ENOMEM;
	check_result_evidence(r, "adjtimex_state", "%d", f->adjtimex_state);
	check_result_evidence(r, "status", "0x%04x", (unsigned)f->adjtimex_status);
	check_result_evidence(r, "sta_unsync", "%s", (f->adjtimex_status & STA_UNSYNC) ? "yes" : "no");
	check_result_evidence(r, "maxerror_us", "%ld", f->maxerror_us);
	check_result_evidence(r, "esterror_us", "%ld", f->esterror_us);
	if (f->kernel_is_host) {
		/* --root: the kernel read is the evaluating machine's, a host-global
		 * fact that says nothing about the root (issue 21) */
		check_result_evidence(r, "scope", "host kernel, not the evaluated root");
		check_result_set(r, CHECK_NOT_APPLICABLE,
		                 "ルートを指定した点検ではカーネルの時刻状態は対象外です (このマシンの状態のため)",
		                 "Not judged with a root prefix: the kernel clock is this machine's, not the root's");
	} else if (f->adjtimex_state < 0) {
		check_result_set(r, CHECK_ERROR, "カーネルの時刻同期状態を読めませんでした (adjtimex)",
		                 "Could not read the kernel's clock state (adjtimex)");
	} else if (f->adjtimex_state == TIME_ERROR || (f->adjtimex_status & STA_UNSYNC)) {
		check_result_set(r, CHECK_FAIL, "時刻が同期されていません (カーネル: 非同期)",
		                 "The clock is not synchronised (kernel: unsynchronised)");
		check_result_remedy(r,
		                    "時刻同期デーモン (chrony または systemd-timesyncd) を一つだけ有効にし、"
		                    "庁内の NTP サーバを設定してください。",
		                    "Enable exactly one time daemon (chrony or systemd-timesyncd) and "
		                    "configure the office NTP server.");
	} else {
		check_result_set(r, CHECK_PASS, "時刻は同期されています", "The clock is synchronised");
	}

	/* 2. which daemon keeps it so */
	r = check_report_add(rep, "timesync", "timesync.daemon", REQ);
	if (!r)
		return -ENOMEM;
	for (int d = 0; d < _TSD_MAX; d++)
		if (f->enabled[d]) {
			n_enabled++;
			which = d;
		}
	list_daemons(list, sizeof(list), f->enabled);
	check_result_evidence(r, "enabled", "%s", list);
	list_daemons(list, sizeof(list), f->running);
	if (f->kernel_is_host)
		check_result_evidence(r, "running", "not judged: the processes are the evaluating machine's");
	else
		check_result_evidence(r, "running", "%s", list);
	if (n_enabled == 0) {
		check_result_set(r, CHECK_FAIL, "時刻同期デーモンが有効になっていません",
		                 "No time synchronisation daemon is enabled");
		check_result_remedy(r, "chrony または systemd-timesyncd を有効にしてください。",
		                    "Enable chrony or systemd-timesyncd.");
	} else if (n_enabled > 1) {
		check_result_set(r, CHECK_FAIL, "複数の時刻同期デーモンが有効で、互いに時計を奪い合います",
		                 "More than one time daemon is enabled; they fight over the clock");
		check_result_remedy(r, "一つを残して他の時刻同期デーモンを無効にしてください。",
		                    "Disable all time daemons but one.");
	} else {
		size_t o = 0;

		list[0] = '\0';
		for (unsigned i = 0; i < f->n_servers[which]; i++) {
			int n = snprintf(list + o, sizeof(list) - o, "%s%s", i ? "," : "", f->servers[which][i]);
			if (n < 0 || (size_t)n >= sizeof(list) - o)
				break;
			o += (size_t)n;
		}
		check_result_evidence(r, "daemon", "%s", daemons[which].name);
		check_result_evidence(r, "servers", "%s", o ? list : "none");
		if (f->n_servers[which] == 0 && which != TSD_TIMESYNCD) {
			check_result_set(r, CHECK_FAIL, "時刻同期デーモンに NTP サーバが設定されていません",
			                 "The time daemon has no NTP server configured");
			check_result_remedy(r, "設定ファイルに庁内の NTP サーバ (server/pool) を追加してください。",
			                    "Add the office NTP server (server/pool) to its configuration.");
		} else if (f->kernel_is_host) {
			/* --root: the processes are this machine's, not the root's */
			check_result_set(r, CHECK_PASS,
			                 "時刻同期デーモンが一つだけ有効で、NTP サーバが設定されています (動作状態は"
			                 "ルート指定の点検では対象外)",
			                 "Exactly one time daemon is enabled and configured (whether it runs is not "
			                 "judged with a root prefix)");
		} else if (!f->running[which]) {
			check_result_set(r, CHECK_FAIL, "時刻同期デーモンは有効ですが動作していません",
			                 "The time daemon is enabled but not running");
			check_result_remedy(r,
			                    "systemctl start でデーモンを起動し、失敗の原因をログで確認してください。",
			                    "Start it with systemctl start and check its log for the cause.");
		} else {
			/* timesyncd without NTP= uses the distribution's FallbackNTP= */
			check_result_set(r, CHECK_PASS, "時刻同期デーモンが一つだけ有効で動作しています",
			                 "Exactly one time daemon is enabled and running");
		}
	}
	return 0;
}

static int timesync_check(void *state, struct check_report *rep)
{
	struct timesync_facts f;
	int r;

	(void)state;
	r = timesync_gather(&f);
	if (r < 0)
		return r;
	return timesync_evaluate(&f, rep);
}

const struct mamori_module timesync_module = {
        .name = "timesync",
        .caps = MAMORI_CAP_CHECK,
        .check = timesync_check,
};
