/* agent/gate/gate.c — mamorid: the resident USB gate and supervisor (root).
 *
 * The part of the agent that must be root and must always run is small on
 * purpose: the usb module (fail-closed authorization, read-only media) in one
 * epoll loop, nothing else. Everything that parses policies, hashes, writes
 * the journal, runs posture checks and talks to the server runs in
 * mamori-worker, which this process starts, feeds over a socketpair
 * (protocol/ipc.h) and restarts when it dies. If the worker is down, devices
 * are still decided (with the last policy) and events wait in a bounded
 * queue; if mamorid itself is down, new devices stay unauthorized.
 *
 * Keeping libcrypto, SQLite and libcurl out of this process keeps it at
 * about a third of its former memory (README, make bench); descriptor hashes
 * are made here with the freestanding common/sha256.c, so no decision waits
 * for the worker. */
#include <errno.h>
#include <linux/capability.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "command.h"
#include "config.h"
#include "ipc.h"
#include "json-util.h"
#include "log.h"
#include "media.h"
#include "module.h"
#include "policy.h"
#include "proc-util.h"
#include "rootpath.h"
#include "sandbox.h"
#include "sdnotify.h"
#include "spool.h"
#include "strutil.h"
#include "usb/usb.h"
#include "usb/usb_identity.h"
#include "version.h"

#define CAPB(c) (UINT64_C(1) << (c))
/* What the gate itself uses after start: BLKROSET (read-only media, MEDIA-2). */
#define GATE_CAPS_EFFECTIVE CAPB(CAP_SYS_ADMIN)
/* What it hands on at exec: the worker's set (agent/worker/worker.c
 * WORKER_CAPS_*, CAP_NET_ADMIN included for nft of a remote isolation) and
 * CAP_SETUID/CAP_SETGID for `setpriv --reuid` of a desktop notification
 * (agent/sdk/notify.c). */
#define GATE_CAPS_KEEP                                                                                                 \
	(CAPB(CAP_SYS_ADMIN) | CAPB(CAP_DAC_READ_SEARCH) | CAPB(CAP_DAC_OVERRIDE) | CAPB(CAP_SETUID) |                 \
	 CAPB(CAP_SETGID) | CAPB(CAP_NET_ADMIN))

#define EXIT_USAGE           2
#define EXIT_CONFIG          78
#define GATE_QUEUE_MAX       10000 /* events kept while the worker is down */
#define GATE_FIRST_POLICY_MS 5000
/* Supervision (issue 11.4): the gate pings the worker; a worker with a ping
 * unanswered for GATE_HUNG_MS (stopped, looping, stuck in a long pass) is
 * killed and replaced, and one that does not become ready within
 * GATE_START_MS likewise. One ping is in flight at a time. While all is
 * quiet a ping goes every GATE_IDLE_PING_MS (or every systemd watchdog
 * interval if that is shorter), so an idle agent wakes a few times a minute
 * rather than twice a second (issue 23); the loop looks every GATE_PING_MS
 * while a ping is unanswered, the worker is starting or gone, or a local
 * USB exception runs to a time. A silent worker is thus replaced at most
 * GATE_IDLE_PING_MS + GATE_HUNG_MS + GATE_PING_MS + the restart back-off
 * (1 s after a healthy run) after it stopped answering. The systemd
 * watchdog is fed only while no ping has waited GATE_HEALTHY_MS for its
 * answer. The back-off resets after GATE_STABLE_MS of health. */
#define GATE_PING_MS      1000
#define GATE_IDLE_PING_MS 10000
#define GATE_HEALTHY_MS   5000
#define GATE_HUNG_MS      20000
#define GATE_START_MS     30000
#define GATE_STABLE_MS    30000

enum { T_SIGNAL = 1, T_IPC, T_RESTART, T_WATCHDOG, T_MODULE, T_PING };

/* A message for the worker (an emit or a medium) as the bytes that go on the
 * socket: checked against the IPC table and printed once, when queued. A
 * queued event is its JSON text, not a cJSON tree (a usb.* event's tree is
 * ~5 KB of small allocations, its text ~0.6 KB; issue 23: the gate's VmHWM,
 * and GATE_QUEUE_MAX of them while the worker is down). */
struct queued {
	uint64_t id;
	uint64_t lost; /* a journal.overflow record: the count it carries */
	char *buf;
	size_t len;
};

struct gate {
	/* command line, passed on to the worker */
	const char *root, *config_opt, *policy_path, *log_level_opt;
	bool foreground, audit, unsigned_policy;
	char worker_path[PATH_MAX];

	struct agent_config cfg;
	struct mamori_ctx ctx;
	struct mamori_policy *policy;
	const struct mamori_module *mod;
	void *mod_state;
	int mod_error;
	int mod_fds[MAMORI_MODULE_MAX_FDS];
	size_t n_mod_fds;

	int epfd, sigfd, restart_tfd, wd_tfd, ping_tfd;
	uint64_t started_ms, ready_ms, last_pong_ms, ping_id; /* CLOCK_MONOTONIC */
	uint64_t ping_sent_ms;                                /* CLOCK_MONOTONIC */
	uint64_t ping_waiting_ms;                             /* the unanswered ping's send time; 0: none */
	uint64_t wd_ms;                                       /* systemd watchdog feed interval; 0: none */
	struct ipc_peer peer; /* to the worker (protocol/ipc.h): non-blocking, bounded queue */
	pid_t worker;
	unsigned restarts;
	bool worker_ready;
	uint64_t next_id;

	struct queued *queue; /* messages not yet acknowledged, oldest first */
	size_t n_queue, n_sent, queue_cap;
	uint64_t dropped;
	bool stop;
};

static struct gate G = {.epfd = -1, .sigfd = -1, .restart_tfd = -1, .wd_tfd = -1, .ping_tfd = -1, .peer = {.fd = -1}};

static uint64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static int epoll_add(int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag | ((uint64_t)(uint32_t)fd << 32)};

	return epoll_ctl(G.epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* ---- the worker ----------------------------------------------------------- */

static void worker_gone(const char *why);
static void arm_ping(uint64_t now);

/* Send what the socket takes now and watch EPOLLOUT while something waits:
 * called after everything that sends. Never blocks (issue 11.3). */
static void ipc_update(void)
{
	epoll_data_t data = {.u64 = T_IPC | ((uint64_t)(uint32_t)G.peer.fd << 32)};

	if (G.peer.fd < 0)
		return;
	if (ipc_peer_flush(&G.peer) < 0) {
		worker_gone("closed its connection");
		return;
	}
	if (ipc_peer_epoll(&G.peer, G.epfd, data) < 0)
		log_warning_errno(errno, "cannot watch the worker's socket");
}

static int spawn_worker(void)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (pid == 0) {
		char *argv[24];
		int n = 0;
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* systemd talks to mamorid only (the main PID) */
		unsetenv("NOTIFY_SOCKET");
		unsetenv("WATCHDOG_USEC");
		unsetenv("WATCHDOG_PID");
		if (dup2(sv[1], 3) < 0)
			_exit(127);
		argv[n++] = "mamori-worker";
		argv[n++] = "--ipc-fd";
		argv[n++] = "3";
		if (G.root && G.root[0]) {
			argv[n++] = "--root";
			argv[n++] = (char *)G.root;
		}
		if (G.config_opt) {
			argv[n++] = "--config";
			argv[n++] = (char *)G.config_opt;
		}
		if (G.policy_path) {
			argv[n++] = "--policy";
			argv[n++] = (char *)G.policy_path;
		}
		if (G.unsigned_policy)
			argv[n++] = "--unsigned";
		if (G.audit)
			argv[n++] = "--audit";
		if (G.foreground)
			argv[n++] = "--foreground";
		if (G.log_level_opt) {
			argv[n++] = "--log-level";
			argv[n++] = (char *)G.log_level_opt;
		}
		argv[n] = NULL;
		execv(G.worker_path, argv);
		_exit(127);
	}
	close(sv[1]);
	if (ipc_peer_init(&G.peer, sv[0], IPC_TO_GATE) < 0) {
		close(sv[0]);
		kill(pid, SIGKILL); /* reaped by SIGCHLD: restarted with back-off */
		G.worker = pid;
		return -EIO;
	}
	G.worker = pid;
	G.worker_ready = false;
	G.started_ms = mono_ms();
	ipc_update();
	log_debug("worker %s started (pid %d)", G.worker_path, (int)pid);
	return 0;
}

static void worker_gone(const char *why)
{
	bool already = G.peer.fd < 0; /* the socket closed first, then SIGCHLD came */

	if (G.peer.fd >= 0) {
		epoll_ctl(G.epfd, EPOLL_CTL_DEL, G.peer.fd, NULL);
		ipc_peer_close(&G.peer); /* what was queued goes again to the next one */
	}
	G.worker_ready = false;
	G.n_sent = 0;
	G.ping_waiting_ms = 0;
	arm_ping(mono_ms()); /* look every GATE_PING_MS until the next one is ready */
	if (G.stop || already)
		return;
	/* restart with backoff: 1 s, 2 s, 4 s … 60 s */
	{
		unsigned s = G.restarts < 6 ? 1u << G.restarts : 60;
		struct itimerspec its = {.it_value = {.tv_sec = s}};

		log_error("mamori-worker %s: restarting in %u s (journal and posture checks wait; "
		          "USB decisions go on)",
		          why, s);
		G.restarts++;
		timerfd_settime(G.restart_tfd, 0, &its, NULL);
	}
}

/* ---- policy --------------------------------------------------------------- */

/* The document the worker sends is parsed with policy_parse_usb_streamed():
 * a city's allowlist (usb.rules, ~730 bytes of cJSON tree a rule) is never
 * one tree here — each rule is parsed, validated and later compiled by the
 * usb module alone, and the policy keeps the rules' text until the module
 * has compiled them and shrink_policy() drops it. The tree of the whole
 * document and the compiled rules together were the gate's peak (issue 23:
 * VmHWM); an arena for that tree (issue 19) is no longer needed. */

/* The usb module has compiled its rules (it copies what it needs); of the
 * document only the exceptions are read later. Keep a policy of just those:
 * a city's allowlist of hundreds of sticks would otherwise stay in this
 * process as a JSON tree (~1.4 KB a rule). */
static void shrink_policy(void)
{
	static const char *const keep[] = {"schema", "version", "segment", "requirements", "exceptions"};
	static const struct mamori_policy *shrunk; /* made here: nothing left to drop */
	const cJSON *doc = G.policy && G.policy != shrunk ? policy_document(G.policy) : NULL;
	_cleanup_json_ cJSON *small = NULL;
	_cleanup_free_ char *text = NULL;
	struct mamori_policy *sp = NULL;
	static struct policy_errors errs; /* 22 KB: off the stack (VmHWM); mamorid is single-threaded */

	if (!doc || !(small = cJSON_CreateObject()))
		return;
	for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, keep[i]);
		if (v)
			cJSON_AddItemToObject(small, keep[i], cJSON_Duplicate(v, 1));
	}
	text = cJSON_PrintUnformatted(small);
	policy_errors_init(&errs);
	if (!text || policy_parse(text, strlen(text), &sp, &errs) < 0)
		return; /* keep the whole document */
	policy_free(G.policy);
	G.policy = sp;
	G.ctx.policy = sp;
	shrunk = sp;
	malloc_trim(0);
}

/* ctx.settings_loaded: the usb module has copied its rules out of the
 * document; drop the tree before it decides the present devices or applies
 * the new rules, so that the scan's and the swap's allocations reuse its
 * memory instead of adding to it (issue 23: the gate's VmHWM). */
static void settings_loaded(struct mamori_ctx *ctx)
{
	(void)ctx;
	shrink_policy();
}

/* MDM-3: a retired terminal (state_dir/COMMAND_RETIRED_FILE, written by the
 * worker's `retire`) keeps every USB device blocked, also after a restart:
 * the usb module gets a policy of only "block" in place of whatever the
 * worker sends — no rule, no interface rule, no exception of the policy and
 * no local exception lets a device in (hubs and keyboards included). */
static bool retired(void)
{
	char p[PATH_MAX];

	return root_pathf(p, sizeof(p), "%s/%s", G.cfg.state_dir, COMMAND_RETIRED_FILE) == 0 && access(p, F_OK) == 0;
}

static struct mamori_policy *retired_policy(const struct mamori_policy *from)
{
	const char *seg = from && policy_segment(from) ? policy_segment(from) : "lgwan";
	struct mamori_policy *p = NULL;
	static struct policy_errors errs; /* 22 KB: off the stack (VmHWM); mamorid is single-threaded */
	char doc[512];

	if (xsnprintf(doc, sizeof(doc),
	              "{\"schema\":1,\"version\":%lld,\"segment\":\"%s\",\"usb\":{\"default\":\"block\","
	              "\"present_devices\":\"apply\",\"ports\":\"all\",\"rules\":[],\"interfaces\":[],"
	              "\"requirements\":[\"MDM-3\"]}}",
	              (long long)(from ? policy_version(from) : 1), seg) < 0)
		return NULL;
	policy_errors_init(&errs);
	return policy_parse(doc, strlen(doc), &p, &errs) < 0 ? NULL : p;
}

static void apply_policy_fd(int fd, const char *sha256)
{
	static bool last_retired;
	bool is_retired = retired();
	_cleanup_free_ char *buf = NULL;
	struct mamori_policy *p = NULL, *old;
	static char last_sha[65];
	static struct policy_errors errs; /* 22 KB: off the stack (VmHWM); mamorid is single-threaded */
	size_t len;
	int r;

	r = ipc_memfd_read(fd, POLICY_SIZE_MAX, &buf, &len);
	close(fd);
	if (r < 0) {
		log_error_errno(r, "policy from the worker unreadable: keeping the running one");
		return;
	}
	/* a restarted worker sends the same policy again: nothing to redo (the
	 * worker names the document by the SHA-256 of the file it verified) */
	if (sha256 && sha256[0] && strcmp(last_sha, sha256) == 0 && is_retired == last_retired)
		return;
	/* the worker verified the signature; parsing again gives our own copy */
	policy_errors_init(&errs);
	r = policy_parse_usb_streamed(buf, len, &p, &errs);
	free(TAKE_PTR(buf)); /* the policy holds what it needs (usb.rules as text): not kept through the load */
	if (r < 0) {
		log_error_errno(r, "policy from the worker does not parse: keeping the running one");
		return;
	}
	if (is_retired) {
		struct mamori_policy *rp = retired_policy(p);

		policy_free(p);
		if (!rp) {
			log_error("retired terminal: the block-all policy does not parse: keeping the running one");
			return;
		}
		p = rp;
		log_notice("retired terminal (MDM-3): every USB device stays blocked");
	}
	last_retired = is_retired;
	old = G.policy;
	G.policy = p;
	G.ctx.policy = p;
	if (G.mod_state) {
		r = mamori_module_reload(G.mod, &G.ctx, &G.mod_state);
		if (r < 0)
			log_error_errno(r, "usb: keeps its previous rules");
		usb_module_tick(G.mod_state); /* exceptions bound to the old version end now */
	}
	policy_free(old);
	if (G.mod_state)
		shrink_policy();
	strscpy(last_sha, sizeof(last_sha), sha256 ? sha256 : "");
	free(TAKE_PTR(buf));
	/* parsing and the old rules left holes in the heap: give them back */
	malloc_trim(0);
	log_info("policy version %lld applied to the USB gate", (long long)policy_version(G.policy));
}

/* ---- events to the worker -------------------------------------------------- */

/* Events go to the worker without waiting for its fsync: the decision must
 * not wait for the disk while a person waits at the port. They stay in
 * G.queue, in order, until the worker acknowledges them as durable (acks
 * come in order); G.n_sent of them are on their way. When the worker dies,
 * the ones it did not acknowledge are sent again to the next one (at least
 * once: one it made durable but could not acknowledge appears twice). */
static void queue_event(cJSON *msg)
{
	struct queued e = {.id = ipc_uint(msg, "id")};
	enum ipc_type t;
	const char *why = NULL;

	if (G.n_queue >= GATE_QUEUE_MAX) {
		G.dropped++; /* counted, reported as journal.overflow when there is room */
		cJSON_Delete(msg);
		return;
	}
	if (ipc_check(msg, false, IPC_TO_WORKER, &t, &why) < 0) {
		/* does not match the message table: a bug; counted as lost
		 * (journal.overflow), never queued to stall the ones behind it */
		log_error("event %llu does not match the IPC message table (%s): counted as lost",
		          (unsigned long long)e.id, why ? why : "?");
		G.dropped++;
		cJSON_Delete(msg);
		return;
	}
	if (t == IPC_EMIT) {
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "type"));

		if (type && strcmp(type, "journal.overflow") == 0)
			e.lost = ipc_uint(cJSON_GetObjectItemCaseSensitive(msg, "payload"), "dropped");
	}
	e.buf = cJSON_PrintUnformatted(msg);
	cJSON_Delete(msg);
	if (!e.buf || (e.len = strlen(e.buf)) > IPC_MSG_MAX) {
		log_error("event %llu cannot be queued (%s): counted as lost", (unsigned long long)e.id,
		          e.buf ? "too large" : "out of memory");
		G.dropped += e.lost ? e.lost : 1; /* an overflow record: its count */
		free(e.buf);
		return;
	}
	if (G.n_queue == G.queue_cap) {
		/* grown as events wait, not sized for the worst case up front: a
		 * worker that acknowledges keeps it at a few slots (issue 23: the
		 * gate's VmHWM) */
		size_t cap = G.queue_cap ? G.queue_cap * 2 : 64;
		struct queued *q;

		if (cap > GATE_QUEUE_MAX)
			cap = GATE_QUEUE_MAX;
		q = reallocarray(G.queue, cap, sizeof(*G.queue));
		if (!q) {
			G.dropped += e.lost ? e.lost : 1;
			free(e.buf);
			return;
		}
		G.queue = q;
		G.queue_cap = cap;
	}
	G.queue[G.n_queue++] = e;
	if (t == IPC_EMIT)
		spool_append(e.id, e.buf, e.len); /* survives a crash of this process (issue 13) */
}

/* An event a previous mamorid spooled and nobody acknowledged: queued again
 * under a new id. */
static void requeue_spooled(cJSON *msg)
{
	cJSON_ReplaceItemInObjectCaseSensitive(msg, "id", cJSON_CreateNumber((double)++G.next_id));
	queue_event(msg);
}

static void send_queued(void)
{
	while (G.peer.fd >= 0 && G.worker_ready && G.n_sent < G.n_queue) {
		int r = ipc_peer_send_printed(&G.peer, G.queue[G.n_sent].buf, G.queue[G.n_sent].len);

		if (r == -ENOBUFS)
			return; /* the peer's queue is full: the rest goes as acks come */
		if (r < 0) {
			log_warning_errno(r, "cannot send events to the worker");
			return;
		}
		G.n_sent++;
	}
}

static void on_emit_ack(const cJSON *ack)
{
	uint64_t id = ipc_uint(ack, "id");
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(ack, "error");

	if (G.n_sent == 0 || G.queue[0].id != id)
		return; /* not the oldest in flight: an ack of a dead worker's message */
	if (err) {
		/* not journaled: counted as lost, never silently gone (LOG-1);
		 * a journal.overflow record that failed gives its count back */
		log_warning("worker could not journal event %llu: %s", (unsigned long long)id,
		            strerror(err->valueint < 0 ? -err->valueint : EINVAL));
		G.dropped += G.queue[0].lost ? G.queue[0].lost : 1;
	}
	free(G.queue[0].buf);
	memmove(G.queue, G.queue + 1, (G.n_queue - 1) * sizeof(*G.queue));
	G.n_queue--;
	G.n_sent--;
	spool_ack(id, G.n_queue == 0);
	/* the count goes out once the worker journals again (after a success:
	 * a journal that refuses everything does not make this loop) */
	if (G.n_queue == 0 && G.dropped > 0 && !err) {
		cJSON *m = ipc_new(IPC_EMIT), *p;
		if (m && (p = cJSON_AddObjectToObject(m, "payload"))) {
			cJSON_AddNumberToObject(m, "id", (double)++G.next_id);
			cJSON_AddStringToObject(m, "type", "journal.overflow");
			cJSON_AddStringToObject(m, "severity", "critical"); /* as docs/EVENTS.md says */
			cJSON_AddStringToObject(m, "reqs", "LOG-1");
			cJSON_AddNumberToObject(p, "dropped", (double)G.dropped);
			cJSON_AddStringToObject(p, "where", "gate");
			cJSON_AddNumberToObject(cJSON_AddObjectToObject(p, "causes"), "queue_full", (double)G.dropped);
			G.dropped = 0;
			queue_event(m);
		} else
			cJSON_Delete(m);
	}
	send_queued();
}

static int gate_emit(struct mamori_ctx *ctx, const struct mamori_event *ev, uint64_t *ret_seq)
{
	cJSON *msg = ipc_new(IPC_EMIT);

	(void)ctx;
	if (!msg)
		return -ENOMEM;
	cJSON_AddNumberToObject(msg, "id", (double)++G.next_id);
	cJSON_AddStringToObject(msg, "type", ev->type);
	cJSON_AddStringToObject(msg, "severity", event_severity_to_string(ev->severity));
	cJSON_AddStringToObject(msg, "reqs", ev->reqs ? ev->reqs : "");
	if (ev->payload)
		cJSON_AddItemToObject(msg, "payload", cJSON_Duplicate(ev->payload, 1));
	queue_event(msg);
	send_queued();
	ipc_update();
	if (ret_seq)
		*ret_seq = 0; /* assigned by the worker's journal */
	return 0;
}

/* The usb module published or dropped a medium: the carry module in the
 * worker needs it (agent/sdk/media.h). Sent in the event queue, so it keeps its
 * order with usb.* events and reaches a restarted worker too. */
static void forward_media(const struct media_entry *e, bool present, void *userdata)
{
	cJSON *m = ipc_new(IPC_MEDIA);

	(void)userdata;
	if (!m)
		return;
	cJSON_AddNumberToObject(m, "id", (double)++G.next_id);
	cJSON_AddBoolToObject(m, "present", present);
	cJSON_AddNumberToObject(m, "devnum", (double)e->devnum);
	cJSON_AddStringToObject(m, "devnode", e->devnode);
	cJSON_AddStringToObject(m, "auth_path", e->auth_path);
	cJSON_AddStringToObject(m, "decision", e->decision);
	cJSON_AddBoolToObject(m, "readonly", e->readonly);
	if (e->identity)
		cJSON_AddItemToObject(m, "identity", cJSON_Duplicate(e->identity, 1));
	queue_event(m);
	send_queued();
	ipc_update();
}

static void send_hello(void)
{
	_cleanup_json_ cJSON *m = ipc_new(IPC_HELLO);
	cJSON *mods, *o;
	int r;

	if (!m || G.peer.fd < 0)
		return;
	cJSON_AddNumberToObject(m, "pid", (double)getpid());
	cJSON_AddStringToObject(m, "version", MAMORI_VERSION);
	mods = cJSON_AddArrayToObject(m, "modules");
	if (G.mod && (o = cJSON_CreateObject())) {
		cJSON_AddStringToObject(o, "name", G.mod->name);
		cJSON_AddStringToObject(o, "state", G.mod_state ? "active" : G.mod_error ? "error" : "off");
		if (G.mod_error)
			cJSON_AddStringToObject(o, "error", strerror(-G.mod_error));
		cJSON_AddStringToObject(o, "process", "mamorid");
		cJSON_AddItemToArray(mods, o);
	}
	cJSON_AddNumberToObject(m, "queued", (double)G.n_queue);
	cJSON_AddNumberToObject(m, "dropped", (double)G.dropped);
	cJSON_AddNumberToObject(m, "refused", (double)G.peer.refused);
	r = ipc_peer_send(&G.peer, m, -1);
	if (r < 0)
		log_warning_errno(r, "cannot send hello to the worker");
}

static void handle_message(cJSON *m, enum ipc_type t, int fd)
{
	switch (t) {
	case IPC_POLICY:
		apply_policy_fd(fd, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "sha256")));
		fd = -1;
		break;
	case IPC_READY:
		G.worker_ready = true;
		G.ready_ms = G.last_pong_ms = G.ping_sent_ms = mono_ms(); /* restarts reset once it stays healthy */
		G.ping_waiting_ms = 0;
		send_hello();
		G.n_sent = 0; /* what the last worker did not acknowledge goes again */
		send_queued();
		break;
	case IPC_ACK:
		on_emit_ack(m);
		break;
	case IPC_PONG:
		if (ipc_uint(m, "id") == G.ping_id) {
			G.last_pong_ms = mono_ms();
			G.ping_waiting_ms = 0;
			/* the round trip, for tests/integration/posture_fair.sh */
			log_debug("worker pong %llu after %llu ms", (unsigned long long)G.ping_id,
			          (unsigned long long)(G.last_pong_ms - G.ping_sent_ms));
			arm_ping(G.last_pong_ms);
		}
		break;
	case IPC_USB_LOCAL: { /* `mamorictl usb allow|block` reached the gate (issue 12.6) */
		const char *why = NULL;

		if (retired()) {
			log_warning("retired terminal (MDM-3): local USB exceptions are not applied");
			break;
		}
		if (usb_module_set_local(G.mod_state, cJSON_GetObjectItemCaseSensitive(m, "exceptions"), &why) < 0) {
			G.peer.refused++;
			log_warning("worker sent local USB exceptions that do not parse (%s): keeping the previous set",
			            why ? why : "?");
		}
		arm_ping(mono_ms()); /* one that ends at a time is looked at every GATE_PING_MS */
		break;
	}
	default:
		break;
	}
	if (fd >= 0)
		close(fd);
	cJSON_Delete(m);
}

/* What the worker sent, at most a bounded batch per wake-up so a flood of
 * acks never starves the usb module's events (level-triggered: the rest
 * comes at the next epoll_wait). */
static void on_ipc(void)
{
	for (int i = 0; i < 256 && G.peer.fd >= 0; i++) {
		cJSON *m = NULL;
		enum ipc_type t;
		int fd = -1, r = ipc_peer_recv(&G.peer, &m, &t, &fd);

		if (r == -EAGAIN)
			break;
		if (r == -EBADMSG) {
			log_warning("worker sent a message that does not match the IPC table: refused (%llu so far)",
			            (unsigned long long)G.peer.refused);
			continue;
		}
		if (r < 0) {
			worker_gone("closed its connection");
			return;
		}
		handle_message(m, t, fd);
	}
	ipc_update();
}

/* The next look at the worker: GATE_PING_MS while something is pending
 * (the worker starting or gone, a ping unanswered, a local USB exception
 * with an end time), else the next ping is due an idle interval after the
 * last one. One-shot, re-armed at every tick and every pong. */
static uint64_t idle_ping_ms(void)
{
	return G.wd_ms && G.wd_ms < GATE_IDLE_PING_MS ? G.wd_ms : GATE_IDLE_PING_MS;
}

static void arm_ping(uint64_t now)
{
	uint64_t ms = GATE_PING_MS, idle = idle_ping_ms();
	struct itimerspec its = {0};

	if (G.ping_tfd < 0)
		return;
	if (G.worker > 0 && G.peer.fd >= 0 && G.worker_ready && !G.ping_waiting_ms &&
	    !usb_module_wants_tick(G.mod_state))
		ms = G.ping_sent_ms + idle > now ? G.ping_sent_ms + idle - now : 1;
	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	timerfd_settime(G.ping_tfd, 0, &its, NULL);
}

/* The supervision tick: kill a worker that stopped answering (or never
 * became ready), else ping it when a ping is due: SIGCHLD then restarts it
 * with back-off (issue 11.4). */
static void on_ping_tick(void)
{
	uint64_t now = mono_ms();
	_cleanup_json_ cJSON *m = NULL;

	usb_module_tick(G.mod_state); /* local exceptions end by this clock, worker or not */
	if (G.worker <= 0 || G.peer.fd < 0)
		goto out;
	if (!G.worker_ready) {
		if (now - G.started_ms > GATE_START_MS) {
			log_error("mamori-worker (pid %d) not ready after %d s: killing it", (int)G.worker,
			          GATE_START_MS / 1000);
			kill(G.worker, SIGKILL);
		}
		goto out;
	}
	if (G.ping_waiting_ms) {
		if (now - G.ping_waiting_ms > GATE_HUNG_MS) {
			log_error("mamori-worker (pid %d) has not answered for %llu ms: killing it (USB decisions go "
			          "on)",
			          (int)G.worker, (unsigned long long)(now - G.ping_waiting_ms));
			kill(G.worker, SIGKILL);
		}
		goto out;
	}
	if (G.restarts > 0 && now - G.ready_ms > GATE_STABLE_MS)
		G.restarts = 0; /* healthy for a while: the next failure restarts after 1 s again */
	if (now - G.ping_sent_ms < idle_ping_ms())
		goto out; /* looked at for an exception's end; no ping due yet */
	m = ipc_new(IPC_PING);
	G.ping_sent_ms = G.ping_waiting_ms = now;
	if (m && cJSON_AddNumberToObject(m, "id", (double)++G.ping_id))
		ipc_peer_send(&G.peer, m, -1); /* a full queue is a silent worker too */
	ipc_update();
out:
	arm_ping(now);
}

/* Both processes healthy: the gate's loop runs (we are here) and the worker
 * answered recently. */
static bool healthy(void)
{
	return G.worker > 0 && G.worker_ready &&
	       (!G.ping_waiting_ms || mono_ms() - G.ping_waiting_ms < GATE_HEALTHY_MS);
}

/* ---- the usb module --------------------------------------------------------- */

static void register_module_fds(void)
{
	int n;

	for (size_t i = 0; i < G.n_mod_fds; i++)
		epoll_ctl(G.epfd, EPOLL_CTL_DEL, G.mod_fds[i], NULL);
	G.n_mod_fds = 0;
	if (!G.mod_state || !G.mod->fds)
		return;
	n = G.mod->fds(G.mod_state, G.mod_fds, MAMORI_MODULE_MAX_FDS);
	if (n < 0)
		return;
	G.n_mod_fds = (size_t)n;
	for (size_t i = 0; i < G.n_mod_fds; i++)
		epoll_add(G.mod_fds[i], T_MODULE);
}

static void wait_first_policy(void)
{
	struct timespec t0, now;

	/* decide the present devices with the city's policy, not the defaults,
	 * when the worker can give it quickly */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (G.peer.fd >= 0 && !G.worker_ready) {
		struct pollfd p = {.fd = G.peer.fd, .events = POLLIN};
		long ms;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = GATE_FIRST_POLICY_MS - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (ms <= 0 || poll(&p, 1, (int)ms) <= 0)
			break;
		on_ipc();
	}
	if (!G.worker_ready)
		log_warning("worker not ready: deciding devices with the last known rules");
}

static int load_config(const char *path)
{
	char err[4096];
	int r;

	config_defaults(&G.cfg);
	r = config_load(&G.cfg, path, true, err, sizeof(err));
	if (r < 0) {
		char *line = err, *nl;
		do {
			nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			log_error("%s", line);
			line = nl ? nl + 1 : NULL;
		} while (line);
	}
	return r;
}

static void usage(FILE *f)
{
	fputs("usage: mamorid [--root DIR] [--config FILE] [--foreground] [--audit]\n"
	      "               [--policy FILE [--unsigned]] [--log-level LEVEL] [--once] [--worker PATH]\n"
	      "  --root DIR      resolve every system path under DIR (tests, demo)\n"
	      "  --config FILE   agent configuration (default /etc/mamori/agent.conf, under --root)\n"
	      "  --foreground    log to stderr instead of syslog\n"
	      "  --audit         report only: never change the system\n"
	      "  --policy FILE   use this policy file instead of the configured one\n"
	      "  --unsigned      accept --policy FILE without a signature (audit runs only)\n"
	      "  --once          one posture pass in the worker, then exit\n"
	      "  --worker PATH   the mamori-worker program (default: next to mamorid)\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"root", required_argument, NULL, 'r'},
	        {"config", required_argument, NULL, 'c'},
	        {"foreground", no_argument, NULL, 'f'},
	        {"audit", no_argument, NULL, 'a'},
	        {"policy", required_argument, NULL, 'p'},
	        {"unsigned", no_argument, NULL, 'u'},
	        {"log-level", required_argument, NULL, 'l'},
	        {"once", no_argument, NULL, 'o'},
	        {"worker", required_argument, NULL, 'w'},
	        {"version", no_argument, NULL, 'V'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	char cfgpath[PATH_MAX];
	int level = LOG_INFO, c, r;
	bool once = false;
	uint64_t wd;
	sigset_t mask;

	while ((c = getopt_long(argc, argv, "r:c:fap:ul:ow:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			G.root = optarg;
			break;
		case 'c':
			G.config_opt = optarg;
			break;
		case 'f':
			G.foreground = true;
			break;
		case 'a':
			G.audit = true;
			break;
		case 'p':
			G.policy_path = optarg;
			break;
		case 'u':
			G.unsigned_policy = true;
			break;
		case 'l':
			level = log_level_from_string(optarg);
			if (level < 0) {
				fprintf(stderr, "mamorid: --log-level: expected debug, info, notice, warning or err\n");
				return EXIT_USAGE;
			}
			G.log_level_opt = optarg;
			break;
		case 'o':
			once = true;
			break;
		case 'w':
			if (strscpy(G.worker_path, sizeof(G.worker_path), optarg) < 0)
				return EXIT_USAGE;
			break;
		case 'V':
			printf("mamorid %s\n", MAMORI_VERSION);
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
	if (G.unsigned_policy && !G.policy_path) {
		fprintf(stderr, "mamorid: --unsigned needs --policy FILE\n");
		return EXIT_USAGE;
	}
	if (G.unsigned_policy)
		G.audit = true; /* an unsigned policy is never enforced */
	if (!G.worker_path[0]) {
		r = self_sibling_path("mamori-worker", G.worker_path, sizeof(G.worker_path));
		if (r < 0)
			return log_error_errno(r, "mamorid: cannot find mamori-worker next to myself"), EXIT_FAILURE;
	}
	if (once) {
		/* one posture pass: the worker alone does it */
		char *wargv[16];
		int n = 0;

		wargv[n++] = "mamori-worker";
		wargv[n++] = "--once";
		for (int i = 1; i < argc && n < 15; i++)
			if (strcmp(argv[i], "--once") != 0)
				wargv[n++] = argv[i];
		wargv[n] = NULL;
		execv(G.worker_path, wargv);
		return log_error_errno(errno, "mamorid: cannot run %s", G.worker_path), EXIT_FAILURE;
	}
	log_open("mamorid", G.foreground, level);

	if (root_set(G.root && strcmp(G.root, "/") != 0 ? G.root : "") < 0 ||
	    root_path(cfgpath, sizeof(cfgpath), G.config_opt ? G.config_opt : CONFIG_DEFAULT_PATH) < 0) {
		log_error("mamorid: root or configuration path invalid");
		return EXIT_USAGE;
	}
	if (load_config(cfgpath) < 0) {
		log_error("mamorid: %s: invalid configuration (see messages above)", cfgpath);
		return EXIT_CONFIG;
	}
	if (!G.foreground || level != LOG_DEBUG)
		log_set_max_level(G.cfg.log_level);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigdelset(&mask, SIGPIPE);
	G.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	G.epfd = epoll_create1(EPOLL_CLOEXEC);
	G.restart_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (G.sigfd < 0 || G.epfd < 0 || G.restart_tfd < 0)
		return log_error_errno(errno, "mamorid: cannot create event loop"), EXIT_FAILURE;
	epoll_add(G.sigfd, T_SIGNAL);
	epoll_add(G.restart_tfd, T_RESTART);

	G.ctx = (struct mamori_ctx){.config = &G.cfg,
	                            .lang = G.cfg.lang,
	                            .audit_only = G.audit || G.cfg.audit_only,
	                            .emit = gate_emit,
	                            .settings_loaded = settings_loaded};
	{
		/* events a crashed or stopped mamorid had not seen acknowledged go first */
		char sdir[PATH_MAX];

		if (root_path(sdir, sizeof(sdir), G.cfg.state_dir) < 0 || spool_open(sdir, requeue_spooled) < 0)
			log_error("mamorid: no spool: events not yet acknowledged are lost if mamorid dies");
	}
	/* Capabilities after start (docs/ARCHITECTURE.md "Who runs as whom"):
	 * the gate itself uses CAP_SYS_ADMIN only (BLKROSET); it keeps in
	 * permitted/inheritable/ambient what it hands to the worker it (re)starts
	 * and to the setpriv(1) of its notifications, nothing else. */
	r = sandbox_caps_limit(GATE_CAPS_EFFECTIVE, GATE_CAPS_KEEP, GATE_CAPS_KEEP);
	if (r < 0)
		return log_error_errno(r, "mamorid: cannot limit its capabilities"), EXIT_FAILURE;
	media_set_publish_hook(forward_media, NULL);
	r = spawn_worker();
	if (r < 0)
		log_error_errno(r, "mamorid: cannot start %s", G.worker_path);
	else
		wait_first_policy();

	G.mod = &usb_module;
	if (!G.cfg.usb_gate) {
		/* said in full in agent.conf (usb_gate = off), never implied by a
		 * module list; journaled, and the worker reports it as a finding
		 * (agent.usb_gate). The hubs' authorized_default is not touched: a 0
		 * left by the kernel command line or an earlier run stays 0. */
		_cleanup_json_ cJSON *p = cJSON_CreateObject();
		struct mamori_event ev = {
		        .type = "agent.usb_gate_off", .severity = SEV_CRITICAL, .reqs = "MEDIA-1", .payload = p};

		if (p)
			cJSON_AddStringToObject(p, "config", cfgpath);
		log_error("usb_gate = off in %s: the USB gate is switched off, USB devices are not decided", cfgpath);
		gate_emit(&G.ctx, &ev, NULL);
	} else {
		if (retired()) { /* MDM-3: also when no policy came from the worker */
			struct mamori_policy *rp = retired_policy(G.policy);

			if (rp) {
				policy_free(G.policy);
				G.policy = rp;
				G.ctx.policy = rp;
				log_notice("retired terminal (MDM-3): every USB device stays blocked");
			} else
				log_error("retired terminal: the block-all policy does not parse");
		}
		r = mamori_module_start(G.mod, &G.ctx, &G.mod_state); /* decides the present devices */
		if (r < 0) {
			G.mod_error = r;
			G.mod_state = NULL;
			log_error_errno(r, "usb: cannot start; new devices stay blocked by the kernel default");
		}
		register_module_fds();
		if (G.mod_state)
			shrink_policy();
	}
	send_hello();

	wd = sd_watchdog_usec();
	if (wd > 0 && (G.wd_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) >= 0) {
		struct itimerspec its = {
		        .it_interval = {.tv_sec = (time_t)(wd / 2000000), .tv_nsec = (long)(wd / 2 % 1000000) * 1000}};
		its.it_value = its.it_interval;
		timerfd_settime(G.wd_tfd, 0, &its, NULL);
		epoll_add(G.wd_tfd, T_WATCHDOG);
	}
	G.wd_ms = wd / 2000;
	G.ping_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (G.ping_tfd >= 0) {
		arm_ping(mono_ms());
		epoll_add(G.ping_tfd, T_PING);
	} else
		log_error_errno(errno, "cannot supervise the worker (timerfd)");
	sd_notify_send("READY=1\nSTATUS=USB gate ready");
	log_info("mamorid %s ready (root %s, usb %s, worker %s)", MAMORI_VERSION, G.root && G.root[0] ? G.root : "/",
	         G.mod_state ? "active" : "off", G.worker_ready ? "ready" : "not ready");

	while (!G.stop) {
		struct epoll_event evs[16];
		int n = epoll_wait(G.epfd, evs, 16, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			uint32_t tag = (uint32_t)evs[i].data.u64;
			int fd = (int)(evs[i].data.u64 >> 32);

			switch (tag) {
			case T_MODULE:
				r = G.mod->on_ready(G.mod_state, fd, evs[i].events);
				if (r < 0)
					log_warning_errno(r, "usb: event handling failed");
				break;
			case T_IPC:
				if (G.peer.fd != fd)
					break;
				if (evs[i].events & EPOLLOUT)
					ipc_update();
				if (G.peer.fd == fd && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
					on_ipc();
				break;
			case T_RESTART: {
				uint64_t x;
				while (read(G.restart_tfd, &x, sizeof(x)) > 0)
					;
				if (G.peer.fd < 0 && spawn_worker() < 0)
					worker_gone("could not be started");
				break;
			}
			case T_WATCHDOG: {
				uint64_t x;
				while (read(G.wd_tfd, &x, sizeof(x)) > 0)
					;
				if (healthy())
					sd_notify_send("WATCHDOG=1");
				else
					log_warning("watchdog not fed: mamori-worker is not answering");
				spool_sync(); /* off the decision path */
				break;
			}
			case T_PING: {
				uint64_t x;
				while (read(G.ping_tfd, &x, sizeof(x)) > 0)
					;
				on_ping_tick();
				break;
			}
			case T_SIGNAL: {
				struct signalfd_siginfo si;
				while (read(G.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
					if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
						G.stop = true;
					} else if (si.ssi_signo == SIGHUP) {
						_cleanup_json_ cJSON *m = ipc_new(IPC_RELOAD);
						struct agent_config old = G.cfg;

						if (load_config(cfgpath) < 0) {
							G.cfg = old; /* keep the running one */
							log_error(
							        "configuration not reloaded: keeping the running one");
						}
						/* the worker reloads config and policy and sends the policy back */
						if (m && G.peer.fd >= 0 && ipc_peer_send(&G.peer, m, -1) < 0)
							log_warning("the worker did not get the reload (queue full)");
						ipc_update();
					} else if (si.ssi_signo == SIGCHLD) {
						int st;
						/* only the worker: notification children are the usb
						 * module's to reap (agent/sdk/notify.c) */
						if (G.worker > 0 && waitpid(G.worker, &st, WNOHANG) == G.worker) {
							G.worker = 0;
							worker_gone(WIFSIGNALED(st) ? "was killed" : "exited");
						}
					}
				}
				break;
			}
			}
			if (G.stop)
				break;
		}
		ipc_update(); /* whatever this round queued for the worker */
	}
	sd_notify_send("STOPPING=1");
	log_info("stopping");
	if (G.worker > 0) {
		int st, i;

		/* a stopped or hung worker must not hold the gate's stop: TERM
		 * (and CONT, for a stopped one), 5 s, then KILL */
		kill(G.worker, SIGTERM);
		kill(G.worker, SIGCONT);
		for (i = 0; i < 100 && waitpid(G.worker, &st, WNOHANG) == 0; i++)
			usleep(50000);
		if (i == 100) {
			log_warning("mamori-worker did not stop within 5 s: killing it");
			kill(G.worker, SIGKILL);
			waitpid(G.worker, &st, 0);
		}
	}
	if (G.mod_state)
		mamori_module_stop(G.mod, G.mod_state);
	policy_free(G.policy);
	spool_close(); /* what is still queued is sent by the next mamorid */
	for (size_t i = 0; i < G.n_queue; i++)
		free(G.queue[i].buf);
	free(G.queue);
	return 0;
}
