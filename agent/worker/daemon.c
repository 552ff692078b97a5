/* agent/worker/daemon.c — mamori-worker's state, module lifecycle and its one
 * epoll loop (mamori-worker). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "av/av.h"
#include "command.h"
#include "control.h"
#include "daemon.h"
#include "daemon_policy.h"
#include "journal.h"
#include "policy.h"
#include "posture_pass.h"
#include "proc-util.h"
#include "fileio.h"
#include "daemon_sync.h"
#include "approval_store.h"
#include "request_store.h"
#include "daemon_command.h"
#include "ipc.h"
#include "command_verify.h"
#include "isolate.h"
#include "lock.h"
#include "transport.h" /* transport_state.c only: no libcurl here */
#include "media.h"
#include "json-util.h"
#include "log.h"
#include "rootpath.h"
#include "sdnotify.h"
#include "strutil.h"
#include "sanitize.h"
#include "usb_local_store.h"
#include "version.h"
#include "watch.h"

struct daemon {
	struct daemon_options opts;
	char root[PATH_MAX];
	char config_path[PATH_MAX];
	struct agent_config config;
	struct mamori_ctx ctx;
	cJSON *approved_carry; /* ctx.approved_carry: approval_store_carry() */
	struct module_slot slots[32];
	size_t n_slots;
	int epfd, sigfd, check_tfd, wd_tfd;
	struct watch w_sig, w_check, w_wd, w_control;
	struct watch *module_watches; /* one per module fd */
	size_t n_module_watches;
	struct control_server *control;
	struct check_report report;      /* last pass */
	struct check_report prev_report; /* the pass before, for posture.changed */
	struct policy_state pol;
	struct daemon_sync sync;
	int sync_tfd;
	struct watch w_sync;
	/* the command long poll: `mamorictl server poll`, its stdout a pipe
	 * that says when a command reached the inbox (docs/COMMANDS.md) */
	struct {
		pid_t pid;
		int fd;
		struct watch w;
	} cpoll;
	/* `mamorictl media sanitize` in a child (MEDIA-6): its records and
	 * answer come as lines on fd, journaled when it ends; one at a time */
	struct {
		pid_t pid;
		int fd;
		char *buf;
		size_t len;
		char devnode[256];
		struct watch w;
	} san;
	struct ipc_peer peer; /* to mamorid (protocol/ipc.h), fd -1 when standalone */
	struct watch w_ipc;
	cJSON *gate_hello; /* what mamorid said about itself (status) */
	struct journal *journal;
	int journal_error; /* why the journal could not be opened (negative errno) */
	time_t started, last_check;
	time_t last_prune; /* CLOCK_BOOTTIME seconds; 0 = not yet */
	uint64_t events_emitted;
	/* CLOCK_BOOTTIME seconds: until then a request waits for its approver
	 * and the sync runs every REQUEST_POLL_MS (issue 16) */
	int64_t request_poll_until;
	uint64_t ipc_refused; /* typed messages refused for their values (severity) */
	bool stop;
	bool running;  /* daemon_run's loop serves (passes run in a child) */
	bool reloaded; /* module watches were rebuilt: the current epoll batch is stale */
	/* the posture pass running in a child (agent/worker/posture_pass.h) */
	struct {
		bool active; /* a pass is running (until pass_finish) */
		pid_t pid;   /* > 0 while the child exists (until reaped) */
		int fd;      /* our end of the socketpair, -1 once closed */
		struct watch w;
		uint8_t *buf; /* bytes received, not yet decoded */
		size_t len, total;
		struct check_report rep; /* results decoded so far */
		uint32_t *slot_of;       /* slot of each result in rep */
		size_t slot_alloc;
		uint32_t last_slot;
		bool ended;          /* PP_END seen and its count matched */
		const char *failure; /* why the pass failed (static text), NULL = none yet */
		int status;          /* wait status once reaped */
		bool reaped;
		struct timespec started; /* CLOCK_MONOTONIC */
		bool answer_control;     /* control clients wait for this pass */
		uint64_t runs, failures;
	} pass;
};

static void arm_sync(struct daemon *d, uint64_t ms);
static void want_sync(struct daemon *d, uint64_t ms);
/* a sync asked for while one ran follows it this soon (start_sync, sync_done) */
#define SYNC_AGAIN_MS 500
/* after a request (issue 16): a check-in every 2 s for 15 minutes, so that
 * an approval reaches the person waiting at the terminal within a few
 * seconds (usb_requests: a still-plugged stick authorized within 5 s) */
#define REQUEST_POLL_S  (15 * 60)
#define REQUEST_POLL_MS 2000
static void ipc_update(struct daemon *d);
static bool enrolled(struct daemon *d);
static bool cmd_retired(struct daemon *d);

/* `mamorictl usb watch` (issue 12.6): every usb.* event journaled, as one
 * line to the control clients that watch. */
static void publish_usb_event(struct daemon *d, const struct mamori_event *ev, uint64_t seq)
{
	_cleanup_json_ cJSON *o = cJSON_CreateObject();
	_cleanup_free_ char *t = NULL;

	if (!o)
		return;
	cJSON_AddNumberToObject(o, "seq", (double)seq);
	cJSON_AddNumberToObject(o, "time", (double)time(NULL));
	cJSON_AddStringToObject(o, "type", ev->type);
	cJSON_AddStringToObject(o, "severity", event_severity_to_string(ev->severity));
	cJSON_AddStringToObject(o, "reqs", ev->reqs ? ev->reqs : "");
	cJSON_AddItemToObject(o, "payload", ev->payload ? cJSON_Duplicate(ev->payload, 1) : cJSON_CreateObject());
	t = cJSON_PrintUnformatted(o);
	if (t)
		control_server_publish(d->control, d->epfd, t);
}

/* Every event is made durable in the journal before the module goes on
 * (journal_append returns after the fsync, or inside a batch that the caller
 * commits). Without a journal the event is at least logged, and the posture
 * report says the journal is broken (LOG-1). */
/* AV-5: with the policy's network.isolate_on_infection, a malware detection
 * (av.detected, from a full scan or a carry-in scan) isolates the terminal
 * at once, without waiting for the server: the same table and record as the
 * `isolate` command (agent/worker/isolate.c), so it survives restarts and
 * only a signed `release` (two persons) ends it. network.isolated (critical)
 * is journaled and, like every critical record, uploaded at once. */
static void isolate_on_infection(struct daemon *d, const struct mamori_event *ev, uint64_t seq)
{
	const cJSON *net = d->ctx.policy ? policy_section(d->ctx.policy, "network") : NULL;
	_cleanup_json_ cJSON *p = NULL;
	char state[PATH_MAX], url[512], detail[1024] = "", reason[64];
	const cJSON *v;
	int r;

	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(net, "isolate_on_infection")) || d->ctx.audit_only ||
	    root_path(state, sizeof(state), d->config.state_dir) < 0 || isolate_active(state))
		return;
	(void)xsnprintf(reason, sizeof(reason), "av.detected seq %llu", (unsigned long long)seq);
	r = command_enroll_field(state, "device_url", url, sizeof(url));
	if (r < 0)
		snprintf(detail, sizeof(detail), "no device URL in enroll.json (not enrolled): not isolated");
	else
		r = isolate_apply(state, url, d->config.isolate_dhcp_dns, reason, detail, sizeof(detail));
	p = cJSON_CreateObject();
	if (!p || !cJSON_AddStringToObject(p, "reason", "infection") ||
	    !cJSON_AddNumberToObject(p, "detection_seq", (double)seq) ||
	    !cJSON_AddStringToObject(p, "result", r < 0 ? "failed" : "done") ||
	    !cJSON_AddStringToObject(p, "detail", detail))
		return;
	v = cJSON_GetObjectItemCaseSensitive(ev->payload, "signature");
	cJSON_AddStringToObject(p, "signature", cJSON_IsString(v) ? v->valuestring : "");
	v = cJSON_GetObjectItemCaseSensitive(ev->payload, "path");
	cJSON_AddStringToObject(p, "path", cJSON_IsString(v) ? v->valuestring : "");
	(void)mamori_emit(&d->ctx, "network.isolated", SEV_CRITICAL, "AV-5,MDM-2", p);
	if (r < 0)
		log_error("infection: the terminal could not be isolated: %s", detail);
	else
		log_notice("infection: the terminal is isolated until a signed release (AV-5): %s", detail);
}

static int daemon_emit(struct mamori_ctx *ctx, const struct mamori_event *ev, uint64_t *ret_seq)
{
	struct daemon *d = ctx->daemon;
	uint64_t seq = 0;
	int r = -ENOTCONN;

	d->events_emitted++;
	if (d->journal)
		r = journal_append(d->journal, ev, &seq);
	if (r >= 0 && ret_seq)
		*ret_seq = seq;
	if (r >= 0 && strncmp(ev->type, "usb.", 4) == 0 && control_server_has_watchers(d->control))
		publish_usb_event(d, ev, seq);
	if (r >= 0 && strcmp(ev->type, "av.detected") == 0)
		isolate_on_infection(d, ev, seq);
	if (r >= 0)
		request_note_event(ev); /* `mamorictl request device` asks for the last blocked one */
	if (r >= 0 && strcmp(ev->type, "request.created") == 0) {
		struct timespec bt;

		/* the approver sees it at once, and the approval comes back at
		 * once: the person waits at the terminal */
		clock_gettime(CLOCK_BOOTTIME, &bt);
		d->request_poll_until = (int64_t)bt.tv_sec + REQUEST_POLL_S;
		if (d->sync.enrolled)
			want_sync(d, 1000);
	}
	/* tampering and infections reach the CISO at once, not at the next check-in (OPS-5) */
	if (ev->severity >= SEV_CRITICAL && d->sync.enrolled)
		want_sync(d, 1000);
	if (r < 0 || log_get_max_level() >= LOG_DEBUG) {
		_cleanup_free_ char *p = ev->payload ? cJSON_PrintUnformatted(ev->payload) : NULL;
		log_full_errno(r < 0 ? LOG_WARNING : LOG_DEBUG, 0, "event %s [%s] %s %s%s", ev->type,
		               event_severity_to_string(ev->severity), ev->reqs ? ev->reqs : "", p ? p : "{}",
		               r < 0 ? " (not journaled)" : "");
	}
	return r;
}

/* The agent's own evidence store is part of the posture (LOG-1). */
static void check_journal(struct daemon *d, struct check_report *rep)
{
	struct check_result *r = check_report_add(rep, "agent", "agent.journal", "LOG-1");
	char hash[JOURNAL_HASH_HEX_LEN + 1];
	uint64_t seq;

	if (!r)
		return;
	if (!d->journal) {
		check_result_set(r, CHECK_FAIL, "イベント記録 (ジャーナル) を開けません。記録が残りません",
		                 "The event journal cannot be opened: nothing is being recorded");
		check_result_evidence(r, "error", "%s", strerror(-d->journal_error));
		check_result_remedy(r, "state_dir の空き容量と権限を確認し、mamorid を再起動してください。",
		                    "Check free space and permissions of state_dir, then restart mamorid.");
		return;
	}
	if (journal_head(d->journal, &seq, hash) == 0) {
		check_result_evidence(r, "head_seq", "%llu", (unsigned long long)seq);
		check_result_evidence(r, "head_hash", "%s", hash);
	}
	check_result_set(r, CHECK_PASS, "イベント記録は改ざん検知付きで保存されています",
	                 "Events are recorded in the tamper-evident journal");
}

/* The USB gate switched off by `usb_gate = off` is a finding the server sees
 * with every check-in, not a silent state (MEDIA-1, issue 11). */
static void check_usb_gate(struct daemon *d, struct check_report *rep)
{
	struct check_result *r;

	if (d->config.usb_gate)
		return;
	r = check_report_add(rep, "agent", "agent.usb_gate", "MEDIA-1");
	if (!r)
		return;
	check_result_set(
	        r, CHECK_FAIL, "USB ゲートが設定 (usb_gate = off) で停止されています。USB 機器は判定されません",
	        "The USB gate is switched off by the configuration (usb_gate = off): USB devices are not decided");
	check_result_evidence(r, "usb_gate", "off");
	check_result_remedy(r, "agent.conf の usb_gate = off を削除し、mamorid を再起動してください。",
	                    "Remove usb_gate = off from agent.conf and restart mamorid.");
}

/* LOG-2 from the outside: TLS judged this terminal's clock wrong. */
static void check_clock(struct daemon *d, struct check_report *rep)
{
	struct check_result *r;

	if (!d->sync.clock_wrong)
		return;
	r = check_report_add(rep, "agent", "agent.clock", "LOG-2");
	if (!r)
		return;
	check_result_set(r, CHECK_FAIL, "端末の時計が狂っているため、サーバーとの TLS 接続が失敗しています",
	                 "TLS to the server fails because this terminal's clock is wrong");
	check_result_remedy(r, "時刻同期 (NTP) を確認し、時計を合わせてください。",
	                    "Check time synchronisation (NTP) and correct the clock.");
}

/* Acknowledged events older than the policy's retention go, once a day of
 * running time: the boot-time clock, not the wall clock (issue 13: a jump
 * of 800 days must not delete evidence). */
static void prune_journal(struct daemon *d)
{
	const cJSON *rep = mamori_policy_section(&d->ctx, "reporting");
	const cJSON *days = rep ? cJSON_GetObjectItemCaseSensitive(rep, "retention_days") : NULL;
	struct timespec ts;
	int r;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	if (!d->journal || !cJSON_IsNumber(days) || (d->last_prune && ts.tv_sec - d->last_prune < 86400))
		return;
	d->last_prune = ts.tv_sec > 0 ? ts.tv_sec : 1;
	r = journal_prune(d->journal, (int64_t)days->valuedouble * 86400, (int64_t)ts.tv_sec);
	if (r < 0)
		log_warning_errno(r, "journal: pruning failed");
	else if (r > 0)
		log_info("journal: %d acknowledged events past retention pruned", r);
}

static int load_config(struct daemon *d, struct agent_config *ret)
{
	struct agent_config cfg;
	char err[4096];
	int r;

	config_defaults(&cfg);
	r = config_load(&cfg, d->config_path, true, err, sizeof(err));
	if (r < 0) {
		/* each problem on its own line, as the administrator reads them */
		char *line = err, *nl;
		do {
			nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			log_error("%s", line);
			line = nl ? nl + 1 : NULL;
		} while (line);
		return r;
	}
	/* module names are checked by the parser itself (agent/sdk/config.c), the
	 * same one mamorid uses: both refuse the same file, naming the same word */
	*ret = cfg;
	return 0;
}

static int epoll_add(int epfd, int fd, struct watch *w)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void unregister_module_fds(struct daemon *d)
{
	for (size_t i = 0; i < d->n_module_watches; i++)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->module_watches[i].fd, NULL);
	free(d->module_watches);
	d->module_watches = NULL;
	d->n_module_watches = 0;
}

/* (Re)build the epoll registrations of every active module's fds. */
static int register_module_fds(struct daemon *d)
{
	size_t total = 0, k = 0;

	unregister_module_fds(d);
	for (size_t i = 0; i < d->n_slots; i++) {
		struct module_slot *s = &d->slots[i];
		int n;

		s->n_fds = 0;
		if (s->state != MODULE_ACTIVE || !s->mod->fds)
			continue;
		n = s->mod->fds(s->data, s->fds, MAMORI_MODULE_MAX_FDS);
		if (n < 0) {
			log_warning_errno(n, "module %s: cannot list its file descriptors", s->mod->name);
			continue;
		}
		s->n_fds = (size_t)n > MAMORI_MODULE_MAX_FDS ? MAMORI_MODULE_MAX_FDS : (size_t)n;
		total += s->n_fds;
	}
	if (total == 0)
		return 0;
	d->module_watches = calloc(total, sizeof(*d->module_watches));
	if (!d->module_watches)
		return -ENOMEM;
	for (size_t i = 0; i < d->n_slots; i++)
		for (size_t j = 0; j < d->slots[i].n_fds; j++) {
			struct watch *w = &d->module_watches[k];
			int r;

			*w = (struct watch){.kind = W_MODULE, .fd = d->slots[i].fds[j], .slot = &d->slots[i]};
			r = epoll_add(d->epfd, w->fd, w);
			if (r < 0) {
				log_warning_errno(r, "module %s: cannot watch fd %d", d->slots[i].mod->name, w->fd);
				continue;
			}
			k++;
		}
	d->n_module_watches = k;
	return 0;
}

static void init_modules(struct daemon *d)
{
	const struct mamori_module *const *list = d->opts.modules ? d->opts.modules : mamori_modules;

	d->n_slots = 0;
	for (size_t i = 0; list[i] && d->n_slots < ELEMENTSOF(d->slots); i++) {
		struct module_slot *s = &d->slots[d->n_slots++];
		int r = 0;

		*s = (struct module_slot){.mod = list[i], .state = MODULE_OFF};
		if (!config_module_enabled(&d->config, s->mod->name))
			continue;
		r = mamori_module_start(s->mod, &d->ctx, &s->data);
		if (r < 0) {
			/* a failing module reports error; the daemon lives on */
			log_error_errno(r, "module %s: init failed", s->mod->name);
			s->state = MODULE_FAILED;
			s->init_error = r;
			continue;
		}
		s->state = MODULE_ACTIVE;
		log_debug("module %s: active", s->mod->name);
	}
}

static void enforce_modules(struct daemon *d)
{
	if (d->ctx.audit_only)
		return;
	for (size_t i = 0; i < d->n_slots; i++) {
		struct module_slot *s = &d->slots[i];
		int r;

		if (s->state != MODULE_ACTIVE || !s->mod->enforce)
			continue;
		r = s->mod->enforce(s->data);
		if (r < 0)
			log_error_errno(r, "module %s: enforce failed", s->mod->name);
	}
}

static void fini_modules(struct daemon *d)
{
	unregister_module_fds(d);
	for (size_t i = d->n_slots; i-- > 0;) {
		struct module_slot *s = &d->slots[i];

		if (s->state == MODULE_ACTIVE)
			mamori_module_stop(s->mod, s->data);
		s->data = NULL;
		s->state = MODULE_OFF;
	}
	d->n_slots = 0;
}

static const struct check_result *find_result(const struct check_report *rep, const char *id)
{
	for (size_t i = 0; i < rep->n; i++)
		if (strcmp(rep->results[i]->id, id) == 0)
			return rep->results[i];
	return NULL;
}

/* A check whose status changed since the last pass is evidence (OPS-1). */
static void emit_posture_changes(struct daemon *d)
{
	for (size_t i = 0; i < d->report.n; i++) {
		const struct check_result *now = d->report.results[i];
		const struct check_result *before = find_result(&d->prev_report, now->id);
		_cleanup_(cJSON_Deletep) cJSON *p = NULL;
		cJSON *reqs;

		if (d->last_check == 0 || (before && before->status == now->status))
			continue;
		p = cJSON_CreateObject();
		if (!p)
			return;
		cJSON_AddStringToObject(p, "check", now->id);
		cJSON_AddStringToObject(p, "from", before ? check_status_to_string(before->status) : "none");
		cJSON_AddStringToObject(p, "to", check_status_to_string(now->status));
		reqs = cJSON_AddArrayToObject(p, "requirements");
		for (size_t j = 0; reqs && j < now->n_reqs; j++)
			cJSON_AddItemToArray(reqs, cJSON_CreateString(now->reqs[j]));
		if (now->summary_en)
			cJSON_AddStringToObject(p, "summary", now->summary_en);
		mamori_emit(&d->ctx, "posture.changed", now->status == CHECK_PASS ? SEV_NOTICE : SEV_WARNING, "OPS-1",
		            p);
	}
}

/* One module's part of a pass, in this process. */
static void check_slot(struct module_slot *s, struct check_report *rep)
{
	int r;

	if (!(s->mod->caps & MAMORI_CAP_CHECK) || s->state == MODULE_OFF)
		return;
	if (s->state == MODULE_FAILED) {
		check_report_error(rep, s->mod->name, "OPS-1", s->init_error, "module init");
		return;
	}
	if (!s->mod->check)
		return;
	r = s->mod->check(s->data, rep);
	if (r < 0) {
		log_warning_errno(r, "module %s: check failed", s->mod->name);
		check_report_error(rep, s->mod->name, "OPS-1", r, "check");
	}
}

/* Whether slot s's check runs in the pass child. */
static bool slot_in_child(const struct module_slot *s)
{
	return (s->mod->caps & MAMORI_CAP_CHECK) && s->state == MODULE_ACTIVE && s->mod->check &&
	       posture_pass_in_child(s->mod->name);
}

static void pass_tail(struct daemon *d);

/* The synchronous pass: every module in this process (`--once`, tests). The
 * loop runs passes in a child instead (pass_start). */
const struct check_report *daemon_check(struct daemon *d)
{
	check_report_clear(&d->prev_report);
	d->prev_report = d->report;
	d->report = (struct check_report){0};
	for (size_t i = 0; i < d->n_slots; i++)
		check_slot(&d->slots[i], &d->report);
	pass_tail(d);
	return &d->report;
}

/* What every pass ends with, in this process: the agent's own checks,
 * exceptions, posture.changed events, pruning. */
static void pass_tail(struct daemon *d)
{
	check_journal(d, &d->report);
	check_usb_gate(d, &d->report);
	check_clock(d, &d->report);
	daemon_policy_apply_exceptions(&d->pol, &d->ctx, &d->report);
	/* the pass's posture.changed events share one fsync; nothing acts on
	 * them before the commit (modules' own events above were durable at once,
	 * because they act on them: mark state, write files) */
	if (d->journal && journal_batch_begin(d->journal) < 0)
		log_warning("journal: cannot start a batch");
	emit_posture_changes(d);
	if (d->journal && journal_batch_commit(d->journal) < 0)
		log_error("journal: the posture pass's events could not be committed");
	prune_journal(d);
	d->last_check = time(NULL);
}

/* ---- the posture pass in a child (agent/worker/posture_pass.h) ----------- */

static int pass_child_fd = -1;
static void pass_finish(struct daemon *d);

/* ctx->emit in the child: the worker journals the event and answers with
 * its sequence number, so a module still acts only on a durable event. */
static int pass_child_emit(struct mamori_ctx *ctx, const struct mamori_event *ev, uint64_t *ret_seq)
{
	_cleanup_free_ char *p = ev->payload ? cJSON_PrintUnformatted(ev->payload) : NULL;

	(void)ctx;
	if (ev->payload && !p)
		return -ENOMEM;
	return pp_emit(pass_child_fd, ev->type, ev->severity, ev->reqs ? ev->reqs : "", p, 30000, ret_seq);
}

/* ---- a job in a child of the worker (posture pass, media sanitize) ------ */

/* What runs in the child, with its end of the result socket; it ends with
 * _exit (returning is _exit(0)). */
typedef void (*child_job_fn)(struct daemon *d, int fd, void *arg);

/* Fork a child that runs job with one end of a socketpair; the other end,
 * non-blocking, joins the loop's epoll set under w (w->fd is set here, the
 * caller sets w->kind). The child dies with the worker and first closes
 * what a peer would wait on (the gate's IPC socket, the control socket).
 * Returns 0 with the child's pid and the loop's end, or negative errno
 * with no child left behind. */
static int child_start(struct daemon *d, const char *what, child_job_fn job, void *arg, struct watch *w, pid_t *ret_pid,
                       int *ret_fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
	pid_t parent = getpid(), pid;
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return log_error_errno(errno, "%s: socketpair", what);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		return log_error_errno(r, "%s: fork", what);
	}
	if (pid == 0) {
		close(sv[0]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
			_exit(2);
		if (d->peer.fd >= 0)
			close(d->peer.fd);
		if (d->control)
			close(control_server_fd(d->control));
		job(d, sv[1], arg);
		_exit(0); /* no atexit handlers: the worker's journal and sockets are not ours */
	}
	close(sv[1]);
	w->fd = sv[0];
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 || epoll_ctl(d->epfd, EPOLL_CTL_ADD, sv[0], &ev) < 0) {
		r = -errno;
		close(sv[0]);
		w->fd = -1;
		kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0); /* just forked, killed: returns at once */
		return log_error_errno(r, "%s: cannot watch the child", what);
	}
	*ret_pid = pid;
	*ret_fd = sv[0];
	return 0;
}

static void pass_child(struct daemon *d, int fd, void *arg)
{
	struct check_report rep = {0};
	uint32_t n = 0;

	(void)arg;
	if (posture_pass_child_drop() < 0)
		_exit(3);
	pass_child_fd = fd;
	d->ctx.emit = pass_child_emit;
	for (size_t i = 0; i < d->n_slots; i++) {
		size_t before = rep.n;

		if (!slot_in_child(&d->slots[i]))
			continue;
		check_slot(&d->slots[i], &rep);
		for (size_t j = before; j < rep.n; j++, n++)
			if (pp_send_result(fd, (uint32_t)i, rep.results[j]) < 0)
				_exit(4);
	}
	if (pp_send_end(fd, n) < 0)
		_exit(4);
	_exit(0);
}

static int pass_start(struct daemon *d)
{
	pid_t pid;
	int fd, r;

	if (d->pass.pid > 0)
		return -EBUSY;
	d->pass.w = (struct watch){.kind = W_PASS, .fd = -1};
	r = child_start(d, "posture pass", pass_child, NULL, &d->pass.w, &pid, &fd);
	if (r < 0)
		return r;
	free(d->pass.buf);
	free(d->pass.slot_of);
	check_report_clear(&d->pass.rep);
	d->pass.buf = NULL;
	d->pass.slot_of = NULL;
	d->pass.len = d->pass.total = d->pass.slot_alloc = 0;
	d->pass.last_slot = 0;
	d->pass.ended = d->pass.reaped = false;
	d->pass.failure = NULL;
	d->pass.status = 0;
	d->pass.pid = pid;
	d->pass.fd = fd;
	d->pass.active = true;
	d->pass.runs++;
	clock_gettime(CLOCK_MONOTONIC, &d->pass.started);
	log_debug("posture pass: child %d started", (int)pid);
	return 0;
}

static long pass_age_s(const struct daemon *d)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - d->pass.started.tv_sec);
}

static void pass_close_fd(struct daemon *d)
{
	if (d->pass.fd < 0)
		return;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->pass.fd, NULL);
	close(d->pass.fd);
	d->pass.fd = -1;
}

/* Fail closed: the first reason counts; the child is killed (reaped by SIGCHLD). */
static void pass_fail(struct daemon *d, const char *why)
{
	if (!d->pass.failure)
		d->pass.failure = why;
	pass_close_fd(d);
	if (d->pass.pid > 0 && !d->pass.reaped)
		kill(d->pass.pid, SIGKILL);
	else if (d->pass.reaped)
		pass_finish(d);
}

/* Move r (owned by the child's report) to the end of rep. */
static int report_take(struct check_report *rep, struct check_result *r)
{
	if (rep->n == rep->alloc) {
		size_t na = rep->alloc ? rep->alloc * 2 : 16;
		struct check_result **nr = realloc(rep->results, na * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		rep->results = nr;
		rep->alloc = na;
	}
	rep->results[rep->n++] = r;
	return 0;
}

static char *report_response(struct daemon *d);

/* The child is gone and its stream closed: build the report in module order
 * — the child's results, or an error result for each of its modules when it
 * failed — with the modules that check in this process, then the tail. */
static void pass_finish(struct daemon *d)
{
	const char *why = d->pass.failure;
	size_t k = 0;

	if (!d->pass.active)
		return;
	d->pass.active = false;
	if (!why && !(WIFEXITED(d->pass.status) && WEXITSTATUS(d->pass.status) == 0))
		why = WIFSIGNALED(d->pass.status) ? "the child was killed" : "the child failed";
	if (!why && !d->pass.ended)
		why = "the child's answer ended early";
	if (why) {
		d->pass.failures++;
		log_error("posture pass failed: %s (wait status %d): its checks count as errors", why, d->pass.status);
	}
	check_report_clear(&d->prev_report);
	d->prev_report = d->report;
	d->report = (struct check_report){0};
	for (size_t i = 0; i < d->n_slots; i++) {
		struct module_slot *s = &d->slots[i];

		if (!slot_in_child(s)) {
			check_slot(s, &d->report);
			continue;
		}
		if (why) {
			struct check_result *r =
			        check_report_error(&d->report, s->mod->name, "OPS-1", -EPROTO, "posture pass (child)");
			if (r)
				check_result_evidence(r, "pass_failure", "%s", why);
			continue;
		}
		for (; k < d->pass.rep.n && d->pass.slot_of[k] == i; k++)
			if (report_take(&d->report, d->pass.rep.results[k]) == 0)
				d->pass.rep.results[k] = NULL;
	}
	check_report_clear(&d->pass.rep); /* what was not taken (taken: NULL) */
	free(d->pass.buf);
	d->pass.buf = NULL;
	d->pass.len = 0;
	d->pass.pid = 0;
	pass_tail(d);
	if (d->pass.answer_control) {
		_cleanup_free_ char *resp = report_response(d);

		d->pass.answer_control = false;
		control_server_answer_waiting(d->control, d->epfd, resp);
	}
}

static void pass_reaped(struct daemon *d, int status)
{
	d->pass.status = status;
	d->pass.reaped = true;
	if (d->pass.fd >= 0) {
		/* whatever it wrote before exiting is still in the socket */
		return;
	}
	pass_finish(d);
}

static void pass_frame(struct daemon *d, uint32_t type, const uint8_t *p, uint32_t len)
{
	if (d->pass.ended) {
		pass_fail(d, "a frame after the end");
		return;
	}
	switch (type) {
	case PP_RESULT: {
		uint32_t slot;

		if (pp_decode_result(p, len, &d->pass.rep, &slot) < 0) {
			pass_fail(d, "a malformed result");
			return;
		}
		if (slot >= d->n_slots || !slot_in_child(&d->slots[slot]) || slot < d->pass.last_slot) {
			pass_fail(d, "a result for a module that does not check in the child");
			return;
		}
		if (d->pass.slot_alloc < d->pass.rep.n) {
			size_t na = d->pass.rep.n * 2;
			uint32_t *ns = realloc(d->pass.slot_of, na * sizeof(*ns));
			if (!ns) {
				pass_fail(d, "out of memory");
				return;
			}
			d->pass.slot_of = ns;
			d->pass.slot_alloc = na;
		}
		d->pass.slot_of[d->pass.rep.n - 1] = slot;
		d->pass.last_slot = slot;
		return;
	}
	case PP_EVENT: {
		_cleanup_free_ char *etype = NULL, *reqs = NULL;
		_cleanup_json_ cJSON *payload = NULL;
		enum event_severity sev;
		struct mamori_event ev;
		uint64_t seq = 0;
		int r;

		if (pp_decode_event(p, len, &etype, &sev, &reqs, &payload) < 0) {
			pass_fail(d, "a malformed event");
			return;
		}
		ev = (struct mamori_event){.type = etype, .severity = sev, .reqs = reqs, .payload = payload};
		r = daemon_emit(&d->ctx, &ev, &seq);
		/* the child waits for this answer alone: a full socket means it
		 * does not read, which is a failure of the pass */
		if (pp_send_ack(d->pass.fd, r < 0 ? r : 0, seq) < 0)
			pass_fail(d, "the child does not take the event's answer");
		return;
	}
	case PP_END: {
		uint32_t n;

		if (pp_decode_end(p, len, &n) < 0 || n != d->pass.rep.n) {
			pass_fail(d, "the end frame does not match the results sent");
			return;
		}
		d->pass.ended = true;
		return;
	}
	default:
		pass_fail(d, "an unknown frame");
	}
}

static void pass_on_ready(struct daemon *d)
{
	for (;;) {
		uint8_t tmp[16384];
		ssize_t n = read(d->pass.fd, tmp, sizeof(tmp));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			if (n < 0)
				pass_fail(d, "reading the child's socket failed");
			pass_close_fd(d); /* end of stream: judged when the child is reaped */
			break;
		}
		if (d->pass.total + (size_t)n > PP_STREAM_MAX) {
			pass_fail(d, "the child's answer is too large");
			break;
		}
		{
			uint8_t *nb = realloc(d->pass.buf, d->pass.len + (size_t)n);
			if (!nb) {
				pass_fail(d, "out of memory");
				break;
			}
			d->pass.buf = nb;
		}
		memcpy(d->pass.buf + d->pass.len, tmp, (size_t)n);
		d->pass.len += (size_t)n;
		d->pass.total += (size_t)n;
		for (;;) {
			uint32_t type, plen;
			const uint8_t *payload;
			ssize_t used = pp_frame_next(d->pass.buf, d->pass.len, &type, &payload, &plen);

			if (used < 0) {
				pass_fail(d, "a malformed frame");
				break;
			}
			if (used == 0)
				break;
			pass_frame(d, type, payload, plen);
			if (d->pass.fd < 0)
				break;
			memmove(d->pass.buf, d->pass.buf + used, d->pass.len - (size_t)used);
			d->pass.len -= (size_t)used;
		}
		if (d->pass.fd < 0)
			break;
	}
	if (d->pass.fd < 0 && d->pass.len > 0 && !d->pass.failure)
		pass_fail(d, "a truncated frame at the end");
	if (d->pass.fd < 0 && d->pass.reaped)
		pass_finish(d);
	else if (d->pass.fd < 0 && d->pass.pid > 0) {
		/* the stream ended: the child exits now; SIGCHLD reaps it */
		int st;
		if (waitpid(d->pass.pid, &st, WNOHANG) == d->pass.pid)
			pass_reaped(d, st);
	}
}

/* SIGTERM, or the worker stops: the pass is not waited for. */
static void pass_kill(struct daemon *d)
{
	d->pass.active = false;
	pass_close_fd(d);
	if (d->pass.pid > 0 && !d->pass.reaped) {
		kill(d->pass.pid, SIGKILL);
		waitpid(d->pass.pid, NULL, 0);
	}
	d->pass.pid = 0;
	check_report_clear(&d->pass.rep);
	free(d->pass.buf);
	free(d->pass.slot_of);
	d->pass.buf = NULL;
	d->pass.slot_of = NULL;
}

/* The timer or a control request wants a pass: start one unless one runs;
 * one that has run longer than PP_PASS_TIMEOUT_S is killed (a failure). */
static void pass_request(struct daemon *d)
{
	if (d->pass.active) {
		if (pass_age_s(d) >= PP_PASS_TIMEOUT_S)
			pass_fail(d, "the pass took too long");
		else
			log_debug("posture pass: still running, not started again");
		return;
	}
	/* every pass re-applies the policy where modules enforce it (drift: a
	 * setting changed by hand comes back; a due full scan starts), then
	 * measures */
	enforce_modules(d);
	register_module_fds(d);
	d->reloaded = true; /* watches were rebuilt */
	if (pass_start(d) < 0) {
		/* no child: the pass fails, recorded like any other failure */
		d->pass.failure = "the child could not be started";
		d->pass.pid = 0;
		d->pass.ended = false;
		d->pass.reaped = true;
		d->pass.active = true;
		pass_finish(d);
	}
}

static int arm_timer(int tfd, uint64_t usec)
{
	struct itimerspec its = {
	        .it_interval = {.tv_sec = (time_t)(usec / 1000000), .tv_nsec = (long)(usec % 1000000) * 1000},
	};

	its.it_value = its.it_interval;
	return timerfd_settime(tfd, 0, &its, NULL) < 0 ? -errno : 0;
}

static void send_policy_to_gate(struct daemon *d);
static void approvals_to_modules(struct daemon *d);

int daemon_reload(struct daemon *d)
{
	struct agent_config cfg;
	int r;

	sd_notify_send("RELOADING=1");
	log_info("reloading configuration");
	r = load_config(d, &cfg);
	if (r < 0) {
		log_error("configuration not reloaded: keeping the running one");
		sd_notify_send("READY=1");
		return r;
	}
	{
		bool config_changed = memcmp(&cfg, &d->config, sizeof(cfg)) != 0, policy_changed = false;
		struct mamori_policy *old = NULL;

		d->config = cfg;
		log_set_max_level(d->opts.foreground && log_get_max_level() == LOG_DEBUG ? LOG_DEBUG : cfg.log_level);
		r = daemon_policy_load(&d->pol, &d->opts, &d->ctx, &old, &policy_changed);
		if (r < 0)
			log_error_errno(r, "policy not reloaded: keeping the running one");
		d->ctx.policy = d->pol.current;
		if (config_changed) {
			/* module set or settings changed: restart modules with the new config */
			d->reloaded = true;
			fini_modules(d);
			init_modules(d);
			/* enforce first: it may open fds (a due full scan) that must be watched */
			enforce_modules(d);
			register_module_fds(d);
		} else if (policy_changed) {
			for (size_t i = 0; i < d->n_slots; i++) {
				struct module_slot *s = &d->slots[i];
				if (s->state != MODULE_ACTIVE)
					continue;
				r = mamori_module_reload(s->mod, &d->ctx, &s->data);
				if (r < 0)
					log_error_errno(r, "module %s: keeps its previous settings", s->mod->name);
			}
			d->reloaded = true;
			enforce_modules(d);
			register_module_fds(d);
		}
		if (policy_changed)
			send_policy_to_gate(d);
		policy_free(old); /* modules converted what they need (mamori_module_reload) */
	}
	arm_timer(d->check_tfd, (uint64_t)d->config.check_interval * 1000000);
	/* report soon: the CISO sees the reload and a policy it brought */
	if (enrolled(d))
		want_sync(d, 1000);
	sd_notify_send("READY=1");
	return 0;
}

/* ---- reporting to mamori-server (agent/worker/daemon_sync.h) --------------------- */

static bool enrolled(struct daemon *d)
{
	char p[PATH_MAX];

	return root_pathf(p, sizeof(p), "%s/enroll.json", d->config.state_dir) == 0 && access(p, F_OK) == 0;
}

static void arm_sync(struct daemon *d, uint64_t ms)
{
	struct itimerspec its = {.it_value = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000}};

	if (d->sync_tfd < 0)
		return;
	if (ms == 0)
		its.it_value.tv_nsec = 1;
	timerfd_settime(d->sync_tfd, 0, &its, NULL);
}

/* A sync soon, for something newer than what a running child read: with
 * no child, in ms; while one runs, right after it (sync_done), since its end
 * plans the next one and would push this back to the check-in interval. */
static void want_sync(struct daemon *d, uint64_t ms)
{
	if (d->sync.child > 0)
		d->sync.again = true;
	else
		arm_sync(d, ms);
}

static int64_t checkin_interval(struct daemon *d)
{
	const cJSON *rep = mamori_policy_section(&d->ctx, "reporting");
	const cJSON *iv = rep ? cJSON_GetObjectItemCaseSensitive(rep, "checkin_interval_seconds") : NULL;

	return cJSON_IsNumber(iv) && iv->valuedouble >= 10 ? (int64_t)iv->valuedouble : 300;
}

/* mamorictl, which does the network part: the worker itself does not link
 * libcurl (it would add 4.5 MB to a process that runs all day). */
static void find_mamorictl(char *buf, size_t sz)
{
	if (self_sibling_path("mamorictl", buf, sz) == 0 && access(buf, X_OK) == 0)
		return;
	strscpy(buf, sz, "/usr/bin/mamorictl");
}

static void start_sync(struct daemon *d)
{
	char state[PATH_MAX], report[PATH_MAX], out[PATH_MAX], ctl[PATH_MAX];
	pid_t pid;

	if (d->opts.once)
		return;
	if (d->sync.child > 0) {
		/* what asked for it (a command's result, a critical event) may
		 * be newer than what the running child read: not dropped until
		 * the next check-in, one more follows (sync_done) */
		d->sync.again = true;
		return;
	}
	d->sync.again = false;
	d->sync.enrolled = enrolled(d);
	if (!d->sync.enrolled) {
		arm_sync(d, (uint64_t)checkin_interval(d) * 1000); /* look again later */
		return;
	}
	if (root_path(state, sizeof(state), d->config.state_dir) < 0 ||
	    xsnprintf(report, sizeof(report), "%s/report.json", state) < 0 ||
	    xsnprintf(out, sizeof(out), "%s/sync.out", state) < 0)
		return;
	/* the latest posture report goes with the check-in */
	{
		_cleanup_json_ cJSON *j = d->last_check ? check_report_to_json(&d->report) : cJSON_CreateObject();
		_cleanup_free_ char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
		if (!txt || write_file_atomic(report, txt, strlen(txt), 0600) < 0)
			log_warning("server sync: cannot write the report for the check-in");
	}
	find_mamorictl(ctl, sizeof(ctl));
	pid = fork();
	if (pid < 0) {
		log_warning_errno(errno, "server sync: cannot fork");
		arm_sync(d, 60000);
		return;
	}
	if (pid == 0) {
		sigset_t none;
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		char cfg[PATH_MAX];

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
			_exit(SYNC_FAILED);
		strscpy(cfg, sizeof(cfg), d->opts.config_path ? d->opts.config_path : CONFIG_DEFAULT_PATH);
		execl(ctl, "mamorictl", "--root", d->root[0] ? d->root : "/", "--config", cfg, "--json", "server",
		      "sync", "--report", report, (char *)NULL);
		_exit(127);
	}
	d->sync.child = pid;
}

/* Remote commands (agent/worker/daemon_command.c): what the sync's root part
 * verified and put in the inbox runs here, once; results go with the next
 * check-in, soon. */
static void cmd_sync_now(void *userdata)
{
	want_sync(userdata, 0);
}

static void cmd_report_now(void *userdata)
{
	want_sync(userdata, 500);
}

static void start_sync(struct daemon *d);

/* `wipe`: the journal and the result reach the server before the
 * credentials are destroyed (a sync child, waited for). */
static void cmd_sync_blocking(void *userdata)
{
	struct daemon *d = userdata;
	char state[PATH_MAX];
	uint64_t acked = 0;
	int st;

	if (d->sync.child > 0) {
		(void)waitpid(d->sync.child, &st, 0);
		d->sync.child = 0;
	}
	start_sync(d);
	if (d->sync.child > 0) {
		(void)waitpid(d->sync.child, &st, 0);
		d->sync.child = 0;
	}
	if (d->journal && root_path(state, sizeof(state), d->config.state_dir) == 0 &&
	    transport_acked_read(state, &acked) == 0 && acked > 0)
		(void)journal_ack(d->journal, acked);
}

/* `scan` (AV-3 now): the av module's full scan, started here and not at
 * the next pass; its outcome is journaled by the module as av.full_scan
 * with this command_id. */
static int cmd_scan_now(void *userdata, const char *command_id, char *detail, size_t detailsz)
{
	struct daemon *d = userdata;
	struct module_slot *s = NULL;
	char state[PATH_MAX], req[PATH_MAX];
	int r;

	for (size_t i = 0; i < d->n_slots; i++)
		if (d->slots[i].mod == &av_module && d->slots[i].state == MODULE_ACTIVE)
			s = &d->slots[i];
	if (!s) {
		snprintf(detail, detailsz, "the av module is not active on this terminal (agent.conf modules)");
		return -EOPNOTSUPP;
	}
	if (d->ctx.audit_only) {
		snprintf(detail, detailsz, "audit-only mode: no scan is started");
		return -EPERM;
	}
	if (root_path(state, sizeof(state), d->config.state_dir) < 0 ||
	    xsnprintf(req, sizeof(req), "%s/%s", state, AV_SCAN_REQUEST) < 0)
		return -ENAMETOOLONG;
	r = av_request_full_scan(state, command_id);
	if (r < 0) {
		snprintf(detail, detailsz, "cannot write the scan request: %s", strerror(-r));
		return r;
	}
	r = s->mod->enforce(s->data);
	register_module_fds(d);
	d->reloaded = true;
	if (access(req, F_OK) == 0) { /* not taken */
		(void)unlink(req);
		snprintf(detail, detailsz,
		         "no full scan started: one is already running, or the policy's product has no scan "
		         "interface here (ClamAV only)");
		return -EBUSY;
	}
	if (r < 0) {
		snprintf(detail, detailsz,
		         "the full scan could not be started (clamd unreachable?); av.full_scan "
		         "recorded it as incomplete");
		return r;
	}
	snprintf(detail, detailsz,
	         "full scan started (clamd); its result is journaled as av.full_scan with this "
	         "command_id");
	return 0;
}

static bool cmd_retired(struct daemon *d)
{
	char p[PATH_MAX];

	return root_pathf(p, sizeof(p), "%s/%s", d->config.state_dir, COMMAND_RETIRED_FILE) == 0 &&
	       access(p, F_OK) == 0;
}

/* `retire` (MDM-3): state_dir/retired is written; mamorid hears the policy
 * again and puts its block-all policy in place (agent/gate/gate.c). */
static void cmd_usb_close(void *userdata)
{
	send_policy_to_gate(userdata);
}

/* The dead-man rule (MDM-1): only an enrolled terminal has a server to miss. */
static void deadman(struct daemon *d)
{
	char state[PATH_MAX];

	if (enrolled(d) && !cmd_retired(d) && root_path(state, sizeof(state), d->config.state_dir) == 0)
		daemon_lock_deadman(&d->ctx, state, (int64_t)time(NULL));
}

static void run_commands(struct daemon *d)
{
	static const struct daemon_command_ops ops = {.sync_now = cmd_sync_now,
	                                              .report_now = cmd_report_now,
	                                              .sync_blocking = cmd_sync_blocking,
	                                              .scan_now = cmd_scan_now,
	                                              .usb_close = cmd_usb_close};
	char state[PATH_MAX];
	int r;

	if (root_path(state, sizeof(state), d->config.state_dir) < 0)
		return;
	r = daemon_commands_process(&d->ctx, &d->config, state, &ops, d);
	if (r < 0)
		log_warning_errno(r, "remote commands: cannot read the inbox");
}

/* The command long poll (docs/COMMANDS.md "Long poll"): started after a
 * successful sync while none runs; it runs the same mamorictl as the sync,
 * whose root part verifies into the inbox and whose network part is the
 * same unprivileged, seccomp-confined child. A line on its stdout: run the
 * inbox now. When it ends (the server refused the terminal, the agent was
 * wiped), the next successful sync starts it again. */
static void start_poll(struct daemon *d)
{
	char ctl[PATH_MAX], cfg[PATH_MAX];
	struct epoll_event ev = {.events = EPOLLIN};
	int pfd[2];
	pid_t pid, self;

	if (d->cpoll.pid > 0 || d->cpoll.fd >= 0 || d->opts.once || !enrolled(d))
		return;
	find_mamorictl(ctl, sizeof(ctl));
	strscpy(cfg, sizeof(cfg), d->opts.config_path ? d->opts.config_path : CONFIG_DEFAULT_PATH);
	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0)
		return (void)log_warning_errno(errno, "command poll: pipe");
	self = getpid();
	pid = fork();
	if (pid < 0) {
		log_warning_errno(errno, "command poll: cannot fork");
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* a worker that ends any other way than its orderly stop (killed
		 * by mamorid, crashed) takes the poll along: an orphaned poll kept
		 * its connection held and took commands that were then never run */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != self)
			_exit(127);
		if (dup2(pfd[1], STDOUT_FILENO) < 0)
			_exit(127);
		execl(ctl, "mamorictl", "--root", d->root[0] ? d->root : "/", "--config", cfg, "server", "poll",
		      (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	d->cpoll.pid = pid;
	d->cpoll.fd = pfd[0];
	d->cpoll.w = (struct watch){.kind = W_POLL, .fd = pfd[0]};
	ev.data.ptr = &d->cpoll.w;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, pfd[0], &ev) < 0)
		log_warning_errno(errno, "command poll: epoll");
	log_debug("command poll: started (pid %d)", (int)pid);
}

static void poll_ready(struct daemon *d)
{
	char buf[256];
	ssize_t n = read(d->cpoll.fd, buf, sizeof(buf));

	if (n > 0) {
		while (read(d->cpoll.fd, buf, sizeof(buf)) > 0)
			;
		run_commands(d);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->cpoll.fd, NULL);
	close(d->cpoll.fd);
	d->cpoll.fd = -1; /* its process is reaped on SIGCHLD */
}

/* The child is done: acknowledge in the journal what the server holds, apply
 * a downloaded policy, plan the next sync. */
static void sync_done(struct daemon *d, int status)
{
	int ex = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	int outcome = ex == 0 ? SYNC_OK : ex == 1 ? SYNC_REVOKED : SYNC_FAILED;
	char state[PATH_MAX], out[PATH_MAX];
	uint64_t acked = 0;
	uint64_t delay;

	d->sync.child = 0;
	/* mamorictl --json server sync: {"ok":…,"acked_seq":…,"policy_updated":…} */
	if (root_path(state, sizeof(state), d->config.state_dir) == 0 &&
	    xsnprintf(out, sizeof(out), "%s/sync.out", state) == 0) {
		_cleanup_free_ char *buf = NULL;
		_cleanup_json_ cJSON *j = NULL;
		size_t len;

		if (read_file_capped(out, 64 * 1024, &buf, &len) == 0 && (j = cJSON_ParseWithLength(buf, len))) {
			const cJSON *up = cJSON_GetObjectItemCaseSensitive(j, "uploaded");
			const cJSON *sb = cJSON_GetObjectItemCaseSensitive(j, "sandbox");

			/* who talked to the server, as the kernel told that child */
			if (cJSON_IsString(sb) && sb->valuestring[0])
				log_debug("server sync: network part ran as %s", sb->valuestring);

			bool cw = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "clock_wrong"));

			/* logged once per condition, not at every retry */
			if (cw && !d->sync.clock_wrong)
				log_error("server sync: TLS fails because this terminal's clock is wrong (LOG-2)");
			else if (!cw && d->sync.clock_wrong)
				log_info("server sync: the clock no longer stops TLS");
			d->sync.clock_wrong = cw;
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "policy_updated")))
				outcome = SYNC_POLICY;
			if (outcome != SYNC_FAILED)
				log_info("server sync: %.0f records uploaded%s",
				         cJSON_IsNumber(up) ? up->valuedouble : 0,
				         outcome == SYNC_POLICY ? ", new policy downloaded" : "");
		}
		if (outcome == SYNC_FAILED)
			log_warning("server sync failed (mamorictl exit status %d); retrying with backoff", ex);
		else if (outcome == SYNC_REVOKED)
			log_error("server sync: the server refused this terminal or its event chain");
	}
	if (d->journal && root_path(state, sizeof(state), d->config.state_dir) == 0 &&
	    transport_acked_read(state, &acked) == 0 && acked > 0) {
		int r = journal_ack(d->journal, acked);
		if (r < 0 && r != -ERANGE)
			log_warning_errno(r, "journal: cannot acknowledge up to %llu", (unsigned long long)acked);
	}
	if (outcome == SYNC_OK || outcome == SYNC_POLICY) {
		struct timespec bt;

		/* the dead-man rule's clock (MDM-1) */
		if (root_path(state, sizeof(state), d->config.state_dir) == 0)
			(void)lock_contact_write(state, (int64_t)time(NULL));
		d->sync.failures = 0;
		delay = (uint64_t)checkin_interval(d) * 1000;
		clock_gettime(CLOCK_BOOTTIME, &bt);
		if ((int64_t)bt.tv_sec < d->request_poll_until && delay > REQUEST_POLL_MS)
			delay = REQUEST_POLL_MS; /* a request waits for its approver (issue 16) */
		if (d->sync.again)
			delay = SYNC_AGAIN_MS; /* asked for while this one ran (start_sync) */
	} else {
		d->sync.failures++;
		delay = transport_retry_delay_ms(d->sync.failures);
	}
	arm_sync(d, delay);
	if (outcome == SYNC_OK || outcome == SYNC_POLICY)
		start_poll(d);
	else
		deadman(d);
	run_commands(d); /* after arm_sync: a command may ask for an earlier one */
	/* approval data the sync installed (issue 16): applied at once */
	if (approval_store_reload(&d->ctx, d->config.state_dir, d->config.policy_key)) {
		usb_local_sync(&d->ctx, d->pol.current, d->config.state_dir, &d->peer);
		ipc_update(d);
		approvals_to_modules(d);
	}
	if (outcome == SYNC_POLICY)
		daemon_reload(d); /* verifies the downloaded policy like any other */
}

static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %d: stopping", (int)si.ssi_signo);
			d->stop = true;
			break;
		case SIGHUP:
			daemon_reload(d);
			break;
		case SIGCHLD: {
			int st;
			if (d->sync.child > 0 && waitpid(d->sync.child, &st, WNOHANG) == d->sync.child)
				sync_done(d, st);
			if (d->cpoll.pid > 0 && waitpid(d->cpoll.pid, &st, WNOHANG) == d->cpoll.pid) {
				log_info("command poll ended (status %d); it starts again after the next check-in",
				         WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
				d->cpoll.pid = 0;
			}
			if (d->pass.pid > 0 && !d->pass.reaped && waitpid(d->pass.pid, &st, WNOHANG) == d->pass.pid)
				pass_reaped(d, st);
			break;
		}
		default:
			break;
		}
	}
}

static void drain_timer(int fd)
{
	uint64_t n;

	while (read(fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
		;
}

/* ---- mamorid (the USB gate) over protocol/ipc.h ----------------------------- */

/* Hand the running policy to mamorid (a sealed memfd with the validated
 * document: the gate parses it again but never needs libcrypto). */
/* The carry-out approvals of the approval data (issue 16, CARRY-2) to the
 * carry module: when they changed, it compiles them again with the
 * policy's own (mamori_module_reload), so it judges them at once. */
static void approvals_to_modules(struct daemon *d)
{
	cJSON *now = approval_store_carry();

	if (!now || (d->approved_carry && cJSON_Compare(now, d->approved_carry, true))) {
		cJSON_Delete(now);
		return;
	}
	cJSON_Delete(d->approved_carry);
	d->approved_carry = now;
	d->ctx.approved_carry = now;
	for (size_t i = 0; i < d->n_slots; i++) {
		struct module_slot *s = &d->slots[i];
		int r;

		if (s->state != MODULE_ACTIVE || strcmp(s->mod->name, "carry") != 0)
			continue;
		r = mamori_module_reload(s->mod, &d->ctx, &s->data);
		if (r < 0)
			log_error_errno(r, "module %s: keeps its previous approvals", s->mod->name);
	}
}

static void send_policy_to_gate(struct daemon *d)
{
	_cleanup_json_ cJSON *m = NULL;
	_cleanup_free_ char *doc = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (d->peer.fd < 0)
		return;
	/* no policy yet: a retired terminal's gate still needs to hear it (MDM-3;
	 * mamorid puts its block-all policy in place of whatever it gets) */
	doc = d->pol.current   ? cJSON_PrintUnformatted(policy_document(d->pol.current))
	      : cmd_retired(d) ? strdup("{\"schema\":1,\"version\":1,\"segment\":\"lgwan\"}")
	                       : NULL;
	if (!doc)
		return;
	fd = ipc_memfd_from(doc, strlen(doc));
	m = ipc_new(IPC_POLICY);
	if (fd < 0 || !m)
		return;
	cJSON_AddNumberToObject(m, "version", d->pol.current ? (double)policy_version(d->pol.current) : 1);
	cJSON_AddStringToObject(m, "sha256", d->pol.current ? d->pol.sha256 : "");
	r = ipc_peer_send(&d->peer, m, fd);
	if (r < 0)
		log_warning_errno(r, "cannot hand the policy to mamorid");
	/* the local USB exceptions this policy still permits (issue 12.6) and
	 * the approvals in force (issue 16) */
	(void)approval_store_reload(&d->ctx, d->config.state_dir, d->config.policy_key);
	usb_local_sync(&d->ctx, d->pol.current, d->config.state_dir, &d->peer);
	approvals_to_modules(d);
}

/* After every batch: send what the socket takes, watch EPOLLOUT while
 * something waits (never block: issue 11.3). */
static void ipc_update(struct daemon *d)
{
	if (d->peer.fd < 0)
		return;
	if (ipc_peer_flush(&d->peer) < 0) {
		log_error("mamorid went away: stopping");
		d->stop = true;
		return;
	}
	if (ipc_peer_epoll(&d->peer, d->epfd, (epoll_data_t){.ptr = &d->w_ipc}) < 0)
		log_warning_errno(errno, "cannot watch mamorid's socket");
}

static void ipc_ack(struct daemon *d, uint64_t id, uint64_t seq, int err)
{
	_cleanup_json_ cJSON *m = ipc_new(IPC_ACK);
	int r;

	if (!m)
		return;
	cJSON_AddNumberToObject(m, "id", (double)id);
	if (err)
		cJSON_AddNumberToObject(m, "error", err);
	else
		cJSON_AddNumberToObject(m, "seq", (double)seq);
	r = ipc_peer_send(&d->peer, m, -1);
	if (r < 0) /* the dispatcher leaves room for its acks: a bug, said loudly */
		log_error_errno(r, "cannot acknowledge event %llu to mamorid", (unsigned long long)id);
}

/* A medium from mamorid into the media registry (agent/sdk/media.h). */
static int gate_media_one(const cJSON *m)
{
	/* the fields are there and of their kind: ipc_parse checked the table */
	uint64_t devnum = ipc_uint(m, "devnum");
	int r;

	if (devnum > (uint64_t)UINT32_MAX * 4096)
		return -EINVAL;
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "present"))) {
		r = media_unpublish((dev_t)devnum);
		return r == -ENOENT ? 0 : r; /* already gone is fine, another error is not */
	}
	return media_publish((dev_t)devnum, cJSON_GetObjectItemCaseSensitive(m, "devnode")->valuestring,
	                     cJSON_GetObjectItemCaseSensitive(m, "auth_path")->valuestring,
	                     cJSON_GetObjectItemCaseSensitive(m, "identity"),
	                     cJSON_GetObjectItemCaseSensitive(m, "decision")->valuestring,
	                     cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "readonly")));
}

/* One event from mamorid into the journal (inside the caller's batch). */
static int gate_emit_one(struct daemon *d, const cJSON *m, uint64_t *ret_seq)
{
	/* typed by ipc_parse; a severity we do not know is refused, not guessed */
	struct mamori_event ev = {
	        .type = cJSON_GetObjectItemCaseSensitive(m, "type")->valuestring,
	        .severity = event_severity_from_string(cJSON_GetObjectItemCaseSensitive(m, "severity")->valuestring),
	        .reqs = cJSON_GetObjectItemCaseSensitive(m, "reqs")->valuestring,
	        .payload = cJSON_GetObjectItemCaseSensitive(m, "payload"),
	};

	if (ev.severity == _SEV_INVALID) {
		d->ipc_refused++;
		return -EINVAL;
	}
	return daemon_emit(&d->ctx, &ev, ret_seq);
}

static void on_gate_message(struct daemon *d, const cJSON *m, enum ipc_type t)
{
	switch (t) {
	case IPC_HELLO:
		cJSON_Delete(d->gate_hello);
		d->gate_hello = cJSON_Duplicate(m, 1);
		break;
	case IPC_RELOAD:
		daemon_reload(d);
		break;
	case IPC_PING: {
		_cleanup_json_ cJSON *pong = ipc_new(IPC_PONG);
		if (pong && cJSON_AddNumberToObject(pong, "id", (double)ipc_uint(m, "id")))
			ipc_peer_send(&d->peer, pong, -1);
		break;
	}
	default:
		break; /* the table allows no other type in this direction */
	}
}

/* What mamorid sent since the last wake-up: the events share one fsync
 * (journal batch), and are acknowledged only after it. Never blocks: reads
 * only as many messages as the output queue has room for acks (the gate
 * always reads, so the room comes back), and the acks go through the
 * bounded queue (issue 11.3). */
void daemon_ipc_dispatch(struct daemon *d)
{
	struct pending_ack {
		uint64_t id, seq;
		int err;
	} acks[256];
	size_t n_acks = 0;
	bool batch = false;

	while (d->peer.fd >= 0) {
		cJSON *m = NULL;
		enum ipc_type t;
		int fd = -1, r;

		/* room for every ack of this batch, a pong and a policy */
		if (n_acks >= ELEMENTSOF(acks) || ipc_peer_room(&d->peer) < n_acks + 4)
			break;
		r = ipc_peer_recv(&d->peer, &m, &t, &fd);
		if (r == -EAGAIN)
			break;
		if (r == -EBADMSG) {
			log_warning("mamorid sent a message that does not match the IPC table: refused (%llu so far)",
			            (unsigned long long)d->peer.refused);
			continue;
		}
		if (r < 0) {
			/* the gate is our parent: without it there is nobody to serve */
			log_error("mamorid went away: stopping");
			d->stop = true;
			break;
		}
		if (fd >= 0)
			close(fd); /* the table gives no gate → worker message a descriptor */
		if (t == IPC_MEDIA) {
			/* a medium the gate decided: into this process's registry for the
			 * carry module; acknowledged like an event, in order */
			acks[n_acks].id = ipc_uint(m, "id");
			acks[n_acks].err = gate_media_one(m);
			acks[n_acks].seq = 0;
			n_acks++;
		} else if (t == IPC_EMIT) {
			if (!batch && d->journal)
				batch = journal_batch_begin(d->journal) == 0;
			acks[n_acks].id = ipc_uint(m, "id");
			acks[n_acks].err = gate_emit_one(d, m, &acks[n_acks].seq);
			n_acks++;
		} else
			on_gate_message(d, m, t);
		cJSON_Delete(m);
		if (d->reloaded)
			break;
	}
	if (batch && journal_batch_commit(d->journal) < 0)
		for (size_t i = 0; i < n_acks; i++)
			acks[i].err = -EIO;
	for (size_t i = 0; i < n_acks && !d->stop; i++)
		ipc_ack(d, acks[i].id, acks[i].seq, acks[i].err);
	ipc_update(d);
}

cJSON *daemon_status_json(struct daemon *d)
{
	cJSON *o = cJSON_CreateObject(), *mods;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "version", MAMORI_VERSION);
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	cJSON_AddNumberToObject(o, "started", (double)d->started);
	cJSON_AddNumberToObject(o, "last_check", (double)d->last_check);
	cJSON_AddStringToObject(o, "root", d->root[0] ? d->root : "/");
	cJSON_AddBoolToObject(o, "audit_only", d->ctx.audit_only);
	cJSON_AddNumberToObject(o, "events", (double)d->events_emitted);
	cJSON_AddNumberToObject(o, "media", (double)media_count()); /* from mamorid, for the carry module */
	if (d->peer.fd >= 0) {
		cJSON *ipc = cJSON_AddObjectToObject(o, "ipc");
		if (ipc) {
			cJSON_AddNumberToObject(ipc, "received", (double)d->peer.received);
			cJSON_AddNumberToObject(ipc, "refused", (double)(d->peer.refused + d->ipc_refused));
			cJSON_AddNumberToObject(ipc, "queued", (double)d->peer.q_len);
			cJSON_AddNumberToObject(ipc, "queue_full", (double)d->peer.full);
		}
	}
	{
		cJSON *pp = cJSON_AddObjectToObject(o, "posture_pass");
		if (pp) {
			cJSON_AddBoolToObject(pp, "running", d->pass.active);
			cJSON_AddNumberToObject(pp, "runs", (double)d->pass.runs);
			cJSON_AddNumberToObject(pp, "failures", (double)d->pass.failures);
		}
	}
	if (d->pol.current) {
		cJSON *p = cJSON_AddObjectToObject(o, "policy");
		if (p) {
			cJSON_AddNumberToObject(p, "version", (double)policy_version(d->pol.current));
			cJSON_AddStringToObject(p, "segment", policy_segment(d->pol.current));
			cJSON_AddStringToObject(p, "sha256", d->pol.sha256);
			cJSON_AddBoolToObject(p, "signed", !d->pol.unsigned_audit);
		}
	} else
		cJSON_AddNullToObject(o, "policy");
	if (d->journal) {
		char hash[JOURNAL_HASH_HEX_LEN + 1];
		uint64_t seq;
		cJSON *j = cJSON_AddObjectToObject(o, "journal");
		if (j && journal_head(d->journal, &seq, hash) == 0) {
			cJSON_AddNumberToObject(j, "head_seq", (double)seq);
			cJSON_AddStringToObject(j, "head_hash", hash);
		}
	} else
		cJSON_AddNullToObject(o, "journal");
	/* the 0666 control socket's refusals (too many connections of one
	 * uid or of all; issue 16) and the requests refused for too many
	 * waiting to be sent */
	cJSON_AddNumberToObject(o, "control_refused", (double)control_server_refused(d->control));
	cJSON_AddNumberToObject(o, "requests_refused_queue_full", (double)request_queue_refused());
	/* what the remote commands left in force (MDM-1, MDM-2, MDM-3): an
	 * administrator at the terminal sees why nobody can log in or reach
	 * the network without asking the server */
	{
		char state[PATH_MAX];
		struct lock_info li;
		cJSON *l;

		if (root_path(state, sizeof(state), d->config.state_dir) == 0 && lock_read(state, &li) == 0 &&
		    (l = cJSON_AddObjectToObject(o, "lock"))) {
			cJSON_AddStringToObject(l, "reason", li.reason);
			cJSON_AddStringToObject(l, "by", li.by);
			cJSON_AddNumberToObject(l, "since", (double)li.since);
			cJSON_AddStringToObject(l, "maintenance_account", li.maint);
		} else
			cJSON_AddNullToObject(o, "lock");
		cJSON_AddBoolToObject(o, "isolated",
		                      root_path(state, sizeof(state), d->config.state_dir) == 0 &&
		                              isolate_active(state));
		cJSON_AddBoolToObject(o, "retired", cmd_retired(d));
	}
	mods = cJSON_AddArrayToObject(o, "modules");
	for (size_t i = 0; mods && i < d->n_slots; i++) {
		const struct module_slot *s = &d->slots[i];
		cJSON *m = cJSON_CreateObject();

		if (!m)
			break;
		cJSON_AddItemToArray(mods, m);
		cJSON_AddStringToObject(m, "name", s->mod->name);
		cJSON_AddStringToObject(m, "state",
		                        s->state == MODULE_ACTIVE   ? "active"
		                        : s->state == MODULE_FAILED ? "error"
		                                                    : "off");
		if (s->state == MODULE_FAILED)
			cJSON_AddStringToObject(m, "error", strerror(-s->init_error));
	}
	if (d->gate_hello) {
		const cJSON *gm = cJSON_GetObjectItemCaseSensitive(d->gate_hello, "modules"), *it;
		const cJSON *gpid = cJSON_GetObjectItemCaseSensitive(d->gate_hello, "pid");

		cJSON_ArrayForEach(it, gm) if (mods) cJSON_AddItemToArray(mods, cJSON_Duplicate(it, 1));
		if (cJSON_IsNumber(gpid))
			cJSON_AddNumberToObject(o, "gate_pid", gpid->valuedouble);
	}
	return o;
}

static char *response_error(const char *msg)
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddBoolToObject(o, "ok", 0) || !cJSON_AddStringToObject(o, "error", msg))
		return NULL;
	return cJSON_PrintUnformatted(o);
}

/* The answer to "check"/"report" clients that waited for a pass. */
static char *report_response(struct daemon *d)
{
	_cleanup_json_ cJSON *out = check_report_to_json(&d->report);

	if (!out)
		return NULL;
	cJSON_AddNumberToObject(out, "time", (double)d->last_check);
	cJSON_AddBoolToObject(out, "ok", 1);
	return cJSON_PrintUnformatted(out);
}

/* ---- media sanitize in a child (MEDIA-6) --------------------------------- */

struct sanitize_job {
	const cJSON *args;
	uid_t uid;
	pid_t peer;
};

static void sanitize_child(struct daemon *d, int fd, void *arg)
{
	const struct sanitize_job *j = arg;

	sanitize_child_run(&d->ctx, j->args, j->uid, j->peer, fd);
}

static int sanitize_start(struct daemon *d, const cJSON *args, uid_t uid)
{
	struct sanitize_job job = {.args = args, .uid = uid, .peer = control_peer_pid()};
	const cJSON *dn = cJSON_GetObjectItemCaseSensitive(args, "device");
	pid_t pid;
	int fd, r;

	d->san.w = (struct watch){.kind = W_SANITIZE, .fd = -1};
	r = child_start(d, "media sanitize", sanitize_child, &job, &d->san.w, &pid, &fd);
	if (r < 0)
		return r;
	d->san.pid = pid;
	d->san.fd = fd;
	d->san.len = 0;
	(void)strscpy(d->san.devnode, sizeof(d->san.devnode), cJSON_IsString(dn) ? dn->valuestring : "?");
	log_info("media sanitize: child %d for %s", (int)pid, d->san.devnode);
	return 0;
}

/* The child's socket is readable: gather; at its end, journal and answer. */
static void sanitize_ready(struct daemon *d)
{
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	_cleanup_free_ char *resp = NULL;
	char chunk[4096];
	ssize_t n;
	int st = 0;

	for (;;) {
		n = read(d->san.fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		if (d->san.len + (size_t)n > 1024 * 1024)
			break; /* more than any answer: the child is killed below */
		{
			char *nb = realloc(d->san.buf, d->san.len + (size_t)n);
			if (!nb)
				break;
			d->san.buf = nb;
		}
		memcpy(d->san.buf + d->san.len, chunk, (size_t)n);
		d->san.len += (size_t)n;
	}
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->san.fd, NULL);
	close(d->san.fd);
	d->san.fd = -1;
	if (n > 0)
		kill(d->san.pid, SIGKILL);
	(void)waitpid(d->san.pid, &st, 0); /* it closed its end: it exits now */
	d->san.pid = 0;
	out = sanitize_child_end(&d->ctx, d->san.buf ? d->san.buf : "", d->san.len, st);
	free(d->san.buf);
	d->san.buf = NULL;
	d->san.len = 0;
	resp = out ? cJSON_PrintUnformatted(out) : NULL;
	control_server_answer_sanitize(d->control, d->epfd, resp);
}

void daemon_control_refused(struct daemon *d, uid_t uid, uint64_t count, bool all)
{
	_cleanup_(cJSON_Deletep) cJSON *p = cJSON_CreateObject();

	if (!d || !p)
		return;
	cJSON_AddStringToObject(p, "reason", all ? "all_connections_in_use" : "too_many_of_uid");
	cJSON_AddNumberToObject(p, "uid", (double)uid);
	cJSON_AddNumberToObject(p, "refused", (double)count);
	cJSON_AddNumberToObject(p, "limit", all ? CONTROL_MAX_CLIENTS : CONTROL_MAX_CLIENTS_PER_UID);
	if (mamori_emit(&d->ctx, "control.refused", SEV_WARNING, "OPS-4", p) < 0)
		log_error("cannot journal control.refused");
}

char *daemon_control_request(struct daemon *d, const char *req, size_t len, uid_t peer_uid)
{
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	enum control_cmd cmd;
	const char *why = NULL;

	if (control_request_parse(req, len, &cmd, &why) < 0)
		return response_error(why);
	if (cmd >= CONTROL_USB_ALLOW && cmd <= CONTROL_USB_REVOKE) { /* issue 12.6 */
		_cleanup_(cJSON_Deletep) cJSON *in = cJSON_ParseWithLength(req, len);

		out = usb_local_request(&d->ctx, d->pol.current, d->config.state_dir, &d->peer, cmd,
		                        cJSON_GetObjectItemCaseSensitive(in, "args"), peer_uid, control_peer_pid());
		ipc_update(d);
		return out ? cJSON_PrintUnformatted(out) : NULL;
	}
	if (cmd == CONTROL_REQUEST) { /* issue 16: any user; the person is the peer */
		_cleanup_(cJSON_Deletep) cJSON *in = cJSON_ParseWithLength(req, len);

		char state[PATH_MAX];
		uint64_t acked = 0;

		/* what the server holds already is no longer queued (per-uid limit) */
		if (root_path(state, sizeof(state), d->config.state_dir) < 0 || transport_acked_read(state, &acked) < 0)
			acked = 0;
		out = request_submit(&d->ctx, cJSON_GetObjectItemCaseSensitive(in, "args"), peer_uid,
		                     control_peer_pid(), acked);
		return out ? cJSON_PrintUnformatted(out) : NULL;
	}
	if (cmd == CONTROL_MEDIA_SANITIZE) { /* issue 16.5, MEDIA-6 */
		_cleanup_(cJSON_Deletep) cJSON *in = cJSON_ParseWithLength(req, len);
		const cJSON *args = cJSON_GetObjectItemCaseSensitive(in, "args");

		if (d->san.pid > 0)
			out = sanitize_busy(&d->ctx, args, peer_uid, control_peer_pid(), d->san.devnode);
		else if (d->epfd >= 0 && d->running && sanitize_start(d, args, peer_uid) == 0)
			return strdup(CONTROL_DEFERRED_SANITIZE); /* the loop keeps serving meanwhile */
		else
			out = sanitize_request(&d->ctx, args, peer_uid, control_peer_pid());
		return out ? cJSON_PrintUnformatted(out) : NULL;
	}
	if (control_cmds[cmd].root_only && peer_uid != 0)
		return response_error("permission denied: reload needs root");
	switch (cmd) {
	case CONTROL_STATUS:
		out = daemon_status_json(d);
		break;
	case CONTROL_REPORT:
	case CONTROL_CHECK: {
		const struct check_report *rep = &d->report;

		if ((cmd == CONTROL_CHECK || d->last_check == 0) && d->epfd >= 0 && d->running) {
			/* the answer comes when the pass ends (pass_finish): the loop
			 * keeps serving meanwhile; a pass already running is joined */
			if (!d->pass.active)
				pass_request(d);
			if (d->pass.active) {
				d->pass.answer_control = true;
				return strdup(CONTROL_DEFERRED);
			}
		} else if (cmd == CONTROL_CHECK || d->last_check == 0)
			rep = daemon_check(d);
		out = check_report_to_json(rep);
		if (out)
			cJSON_AddNumberToObject(out, "time", (double)d->last_check);
		break;
	}
	case CONTROL_RELOAD:
		out = cJSON_CreateObject();
		if (out)
			cJSON_AddBoolToObject(out, "reloaded", daemon_reload(d) == 0);
		break;
	case CONTROL_USB_WATCH: /* the connection stays (control.c): usb.* events follow */
		out = cJSON_CreateObject();
		if (out)
			cJSON_AddBoolToObject(out, "watching", 1);
		break;
	default:
		return response_error("unknown command");
	case _CONTROL_CMD_MAX:
		return response_error("unknown command");
	}
	if (!out)
		return NULL;
	cJSON_AddBoolToObject(out, "ok", 1);
	return cJSON_PrintUnformatted(out);
}

int daemon_new(const struct daemon_options *opts, struct daemon **ret, char *err, size_t errsz)
{
	_cleanup_free_ struct daemon *d = NULL;
	char path[PATH_MAX];
	sigset_t mask;
	int r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->opts = *opts;
	d->epfd = d->sigfd = d->check_tfd = d->wd_tfd = d->sync_tfd = -1;
	d->cpoll.fd = -1;
	d->san.fd = -1;
	d->pass.fd = -1;
	d->peer.fd = -1;
	if (opts->ipc_fd > 0 && (r = ipc_peer_init(&d->peer, opts->ipc_fd, IPC_TO_WORKER)) < 0) {
		snprintf(err, errsz, "the socket to mamorid: %s", strerror(-r));
		return r;
	}
	r = root_set(opts->root && strcmp(opts->root, "/") != 0 ? opts->root : "");
	if (r < 0) {
		snprintf(err, errsz, "root prefix too long");
		return r;
	}
	strscpy(d->root, sizeof(d->root), root_get());
	r = root_path(d->config_path, sizeof(d->config_path),
	              opts->config_path ? opts->config_path : CONFIG_DEFAULT_PATH);
	if (r < 0) {
		snprintf(err, errsz, "configuration path invalid or too long");
		return r;
	}
	r = load_config(d, &d->config);
	if (r < 0) {
		snprintf(err, errsz, "%s: invalid configuration (see messages above)", d->config_path);
		return r;
	}
	if (!opts->foreground || log_get_max_level() != LOG_DEBUG)
		log_set_max_level(d->config.log_level);
	d->ctx = (struct mamori_ctx){
	        .config = &d->config,
	        .lang = d->config.lang,
	        .audit_only = opts->audit_only || d->config.audit_only,
	        .emit = daemon_emit,
	        .daemon = d,
	};

	/* signals first: a TERM during start-up must not kill us half-way */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	sigdelset(&mask, SIGPIPE);
	d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->check_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->sigfd < 0 || d->epfd < 0 || d->check_tfd < 0) {
		r = -errno;
		snprintf(err, errsz, "cannot create event loop: %s", strerror(-r));
		daemon_free(TAKE_PTR(d));
		return r;
	}
	d->w_sig = (struct watch){.kind = W_SIGNAL, .fd = d->sigfd};
	d->w_check = (struct watch){.kind = W_TIMER_CHECK, .fd = d->check_tfd};
	epoll_add(d->epfd, d->sigfd, &d->w_sig);
	epoll_add(d->epfd, d->check_tfd, &d->w_check);
	d->sync_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->sync_tfd >= 0) {
		d->w_sync = (struct watch){.kind = W_TIMER_SYNC, .fd = d->sync_tfd};
		epoll_add(d->epfd, d->sync_tfd, &d->w_sync);
	}
	if (d->peer.fd >= 0) {
		d->w_ipc = (struct watch){.kind = W_IPC, .fd = d->peer.fd};
		ipc_update(d);
	}

	/* the journal first: policy and module events of the start are evidence too */
	{
		char dir[PATH_MAX];
		struct journal_options jo = {.dir = dir,
		                             .quota_bytes = (uint64_t)d->config.journal_quota_mb * 1024 * 1024};

		r = root_path(dir, sizeof(dir), d->config.state_dir);
		if (r == 0)
			r = mkdir_p(dir, 0700);
		/* what the server acknowledged: a journal with less went backwards (LOG-1) */
		if (r == 0 && transport_acked_read(dir, &jo.acked_seq) < 0)
			jo.acked_seq = 0;
		if (r == 0)
			r = journal_open(&jo, &d->journal);
		if (r < 0) {
			d->journal_error = r;
			log_error_errno(r, "journal in %s cannot be opened: events are only logged", dir);
		}
	}
	{
		struct mamori_policy *old = NULL;

		r = daemon_policy_load(&d->pol, opts, &d->ctx, &old, NULL);
		policy_free(old);
		if (r < 0) {
			snprintf(err, errsz, "the policy cannot be used (see messages above)");
			daemon_free(TAKE_PTR(d));
			return -EINVAL;
		}
		d->ctx.policy = d->pol.current;
	}
	init_modules(d);
	d->started = time(NULL);

	if (!opts->once) {
		r = root_pathf(path, sizeof(path), "%s", d->config.run_dir);
		if (r == 0)
			r = mkdir_p(path, 0755);
		if (r == 0 && xsnprintf(path + strlen(path), sizeof(path) - strlen(path), "/mamorid.sock") < 0)
			r = -ENAMETOOLONG;
		if (r == 0)
			r = control_server_new(d, path, &d->control);
		if (r < 0) {
			snprintf(err, errsz, "cannot open control socket %s: %s", path, strerror(-r));
			daemon_free(TAKE_PTR(d));
			return r;
		}
		d->w_control = (struct watch){.kind = W_CONTROL, .fd = control_server_fd(d->control)};
		epoll_add(d->epfd, d->w_control.fd, &d->w_control);
	}
	*ret = TAKE_PTR(d);
	return 0;
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	if (d->san.pid > 0) {
		/* the worker stops mid-sanitisation: the medium is half done; the
		 * child ends and what it recorded is journaled (child_failed) */
		kill(d->san.pid, SIGTERM);
		if (d->san.fd >= 0)
			(void)fcntl(d->san.fd, F_SETFL, 0);
		sanitize_ready(d);
	}
	fini_modules(d);
	control_server_free(d->control);
	journal_close(d->journal);
	daemon_policy_free(&d->pol);
	cJSON_Delete(d->gate_hello);
	d->ctx.approved_carry = NULL;
	cJSON_Delete(TAKE_PTR(d->approved_carry));
	ipc_peer_close(&d->peer);
	check_report_clear(&d->report);
	check_report_clear(&d->prev_report);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->check_tfd >= 0)
		close(d->check_tfd);
	if (d->wd_tfd >= 0)
		close(d->wd_tfd);
	if (d->sync_tfd >= 0)
		close(d->sync_tfd);
	if (d->sync.child > 0) {
		kill(d->sync.child, SIGTERM);
		waitpid(d->sync.child, NULL, 0);
	}
	if (d->cpoll.pid > 0) {
		kill(d->cpoll.pid, SIGTERM); /* its network child follows (PR_SET_PDEATHSIG) */
		waitpid(d->cpoll.pid, NULL, 0);
	}
	if (d->cpoll.fd >= 0)
		close(d->cpoll.fd);
	pass_kill(d);
	if (d->epfd >= 0)
		close(d->epfd);
	free(d);
}

int daemon_run(struct daemon *d)
{
	uint64_t wd = sd_watchdog_usec();
	int r;

	/* enforce first: it may open descriptors (a scheduled full scan) */
	enforce_modules(d);
	r = register_module_fds(d);
	if (r < 0)
		return log_error_errno(r, "cannot watch module file descriptors");
	if (d->opts.once) {
		daemon_check(d);
		return 0;
	}
	/* first posture pass soon after start, then every check_interval (armed
	 * once: it was armed for a full interval and re-armed at once) */
	{
		struct itimerspec its = {.it_value = {.tv_sec = 2}};
		its.it_interval.tv_sec = d->config.check_interval;
		if (timerfd_settime(d->check_tfd, 0, &its, NULL) < 0)
			return log_error_errno(errno, "cannot arm the posture check timer");
	}
	if (wd > 0) {
		d->wd_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (d->wd_tfd >= 0) {
			d->w_wd = (struct watch){.kind = W_TIMER_WATCHDOG, .fd = d->wd_tfd};
			arm_timer(d->wd_tfd, wd / 2);
			epoll_add(d->epfd, d->wd_tfd, &d->w_wd);
		}
	}
	if (d->peer.fd >= 0) {
		_cleanup_json_ cJSON *m = ipc_new(IPC_READY);

		send_policy_to_gate(d);
		if (m && ipc_peer_send(&d->peer, m, -1) < 0)
			log_error("cannot tell mamorid this worker is ready");
		ipc_update(d);
	}
	/* first report soon after the first posture pass (at 2 s) */
	arm_sync(d, 3000);
	{
		char state[PATH_MAX];

		if (root_path(state, sizeof(state), d->config.state_dir) == 0)
			daemon_commands_start(&d->ctx, &d->config, state); /* lock and isolation survive restarts */
	}
	deadman(d);      /* before the first check-in: it reports the lock */
	run_commands(d); /* what a previous run verified but did not execute */
	sd_notify_send("READY=1\nSTATUS=serving");
	log_info("mamori-worker %s ready (root %s, %zu modules%s)", MAMORI_VERSION, d->root[0] ? d->root : "/",
	         d->n_slots, d->ctx.audit_only ? ", audit only" : "");

	d->running = true;
	while (!d->stop) {
		struct epoll_event evs[16];
		/* idle: sleep until something happens; with control clients connected,
		 * wake each second to drop the ones that stall (slow-client defence) */
		int n = epoll_wait(d->epfd, evs, (int)ELEMENTSOF(evs),
		                   control_server_has_clients(d->control) ? 1000 : -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return log_error_errno(errno, "epoll_wait");
		}
		d->reloaded = false;
		control_server_expire(d->control, d->epfd);
		for (int i = 0; i < n && !d->reloaded; i++) {
			struct watch *w = evs[i].data.ptr;

			switch (w->kind) {
			case W_SIGNAL:
				on_signal(d);
				break;
			case W_TIMER_CHECK:
				drain_timer(w->fd);
				/* in a child: the loop keeps serving meanwhile (issue 11.5) */
				pass_request(d);
				deadman(d);
				break;
			case W_PASS:
				pass_on_ready(d);
				break;
			case W_TIMER_SYNC:
				drain_timer(w->fd);
				start_sync(d);
				break;
			case W_POLL:
				poll_ready(d);
				break;
			case W_SANITIZE:
				sanitize_ready(d);
				break;
			case W_TIMER_WATCHDOG:
				drain_timer(w->fd);
				sd_notify_send("WATCHDOG=1");
				break;
			case W_IPC:
				if (evs[i].events & EPOLLOUT)
					ipc_update(d);
				if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					daemon_ipc_dispatch(d);
				break;
			case W_CONTROL:
				control_server_dispatch(d->control, d->epfd, w, evs[i].events);
				break;
			case W_MODULE: {
				bool batch = (w->slot->mod->caps & MAMORI_CAP_EVENT_BATCH) && d->journal &&
				             journal_batch_begin(d->journal) == 0;

				r = w->slot->mod->on_ready(w->slot->data, w->fd, evs[i].events);
				if (r < 0)
					log_warning_errno(r, "module %s: event handling failed", w->slot->mod->name);
				if (batch && journal_batch_commit(d->journal) < 0)
					log_error("module %s: its events could not be committed", w->slot->mod->name);
				break;
			}
			}
			/* after a reload the rest of this batch may point to freed watches;
			 * level-triggered epoll reports what is still pending next time */
		}
		ipc_update(d); /* whatever this round queued for mamorid */
	}
	pass_kill(d); /* a running pass is not waited for */
	sd_notify_send("STOPPING=1");
	return 0;
}
