/* server-api/signer.c — the signer child of mamori-server and the web
 * process's side of its socket (see signer.h). The child runs signer_run():
 * keys loaded, not dumpable, no privileges left, the network client's
 * seccomp filter, one request at a time. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base64.h"
#include "ed25519.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "sandbox.h"
#include "signer.h"
#include "strutil.h"
#include "terminal_id.h"

/* The one table (signer.h). */
const struct ipc_msgdef signer_messages[_SIGNER_TYPE_MAX] = {
        [SIGNER_CSR] = {"csr",
                        IPC_TO_SIGNER,
                        false,
                        {{"id", IPC_UINT}, {"terminal_id", IPC_STRING}, {"csr", IPC_STRING}, {"seconds", IPC_INT}}},
        [SIGNER_SIGN] = {"sign", IPC_TO_SIGNER, true, {{"id", IPC_UINT}, {"key", IPC_STRING}}},
        [SIGNER_CERT] = {"cert",
                         IPC_TO_WEB,
                         false,
                         {{"id", IPC_UINT}, {"pem", IPC_STRING}, {"serial", IPC_STRING}, {"not_after_us", IPC_INT}}},
        [SIGNER_SIGNATURE] = {"signature", IPC_TO_WEB, false, {{"id", IPC_UINT}, {"sig", IPC_STRING}}},
        [SIGNER_REFUSED] = {"refused", IPC_TO_WEB, false, {{"id", IPC_UINT}, {"error", IPC_INT}}},
};

static const char *const key_names[] = {[SIGNER_KEY_POLICY] = "policy", [SIGNER_KEY_COMMAND] = "command"};

struct signer_keys {
	struct pki *ca;
	struct ed25519_key *ed[2]; /* indexed by enum signer_key */
};

struct signer {
	int fd;
	pid_t pid;
	uint64_t next_id;
	bool gone;
	pthread_mutex_t lock;
};

/* ---- the signer's side ------------------------------------------------------ */

void signer_keys_free(struct signer_keys *k)
{
	if (!k)
		return;
	pki_free(k->ca);
	for (size_t i = 0; i < ELEMENTSOF(k->ed); i++)
		ed25519_key_free(k->ed[i]);
	free(k);
}

static int ed_load(const char *path, struct ed25519_key **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = read_file_capped(path, POLICY_KEY_FILE_MAX, &buf, &len);

	if (r < 0)
		return r;
	r = ed25519_key_from_pem(buf, len, true, ret);
	explicit_bzero(buf, len);
	return r;
}

int signer_keys_load(const struct signer_paths *paths, struct signer_keys **ret)
{
	_cleanup_(signer_keys_freep) struct signer_keys *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return -ENOMEM;
	if ((r = pki_load(paths->ca_key, paths->ca_cert, &k->ca)) < 0 ||
	    (r = ed_load(paths->policy_key, &k->ed[SIGNER_KEY_POLICY])) < 0 ||
	    (r = ed_load(paths->command_key, &k->ed[SIGNER_KEY_COMMAND])) < 0)
		return r;
	*ret = TAKE_PTR(k);
	return 0;
}

static cJSON *answer_new(enum signer_type t, uint64_t id)
{
	cJSON *m = cJSON_CreateObject();

	if (m && (!cJSON_AddStringToObject(m, "op", signer_messages[t].op) ||
	          !cJSON_AddNumberToObject(m, "id", (double)id))) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

static int refused(uint64_t id, int error, cJSON **ret)
{
	cJSON *m = answer_new(SIGNER_REFUSED, id);

	if (!m || !cJSON_AddNumberToObject(m, "error", (double)(error < 0 ? error : -EINVAL))) {
		cJSON_Delete(m);
		return -ENOMEM;
	}
	*ret = m;
	return 0;
}

static int answer_csr(const struct signer_keys *k, const cJSON *msg, uint64_t id, cJSON **ret)
{
	const char *tid = cJSON_GetObjectItemCaseSensitive(msg, "terminal_id")->valuestring;
	const char *csr = cJSON_GetObjectItemCaseSensitive(msg, "csr")->valuestring;
	double seconds = cJSON_GetObjectItemCaseSensitive(msg, "seconds")->valuedouble;
	_cleanup_free_ char *pem = NULL;
	char serial[PKI_SERIAL_MAX];
	int64_t not_after = 0;
	cJSON *m;
	int r;

	/* what the web part would refuse anyway is refused here too */
	if (!terminal_id_valid(tid) || seconds < SIGNER_SECONDS_MIN || seconds > (double)SIGNER_SECONDS_MAX)
		return refused(id, -EBADMSG, ret);
	r = pki_sign_csr(k->ca, csr, strlen(csr), tid, (int64_t)seconds, &pem, serial, &not_after);
	if (r < 0)
		return refused(id, r, ret);
	m = answer_new(SIGNER_CERT, id);
	if (!m || !cJSON_AddStringToObject(m, "pem", pem) || !cJSON_AddStringToObject(m, "serial", serial) ||
	    !cJSON_AddNumberToObject(m, "not_after_us", (double)not_after)) {
		cJSON_Delete(m);
		return -ENOMEM;
	}
	*ret = m;
	return 0;
}

static int answer_sign(const struct signer_keys *k, const cJSON *msg, int fd, uint64_t id, cJSON **ret)
{
	const char *name = cJSON_GetObjectItemCaseSensitive(msg, "key")->valuestring;
	_cleanup_free_ char *data = NULL;
	uint8_t sig[ED25519_SIG_LEN];
	char b64[POLICY_SIG_B64_LEN + 1];
	size_t len = 0;
	int key = -1, r;
	cJSON *m;

	for (size_t i = 0; i < ELEMENTSOF(key_names); i++)
		if (strcmp(key_names[i], name) == 0)
			key = (int)i;
	if (key < 0) /* no key by another name: refused, never the default */
		return refused(id, -ENOKEY, ret);
	r = ipc_memfd_read(fd, SIGNER_DATA_MAX, &data, &len);
	if (r < 0)
		return refused(id, r, ret);
	if ((r = ed25519_sign(k->ed[key], data, len, sig)) < 0 ||
	    (r = base64_encode(sig, sizeof(sig), b64, sizeof(b64))) < 0)
		return refused(id, r, ret);
	m = answer_new(SIGNER_SIGNATURE, id);
	if (!m || !cJSON_AddStringToObject(m, "sig", b64)) {
		cJSON_Delete(m);
		return -ENOMEM;
	}
	*ret = m;
	return 0;
}

static int answer_msg(const struct signer_keys *k, const cJSON *msg, int t, int fd, cJSON **ret)
{
	uint64_t id = ipc_uint(msg, "id");

	if (t == SIGNER_CSR)
		return answer_csr(k, msg, id, ret);
	if (t == SIGNER_SIGN)
		return answer_sign(k, msg, fd, id, ret);
	return refused(id, -EBADMSG, ret); /* the table's direction check makes this unreachable */
}

int signer_answer(const struct signer_keys *k, const char *buf, size_t len, int fd, cJSON **ret_answer)
{
	_cleanup_(cJSON_Deletep) cJSON *msg = NULL;
	const char *why = NULL;
	int t = -1, r;

	r = ipc_parse_table(signer_messages, _SIGNER_TYPE_MAX, buf, len, fd >= 0, IPC_TO_SIGNER, &msg, &t, &why);
	if (r < 0) {
		log_warning("signer: refused a request: %s", why ?: "malformed");
		return refused(0, -EBADMSG, ret_answer);
	}
	return answer_msg(k, msg, t, fd, ret_answer);
}

static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int n;

	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	return p.revents & events ? 0 : -ECONNRESET;
}

/* send with the codec's non-blocking send, waiting while the socket is full */
static int send_wait(int sock, const cJSON *msg, int fd, int timeout_ms)
{
	for (;;) {
		int r = ipc_send(sock, msg, fd);

		if (r != -EAGAIN)
			return r;
		r = wait_fd(sock, POLLOUT, timeout_ms);
		if (r < 0)
			return r;
	}
}

static _Noreturn void signer_run(int sock, const struct signer_paths *paths)
{
	_cleanup_(signer_keys_freep) struct signer_keys *k = NULL;
	uid_t uid;
	gid_t gid;
	bool dynamic;
	int r;

	/* nobody of our uid may read our memory (ptrace, /proc/PID/mem) */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		_exit(1);
	r = signer_keys_load(paths, &k);
	{
		/* tell the parent: 0 or the errno of the keys */
		int32_t st = r;

		if (write(sock, &st, sizeof(st)) != (ssize_t)sizeof(st) || r < 0)
			_exit(1);
	}
	/* started as root (a test, a start without the unit): the keys are in
	 * memory, the rest runs as a uid that owns nothing */
	if (geteuid() == 0) {
		if (sandbox_lookup_user("mamori-signer", &uid, &gid, &dynamic) < 0 ||
		    sandbox_drop_privileges(uid, gid) < 0)
			_exit(1);
	} else if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		_exit(1);
	}
	if (sandbox_seccomp_network_client() < 0)
		_exit(1);
	for (;;) {
		_cleanup_(cJSON_Deletep) cJSON *msg = NULL, *answer = NULL;
		_cleanup_close_ int fd = -1;
		const char *why = NULL;
		int t = -1;

		r = wait_fd(sock, POLLIN, -1);
		if (r == 0)
			r = ipc_recv_table(sock, signer_messages, _SIGNER_TYPE_MAX, IPC_TO_SIGNER, &msg, &t, &fd, &why);
		if (r == -EAGAIN)
			continue;
		if (r == -EBADMSG) {
			log_warning("signer: refused a request: %s", why ?: "malformed");
			r = refused(0, -EBADMSG, &answer);
		} else if (r < 0) {
			_exit(0); /* the web process is gone */
		} else {
			r = answer_msg(k, msg, t, fd, &answer);
		}
		if (r < 0 && refused(0, r, &answer) < 0)
			_exit(1);
		if (send_wait(sock, answer, -1, SIGNER_TIMEOUT_MS) < 0)
			_exit(1);
	}
}

/* ---- the web process's side ------------------------------------------------ */

int signer_start(const struct signer_paths *paths, struct signer **ret)
{
	_cleanup_free_ struct signer *s = NULL;
	int sv[2], r;
	int32_t st = 0;
	pid_t pid;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		/* nothing of the parent but stdio and the socket */
		int sock = sv[1] == 3 ? 3 : dup2(sv[1], 3);

		if (sock != 3 || close_range(4, ~0U, 0) < 0)
			_exit(1);
		signer_run(3, paths);
	}
	close(sv[1]);
	s->fd = sv[0];
	s->pid = pid;
	s->next_id = 1;
	pthread_mutex_init(&s->lock, NULL);
	r = wait_fd(s->fd, POLLIN, SIGNER_TIMEOUT_MS);
	if (r == 0 && read(s->fd, &st, sizeof(st)) != (ssize_t)sizeof(st))
		r = -ECONNRESET;
	if (r == 0 && st < 0)
		r = st;
	if (r < 0) {
		signer_free(TAKE_PTR(s));
		return r;
	}
	*ret = TAKE_PTR(s);
	return 0;
}

pid_t signer_pid(const struct signer *s)
{
	return s ? s->pid : -1;
}

void signer_free(struct signer *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->pid > 0) {
		int st;

		while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* One request, one answer of the expected type (or refused), same id. */
static int call(struct signer *s, cJSON *req, int fd, enum signer_type want, cJSON **ret)
{
	_cleanup_(cJSON_Deletep) cJSON *ans = NULL;
	const char *why = NULL;
	int t = -1, afd = -1, r;
	uint64_t id;

	if (!s)
		return -ENOLINK;
	pthread_mutex_lock(&s->lock);
	if (s->gone) {
		r = -ENOLINK;
		goto out;
	}
	id = s->next_id++;
	if (!cJSON_AddNumberToObject(req, "id", (double)id)) {
		r = -ENOMEM;
		goto out;
	}
	r = ipc_check_table(signer_messages, _SIGNER_TYPE_MAX, req, fd >= 0, IPC_TO_SIGNER, NULL, &why);
	if (r < 0) {
		log_error("signer: a request does not match the table: %s", why ?: "?");
		r = -EINVAL;
		goto out;
	}
	r = send_wait(s->fd, req, fd, SIGNER_TIMEOUT_MS);
	if (r == 0)
		r = wait_fd(s->fd, POLLIN, SIGNER_TIMEOUT_MS);
	if (r == 0)
		r = ipc_recv_table(s->fd, signer_messages, _SIGNER_TYPE_MAX, IPC_TO_WEB, &ans, &t, &afd, &why);
	if (afd >= 0)
		close(afd);
	if (r == 0 && ipc_uint(ans, "id") != id) {
		why = "answer to another request";
		r = -EBADMSG;
	}
	if (r < 0 && r != -EMSGSIZE && r != -EINVAL) {
		/* gone, silent or out of step: no later answer can be trusted */
		s->gone = true;
		log_error_errno(r,
		                "署名プロセスが応答しません。署名は行いません / the signer (pid %d) is gone or out of "
		                "step (%s): nothing is signed until the server restarts",
		                (int)s->pid, why ?: "no answer");
		r = -ENOLINK;
		goto out;
	}
	if (r < 0)
		goto out;
	if (t == SIGNER_REFUSED) {
		double e = cJSON_GetObjectItemCaseSensitive(ans, "error")->valuedouble;

		r = e < 0 && e > -4096 ? (int)e : -EIO;
		goto out;
	}
	if (t != (int)want) {
		s->gone = true;
		log_error(
		        "署名プロセスの応答が不正です / the signer answered %s to a request for %s: nothing is signed "
		        "until the server restarts",
		        signer_messages[t].op, signer_messages[want].op);
		r = -ENOLINK;
		goto out;
	}
	*ret = TAKE_PTR(ans);
	r = 0;
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

static cJSON *request_new(enum signer_type t)
{
	cJSON *m = cJSON_CreateObject();

	if (m && !cJSON_AddStringToObject(m, "op", signer_messages[t].op)) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

int signer_sign_csr(struct signer *s, const char *csr_pem, size_t len, const char *terminal_id, int64_t seconds,
                    char **ret_pem, char ret_serial[PKI_SERIAL_MAX], int64_t *ret_not_after_us)
{
	_cleanup_(cJSON_Deletep) cJSON *req = request_new(SIGNER_CSR), *ans = NULL;
	_cleanup_free_ char *csr = NULL;
	const char *pem, *serial;
	char *copy;
	int r;

	if (len == 0 || len > PKI_CSR_MAX || memchr(csr_pem, 0, len))
		return -EBADMSG;
	csr = strndup(csr_pem, len);
	if (!req || !csr || !cJSON_AddStringToObject(req, "terminal_id", terminal_id) ||
	    !cJSON_AddStringToObject(req, "csr", csr) || !cJSON_AddNumberToObject(req, "seconds", (double)seconds))
		return -ENOMEM;
	r = call(s, req, -1, SIGNER_CERT, &ans);
	if (r < 0)
		return r;
	pem = cJSON_GetObjectItemCaseSensitive(ans, "pem")->valuestring;
	serial = cJSON_GetObjectItemCaseSensitive(ans, "serial")->valuestring;
	if (strlen(serial) >= PKI_SERIAL_MAX)
		return -EBADMSG;
	copy = strdup(pem);
	if (!copy)
		return -ENOMEM;
	*ret_pem = copy;
	memcpy(ret_serial, serial, strlen(serial) + 1);
	*ret_not_after_us = (int64_t)cJSON_GetObjectItemCaseSensitive(ans, "not_after_us")->valuedouble;
	return 0;
}

int signer_sign(struct signer *s, enum signer_key key, const void *data, size_t len,
                char ret_b64[POLICY_SIG_B64_LEN + 1])
{
	_cleanup_(cJSON_Deletep) cJSON *req = request_new(SIGNER_SIGN), *ans = NULL;
	_cleanup_close_ int fd = -1;
	const char *sig;
	int r;

	if ((unsigned)key >= ELEMENTSOF(key_names))
		return -ENOKEY;
	if (len > SIGNER_DATA_MAX)
		return -EFBIG;
	if (!req || !cJSON_AddStringToObject(req, "key", key_names[key]))
		return -ENOMEM;
	fd = ipc_memfd_from(data, len);
	if (fd < 0)
		return fd;
	r = call(s, req, fd, SIGNER_SIGNATURE, &ans);
	if (r < 0)
		return r;
	sig = cJSON_GetObjectItemCaseSensitive(ans, "sig")->valuestring;
	if (strlen(sig) != POLICY_SIG_B64_LEN)
		return -EBADMSG;
	memcpy(ret_b64, sig, POLICY_SIG_B64_LEN + 1);
	return 0;
}
