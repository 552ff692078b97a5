/* server-api/api_report.h — the city's clause numbers and the 自己点検
 * report (OPS-2) on the admin listener (mamori-server): api_report.c. */
#ifndef MAMORI_API_REPORT_H
#define MAMORI_API_REPORT_H

#include <stddef.h>

#include "http.h"

extern const struct http_route api_report_routes[];
extern const size_t api_report_routes_n;

#endif
