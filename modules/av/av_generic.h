/* modules/av/av_generic.h — adapter for any other anti-malware product
 * (mamori-worker): resident = a process of the configured name runs; definitions'
 * age = mtime of the configured definitions file. */
#ifndef MAMORI_AV_GENERIC_H
#define MAMORI_AV_GENERIC_H

#include "av.h"

extern const struct av_backend av_backend_generic;

#endif
