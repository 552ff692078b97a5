/* tests/fuzz/replay.c — replays a libFuzzer harness's seed corpus without
 * libFuzzer (test program): linked with one tests/fuzz/fuzz_NAME.c under
 * gcc + ASan/UBSan, it feeds every file named on the command line (a folder:
 * every file in it) to LLVMFuzzerTestOneInput once. `make check` runs it
 * over tests/fuzz/seeds/fuzz_NAME/ (tests/run-tests.sh), so a corpus that
 * once crashed a parser keeps being replayed. A sanitizer report aborts;
 * an unreadable input or an empty corpus is a failure, never a pass. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define INPUT_MAX (1024 * 1024)

static int replay_file(const char *path, unsigned *n)
{
	char *buf = NULL;
	size_t len = 0;
	int r = read_file_capped(path, INPUT_MAX, &buf, &len);

	if (r < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(-r));
		return r;
	}
	/* an exact-size copy, so ASan sees any read past the input */
	{
		uint8_t *exact = malloc(len ? len : 1);

		if (!exact) {
			free(buf);
			return -ENOMEM;
		}
		memcpy(exact, buf, len);
		free(buf);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	(*n)++;
	return 0;
}

static int replay_path(const char *path, unsigned *n)
{
	struct stat st;
	struct dirent **ents = NULL;
	int k, r = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path, n);
	k = scandir(path, &ents, NULL, alphasort);
	if (k < 0)
		return -errno;
	for (int i = 0; i < k; i++) {
		char p[PATH_MAX];

		if (r == 0 && ents[i]->d_name[0] != '.') {
			if ((size_t)snprintf(p, sizeof(p), "%s/%s", path, ents[i]->d_name) >= sizeof(p))
				r = -ENAMETOOLONG;
			else
				r = replay_path(p, n);
		}
		free(ents[i]);
	}
	free(ents);
	return r;
}

int main(int argc, char **argv)
{
	unsigned n = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (replay_path(argv[i], &n) < 0)
			return 1;
	if (n == 0) {
		fprintf(stderr, "replay: no input in the corpus\n");
		return 1;
	}
	printf("replayed %u input(s)\n", n);
	return 0;
}
