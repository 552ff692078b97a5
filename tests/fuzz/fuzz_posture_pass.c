/* tests/fuzz/fuzz_posture_pass.c — libFuzzer harness for the posture pass
 * child's answer as mamori-worker decodes it (agent/worker/posture_pass.c:
 * the child parses user-shaped files, so its bytes are untrusted) (fuzz
 * program). Properties: no crash or leak; every accepted PP_RESULT encodes
 * back (pp_send_result) to exactly the bytes it was decoded from. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "json-util.h"
#include "posture_pass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const uint8_t *frame, size_t flen, const struct check_result *r, uint32_t slot)
{
	int sv[2];
	static uint8_t back[8 + PP_FRAME_MAX];
	ssize_t n;

	if (flen > 200000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return;
	{
		int sz = 4 << 20;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	if (pp_send_result(sv[0], slot, r) == 0) {
		n = recv(sv[1], back, sizeof(back), MSG_DONTWAIT);
		if (n != (ssize_t)flen || memcmp(back, frame, flen) != 0)
			__builtin_trap();
	}
	close(sv[0]);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		uint32_t type, len, slot, n;
		const uint8_t *p;
		ssize_t used = pp_frame_next(data + off, size - off, &type, &p, &len);

		if (used <= 0)
			break;
		if (type == PP_RESULT) {
			struct check_report rep = {0};
			if (pp_decode_result(p, len, &rep, &slot) == 0) {
				if (rep.n != 1)
					__builtin_trap();
				roundtrip(data + off, (size_t)used, rep.results[0], slot);
			}
			check_report_clear(&rep);
		} else if (type == PP_EVENT) {
			char *t = NULL, *reqs = NULL;
			cJSON *j = NULL;
			enum event_severity sev;

			if (pp_decode_event(p, len, &t, &sev, &reqs, &j) == 0 && (!t || !reqs || sev >= _SEV_MAX))
				__builtin_trap();
			free(t);
			free(reqs);
			cJSON_Delete(j);
		} else if (type == PP_END)
			(void)pp_decode_end(p, len, &n);
		off += (size_t)used;
	}
	return 0;
}
