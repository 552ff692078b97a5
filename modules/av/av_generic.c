/* modules/av/av_generic.c — adapter for anti-malware products without a
 * dedicated one (mamori-worker). Reads /proc and the definitions file under the
 * root prefix. The policy's `version_command` is deliberately not run: a root
 * daemon does not execute commands named by a document. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "av_generic.h"
#include "rootpath.h"
#include "strutil.h"

static int generic_gather(const struct av_settings *s, const char *state_dir, time_t now, struct av_status *ret)
{
	struct av_status st = {0};
	char p[PATH_MAX];
	struct stat sb;

	(void)state_dir;
	(void)now;
	if (!s->generic_process[0])
		xsnprintf(st.resident_detail, sizeof(st.resident_detail), "av.generic.process is not set");
	else {
		st.resident = av_process_running(s->generic_process);
		xsnprintf(st.resident_detail, sizeof(st.resident_detail), "process %s %s", s->generic_process,
		          st.resident ? "running" : "not running");
	}
	if (!s->generic_definitions[0])
		xsnprintf(st.definitions_detail, sizeof(st.definitions_detail), "av.generic.definitions is not set");
	else if (root_path(p, sizeof(p), s->generic_definitions) < 0 || stat(p, &sb) < 0) {
		st.definitions_err = errno ? -errno : -ENAMETOOLONG;
		if (st.definitions_err == -ENOENT)
			st.definitions_err = 0; /* missing is a finding, not an error */
		xsnprintf(st.definitions_detail, sizeof(st.definitions_detail), "%s: %s", s->generic_definitions,
		          strerror(errno ? errno : ENAMETOOLONG));
	} else {
		st.have_definitions = true;
		st.definitions_time = (int64_t)sb.st_mtime;
		xsnprintf(st.definitions_detail, sizeof(st.definitions_detail), "mtime of %s", s->generic_definitions);
	}
	*ret = st;
	return 0;
}

const struct av_backend av_backend_generic = {
        .name = "generic",
        .gather = generic_gather,
};
