/* modules/patch/patch_dnf.c — `dnf -C -q updateinfo list --security` runner
 * (deadline, capped output) and its parser (mamori-worker). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "proc-util.h"
#include "patch_dnf.h"
#include "rootpath.h"
#include "strutil.h"

static enum patch_dnf_severity severity_of(const char *s, size_t l)
{
	static const struct {
		const char *name;
		enum patch_dnf_severity sev;
	} t[] = {{"Critical", PATCH_DNF_CRITICAL},
	         {"Important", PATCH_DNF_IMPORTANT},
	         {"Moderate", PATCH_DNF_MODERATE},
	         {"Low", PATCH_DNF_LOW}};

	for (size_t i = 0; i < ELEMENTSOF(t); i++)
		if (l >= strlen(t[i].name) && strncasecmp(s, t[i].name, strlen(t[i].name)) == 0)
			return t[i].sev;
	return PATCH_DNF_UNKNOWN;
}

#define MAX_TOK 6

int patch_dnf_parse(const char *out, size_t len, struct patch_dnf_result *ret)
{
	struct patch_dnf_result res = {0};
	char last_id[128] = "";
	const char *p = out, *end = out + len;
	unsigned line = 0;
	size_t fo = 0;

	if (len > PATCH_DNF_OUTPUT_MAX || memchr(out, '\0', len))
		return -EBADMSG;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *tok[MAX_TOK];
		size_t tl[MAX_TOK], nt = 0;
		const char *q = p;
		size_t sevl;
		const char *sev;

		line++;
		while (q < le && nt < MAX_TOK) {
			while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
				q++;
			if (q >= le)
				break;
			tok[nt] = q;
			while (q < le && *q != ' ' && *q != '\t' && *q != '\r')
				q++;
			tl[nt] = (size_t)(q - tok[nt]);
			nt++;
		}
		p = nl ? nl + 1 : end;
		if (nt == 0 || (nt > 0 && tl[0] == 4 && strncmp(tok[0], "Last", 4) == 0) ||
		    (tl[0] == 4 && strncmp(tok[0], "Name", 4) == 0) ||
		    (le - tok[0] >= 8 && strncmp(tok[0], "Updating", 8) == 0))
			continue;
		if (nt < 3 || tl[0] >= sizeof(last_id)) {
			res.bad_line = line;
			*ret = res;
			return -EBADMSG;
		}
		/* dnf 4: ID SEV/Sec. PKG; dnf 5: ID security SEV PKG ISSUED */
		if (tl[1] == 8 && strncmp(tok[1], "security", 8) == 0 && nt >= 4) {
			sev = tok[2];
			sevl = tl[2];
		} else if (memmem(tok[1], tl[1], "Sec", 3) || (tl[1] == 8 && strncmp(tok[1], "security", 8) == 0)) {
			sev = tok[1];
			sevl = tl[1];
		} else {
			res.bad_line = line;
			*ret = res;
			return -EBADMSG;
		}
		res.n_packages++;
		res.by_severity[severity_of(sev, sevl)]++;
		if (strlen(last_id) != tl[0] || strncmp(last_id, tok[0], tl[0]) != 0) {
			/* dnf sorts by advisory: a new ID starts a new advisory */
			memcpy(last_id, tok[0], tl[0]);
			last_id[tl[0]] = '\0';
			res.n_advisories++;
			if (fo + tl[0] + 2 < sizeof(res.first)) {
				for (size_t i = 0; i < tl[0]; i++)
					res.first[fo + i] = (tok[0][i] >= 0x21 && tok[0][i] < 0x7f) ? tok[0][i] : '?';
				fo += tl[0];
				res.first[fo++] = ',';
				res.first[fo] = '\0';
			}
		}
	}
	if (fo)
		res.first[fo - 1] = '\0';
	*ret = res;
	return 0;
}

/* The program's stdout if it exited 0 (common/spawn.h). */
static int run_capture(char *const argv[], int timeout_ms, size_t cap, char **ret_out, size_t *ret_len)
{
	int ex = 0, r = spawn_capture(argv, NULL, timeout_ms, cap, ret_out, ret_len, &ex);

	if (r < 0)
		return r == -ENOENT || r == -EACCES ? -ENOEXEC : r;
	if (ex != 0) {
		free(*ret_out);
		*ret_out = NULL;
		return -EIO;
	}
	return 0;
}

int patch_dnf_gather(struct patch_dnf_result *ret)
{
	_cleanup_free_ char *out = NULL;
	char bin[PATH_MAX];
	char *argv[] = {bin, (char *)"-C", (char *)"-q", (char *)"updateinfo", (char *)"list", (char *)"--security",
	                NULL};
	size_t len = 0;
	int r;

	r = root_path(bin, sizeof(bin), PATCH_DNF_PATH);
	if (r < 0)
		return r;
	if (access(bin, X_OK) < 0)
		return -errno;
	r = run_capture(argv, PATCH_DNF_TIMEOUT_MS, PATCH_DNF_OUTPUT_MAX, &out, &len);
	if (r < 0)
		return r;
	return patch_dnf_parse(out, len, ret);
}
