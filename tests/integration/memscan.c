/* tests/integration/memscan.c — test helper for server_signer.sh (issue
 * 18.3): does the memory of process PID hold any of the given byte strings?
 * Reads every readable mapping of /proc/PID/maps through /proc/PID/mem (the
 * caller is root, outside the process's Landlock domain), skipping mappings
 * larger than 1 GiB (the sanitizers' shadow: reserved, not data). Each
 * needle is given as hex and searched in that order and reversed (a
 * BIGNUM's words are little-endian). Prints "NAME found" or "NAME absent"
 * per needle; exit 0, or 2 when the memory could not be read at all. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strutil.h"

#define CHUNK    (1 << 20)
#define NEEDLES  8
#define NEED_MAX 64

struct needle {
	const char *name;
	unsigned char b[2][NEED_MAX];
	size_t len;
	bool found;
};

static int parse(const char *arg, struct needle *n)
{
	const char *eq = strchr(arg, '=');
	size_t hl;

	if (!eq)
		return -EINVAL;
	n->name = strndup(arg, (size_t)(eq - arg));
	hl = strlen(eq + 1);
	if (!n->name || hl % 2 || hl / 2 > NEED_MAX || hl < 32)
		return -EINVAL;
	n->len = hl / 2;
	if (hex_decode(eq + 1, hl, n->b[0], n->len) < 0)
		return -EINVAL;
	for (size_t i = 0; i < n->len; i++)
		n->b[1][n->len - 1 - i] = n->b[0][i];
	return 0;
}

int main(int argc, char **argv)
{
	struct needle nd[NEEDLES] = {0};
	size_t nn = 0, regions = 0;
	char path[64], line[512];
	unsigned char *buf = malloc(CHUNK + NEED_MAX);
	FILE *maps;
	int mem;

	if (argc < 3 || argc - 2 > NEEDLES || !buf) {
		fprintf(stderr, "usage: memscan PID NAME=HEX...\n");
		return 2;
	}
	for (int i = 2; i < argc; i++)
		if (parse(argv[i], &nd[nn++]) < 0) {
			fprintf(stderr, "memscan: bad needle %s\n", argv[i]);
			return 2;
		}
	snprintf(path, sizeof(path), "/proc/%s/maps", argv[1]);
	maps = fopen(path, "re");
	snprintf(path, sizeof(path), "/proc/%s/mem", argv[1]);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	if (!maps || mem < 0) {
		fprintf(stderr, "memscan: cannot open %s: %s\n", path, strerror(errno));
		return 2;
	}
	while (fgets(line, sizeof(line), maps)) {
		uint64_t lo, hi;
		char perms[8];
		size_t carry = 0;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s", &lo, &hi, perms) != 3 || perms[0] != 'r')
			continue;
		if (hi - lo > (1ULL << 30) || strstr(line, "[vvar]") || strstr(line, "[vsyscall]"))
			continue;
		for (uint64_t off = lo; off < hi;) {
			size_t want = hi - off < CHUNK ? (size_t)(hi - off) : CHUNK;
			ssize_t got = pread(mem, buf + carry, want, (off_t)off);

			if (got <= 0)
				break;
			regions += off == lo;
			for (size_t k = 0; k < nn; k++)
				for (int o = 0; o < 2; o++)
					if (memmem(buf, carry + (size_t)got, nd[k].b[o], nd[k].len))
						nd[k].found = true;
			off += (uint64_t)got;
			{
				/* keep the tail: a needle across two chunks */
				size_t have = carry + (size_t)got, keep = have < NEED_MAX - 1 ? have : NEED_MAX - 1;

				memmove(buf, buf + have - keep, keep);
				carry = keep;
			}
		}
	}
	if (regions == 0) {
		fprintf(stderr, "memscan: no memory of %s could be read\n", argv[1]);
		return 2;
	}
	for (size_t k = 0; k < nn; k++) {
		printf("%s %s\n", nd[k].name, nd[k].found ? "found" : "absent");
		free((char *)nd[k].name);
	}
	fclose(maps);
	close(mem);
	free(buf);
	return 0;
}
