/* tests/lib/testutil.h — helpers shared by the unit tests (test processes). */
#ifndef MAMORI_TESTUTIL_H
#define MAMORI_TESTUTIL_H

#include <stddef.h>

/* Make a fresh temporary directory (caller frees the string and removes the tree). */
char *tu_mkdtemp(void);
/* Write a file (creating parent directories) under dir: dir/rel. */
void tu_write(const char *dir, const char *rel, const char *content);
/* Create a symlink dir/rel -> target (parents created). */
void tu_symlink(const char *dir, const char *rel, const char *target);
/* rm -rf dir (refuses anything not under /tmp). */
void tu_rmtree(const char *dir);

#endif
