/* common/json-util.h — cleanup helpers for cJSON (any process). */
#ifndef MAMORI_JSON_UTIL_H
#define MAMORI_JSON_UTIL_H

#include <cjson/cJSON.h>

#include "alloc-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)
#define _cleanup_json_ _cleanup_(cJSON_Deletep)

#endif
