/* common/log.c — logging for every mamori program (stderr or syslog). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static bool log_stderr = true;
static int log_max = LOG_INFO;
static bool log_syslog_open;

void log_open(const char *ident, bool to_stderr, int max_level)
{
	log_stderr = to_stderr;
	log_max = max_level;
	if (!to_stderr && !log_syslog_open) {
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_syslog_open = true;
	}
}

void log_set_max_level(int level)
{
	log_max = level;
}

int log_get_max_level(void)
{
	return log_max;
}

int log_level_from_string(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} t[] = {{"debug", LOG_DEBUG},     {"info", LOG_INFO}, {"notice", LOG_NOTICE},
	         {"warning", LOG_WARNING}, {"err", LOG_ERR},   {"error", LOG_ERR}};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].name) == 0)
			return t[i].level;
	return -EINVAL;
}

int log_full_errno(int level, int err, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	int saved = errno;

	if (err < 0)
		err = -err;
	if (level <= log_max) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		if (log_stderr) {
			if (err)
				fprintf(stderr, "%s: %s\n", msg, strerror(err));
			else
				fprintf(stderr, "%s\n", msg);
		} else if (err)
			syslog(level, "%s: %s", msg, strerror(err));
		else
			syslog(level, "%s", msg);
	}
	errno = saved;
	return -err;
}
