/* tests/lib/bench_report.h — the posture report the check-in load generators
 * send (tests/bench/bench_checkin.c, tests/bench/bench_scale.c; benchmark
 * processes): 14 checks, one per requirement an agent reports on. Header-only
 * test code. */
#ifndef MAMORI_BENCH_REPORT_H
#define MAMORI_BENCH_REPORT_H

#include <stddef.h>
#include <stdio.h>

/* Appends {"results":[…]} at body + n; returns the new length. */
static inline size_t bench_report_json(char *body, size_t size, size_t n)
{
	static const char *const checks[][2] = {
	        {"screenlock.idle", "LOCK-1"},      {"login.faillock", "LOCK-2"},
	        {"login.password", "LOCK-3"},       {"av.running", "AV-1"},
	        {"av.definitions", "AV-2"},         {"av.fullscan", "AV-3"},
	        {"patch.security", "PATCH-1"},      {"patch.eol", "PATCH-2"},
	        {"software.inventory", "SOFT-1"},   {"integrity.files", "CONF-1"},
	        {"ports.listening", "NET-1"},       {"network.segment", "NET-2"},
	        {"timesync.synchronised", "LOG-2"}, {"usb.present", "MEDIA-1"},
	};

	n += (size_t)snprintf(body + n, size - n, "{\"results\":[");
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		n += (size_t)snprintf(body + n, size - n,
		                      "%s{\"id\":\"%s\",\"module\":\"m\",\"status\":\"%s\",\"requirements\":[\"%s\"],"
		                      "\"evidence\":{\"measured\":\"value %zu\"}}",
		                      i ? "," : "", checks[i][0], i % 4 ? "pass" : "fail", checks[i][1], i);
	n += (size_t)snprintf(body + n, size - n, "]}");
	return n;
}

#endif
