/* agent/worker/control.c — the control socket: server side in mamori-worker, client side
 * in mamorictl. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "control.h"
#include "json-util.h"
#include "daemon.h"
#include "fileio.h"
#include "log.h"
#include "strutil.h"
#include "watch.h"

struct client {
	struct watch w; /* first: the loop hands us this pointer */
	uid_t uid;
	pid_t pid;
	bool member;   /* root or in the socket's group: every command; others only `request` (issue 16) */
	bool watching; /* usb_watch: stays after its answer, gets published lines */
	bool failed;   /* to be dropped (client_fail): freed by its own dispatch, never by publish,
	                  expire or answer_waiting (its event may wait in the loop's current batch) */
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	struct timespec since;
	bool waiting;          /* the answer comes later (CONTROL_DEFERRED) */
	bool waiting_sanitize; /* ... when the sanitising child ends (CONTROL_DEFERRED_SANITIZE) */
	const char *refusal;   /* one connection too many: this answer to its request, then closed
	                          (answered after the request is read: closing on unread data
	                          would reset the connection before the caller reads why) */
	struct client *next;
};

struct control_server {
	struct daemon *d;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct client *clients;
	size_t n_clients;
	gid_t gid;         /* the socket's group: its members (administrators' tools) may use every command */
	uint64_t refused;  /* connections refused: too many (CONTROL_MAX_CLIENTS[_PER_UID]) */
	size_t n_refusing; /* of n_clients, those only waiting for their refusal */
	struct timespec refused_logged; /* the last warning of it: at most one a minute */
	uint64_t refused_unlogged;
};

const struct control_cmd_info control_cmds[_CONTROL_CMD_MAX] = {
        [CONTROL_STATUS] = {"status", false},
        [CONTROL_REPORT] = {"report", false},
        [CONTROL_CHECK] = {"check", false},
        [CONTROL_RELOAD] = {"reload", true},
        /* root only, checked and journaled by the handler (agent/worker/usb_local_store.c) */
        [CONTROL_USB_ALLOW] = {"usb_allow", false, true},
        [CONTROL_USB_BLOCK] = {"usb_block", false, true},
        [CONTROL_USB_EXCEPTIONS] = {"usb_exceptions", false},
        [CONTROL_USB_REVOKE] = {"usb_revoke", false, true},
        [CONTROL_USB_WATCH] = {"usb_watch", false},
        /* any user: the person is the peer (SO_PEERCRED), never an argument */
        [CONTROL_REQUEST] = {"request", false, true},
        /* root only, checked and journaled by the handler (agent/worker/sanitize.c) */
        [CONTROL_MEDIA_SANITIZE] = {"media_sanitize", false, true},
};

static pid_t current_pid;

pid_t control_peer_pid(void)
{
	return current_pid;
}

void control_who_json(cJSON *o, uid_t uid, pid_t pid)
{
	char p[64], buf[32];
	uid_t who = uid;
	struct passwd *pw;
	int64_t v;

	cJSON_AddNumberToObject(o, "uid", (double)uid);
	cJSON_AddNumberToObject(o, "pid", (double)pid);
	if (pid > 0 && xsnprintf(p, sizeof(p), "/proc/%d/loginuid", (int)pid) == 0 &&
	    read_one_line(p, buf, sizeof(buf)) == 0 && parse_int64(buf, 0, 4294967294LL, &v) == 0) {
		cJSON_AddNumberToObject(o, "loginuid", (double)v);
		who = (uid_t)v;
	} else
		cJSON_AddNullToObject(o, "loginuid");
	pw = getpwuid(who);
	if (pw)
		cJSON_AddStringToObject(o, "user", pw->pw_name);
	else
		cJSON_AddNullToObject(o, "user");
}

int control_request_parse(const char *req, size_t len, enum control_cmd *ret, const char **ret_err)
{
	_cleanup_json_ cJSON *in = NULL;
	const cJSON *cmd = NULL, *args = NULL, *it;

	if (len > CONTROL_REQUEST_MAX) {
		*ret_err = "request too large";
		return -E2BIG;
	}
	in = cJSON_ParseWithLength(req, len);
	if (!in || !cJSON_IsObject(in)) {
		*ret_err = "request is not a JSON object";
		return -EBADMSG;
	}
	/* exact: "cmd" once, "args" once where the command takes it, nothing
	 * else (an unknown field is an error) */
	cJSON_ArrayForEach(it, in)
	{
		if (it->string && strcmp(it->string, "args") == 0) {
			if (args || !cJSON_IsObject(it)) {
				*ret_err = "\"args\" given twice or not an object";
				return -EBADMSG;
			}
			args = it;
			continue;
		}
		if (!it->string || strcmp(it->string, "cmd") != 0) {
			*ret_err = "unknown field in request";
			return -EBADMSG;
		}
		if (cmd) {
			*ret_err = "\"cmd\" given twice";
			return -EBADMSG;
		}
		cmd = it;
	}
	if (!cJSON_IsString(cmd)) {
		*ret_err = "missing \"cmd\"";
		return -EBADMSG;
	}
	/* a member named twice inside args: which one the command's handler
	 * reads is not the sender's to guess (as the server's duplicate_field) */
	{
		const char *twice = NULL;
		int r = json_member_twice(in, &twice);

		if (r != 0) {
			*ret_err = r > 0 ? "a member named twice in one object" : "out of memory";
			return r > 0 ? -EBADMSG : r;
		}
	}
	for (int i = 0; i < _CONTROL_CMD_MAX; i++)
		if (strcmp(cmd->valuestring, control_cmds[i].name) == 0) {
			if (args && !control_cmds[i].args) {
				*ret_err = "this command takes no \"args\"";
				return -EBADMSG;
			}
			*ret = (enum control_cmd)i;
			return 0;
		}
	*ret_err = "unknown command";
	return -ENOENT;
}

static long ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

int control_server_new(struct daemon *d, const char *path, struct control_server **ret)
{
	_cleanup_free_ struct control_server *s = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;

	if (strscpy(sa.sun_path, sizeof(sa.sun_path), path) < 0)
		return -ENAMETOOLONG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(path); /* a stale socket of a previous run */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	/* everybody may connect — a person at the terminal asks the approver
	 * (`mamorictl request`, issue 16) —, but only root and the socket's
	 * group (administrators' tools) may use the other commands (accept_clients) */
	{
		struct stat st;

		if (chmod(path, 0666) < 0 || stat(path, &st) < 0 || listen(fd, CONTROL_MAX_CLIENTS) < 0)
			return -errno;
		s->gid = st.st_gid;
	}
	s->d = d;
	strscpy(s->path, sizeof(s->path), path);
	s->fd = TAKE_FD(fd);
	*ret = TAKE_PTR(s);
	return 0;
}

static void client_free(struct control_server *s, int epfd, struct client *c)
{
	for (struct client **pp = &s->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	s->n_clients--;
	if (c->refusal)
		s->n_refusing--;
	if (epfd >= 0)
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->w.fd, NULL);
	close(c->w.fd);
	free(c->in);
	free(c->out);
	free(c);
}

void control_server_free(struct control_server *s)
{
	if (!s)
		return;
	while (s->clients)
		client_free(s, -1, s->clients);
	if (s->fd >= 0)
		close(s->fd);
	if (s->path[0])
		unlink(s->path);
	free(s);
}

int control_server_fd(const struct control_server *s)
{
	return s->fd;
}

/* Is gid among the supplementary groups of pid (/proc/PID/status "Groups:")? */
static bool pid_in_group(pid_t pid, gid_t gid)
{
	char p[64], line[4096];
	bool found = false;
	FILE *f;

	if (snprintf(p, sizeof(p), "/proc/%d/status", (int)pid) >= (int)sizeof(p) || !(f = fopen(p, "re")))
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *q = line + 7;

		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (;;) {
			char *end;
			unsigned long v;

			q += strspn(q, " \t");
			if (*q < '0' || *q > '9')
				break;
			v = strtoul(q, &end, 10);
			if (v == (unsigned long)gid)
				found = true;
			q = end;
		}
	}
	fclose(f);
	return found;
}

static size_t uid_clients(const struct control_server *s, uid_t uid)
{
	size_t n = 0;

	for (const struct client *c = s->clients; c; c = c->next)
		n += c->uid == uid && !c->failed && !c->refusal;
	return n;
}

/* One connection too many: counted, logged and journaled (control.refused)
 * at most once a minute — a flood must not flood the journal; the count in
 * between is in the next record and in `status`. The caller answers its
 * request with the returned refusal (both languages: the worker does not
 * know the caller's); the connections the uid holds stay. */
static const char *refuse_client(struct control_server *s, uid_t uid, bool all)
{
	static const char per_uid[] =
	        "{\"ok\":false,\"reason\":\"too_many_connections\",\"error\":\"このユーザーの同時接続が多すぎます。"
	        "少し待ってからやり直してください / too many connections of this user at once: try again shortly\"}";
	static const char total[] =
	        "{\"ok\":false,\"reason\":\"too_many_connections\",\"error\":\"mamorid が混み合っています。"
	        "少し待ってからやり直してください / mamorid is busy: try again shortly\"}";
	struct timespec now;

	s->refused++;
	s->refused_unlogged++;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (s->refused_logged.tv_sec == 0 || now.tv_sec - s->refused_logged.tv_sec >= 60) {
		log_warning("control socket: refused %" PRIu64 " connection(s) (the last of uid %u: %s)",
		            s->refused_unlogged, (unsigned)uid,
		            all ? "all connections in use" : "too many of this uid");
		daemon_control_refused(s->d, uid, s->refused_unlogged, all);
		s->refused_logged = now;
		s->refused_unlogged = 0;
	}
	return all ? total : per_uid;
}

uint64_t control_server_refused(const struct control_server *s)
{
	return s ? s->refused : 0;
}

static void accept_clients(struct control_server *s, int epfd)
{
	for (;;) {
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		struct client *c;
		struct epoll_event ev = {.events = EPOLLIN};
		const char *refusal = NULL;
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
			close(fd);
			continue;
		}
		if (s->n_clients - s->n_refusing >= CONTROL_MAX_CLIENTS ||
		    (cred.uid != 0 && uid_clients(s, cred.uid) >= CONTROL_MAX_CLIENTS_PER_UID)) {
			refusal = refuse_client(s, cred.uid, s->n_clients - s->n_refusing >= CONTROL_MAX_CLIENTS);
			if (s->n_refusing >= CONTROL_MAX_REFUSING) {
				close(fd); /* so many waiting for their refusal: no more words */
				continue;
			}
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->refusal = refusal;
		c->w = (struct watch){.kind = W_CONTROL, .fd = fd};
		c->uid = cred.uid;
		c->pid = cred.pid;
		{
			/* the socket's group as it is now: an administrator may
			 * chgrp it after the worker made it */
			struct stat st;
			gid_t g = stat(s->path, &st) == 0 ? st.st_gid : s->gid;

			c->member = cred.uid == 0 || cred.gid == g || pid_in_group(cred.pid, g);
		}
		clock_gettime(CLOCK_MONOTONIC, &c->since);
		ev.data.ptr = c;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->clients;
		s->clients = c;
		s->n_clients++;
		s->n_refusing += c->refusal != NULL;
	}
}

static int client_read(struct control_server *s, int epfd, struct client *c)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(c->w.fd, buf, sizeof(buf));
		char *nl, *nb;

		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return -ECONNRESET; /* closed before a full request */
		if (c->in_len + (size_t)n > CONTROL_REQUEST_MAX) {
			c->out = strdup("{\"ok\":false,\"error\":\"request too large\"}\n");
			break;
		}
		nb = realloc(c->in, c->in_len + (size_t)n + 1);
		if (!nb)
			return -ENOMEM;
		c->in = nb;
		memcpy(c->in + c->in_len, buf, (size_t)n);
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
		nl = memchr(c->in, '\n', c->in_len);
		if (nl) {
			_cleanup_free_ char *resp = NULL;
			enum control_cmd cmd;
			const char *why;

			current_pid = c->pid;
			if (c->refusal)
				resp = strdup(c->refusal);
			else if (!c->member && (control_request_parse(c->in, (size_t)(nl - c->in), &cmd, &why) < 0 ||
			                        cmd != CONTROL_REQUEST))
				resp = strdup("{\"ok\":false,\"error\":\"permission denied: this user may only make "
				              "requests (mamorictl request)\"}");
			else
				resp = daemon_control_request(s->d, c->in, (size_t)(nl - c->in), c->uid);
			current_pid = 0;
			if (!resp)
				return -ENOMEM;
			if (strcmp(resp, CONTROL_DEFERRED) == 0 || strcmp(resp, CONTROL_DEFERRED_SANITIZE) == 0) {
				struct epoll_event ev = {.events = 0, .data.ptr = c};
				c->waiting = true;
				c->waiting_sanitize = strcmp(resp, CONTROL_DEFERRED_SANITIZE) == 0;
				return epoll_ctl(epfd, EPOLL_CTL_MOD, c->w.fd, &ev) < 0 ? -errno : 0;
			}
			if (control_request_parse(c->in, (size_t)(nl - c->in), &cmd, &why) == 0 &&
			    cmd == CONTROL_USB_WATCH && strstr(resp, "\"ok\":true"))
				c->watching = true;
			c->out = malloc(strlen(resp) + 2);
			if (c->out) {
				memcpy(c->out, resp, strlen(resp));
				c->out[strlen(resp)] = '\n';
				c->out[strlen(resp) + 1] = '\0';
			}
			break;
		}
	}
	if (!c->out)
		return -ENOMEM;
	c->out_len = strlen(c->out);
	{
		struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
		if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->w.fd, &ev) < 0)
			return -errno;
	}
	return 0;
}

/* A watcher with nothing to send waits for its peer's EOF only. */
static void watch_idle(int epfd, struct client *c)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

	c->out_off = c->out_len = 0;
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->w.fd, &ev);
}

static int client_write(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->w.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->out_off += (size_t)n;
	}
	return 1; /* done */
}

int control_server_dispatch(struct control_server *s, int epfd, void *tag, uint32_t events)
{
	struct client *c;
	int r;

	if (tag && ((struct watch *)tag)->fd == s->fd) {
		accept_clients(s, epfd);
		return 0;
	}
	c = tag;
	if (c->failed) {
		client_free(s, epfd, c);
		return 0;
	}
	if (c->waiting)
		return 0;
	if (c->watching && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c->out_off >= c->out_len) {
		char buf[256];
		ssize_t n = read(c->w.fd, buf, sizeof(buf)); /* a watcher says nothing: EOF ends it */

		if (n == 0 || (n < 0 && errno != EAGAIN) || (events & (EPOLLHUP | EPOLLERR)))
			client_free(s, epfd, c);
		return 0;
	}
	if (!c->out && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		r = client_read(s, epfd, c);
		if (r < 0) {
			client_free(s, epfd, c);
			return 0;
		}
		if (!c->out)
			return 0;
	}
	if (c->out) {
		r = client_write(c);
		if (r > 0 && c->watching) {
			watch_idle(epfd, c);
			return 0;
		}
		if (r != 0)
			client_free(s, epfd, c);
	}
	return 0;
}

/* A client to be dropped outside its own dispatch (a watcher that cannot
 * take more, an idle one, one whose answer cannot go): its event may wait
 * in the loop's current batch, so it is never freed here; the shut-down
 * socket wakes the loop and its next dispatch frees it. */
static void client_fail(int epfd, struct client *c)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};

	c->failed = true;
	shutdown(c->w.fd, SHUT_RDWR);
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->w.fd, &ev);
}

void control_server_publish(struct control_server *s, int epfd, const char *line)
{
	struct client *c, *next;
	size_t ll = strlen(line);

	if (!s)
		return;
	for (c = s->clients; c; c = next) {
		char *nb;
		size_t pending;

		next = c->next;
		if (!c->watching || c->failed)
			continue;
		pending = c->out_len - c->out_off;
		if (pending + ll + 1 > CONTROL_WATCH_BACKLOG) {
			client_fail(epfd, c); /* it does not read: it gets no more */
			continue;
		}
		if (c->out_off > 0) {
			memmove(c->out, c->out + c->out_off, pending);
			c->out_len = pending;
			c->out_off = 0;
		}
		nb = realloc(c->out, c->out_len + ll + 2);
		if (!nb) {
			client_fail(epfd, c);
			continue;
		}
		c->out = nb;
		memcpy(c->out + c->out_len, line, ll);
		c->out[c->out_len + ll] = '\n';
		c->out_len += ll + 1;
		c->out[c->out_len] = '\0';
		if (client_write(c) < 0) {
			client_fail(epfd, c);
			continue;
		}
		if (c->out_off < c->out_len) {
			struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
			epoll_ctl(epfd, EPOLL_CTL_MOD, c->w.fd, &ev);
		} else
			watch_idle(epfd, c);
	}
}

bool control_server_has_watchers(const struct control_server *s)
{
	for (const struct client *c = s ? s->clients : NULL; c; c = c->next)
		if (c->watching && !c->failed)
			return true;
	return false;
}

bool control_server_has_clients(const struct control_server *s)
{
	return s && s->n_clients > 0;
}

void control_server_expire(struct control_server *s, int epfd)
{
	struct client *c, *next;

	if (!s)
		return;
	for (c = s->clients; c; c = next) {
		next = c->next;
		if (!c->watching && !c->waiting && !c->failed && ms_since(&c->since) > CONTROL_CLIENT_TIMEOUT_MS)
			client_fail(epfd, c); /* the worker calls this before its batch: no free here */
	}
}

static void answer_waiting(struct control_server *s, int epfd, const char *resp, bool sanitize);

void control_server_answer_waiting(struct control_server *s, int epfd, const char *resp)
{
	answer_waiting(s, epfd, resp, false);
}

void control_server_answer_sanitize(struct control_server *s, int epfd, const char *resp)
{
	answer_waiting(s, epfd, resp, true);
}

static void answer_waiting(struct control_server *s, int epfd, const char *resp, bool sanitize)
{
	static const char fallback[] = "{\"ok\":false,\"error\":\"out of memory\"}";
	struct client *c, *next;

	if (!s)
		return;
	if (!resp)
		resp = fallback;
	for (c = s->clients; c; c = next) {
		struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
		size_t l = strlen(resp);

		next = c->next;
		if (!c->waiting || c->waiting_sanitize != sanitize)
			continue;
		c->waiting = c->waiting_sanitize = false;
		clock_gettime(CLOCK_MONOTONIC, &c->since); /* the idle bound again, for the write */
		c->out = malloc(l + 2);
		if (!c->out || epoll_ctl(epfd, EPOLL_CTL_MOD, c->w.fd, &ev) < 0) {
			client_fail(epfd, c); /* called from inside the loop's batch */
			continue;
		}
		memcpy(c->out, resp, l);
		c->out[l] = '\n';
		c->out[l + 1] = '\0';
		c->out_len = l + 1;
	}
}

int control_call(const char *path, const char *request, int timeout_ms, char **ret_response)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, alloc = 0;
	size_t rl = strlen(request), off = 0;

	if (strscpy(sa.sun_path, sizeof(sa.sun_path), path) < 0)
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	while (off < rl) {
		ssize_t n = send(fd, request + off, rl - off, MSG_NOSIGNAL);
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	if (send(fd, "\n", 1, MSG_NOSIGNAL) < 0)
		return -errno;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		int pr = poll(&p, 1, timeout_ms);

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return pr == 0 ? -ETIMEDOUT : -errno;
		if (alloc - len < 4096) {
			char *nb;
			alloc = alloc ? alloc * 2 : 16384;
			if (alloc > CONTROL_RESPONSE_MAX + 1)
				return -EFBIG;
			nb = realloc(buf, alloc);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = read(fd, buf + len, alloc - len - 1);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!buf || len == 0)
		return -EPROTO;
	buf[len] = '\0';
	*ret_response = TAKE_PTR(buf);
	return 0;
}
