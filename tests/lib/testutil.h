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

/* A temporary directory with two Ed25519 key pairs made by policy_keygen():
 * key/pub (the one a test pins or trusts) and key2 (another signer's). */
struct tu_keys {
	char *dir;
	char key[512], pub[512], key2[512];
};
struct tu_keys *tu_keys_new(void);
void tu_keys_free(struct tu_keys *k);

#endif
