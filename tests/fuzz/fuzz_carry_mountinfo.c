/* tests/fuzz/fuzz_carry_mountinfo.c — libFuzzer harness for the mountinfo
 * parser (mount points come from whoever mounted: a medium's label) and the
 * syscall-intent parser (fuzz program). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carry/carry_mountinfo.h"
#include "carry/carry_proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct carry_mount *m = NULL;
	size_t n = 0;
	char text[512];

	if (carry_mountinfo_parse((const char *)data, size, NULL, NULL, &m, &n, NULL) == 0) {
		for (size_t i = 0; i < n; i++)
			if (strnlen(m[i].mountpoint, sizeof(m[i].mountpoint)) >= sizeof(m[i].mountpoint) ||
			    strnlen(m[i].root, sizeof(m[i].root)) >= sizeof(m[i].root))
				__builtin_trap();
		free(m);
	}
	if (size < sizeof(text)) {
		memcpy(text, data, size);
		text[size] = '\0';
		(void)carry_proc_syscall_write_intent(text, 1, NULL);
	}
	return 0;
}
