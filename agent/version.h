/* agent/version.h — the agent's version (all processes). */
#ifndef MAMORI_VERSION_H
#define MAMORI_VERSION_H

#define MAMORI_VERSION "0.1.0"

#endif
