/* tests/lib/policy-test-util.h — helpers for the policy, exception and
 * USBGuard unit tests: source-tree files, temporary directories, captured
 * output (test processes only). */
#ifndef MAMORI_POLICY_TEST_UTIL_H
#define MAMORI_POLICY_TEST_UTIL_H

#include <stddef.h>

/* Read $MAMORI_SRC/rel (default "."), NUL-terminated; aborts the test on error. */
char *ptest_read_src(const char *rel, size_t *ret_len);

/* Read any file; NULL if it cannot be read. */
char *ptest_read_file(const char *path, size_t *ret_len);

/* mkdtemp under $TMPDIR; the caller removes it with ptest_rm_rf. */
char *ptest_tmpdir(void);
void ptest_rm_rf(const char *dir);

/* Write a file (abort on error). */
void ptest_write(const char *path, const void *data, size_t len);

/* Run fn(arg) with stdout and stderr redirected into two buffers the caller
 * frees; returns fn's result. */
int ptest_capture(int (*fn)(void *arg), void *arg, char **ret_out, char **ret_err);

#endif
