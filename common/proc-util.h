/* common/proc-util.h — run a helper program with a deadline and capture its
 * standard output, capped (any process of the agent). Utility code: never
 * logs. */
#ifndef MAMORI_PROC_UTIL_H
#define MAMORI_PROC_UTIL_H

#include <stddef.h>

/* Run argv[0] (an absolute path, already under the root prefix) with envp
 * (NULL: the caller's environment), stdin and stderr on /dev/null. stdout is
 * read into a NUL-terminated buffer the caller frees: more than cap bytes is
 * -EFBIG, no end within timeout_ms is -ETIMEDOUT (the child is killed in
 * both cases). *ret_exit gets the exit status (or 128 + signal). Returns 0
 * when the program ran to its end, whatever its exit status; -ENOENT /
 * -EACCES when it could not be started. */
int spawn_capture(char *const argv[], char *const envp[], int timeout_ms, size_t cap, char **ret_out, size_t *ret_len,
                  int *ret_exit);

/* buf = the program `name` in the folder of the executable `exe` (an
 * absolute path as /proc/self/exe gives it). -EINVAL when exe has no folder
 * (the gate used strrchr's NULL unchecked), -ENAMETOOLONG. */
int sibling_path(const char *exe, const char *name, char *buf, size_t sz);
/* sibling_path of this process's own executable (mamorid → mamori-worker,
 * mamori-worker → mamorictl). */
int self_sibling_path(const char *name, char *buf, size_t sz);

#endif
