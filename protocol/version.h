/* protocol/version.h — the version of every mamori program (agent processes and mamori-server). */
#ifndef MAMORI_VERSION_H
#define MAMORI_VERSION_H

#define MAMORI_VERSION "0.1.0"

#endif
