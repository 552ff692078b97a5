/* common/log.h — logging for every mamori program.
 *
 * In the foreground, messages go to stderr; as a service to syslog (journald
 * picks it up). Only agent code logs; common/ utilities return errors and
 * their caller logs once. */
#ifndef MAMORI_LOG_H
#define MAMORI_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_open(const char *ident, bool to_stderr, int max_level);
void log_set_max_level(int level);
int log_get_max_level(void);
/* Parse "debug", "info", "notice", "warning", "err"; -EINVAL otherwise. */
int log_level_from_string(const char *s);

/* Returns -abs(err) so that `return log_error_errno(r, ...)` works. */
int log_full_errno(int level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_debug(...)            log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)             log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)           log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...)          log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)            log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, (e), __VA_ARGS__)

#endif
