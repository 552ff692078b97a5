/* server-api/api_enroll.h — enrollment on the admin listener: the CA
 * certificate and POST /enroll/v1 with a one-time token (mamori-server). */
#ifndef MAMORI_API_ENROLL_H
#define MAMORI_API_ENROLL_H

#include <stddef.h>

#include "http.h"

extern const struct http_route api_enroll_routes[];
extern const size_t api_enroll_routes_n;

#endif
