/* modules/patch/patch_zlist.h — open an apt list the way apt stores it:
 * plain, or compressed as Acquire::GzipIndexes / CompressionTypes leave it
 * (`*_Packages.gz`, `.xz`, `.lz4`), decompressed as a stream with zlib,
 * liblzma and liblz4 (mamori-worker's posture pass child, mamorictl check). PATCH-1.
 *
 * A list in a compression this code does not read (`.bz2`, `.zst`, `.lzma`,
 * anything else after `_Packages.`) is an error, never skipped: skipping it
 * made 22 pending security updates into 0 (issue 21, D2). */
#ifndef MAMORI_PATCH_ZLIST_H
#define MAMORI_PATCH_ZLIST_H

#include <stdbool.h>
#include <stdio.h>

enum patch_zkind { PATCH_Z_NONE, PATCH_Z_GZ, PATCH_Z_XZ, PATCH_Z_LZ4, PATCH_Z_UNSUPPORTED };

/* Is NAME a Packages list ("…_Packages" or "…_Packages.EXT")? Sets *kind. */
bool patch_zlist_name(const char *name, enum patch_zkind *kind);

/* A read-only stream of the decompressed list at path. NULL with errno
 * set: ENOTSUP for PATCH_Z_UNSUPPORTED. Corrupt or truncated data makes the
 * stream's ferror() true (EBADMSG). */
FILE *patch_zlist_open(const char *path, enum patch_zkind kind);

#endif
