/* tests/fuzz/fuzz_command.c — libFuzzer: bytes as a remote command envelope
 * (protocol/command.c; what the agent parses after the signature verified,
 * docs/COMMANDS.md). Properties: no crash; whatever is accepted passes
 * command_check_fields and is its own canonical form (parse → canonical gives
 * the same bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct command_envelope e;
	char why[256], canon[COMMAND_CANON_MAX];
	int n;

	if (command_parse((const char *)data, size, &e, why, sizeof(why)) != 0)
		return 0;
	if (command_check_fields(&e, NULL, 0) != 0)
		abort();
	n = command_canonical(&e, canon, sizeof(canon));
	if (n < 0 || (size_t)n != size || memcmp(canon, data, size) != 0)
		abort();
	return 0;
}
