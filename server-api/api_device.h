/* server-api/api_device.h — the device API on the mTLS listener: check-in,
 * event upload, policy download, certificate renewal (mamori-server).
 * The terminal is who its verified client certificate says — never a body. */
#ifndef MAMORI_API_DEVICE_H
#define MAMORI_API_DEVICE_H

#include <stddef.h>

#include "http.h"

extern const struct http_route api_device_routes[];
extern const size_t api_device_routes_n;

/* Worst status per requirement ID over a posture report's results
 * (fail > error > excepted > pass > not_applicable), as a JSON object the
 * caller owns. NULL if report has no results array or on allocation failure. */
cJSON *api_device_compliance(const cJSON *report);

#endif
