/* server-api/api_media.h — the media register's admin API, /admin/v1/media
 * (mamori-server; MEDIA-6, issue 16.5; server-api/api_media.c). */
#ifndef MAMORI_API_MEDIA_H
#define MAMORI_API_MEDIA_H

#include <stddef.h>

#include "http.h"

extern const struct http_route api_media_routes[];
extern const size_t api_media_routes_n;

#endif
