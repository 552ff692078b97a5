/* modules/av/av_mdatp.h — Microsoft Defender for Endpoint adapter (mamori-worker).
 *
 * The facts come from `mdatp health --output json`. Its keys changed over
 * releases: a value may be plain (`"real_time_protection_enabled": true`) or
 * wrapped (`{"value": true, "metadata": …}`); definitions are dated by
 * `definitions_updated` (epoch seconds or milliseconds) or
 * `definitions_updated_minutes_ago`. The parser accepts both. */
#ifndef MAMORI_AV_MDATP_H
#define MAMORI_AV_MDATP_H

#include <stddef.h>
#include <time.h>

#include "av.h"

#define AV_MDATP_PATH       "/usr/bin/mdatp"
#define AV_MDATP_OUTPUT_MAX (256 * 1024)
#define AV_MDATP_TIMEOUT_MS 15000

/* Parse the JSON of `mdatp health --output json` (len bytes) into *ret.
 * -EBADMSG when it is not a JSON object or none of the known keys is there. */
int av_mdatp_parse_health(const char *json, size_t len, time_t now, struct av_status *ret);

extern const struct av_backend av_backend_mdatp;

#endif
