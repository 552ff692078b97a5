/* tests/fuzz/fuzz_control.c — libFuzzer harness for the control-socket
 * requests (agent/worker/control.c control_request_parse: any local user in
 * the mamori group writes them) (fuzz program). Properties: no crash; an
 * accepted request is exactly {"cmd":NAME} for a NAME of control_cmds[], so
 * printing that back parses to the same command. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum control_cmd cmd, again;
	const char *why = NULL;
	char back[64];
	int n;

	if (control_request_parse((const char *)data, size, &cmd, &why) < 0) {
		if (!why || !why[0])
			__builtin_trap(); /* every refusal says why */
		return 0;
	}
	if ((unsigned)cmd >= _CONTROL_CMD_MAX)
		__builtin_trap();
	n = snprintf(back, sizeof(back), "{\"cmd\":\"%s\"}", control_cmds[cmd].name);
	if (n < 0 || (size_t)n >= sizeof(back) || control_request_parse(back, (size_t)n, &again, &why) < 0 ||
	    again != cmd)
		__builtin_trap();
	return 0;
}
